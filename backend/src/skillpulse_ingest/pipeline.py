"""One ingest run: fetch -> normalize -> recognize stored -> classify -> match -> extract -> store."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Callable

from .models import IngestionQuery, JobPosting, date_window
from .role_match import classify, matches_query
from .skills import extract_skills
from .sources import FetchState, HttpSettings, InvalidRow, Source, SourceError, get_source
from .sources.ats import DEFAULT_CONCURRENCY, Ats, Board, Snapshot, fetch_boards
from .storage_sqlite import StoreError, utc_now
from .store import Store
from .text import valid_unicode
from .workers import Analysis, Analyzer, PageWriter, analyzed_text, prefetched

log = logging.getLogger(__name__)

INCREMENTAL_OVERLAP = timedelta(hours=1)
# Pages share a transaction for up to this long. Posting ids are random, so every commit rewrites
# nearly every page of the posting_skills indexes: committing each page of a fast backfill made
# commits cost more than the inserts. A run that waits for the network commits before it waits.
COMMIT_EVERY_S = 2.0
# A run that stopped on a repeated page is not complete: what the source skipped is a gap.
COMPLETE = ("end_of_results", "total_reached")

__all__ = ["RunSummary", "boards_for_run", "get_source", "list_runs", "next_allowed_call", "plan_fetch", "query_key",
           "rebuild_skills", "record_held_back", "run_boards", "run_ingest"]
BOARD_COUNTS = ("boards_ok", "boards_failed", "boards_missing", "boards_unchanged")


@dataclass
class RunSummary:
    """The counts the README promises: inserted + skipped == matched."""

    source: str
    db: str | None
    fetched: int = 0
    invalid: int = 0
    matched: int = 0
    inserted: int = 0
    skipped: int = 0
    duplicates: int = 0          # matched postings that are a later copy of a job stored from another source
    duration_s: float = 0.0
    stopped_by: str | None = None
    dry_run: bool = False
    boards_ok: int | None = None  # board runs only: how the boards fared
    boards_failed: int | None = None
    boards_missing: int | None = None
    boards_unchanged: int | None = None
    run_id: int | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("run_id")
        for name in BOARD_COUNTS:
            if data[name] is None:
                data.pop(name)
        return data

    def line(self) -> str:
        inserted = "would insert" if self.dry_run else "inserted"
        text = (f"{self.source}: fetched {self.fetched}, invalid {self.invalid}, matched {self.matched}, "
                f"{inserted} {self.inserted}, skipped {self.skipped}")
        if self.duplicates:
            text += f" ({self.duplicates} already known from another source)"
        if self.boards_ok is not None:
            text += (f"; boards: {self.boards_ok} ok, {self.boards_unchanged} unchanged, "
                     f"{self.boards_missing} missing, {self.boards_failed} failed")
        text += f" in {self.duration_s:.1f}s"
        if self.stopped_by in ("max_results", "max_pages"):
            text += f" (stopped by --{self.stopped_by.replace('_', '-')})"
        return text + (" [dry run: nothing written]" if self.dry_run else "")


def query_key(query: IngestionQuery) -> str:
    """What identifies "the same query" across runs for incremental markers."""
    keep = {k: v for k, v in query.to_dict().items() if k not in ("days", "max_results")}
    return json.dumps(keep, sort_keys=True)


def run_ingest(
    query: IngestionQuery,
    source: Source,
    store: Store | None,
    *,
    state: FetchState | None = None,
    dry_run: bool = False,
    workers: int = 0,
    progress: Callable[[RunSummary], None] = lambda summary: None,
    stop: Callable[[], bool] = lambda: False,
) -> RunSummary:
    """Run one ingest and record it in ingest_runs; stored pages are committed as _Run says.

    `store` may be None only for a dry run against a database that does not exist yet. With
    `workers`, classification and skill extraction run in that many worker processes. When `stop()`
    turns true the run ends as if interrupted, between pages or while it waits for one.
    """
    run = _Run(query, source, store, state or FetchState(), dry_run)
    with Analyzer(workers) as analyzer:
        try:
            for rows in prefetched(source.pages(query, run.state), before_waiting=run.commit,
                                   should_stop=stop):
                if stop():
                    raise KeyboardInterrupt
                run.take(rows, analyzer)
                progress(run.summary)
            run.flush()
            run.stop_writing()
        except BaseException as exc:
            run.fail(exc)
            raise
    return run.finish()


def run_boards(
    query: IngestionQuery,
    boards: list[Board],
    families: dict[str, Ats],
    store: Store | None,
    *,
    settings: HttpSettings = HttpSettings(),
    env: dict | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    workers: int = 0,
    progress: Callable[[RunSummary], None] = lambda summary: None,
    stop: Callable[[], bool] = lambda: False,
) -> RunSummary:
    """Fetch company boards, up to `concurrency` at once, and store each one as it arrives.

    Each board is a feed of its own: a missing or failed board is recorded on the board and
    counted, and the run goes on. The run fails (SourceError) only when no board could be fetched.
    """
    run = _Run(query, _BoardsSource(query.source), store, FetchState(), dry_run)
    summary = run.summary
    for name in BOARD_COUNTS:
        setattr(summary, name, 0)
    key = query_key(query)
    with Analyzer(workers) as analyzer:
        try:
            for snapshot in fetch_boards(boards, families, settings, os.environ if env is None else env, concurrency,
                                         before_waiting=run.commit, should_stop=stop):
                if stop():
                    raise KeyboardInterrupt
                run.take_board(snapshot, families[snapshot.board.ats], analyzer, key)
                progress(summary)
            run.flush()
            run.stop_writing()
        except BaseException as exc:
            run.fail(exc)
            raise
    if boards and not (summary.boards_ok or summary.boards_unchanged):
        error = SourceError(f"none of the {len(boards)} boards could be fetched ({summary.boards_missing} missing, "
                            f"{summary.boards_failed} failed); see `skillpulse boards list`")
        run.fail(error)
        raise error
    return run.finish()


def boards_for_run(store: Store, families: dict[str, Ats], query: IngestionQuery,
                   named: list[str] = ()) -> list[Board]:
    """The boards a run fetches, with what the last fetch for the same query left behind.

    Validators (ETag, body hash) count only for the query that stored the board: a run with
    other filters fetches and analyzes the whole board again, so it stores what the earlier one
    filtered out.
    """
    key = query_key(query)
    boards = []
    for row in store.boards_to_fetch(list(families), named):
        board = Board(row["ats"], row["token"], row["id"], row["host"], row["company"])
        if row["validators_query"] == key:
            board = replace(board, etag=row["etag"], last_modified=row["last_modified"], body_hash=row["body_hash"])
        if families[row["ats"]].needs_stored_ids:
            board = replace(board, stored_ids=store.source_ids_of_feed(board.key))
        boards.append(board)
    return boards


@dataclass(frozen=True)
class _BoardsSource:
    """What a run records of a board run's source: its name (`boards`, or one ATS)."""

    name: str
    incremental: bool = False


class _BoardFeed:
    """One board as the run's normalizer sees it: the ATS's name and its normalize, for this board."""

    def __init__(self, ats: Ats, board: Board):
        self.name = ats.name
        self.ats = ats
        self.board = board

    def normalize(self, row: dict) -> JobPosting:
        return self.ats.normalize(row, self.board)


class _Run:
    """The state of one ingest run. A page is analyzed while the next one is fetched, then stored
    by a PageWriter, which commits every COMMIT_EVERY_S, before the run waits for the network, and
    at the end. Counts move into the summary as they are committed; until then a page's ids stay
    in `unstored`, since store.known() reads only what is committed."""

    def __init__(self, query: IngestionQuery, source: Source, store: Store | None, state: FetchState,
                 dry_run: bool):
        self.query, self.source, self.store, self.state = query, source, store, state
        self.writing = store is not None and not dry_run
        self.summary = RunSummary(source.name, str(store.path) if store else None, dry_run=dry_run)
        self.started, self.started_at = time.monotonic(), utc_now()
        self.unstored: set[str] = set()  # ids seen but not stored yet (all of them in a dry run)
        self.newest = ""                 # latest discovered_at seen, for the incremental marker
        self.pending: _Page | None = None
        self.writer: PageWriter | None = None
        if self.writing:
            self.summary.run_id = store.start_run(source.name, query.to_dict())
            store.record_request(source.name, query_key(query), self.started_at)
            self.writer = PageWriter(store.path, COMMIT_EVERY_S)

    def take(self, rows: list[dict], analyzer: Analyzer, feed: Source | None = None) -> None:
        """Normalize, recognize and start analyzing a page (of `feed`, else of the run's source)."""
        self._count_committed()
        self.summary.fetched += len(rows)
        postings = _normalize(feed or self.source, rows, self.summary)
        self.newest = max([self.newest, *(p.discovered_at for p in postings if p.discovered_at)])
        page = _recognize(postings, self.query, self.store, self.summary, self.unstored)
        page.analysis = analyzer.submit(page.candidates, self.query)
        self.flush()
        self.pending = page
        self._tick()

    def flush(self) -> None:
        """Hand the page analyzed last to the writer (or count it, in a dry run)."""
        if self.pending is None:
            return
        fresh = _analyzed(self.pending, self.summary)
        self.summary.matched += len(fresh)
        if self.writer is not None:
            self.writer.save(fresh, self.pending.seen, [p.id for p in self.pending.candidates])
        else:
            self.summary.inserted += len(fresh)
        self.pending = None

    def take_board(self, snapshot: Snapshot, ats: Ats, analyzer: Analyzer, key: str) -> None:
        """One board's snapshot: its postings stored as a page, then the board's own record (a
        complete fetch closes the postings it no longer lists) in the same transaction."""
        board, summary = snapshot.board, self.summary
        if snapshot.status == "ok":
            summary.boards_ok += 1
            self.take(snapshot.rows, analyzer, _BoardFeed(ats, board))
            self.flush()
            listed = [str(row["id"]).strip() for row in snapshot.rows if isinstance(row, dict) and row.get("id") is not None]
            self._record(lambda store: store.board_fetched(
                board.id, board.key, listed, company=snapshot.company, validators=snapshot.validators,
                query_key=key, host=snapshot.host))
            return
        if snapshot.status == "unchanged":
            summary.boards_unchanged += 1
            log.debug("%s: unchanged since the last run", board.key)
            self._record(lambda store: store.board_unchanged(board.id, board.key))
            return
        if snapshot.status == "missing":
            summary.boards_missing += 1
        else:
            summary.boards_failed += 1
        log.warning("%s %s: %s", board.key, snapshot.status, snapshot.error)
        self._record(lambda store: store.board_failed(board.id, snapshot.status, snapshot.error or snapshot.status))

    def _record(self, call) -> None:
        if self.writer is not None:
            self.writer.call(call)

    def commit(self) -> None:
        """Have the writer commit what it has (the run is about to wait for the network)."""
        if self.writer is not None:
            self.writer.commit()

    def stop_writing(self) -> None:
        """Commit the rest and stop the writer; raises its error, if it had one."""
        if self.writer is not None:
            self.writer.close()
            self._count_committed()
            self.writer.check()
            self.store.check_file()

    def _count_committed(self) -> None:
        if self.writer is not None:
            inserted, skipped, duplicates, ids = self.writer.committed()
            self.summary.inserted += inserted
            self.summary.skipped += skipped
            self.summary.duplicates += duplicates
            self.unstored.difference_update(ids)  # store.known() sees them from now on

    def fail(self, exc: BaseException) -> None:
        if not isinstance(exc, StoreError):
            with contextlib.suppress(Exception):  # keep the pages fetched before the fault
                self.flush()
        with contextlib.suppress(Exception):
            self.stop_writing()
        self._tick()
        if self.writing:
            error = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc) or type(exc).__name__
            try:
                self.store.finish_run(self.summary.run_id, self.summary.to_dict(), "failed", error,
                                      self.state.stopped_by)
            except StoreError as store_error:  # a full disk may refuse this too; report the first error
                log.debug("could not record the failed run: %s", store_error)

    def finish(self) -> RunSummary:
        self._tick()
        if self.writing:
            marker = _marker(self.source, self.query, self.state, self.newest, self.started_at)
            self.store.finish_run(self.summary.run_id, self.summary.to_dict(), "ok", None,
                                  self.state.stopped_by, marker)
        return self.summary

    def _tick(self) -> None:
        self.summary.stopped_by = self.state.stopped_by
        self.summary.duration_s = round(time.monotonic() - self.started, 3)


def list_runs(store: Store, limit: int = 20) -> list[dict]:
    """Recent runs, newest first; a run still marked running whose process has ended (killed,
    or the machine went down) shows as `gone`."""
    runs = store.runs(limit)
    here = socket.gethostname()
    for run in runs:
        pid = run.pop("pid", None)
        host = run.pop("host", None)
        run["query"] = json.loads(run.pop("query_json") or "{}")
        if run["status"] == "running" and pid and host == here and not process_alive(pid):
            run["status"] = "gone"
    return runs


def process_alive(pid: int) -> bool:
    """Whether a process of this machine is still running."""
    if os.name == "nt":
        import ctypes  # os.kill on Windows would terminate the process, not probe it

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def plan_fetch(store: Store | None, source: Source, query: IngestionQuery, *,
               incremental: bool = False, max_pages: int | None = None) -> FetchState:
    """The fetch state of a run: for an incremental run, where the last complete run got to.

    The marker is moved back by INCREMENTAL_OVERLAP so nothing on the boundary is missed; postings
    already stored from that overlap are excluded by id, so the overlap costs no credits.
    """
    state = FetchState(max_pages=max_pages)
    if not (incremental and store is not None and getattr(source, "incremental", False)):
        return state
    marker = store.marker(source.name, query_key(query))
    if marker:
        since = datetime.strptime(marker, "%Y-%m-%dT%H:%M:%SZ") - INCREMENTAL_OVERLAP
        state.since = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    # No marker yet (a first run, or one that was interrupted): still skip what earlier runs stored.
    window_start = date_window(query.days)[0] + "T00:00:00Z"
    state.known_ids = tuple(store.source_ids_discovered_since(source.name, state.since or window_start))
    return state


def record_held_back(store: Store, source: Source, query: IngestionQuery, why: str) -> None:
    """A run the cooldown held back still shows in ingest_runs, so a user sees what cron did."""
    run_id = store.start_run(source.name, query.to_dict())
    store.finish_run(run_id, RunSummary(source.name, str(store.path)).to_dict(), "ok", None, "cooldown", note=why)


def next_allowed_call(store: Store | None, source: Source, cooldown_hours: float,
                      now: datetime | None = None) -> datetime | None:
    """When a provider that limits daily calls may be called again; None if it may be now."""
    last = store.last_request_at(source.name) if store is not None and cooldown_hours > 0 else None
    if not last:
        return None
    allowed = datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) + \
        timedelta(hours=cooldown_hours)
    return allowed if allowed > (now or datetime.now(timezone.utc)) else None


def rebuild_skills(store: Store, batch: int = 1000,
                   progress: Callable[[int, int], None] = lambda done, total: None,
                   stop: Callable[[], bool] = lambda: False) -> int:
    """Re-extract the skills of every stored posting, one transaction per batch (stoppable between them)."""
    total, done = store.count_postings(), 0
    for rows in store.iter_for_rebuild(batch):
        if stop():
            raise KeyboardInterrupt
        store.replace_skills({pid: _skills_of(title, description) for pid, title, description in rows})
        done += len(rows)
        progress(done, total)
    return done


def _skills_of(title: str, description: str) -> list[str]:
    """A stored posting's skills, as ingest found them; a posting analysis fails on keeps none."""
    try:
        return extract_skills(title, description)
    except Exception as exc:
        log.debug("skill extraction failed on %r: %s: %s", valid_unicode(title)[:80], type(exc).__name__, exc)
        return []


def _normalize(source: Source, rows: list[dict], summary: RunSummary) -> list[JobPosting]:
    """The page's rows as postings; a row that cannot be one is counted invalid, with its reason at -v."""
    postings = []
    for row in rows:
        try:
            if not isinstance(row, dict):
                raise InvalidRow(f"a {type(row).__name__}, not an object")
            postings.append(_storable(source.normalize(row)))
        except Exception as exc:  # InvalidRow, or a normalizer's bug on a row nobody foresaw
            reason = exc if isinstance(exc, InvalidRow) else f"{type(exc).__name__}: {exc}"
            _invalid(summary, source.name, row.get("id") if isinstance(row, dict) else None, reason)
    return postings


def _invalid(summary: RunSummary, source: str, row_id, reason) -> None:
    summary.invalid += 1
    log.debug("invalid %s row %s: %s", source, valid_unicode(str(row_id))[:40], valid_unicode(str(reason))[:200])


def _storable(posting: JobPosting) -> JobPosting:
    """Text fields SQLite can store: half an emoji (a lone surrogate) becomes U+FFFD."""
    for name, value in vars(posting).items():
        if isinstance(value, str) and not value.isascii():
            setattr(posting, name, valid_unicode(value))
    return posting


@dataclass
class _Page:
    candidates: list[JobPosting]        # not stored yet: to classify, match and extract
    seen: list[str]                     # stored already: only last_seen_at moves
    analysis: Analysis | None = None


def _recognize(postings, query, store, summary, unstored: set[str]) -> _Page:
    """Recognize stored postings before any classification: a rerun costs almost nothing."""
    known = store.known(postings) if store is not None else {}
    page = _Page([], [])
    for posting in postings:
        stored = known.get(posting.id)
        if stored or posting.id in unstored:
            if stored:
                posting.role_bucket, posting.level_bucket = stored.role, stored.level
                page.seen.append(stored.id)  # its own id: the url may have changed since
            else:
                title, plain = analyzed_text(posting)
                posting.role_bucket, posting.level_bucket = classify(title, plain, company=posting.company, prepared=True)
            if matches_query(posting, query):
                summary.matched += 1
                summary.skipped += 1
                summary.duplicates += bool(stored and stored.duplicate)
            continue
        unstored.add(posting.id)
        page.candidates.append(posting)
    return page


def _analyzed(page: _Page, summary: RunSummary) -> list[JobPosting]:
    """The page's candidates that match the query, with their buckets and skills filled in."""
    fresh = []
    for verdict in page.analysis.result():
        posting = page.candidates[verdict.index]
        if verdict.error:
            _invalid(summary, posting.source, posting.source_id or posting.id, verdict.error)
            continue
        posting.role_bucket, posting.level_bucket, posting.skills = verdict.role, verdict.level, verdict.skills
        fresh.append(posting)
    return fresh


def _marker(source: Source, query: IngestionQuery, state: FetchState, newest: str, started_at: str):
    """A complete run covers everything discovered up to its newest row (never past its own start).

    Pages come newest first, so a run cut short by a budget leaves older rows unfetched: it moves
    no marker, and the next run fills the gap (stored rows are excluded by id).
    """
    if not newest or state.stopped_by not in COMPLETE:
        return None
    return source.name, query_key(query), min(newest, started_at)
