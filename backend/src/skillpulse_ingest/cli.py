"""The `skillpulse` command: parse flags, call one library function, print, map errors to exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import errno
import json
import logging
import os
import signal
import sys
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Sequence

from . import __version__, output
from .insights import postings_summary, resolve_place, skill_insights
from .models import (
    LEVEL_BUCKETS,
    MAX_DAYS,
    REMOTE_MODES,
    ROLE_BUCKETS,
    IngestionQuery,
    QueryError,
)
from .boards import BoardSpecError, parse_spec, parse_url, specs_from_text
from .pipeline import (
    RunSummary,
    boards_for_run,
    list_runs,
    next_allowed_call,
    plan_fetch,
    rebuild_skills,
    record_held_back,
    run_boards,
    run_ingest,
)
from .skills import catalog
from .text import to_plain_text
from .sources import (
    ALL_BOARDS,
    ATS_FAMILIES,
    SOURCES,
    ConfigError,
    HttpSettings,
    SourceError,
    ats_families,
    get_source,
    source_class,
)
from .store import Store, open_store
from .storage_sqlite import (
    PostingFilter,
    StoreError,
    StoreOpenError,
    database_path,
    default_db_path,
)

log = logging.getLogger("skillpulse")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POSTING_VIEW = ("date_posted", "source", "role_bucket", "level_bucket", "title", "company", "location")
POSTING_EXPORT = ("id", "source", "source_id", "url", "title", "company", "location", "remote", "date_posted",
                  "role_bucket", "level_bucket", "retrieved_at", "last_seen_at", "job_key", "feed", "closed_at")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (cron mail should say what is wrong, not print the usage), and
    a suggestion for a mistyped flag."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments: "):
            flags = [word for word in message.split(": ", 1)[1].split() if word.startswith("--")]
            if flags:
                message += _suggestion(flags[0].split("=")[0], _all_flags(self))
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _all_flags(parser: argparse.ArgumentParser) -> set[str]:
    """The flags of a parser and of its subcommands: a flag mistyped after a subcommand reaches the
    top parser, which alone does not know it."""
    flags = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= _all_flags(sub)
    return flags


def _suggestion(typed: str, known) -> str:
    """" (did you mean 'backend'?)" for the closest known word, else nothing."""
    close = difflib.get_close_matches(typed.strip().lower(), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _choice(*allowed: str):
    """An argparse type: one of `allowed`, in any case; a typo gets the closest one suggested."""
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(allowed)}{_suggestion(text, allowed)}")
        return value
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _days(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_DAYS}, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _non_negative_int(text: str) -> int:
    value = _non_negative_float(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH",
                        help="SQLite file or postgresql:// URL (default: $SKILLPULSE_DB, else "
                             "backend/data/skillpulse.db)")
    _add_logging(parser)


def _add_logging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging on stderr (-vv also shows HTTP details)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="only errors on stderr")


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", type=_choice("table", "json"), default="table",
                        help="output format: table or json (default: table)")


def _add_filters(parser: argparse.ArgumentParser, *, days_default: int | None) -> None:
    parser.add_argument("--location", metavar="PLACE",
                        help='place to match: "Dallas, TX", "Texas", "United States", "Europe", "Remote"')
    parser.add_argument("--role", default="any", type=_choice(*ROLE_BUCKETS, "any"), metavar="ROLE",
                        help=f"role bucket: {', '.join(ROLE_BUCKETS)} or any (default: any)")
    parser.add_argument("--level", default="any", type=_choice(*LEVEL_BUCKETS, "any"), metavar="LEVEL",
                        help=f"level bucket: {', '.join(LEVEL_BUCKETS)} or any (default: any)")
    parser.add_argument("--days", type=_days, default=days_default, metavar="N",
                        help="only postings dated within the last N days"
                             + (f" (default: {days_default})" if days_default else " (default: all)"))
    parser.add_argument("--remote", default="include", type=_choice(*REMOTE_MODES), metavar="MODE",
                        help="remote postings open to the location's country: include, exclude or only "
                             "(default: include)")


def build_parser(prog: str = "skillpulse") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Pull job postings from job APIs, classify them, store them "
                                            "in SQLite (or PostgreSQL) and turn them into skill insights.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    add_ingest_arguments(commands.add_parser("ingest", help="fetch, classify and store postings",
                                             description=INGEST_DESCRIPTION,
                                             formatter_class=argparse.RawDescriptionHelpFormatter))
    add_inspect_arguments(commands.add_parser("inspect", help="look at stored postings",
                                              description="Show stored postings, newest first, or a summary."))
    add_insights_arguments(commands.add_parser(
        "insights", help="top skills for a role, level and place (SkillInsightsResponse JSON)",
        description="Top skills among stored postings that match the filters, as the frontend's "
                    "SkillInsightsResponse (JSON) or a table for people."))
    skills = commands.add_parser("skills", help="the skill catalog: list it, or re-extract stored postings",
                                 description="The skill catalog shipped with skillpulse.")
    skill_commands = skills.add_subparsers(dest="skills_command", metavar="ACTION", parser_class=_Parser)
    skill_commands.required = True
    listing = skill_commands.add_parser("list", help="show the catalog", description="Show the skill catalog.")
    listing.add_argument("--category", help="only this category")
    _add_format(listing)
    listing.set_defaults(handler=cmd_skills_list)
    rebuild = skill_commands.add_parser("rebuild", help="re-extract skills of every stored posting",
                                        description="Re-extract the skills of every stored posting, after "
                                                    "the catalog changed. Batched; safe to interrupt and rerun.")
    _add_common(rebuild)
    rebuild.set_defaults(handler=cmd_skills_rebuild)
    serve = commands.add_parser("serve", help="serve the read-only HTTP API for the frontend",
                                description="Serve the read-only HTTP API the SkillPulse frontend calls: "
                                            "/api/skills, /api/locations, /api/health and /openapi.json.")
    _add_common(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    serve.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                       help="allow this browser origin; repeatable; '*' allows any (default: http://localhost "
                            "and http://127.0.0.1 on ports 5173 and 4173)")
    serve.set_defaults(handler=cmd_serve)
    runs = commands.add_parser("runs", help="list recent ingest runs", description="Recent ingest runs, newest first.")
    _add_common(runs)
    runs.add_argument("--limit", type=_positive_int, default=20, metavar="N", help="how many runs (default: 20)")
    _add_format(runs)
    runs.set_defaults(handler=cmd_runs)
    status = commands.add_parser("status", help="which database, what is in it, and how the last runs went",
                                 description="Which database this command line uses, its schema version and size, "
                                             "postings per source, the last run of each source and its age, whether "
                                             "the C accelerator is active and whether an API key is set.")
    _add_common(status)
    _add_format(status)
    status.set_defaults(handler=cmd_status)
    prune = commands.add_parser("prune", help="delete old postings to keep a long-running database small",
                                description="Delete postings closed before a day, or posted before one, with "
                                            "their skills and places. Run `skillpulse vacuum` after a big prune "
                                            "to give the space back to the disk.")
    _add_common(prune)
    prune.add_argument("--closed-before", type=_day, metavar="YYYY-MM-DD",
                       help="postings a board fetch found closed before this day")
    prune.add_argument("--posted-before", type=_day, metavar="YYYY-MM-DD", help="postings dated before this day")
    prune.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    prune.set_defaults(handler=cmd_prune)
    vacuum = commands.add_parser("vacuum", help="rewrite the database file without its free space",
                                 description="Rewrite the database without its free pages (after a prune) and "
                                             "refresh the query planner's statistics. Needs free disk space about "
                                             "the size of the database; no ingest may run meanwhile.")
    _add_common(vacuum)
    vacuum.set_defaults(handler=cmd_vacuum)
    db_commands = commands.add_parser(
        "db", help="whole-database operations: copy between SQLite and PostgreSQL",
        description="Whole-database operations.").add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    copy = db_commands.add_parser(
        "copy", help="copy a whole database (SQLite file or PostgreSQL URL) into another",
        description="Copy every posting, skill, place, run, marker and board from one database into another "
                    "(a SQLite file or a postgresql:// URL, either way). Rows already in the destination are "
                    "skipped, so an interrupted copy resumes when run again; at the end the row counts of "
                    "every table are compared. Example: skillpulse db copy --from skillpulse.db "
                    "--to postgresql://me@db.example.com/skillpulse")
    copy.add_argument("--from", dest="source", required=True, metavar="DB", help="the database to copy")
    copy.add_argument("--to", dest="dest", required=True, metavar="DB",
                      help="the database to copy into (created if it is a new SQLite file)")
    _add_logging(copy)
    copy.set_defaults(handler=cmd_db_copy)
    add_boards_arguments(commands.add_parser(
        "boards", help="the company job boards to fetch: add, list, remove, discover",
        description="The registry of company job boards (Greenhouse, Lever, Ashby, SmartRecruiters) that "
                    "`ingest --source boards` fetches."))
    return parser


BOARD_SPEC_HELP = ("ATS:TOKEN (greenhouse:stripe, lever:spotify, ashby:Ramp, smartrecruiters:Acme) or a board "
                   "or job URL (https://boards.greenhouse.io/stripe, https://jobs.lever.co/spotify/...)")


def add_boards_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="boards_command", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    add = actions.add_parser("add", help="register boards", description=f"Register boards. SPEC is {BOARD_SPEC_HELP}.")
    add.add_argument("specs", nargs="*", metavar="SPEC", help="a board to add")
    add.add_argument("--from-file", metavar="FILE",
                     help="one SPEC a line, or a CSV with a url column; bad lines are skipped and counted")
    _add_common(add)
    add.set_defaults(handler=cmd_boards_add)
    listing = actions.add_parser("list", help="show registered boards and how their last fetch went",
                                 description="Registered boards: status new, ok, failed or missing; open jobs; "
                                             "when last fetched; the last error.")
    listing.add_argument("--ats", type=_choice(*ATS_FAMILIES), metavar="ATS", help=f"only boards of this ATS: {', '.join(ATS_FAMILIES)}")
    _add_format(listing)
    _add_common(listing)
    listing.set_defaults(handler=cmd_boards_list)
    remove = actions.add_parser("remove", help="forget boards (their stored postings stay)",
                                description=f"Forget boards; their stored postings stay. SPEC is {BOARD_SPEC_HELP}.")
    remove.add_argument("specs", nargs="+", metavar="SPEC")
    _add_common(remove)
    remove.set_defaults(handler=cmd_boards_remove)
    discover = actions.add_parser("discover", help="register the boards that stored postings link to",
                                  description="Register every board that stored postings' URLs point at (for "
                                              "TheirStack rows also their original final_url, url and source_url).")
    discover.add_argument("--dry-run", action="store_true", help="list what would be added; change nothing")
    _add_common(discover)
    discover.set_defaults(handler=cmd_boards_discover)


INGEST_DESCRIPTION = """\
Fetch postings from one source, normalize and classify them, keep those that
match the query, and store them. Postings already stored are skipped.

environment:
  THEIRSTACK_API_KEY         API key for --source theirstack (never logged)
  SKILLPULSE_DB              default database path
  SKILLPULSE_THEIRSTACK_URL  TheirStack jobs search endpoint (for proxies and test servers)
  SKILLPULSE_REMOTIVE_URL    Remotive remote-jobs endpoint
  SKILLPULSE_GREENHOUSE_URL, SKILLPULSE_LEVER_URL, SKILLPULSE_LEVER_EU_URL,
  SKILLPULSE_ASHBY_URL, SKILLPULSE_SMARTRECRUITERS_URL
                             company board APIs (for proxies and test servers)

company boards: --source greenhouse|lever|ashby|smartrecruiters fetches the
registered boards of that ATS (see `skillpulse boards add`), --source boards
all of them; each board is fetched whole, so --max-results does not apply.

exit codes: 0 finished, 1 the run failed, 2 usage or configuration error
"""


def add_ingest_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--source", default="theirstack", type=_choice(*SOURCES, *ATS_FAMILIES, ALL_BOARDS),
                        metavar="SOURCE",
                        help="where to fetch postings: theirstack, remotive, the registered boards of one ATS "
                             f"({', '.join(ATS_FAMILIES)}), or boards for all of them (default: theirstack)")
    parser.add_argument("--board", action="append", metavar="TOKEN",
                        help="with a board source: only this board (TOKEN, or ATS:TOKEN with --source boards); "
                             "repeatable; a board not registered yet is added")
    parser.add_argument("--load", metavar="FILE",
                        help="ingest a saved API answer (TheirStack, Remotive, or one board of Greenhouse, "
                             "Lever, Ashby or SmartRecruiters) instead of calling the network; `sample` loads "
                             "the small board shipped with skillpulse")
    parser.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                        help="board sources: most requests in flight at once, across all hosts (default: 8)")
    _add_filters(parser, days_default=30)
    parser.add_argument("--max-results", type=_positive_int, default=250, metavar="N",
                        help="most postings to request from the source; also the TheirStack credit cap "
                             "(default: 250)")
    _add_common(parser)
    parser.add_argument("--max-retries", type=_non_negative_int, default=3, metavar="N",
                        help="retries for transient failures (default: 3)")
    parser.add_argument("--backoff-factor", type=_non_negative_float, default=1.0, metavar="SECONDS",
                        help="exponential backoff base between retries (default: 1.0)")
    parser.add_argument("--timeout", type=_positive_float, default=30.0, metavar="SECONDS",
                        help="seconds for each HTTP attempt, from connecting to the last byte of the "
                             "answer (default: 30)")
    parser.add_argument("--incremental", action="store_true",
                        help="fetch only what is new since the last complete run of the same query "
                             "(TheirStack: by discovery time, excluding stored ids)")
    parser.add_argument("--full-refresh", action="store_true",
                        help="with --incremental: ignore the stored marker and fetch the whole window")
    parser.add_argument("--max-pages", type=_positive_int, metavar="N",
                        help="most requests for pages in this run (default: no limit)")
    parser.add_argument("--min-interval", type=_non_negative_float, metavar="SECONDS",
                        help="least time between two requests to the source (default: 0.25 for "
                             "theirstack, its 4 requests per second; 0 for remotive)")
    parser.add_argument("--cooldown", type=_non_negative_float, metavar="HOURS",
                        help="refuse to call the source again within this many hours of the last call "
                             "(default with --incremental: 6 for remotive, 0 for theirstack; else 0)")
    parser.add_argument("--force", action="store_true", help="call the source even within --cooldown")
    parser.add_argument("--workers", type=_non_negative_int, metavar="N", default=None,
                        help="worker processes for classification and skill extraction (default: one per "
                             "core, at most 4, none on one core; 0 runs everything in one process)")
    parser.add_argument("--dry-run", action="store_true", help="fetch, classify and report, but write nothing")
    parser.add_argument("--json", action="store_true", help="print the run summary as one JSON object on stdout")
    parser.set_defaults(handler=cmd_ingest)
    return parser


def add_inspect_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    _add_common(parser)
    parser.add_argument("--limit", type=_non_negative_int, default=10, metavar="N",
                        help="how many postings; 0 for all of them, streamed (default: 10)")
    parser.add_argument("--source", type=_choice(*SOURCES, *ATS_FAMILIES), metavar="SOURCE",
                        help=f"only postings from this source: {', '.join((*SOURCES, *ATS_FAMILIES))}")
    parser.add_argument("--open", action="store_true",
                        help="only postings still open (no complete board fetch has found them gone)")
    parser.add_argument("--skill", metavar="SKILL", help="only postings that ask for this skill id (see `skills list`)")
    parser.add_argument("--id", metavar="ID", help="one posting whole: skills, places, description as text, and "
                                                    "every source it was stored from")
    _add_filters(parser, days_default=None)
    parser.add_argument("--format", type=_choice("table", "json", "csv"),
                        default="table", help="output format: aligned columns for people (default), "
                                              "json or csv for programs")
    parser.add_argument("--nl", action="store_true", help="newline-delimited JSON: one posting a line")
    parser.add_argument("--description", action="store_true",
                        help="exports (json, csv, --nl) add each posting's description as plain text")
    parser.add_argument("--summary", action="store_true",
                        help="counts by source, role, level and month, with the date range and total")
    parser.set_defaults(handler=cmd_inspect)
    return parser


def add_insights_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    _add_common(parser)
    _add_filters(parser, days_default=30)
    parser.add_argument("--top", type=_positive_int, default=20, metavar="N", help="how many skills (default: 20)")
    parser.add_argument("--format", type=_choice("json", "table", "csv"), default="json",
                        help="output format: json (the SkillInsightsResponse), table or csv (default: json)")
    parser.set_defaults(handler=cmd_insights)
    return parser


# ---- commands -----------------------------------------------------------------------------

def cmd_ingest(args) -> int:
    if args.full_refresh and not args.incremental:
        raise QueryError("--full-refresh only applies with --incremental (a run without it fetches the "
                         "whole window already)")
    _stop_on_signals()
    query = IngestionQuery(source=args.source, location=args.location, role=args.role, level=args.level,
                           days=args.days, max_results=args.max_results, remote=args.remote)
    if args.load:
        return _ingest_saved(args, query)
    if args.source in ATS_FAMILIES or args.source == ALL_BOARDS:
        return _ingest_boards(args, query)
    if args.board:
        raise QueryError(f"--board applies to board sources ({', '.join(ATS_FAMILIES)}, {ALL_BOARDS}), "
                         f"not to {args.source}")
    source_cls = source_class(args.source)
    settings = HttpSettings(max_retries=args.max_retries, backoff_factor=args.backoff_factor, timeout=args.timeout,
                            min_interval=_default(args.min_interval, source_cls.default_min_interval))
    source = get_source(args.source, settings)
    store = _ingest_store(args)
    try:
        # Scheduled runs (--incremental) respect the provider's daily-call limit by default; a run by
        # hand does only when --cooldown is given, so trying a command twice just works.
        cooldown = _default(args.cooldown, source_cls.cooldown_hours if args.incremental else 0.0)
        allowed = None if args.force else next_allowed_call(store, source, cooldown)
        if allowed:
            when = allowed.strftime("%Y-%m-%d %H:%M UTC")
            log.info("%s was called less than %g hours ago; next call allowed after %s (use --force to call now)",
                     source.name, cooldown, when)
            if not args.dry_run:
                record_held_back(store, source, query, f"next call allowed after {when}")
            return EXIT_OK
        state = plan_fetch(store, source, query, incremental=args.incremental and not args.full_refresh,
                           max_pages=args.max_pages)
        if state.since:
            log.info("incremental: asking for postings discovered since %s", state.since)
        # On a terminal, say what the first request waits for: offline, it is the whole timeout.
        _progress_line(args)(f"{source.name}: waiting for {_host_of(source)} (up to {args.timeout:g}s an attempt, "
                             f"{args.max_retries} retries)")
        summary = run_ingest(query, source, store, state=state, dry_run=args.dry_run, workers=_workers(args),
                             stop=_STOP.is_set,
                             progress=_progress(args))
    finally:
        _end_progress(args)
        if store:
            store.close()
    _report(args, summary)
    return EXIT_OK


def _ingest_store(args) -> Store | None:
    """The store an ingest writes; read-only for a dry run, and None for a dry run of a database
    that does not exist yet (nothing is created)."""
    path = _db_path(args)
    if args.dry_run and not path.exists():
        return None
    return open_store(path, readonly=args.dry_run)


def _ingest_saved(args, query: IngestionQuery) -> int:
    """`--load FILE`: the rows of a saved answer, through the same run as fetched ones."""
    from .sources.saved import load

    saved = load(args.load)
    log.info("loading %d rows of a saved %s answer from %s", len(saved.rows), saved.name, saved.origin)
    query = dataclasses.replace(query, source=saved.name)
    store = _ingest_store(args)
    try:
        summary = run_ingest(query, saved, store, dry_run=args.dry_run, workers=_workers(args),
                             stop=_STOP.is_set, progress=_progress(args))
    finally:
        _end_progress(args)
        if store:
            store.close()
    _report(args, summary)
    return EXIT_OK


def _ingest_boards(args, query: IngestionQuery) -> int:
    families = ats_families(args.source)
    named = [_board_name(args.source, token) for token in args.board or ()]
    path = _db_path(args)
    if args.dry_run and not path.exists():
        raise StoreOpenError(f"no database at {path}: register boards first with `skillpulse boards add` or pass --db")
    with open_store(path, readonly=args.dry_run) as store:
        if named and not args.dry_run:
            added, _ = store.add_boards(named)
            if added:
                log.info("registered %d new board%s", added, "s" * (added != 1))
        boards = boards_for_run(store, families, query, [spec.key for spec in named])
        if not boards:
            which = ", ".join(spec.key for spec in named) if named else f"{args.source} boards"
            raise ConfigError(f"no {which} registered to fetch; add some with `skillpulse boards add "
                              f"greenhouse:TOKEN` (or a board URL), or see `skillpulse boards list`")
        settings = HttpSettings(max_retries=args.max_retries, backoff_factor=args.backoff_factor,
                                timeout=args.timeout, min_interval=_default(args.min_interval, 0.0))
        log.info("fetching %d board%s, up to %d requests at once", len(boards), "s" * (len(boards) != 1),
                 args.concurrency)
        try:
            summary = run_boards(query, boards, families, store, settings=settings,
                                 concurrency=args.concurrency, dry_run=args.dry_run, workers=_workers(args),
                                 progress=_progress(args), stop=_STOP.is_set)
        finally:
            _end_progress(args)
    _report(args, summary)
    return EXIT_OK


def _board_name(source: str, text: str):
    """A --board value as a BoardSpec: TOKEN of the source's ATS, or ATS:TOKEN, or a URL."""
    if ":" not in text and source != ALL_BOARDS:
        text = f"{source}:{text}"
    try:
        spec = parse_spec(text)
    except BoardSpecError as exc:
        raise QueryError(f"--board: {exc}", "board") from None
    if source != ALL_BOARDS and spec.ats != source:
        raise QueryError(f"--board {text!r} is a {spec.ats} board, but --source is {source}", "board")
    return spec


def _host_of(source) -> str:
    from urllib.parse import urlsplit

    return urlsplit(getattr(source, "url", "")).netloc or source.name


def _workers(args) -> int:
    cores = os.cpu_count() or 1
    return _default(args.workers, min(cores, 4) if cores > 1 else 0)


def _default(value, fallback):
    return fallback if value is None else value


def _report(args, summary: RunSummary) -> None:
    if args.json:
        print(json.dumps(summary.to_dict()))
    log.info(summary.line())


def cmd_inspect(args) -> int:
    skill = args.skill.strip().lower() if args.skill else None
    if skill and skill not in catalog().skills:
        raise QueryError(f"unknown skill {args.skill!r}{_suggestion(skill, catalog().skills)}; "
                         f"see `skillpulse skills list`", "skill")
    with open_store(_db_path(args), readonly=True) as store:
        if args.id:
            return _show_posting(store, args.id.strip())
        where = PostingFilter(source=args.source, role=args.role, level=args.level,
                              place=resolve_place(store, args.location), remote=args.remote, days=args.days,
                              open_only=args.open, skill=skill)
        if args.summary:
            print(_render_summary(store, where, "json" if args.nl else args.format))
            return EXIT_OK
        if args.format == "table" and not args.nl:
            rows = store.postings(where, limit=args.limit or None, columns=POSTING_VIEW)
            print(output.table(rows, POSTING_VIEW, {"title": 48, "company": 24, "location": 30}))
            return EXIT_OK
        wanted = POSTING_EXPORT + ("skills",) + (("description_raw",) if args.description else ())
        exported = (_exported(row) for row in store.postings(where, limit=args.limit or None, columns=wanted))
        columns = POSTING_EXPORT + ("skills",) + (("description",) if args.description else ())
        if args.nl:
            output.write_lines(exported, sys.stdout)
        elif args.format == "csv":
            output.write_csv(({**row, "skills": ",".join(row["skills"])} for row in exported), columns, sys.stdout)
        else:
            output.write_json_array(exported, sys.stdout)
    return EXIT_OK


def _exported(row: dict) -> dict:
    """A posting as exports show it: skills as a list, the description (when asked for) as plain text."""
    row["skills"] = _skill_list(row["skills"])
    if "description_raw" in row:
        row["description"] = to_plain_text(row.pop("description_raw"))
    return row


def _skill_list(column: str) -> list[str]:
    """postings.skills (comma-joined ids) as a list."""
    return column.split(",") if column else []


def _show_posting(store: Store, posting_id: str) -> int:
    posting = store.posting(posting_id)
    if posting is None:
        raise QueryError(f"no posting with id {posting_id!r}; ids are in `skillpulse inspect --format json`", "id")
    shown = {name: posting[name] for name in POSTING_EXPORT}
    shown["skills"] = _skill_list(posting["skills"])
    shown["places"] = [[posting["country_code"], posting["region_code"], posting["city"]], *posting["more_places"]]
    shown["remote_scope"] = posting["remote_scope"]
    shown["description"] = to_plain_text(posting["description_raw"])
    shown["seen_in"] = posting["copies"]
    print(output.to_json(shown))
    return EXIT_OK


def _render_summary(store: Store, where: PostingFilter, fmt: str) -> str:
    summary = postings_summary(store, where)
    groups = {name: summary[f"by_{name}"] for name in ("source", "role", "level", "month")}
    if fmt == "json":
        return output.to_json({**{k: summary[k] for k in ("total", "companies", "date_range")},
                               **{f"by_{name}": {str(k): n for k, n in rows} for name, rows in groups.items()}})
    if fmt == "csv":
        rows = [{"group": "total", "value": "", "postings": summary["total"]},
                {"group": "companies", "value": "", "postings": summary["companies"]}]
        rows += [{"group": name, "value": "" if k is None else k, "postings": n}
                 for name, pairs in groups.items() for k, n in pairs]
        return output.to_csv(rows, ("group", "value", "postings"))
    parts = [f"{summary['total']} postings from {summary['companies']} companies, dated "
             f"{summary['date_range']['from'] or '?'} to {summary['date_range']['to'] or '?'}"]
    for name, rows in groups.items():
        parts.append(output.table(({name: k if k is not None else "(none)", "postings": n} for k, n in rows),
                                  (name, "postings")))
    return "\n\n".join(parts)


def cmd_insights(args) -> int:
    with open_store(_db_path(args), readonly=True) as store:
        response = skill_insights(store, location=args.location, role=args.role, level=args.level,
                                  days=args.days, remote=args.remote, top=args.top)
    if args.format == "json":
        print(output.to_json(response))
        return EXIT_OK
    if args.format == "csv":  # one row a skill; the title and totals are in the JSON
        print(output.to_csv(({**s, "postings_count": response["totals"]["postings_count"]} for s in response["skills"]),
                            ("id", "name", "category", "count", "pct", "postings_count")))
        return EXIT_OK
    print(f"{response['title']}\n{response['subtitle']}\n")
    ranked = ({"rank": i, "skill": s["name"], "count": s["count"], "%": f"{s['pct']:.1f}"}
              for i, s in enumerate(response["skills"], 1))
    print(output.table(ranked, ("rank", "skill", "count", "%")))
    return EXIT_OK


def cmd_skills_list(args) -> int:
    entries = [{"id": s.id, "name": s.name, "category": s.category} for s in catalog().skills.values()
               if args.category in (None, s.category)]
    if args.format == "json":
        print(output.to_json(entries))
    else:
        print(output.table(entries, ("id", "name", "category")))
    return EXIT_OK


def cmd_skills_rebuild(args) -> int:
    _stop_on_signals()
    with open_store(_existing_db(args)) as store:
        show = _progress_line(args)
        done = rebuild_skills(store, progress=lambda n, total: show(f"re-extracted {n} of {total} postings"),
                              stop=_STOP.is_set)
        _end_progress(args)
    log.info("re-extracted skills of %d postings", done)
    return EXIT_OK


def cmd_serve(args) -> int:
    from .server import (  # only this command needs the HTTP server
        DEFAULT_ORIGINS,
        make_server,
    )

    origins = tuple(args.cors_origin or DEFAULT_ORIGINS)
    for origin in origins:
        if origin != "*" and not origin.lower().startswith(("http://", "https://")):
            raise QueryError(f"--cors-origin {origin!r} is not an origin: write it as http://host:port, or '*'")
    try:
        server = make_server(_db_path(args), args.host, args.port, origins)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                          f"{_listen_hint(exc, args.port)}") from None
    host, port = server.server_address[:2]

    def stop(signum, frame):
        # serve_forever returns once shutdown() is called, which must come from another thread.
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    # Handlers first, then the line that tells a supervisor (or a test) the server is up; also when
    # started in the background, where SIGINT arrives ignored.
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), stop)
    try:
        cors = "any origin (*)" if "*" in origins else ", ".join(origins)
        log.info("serving %s on http://%s:%d (CORS: %s); Ctrl+C stops", _db_path(args), host, port, cors)
        server.serve_forever()
        log.info("stopped")
    finally:
        server.server_close()
    return EXIT_OK


def _listen_hint(exc: OSError, port: int) -> str:
    """What to do when the server cannot listen."""
    if exc.errno in (errno.EADDRINUSE, 10048):  # 10048: Windows' WSAEADDRINUSE
        return f"another program uses port {port}: stop it or try --port {port + 1}"
    if exc.errno in (errno.EACCES, 10013):
        return "ports below 1024 need administrator rights: try --port 8000"
    return "check --host: an address of this machine, such as 127.0.0.1, or 0.0.0.0 for all"


# Set by SIGINT or SIGTERM during ingest and rebuild. The handler also raises KeyboardInterrupt at
# once; should that land in a finalizer, where Python swallows it, the run checks this flag too.
_STOP = threading.Event()


def _interrupt(signum, frame):
    _STOP.set()
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Ctrl+C and SIGTERM (kill, systemd, a container stop) end a run the same way: the pages
    analyzed so far are committed, the run is recorded as failed ("interrupted"), no process is left."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {value}")
    return value


def cmd_runs(args) -> int:
    with open_store(_db_path(args), readonly=True) as store:
        runs = list_runs(store, args.limit)
    if args.format == "json":
        print(output.to_json(runs))
        return EXIT_OK
    for run in runs:
        run["query"] = _query_words(run["query"])
        run["error or note"] = run["error"] or run["note"]
    print(output.table(runs, ("id", "started_at", "source", "status", "fetched", "invalid", "matched", "inserted",
                              "skipped", "stopped_by", "query", "error or note"), {"query": 48}))
    return EXIT_OK


def cmd_status(args) -> int:
    from . import accelerator
    from .sources.theirstack import KEY_VARIABLE

    path = _db_path(args)
    info = {"database": str(path), "exists": path.exists(), "size_bytes": None, "schema_version": None,
            "postings": {}, "last_runs": [], "boards": {},
            "accelerator": accelerator.scan is not None, KEY_VARIABLE: bool(os.environ.get(KEY_VARIABLE, "").strip())}
    if path.exists():
        with open_store(path, readonly=True) as store:
            info["size_bytes"] = store.size_bytes()
            info["schema_version"] = store.schema_version()
            info["postings"] = dict(store.postings_by_source())
            now = datetime.now(timezone.utc)
            for run in store.last_runs():
                started = datetime.strptime(run["started_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                info["last_runs"].append({**run, "age_hours": round((now - started).total_seconds() / 3600, 1)})
            for board in store.boards():
                info["boards"][board["status"]] = info["boards"].get(board["status"], 0) + 1
    if args.format == "json":
        print(output.to_json(info))
        return EXIT_OK
    print("\n".join(_status_lines(info)))
    if info["last_runs"]:
        print()
        print(output.table(info["last_runs"], ("source", "started_at", "age_hours", "status", "inserted", "error"),
                           {"error": 60}))
    return EXIT_OK


def _status_lines(info: dict) -> list[str]:
    """`skillpulse status` for people: one line per fact."""
    if info["exists"]:
        database = f"database: {info['database']} ({info['size_bytes'] / 2**20:.1f} MB, schema {info['schema_version']})"
    else:
        database = f"database: {info['database']} (not created yet)"
    postings = f"postings: {sum(info['postings'].values()):,}"
    for source, count in info["postings"].items():
        postings += f"; {source} {count:,}"
    boards = ", ".join(f"{count} {status}" for status, count in sorted(info["boards"].items())) or "none"
    accelerator = "active" if info["accelerator"] else "not active (pure Python)"
    key = "set" if info["THEIRSTACK_API_KEY"] else "not set"
    return [database, postings, f"boards: {boards}", f"accelerator: {accelerator}", f"THEIRSTACK_API_KEY: {key}"]


def cmd_prune(args) -> int:
    if not (args.closed_before or args.posted_before):
        raise QueryError("say what to delete: --closed-before DATE and/or --posted-before DATE")
    path = _existing_db(args)
    with open_store(path, readonly=args.dry_run) as store:
        removed = store.prune(closed_before=args.closed_before and args.closed_before + "T00:00:00Z",
                              posted_before=args.posted_before, dry_run=args.dry_run)
    if args.dry_run:
        log.info("would delete %d postings [dry run: nothing deleted]", removed)
    else:
        log.info("deleted %d postings; `skillpulse vacuum` gives the space back to the disk", removed)
    return EXIT_OK


def cmd_vacuum(args) -> int:
    with open_store(_existing_db(args)) as store:
        before, after = store.vacuum()
    log.info("vacuumed %s: %.1f MB -> %.1f MB", store.path, before / 2**20, after / 2**20)
    return EXIT_OK


def cmd_db_copy(args) -> int:
    from .store import copy_store

    source = database_path(args.source, "--from")
    dest = database_path(args.dest, "--to")
    if not source.exists():
        raise StoreOpenError(f"no database at {source}")
    if str(source) == str(dest):
        raise ConfigError("--from and --to name the same database")
    show = _progress_line(args)
    with open_store(source, readonly=True) as reader, open_store(dest) as writer:
        report = copy_store(reader, writer, lambda table, n: show(f"copying {table}: {n:,} rows"))
    _end_progress(args)
    if not args.quiet:
        print(output.table(report, ("table", "source", "copied", "destination")))
    short = [row["table"] for row in report if row["destination"] < row["source"]]
    if short:
        log.error("%s has fewer rows than %s in %s; run the copy again to finish it", dest, source, ", ".join(short))
        return EXIT_FAILED
    log.info("copied %s to %s: every table has all its rows", source, dest)
    return EXIT_OK


def _existing_db(args) -> Path:
    path = _db_path(args)
    if not path.exists():
        raise StoreOpenError(f"no database at {path}; run `skillpulse ingest` first or pass --db")
    return path


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None


def _query_words(query: dict) -> str:
    """A run's query in a few words, the filters that narrow it only: "role=backend location=Dallas, TX"."""
    defaults = {"role": "any", "level": "any", "remote": "include", "location": None}
    words = [f"{name}={query[name]}" for name in ("role", "level", "location", "remote")
             if query.get(name, defaults[name]) != defaults[name]]
    words.append(f"days={query.get('days')}")
    if query.get("source") == "theirstack":
        words.append(f"max={query.get('max_results')}")
    return " ".join(words)


def cmd_boards_add(args) -> int:
    specs, bad = [], 0
    for text in args.specs:
        try:
            specs.append(parse_spec(text))
        except BoardSpecError as exc:
            raise QueryError(str(exc)) from None
    if args.from_file:
        try:
            text = Path(args.from_file).expanduser().read_text("utf-8-sig", errors="replace")
        except OSError as exc:
            raise ConfigError(f"cannot read {args.from_file}: {exc.strerror or exc}") from None
        from_file, skipped = specs_from_text(text)
        specs += from_file
        bad = len(skipped)
        for line in skipped[:5]:
            log.warning("skipped %r: not a board of %s", line[:100], ", ".join(ATS_FAMILIES))
    if not specs and not bad:
        raise QueryError("give at least one SPEC or --from-file FILE")
    with open_store(_db_path(args)) as store:
        new, known = store.add_boards(specs)
    log.info("added %d board%s (%d already registered)%s", new, "s" * (new != 1), known,
             f"; skipped {bad} line{'s' * (bad != 1)} that name{'s' * (bad == 1)} no board" if bad else "")
    return EXIT_OK


def cmd_boards_list(args) -> int:
    with open_store(_db_path(args), readonly=True) as store:
        rows = store.boards([args.ats] if args.ats else [])
    fields = ("ats", "token", "company", "status", "open_jobs", "last_fetched_at", "last_error", "host", "misses",
              "added_at")
    rows = [{name: row[name] for name in fields} for row in rows]
    if args.format == "json":
        print(output.to_json(rows))
    else:
        print(output.table(rows, ("ats", "token", "company", "status", "open_jobs", "last_fetched_at", "last_error"),
                           {"company": 24, "last_error": 70}))
    return EXIT_OK


def cmd_boards_remove(args) -> int:
    try:
        specs = [parse_spec(text) for text in args.specs]
    except BoardSpecError as exc:
        raise QueryError(str(exc)) from None
    with open_store(_db_path(args), readonly=False) as store:
        removed = store.remove_boards(specs)
    log.info("removed %d board%s%s", removed, "s" * (removed != 1),
             f" ({len(specs) - removed} were not registered)" if removed < len(specs) else "")
    return EXIT_OK


def cmd_boards_discover(args) -> int:
    path = _db_path(args)
    with open_store(path, readonly=True) as store:
        found = {}
        for url in store.posting_urls():
            ref = parse_url(url)
            if ref is not None and ref.board is not None:
                found.setdefault(ref.board.key, ref.board)
        registered = {f"{b['ats']}:{b['token']}" for b in store.boards()}
    new = [spec for key, spec in sorted(found.items()) if key not in registered]
    if args.dry_run:
        for spec in new:
            print(spec.key)
        log.info("found %d boards in stored postings, %d not registered yet [dry run: nothing added]",
                 len(found), len(new))
        return EXIT_OK
    with open_store(path) as store:
        added, _ = store.add_boards(new)
    log.info("found %d boards in stored postings; added %d new", len(found), added)
    return EXIT_OK




# ---- plumbing ----------------------------------------------------------------------------

def _db_path(args) -> Path:
    return database_path(args.db) if args.db else default_db_path(os.environ)


def _progress_line(args):
    """Writes one self-overwriting status line on a terminal; nothing when stderr is not a TTY."""
    if args.quiet or not sys.stderr.isatty():
        return lambda text: None

    def show(text: str) -> None:
        sys.stderr.write(f"\r\033[K{text}")
        sys.stderr.flush()
    return show


def _progress(args):
    show = _progress_line(args)
    inserted = "would insert" if args.dry_run else "inserted"
    return lambda s: show(f"{s.source}: fetched {s.fetched}, matched {s.matched}, {inserted} {s.inserted}, "
                          f"skipped {s.skipped} (so far)")


def _end_progress(args) -> None:
    if not args.quiet and sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def configure_logging(verbosity: int) -> None:
    level = logging.ERROR if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("skillpulse: %(message)s" if verbosity < 1 else
                                           "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # urllib3 logs its own retry warnings; ours say the same in one line
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbosity >= 2 else logging.ERROR)


def main(argv: Sequence[str] | None = None, prog: str = "skillpulse",
         parser: argparse.ArgumentParser | None = None) -> int:
    """Run the command line; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    args = (parser or build_parser(prog)).parse_args(argv)
    configure_logging(getattr(args, "verbose", 0) - getattr(args, "quiet", 0))
    try:
        return args.handler(args)
    except (QueryError, ConfigError, StoreOpenError) as exc:
        log.error("error: %s", exc)
        return EXIT_USAGE
    except (SourceError, StoreError) as exc:
        log.error("error: %s", exc)
        return EXIT_FAILED
    except KeyboardInterrupt:
        log.error("error: interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


def script_main(command: str, argv: Sequence[str]) -> int:
    """Entry point of the thin scripts: the subcommand's flags, without the subcommand word."""
    return main([command, *argv])
