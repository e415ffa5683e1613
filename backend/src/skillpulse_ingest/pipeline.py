"""One ingest run: fetch -> normalize -> recognize stored -> classify -> match -> extract -> store."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from .models import IngestionQuery, JobPosting, date_window
from .role_match import classify, matches_query
from .skills import extract_skills
from .sources import FetchState, InvalidRow, Source, get_source
from .storage_sqlite import SQLiteStore, StoreError, utc_now
from .text import to_plain_text

log = logging.getLogger(__name__)

INCREMENTAL_OVERLAP = timedelta(hours=1)
COMPLETE = ("end_of_results", "total_reached", "repeated_page")

__all__ = ["RunSummary", "get_source", "next_allowed_call", "plan_fetch", "query_key", "rebuild_skills",
           "record_held_back", "run_ingest"]


@dataclass
class RunSummary:
    """The counts cli.md promises: inserted + skipped == matched."""

    source: str
    db: str | None
    fetched: int = 0
    invalid: int = 0
    matched: int = 0
    inserted: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    stopped_by: str | None = None
    dry_run: bool = False
    run_id: int | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("run_id")
        return data

    def line(self) -> str:
        text = (f"{self.source}: fetched {self.fetched}, invalid {self.invalid}, matched {self.matched}, "
                f"inserted {self.inserted}, skipped {self.skipped} in {self.duration_s:.1f}s")
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
    store: SQLiteStore | None,
    *,
    state: FetchState | None = None,
    dry_run: bool = False,
    workers: int = 0,
    progress: Callable[[RunSummary], None] = lambda summary: None,
) -> RunSummary:
    """Run one ingest and record it in ingest_runs; each page is committed on its own.

    `store` may be None only for a dry run against a database that does not exist yet. With
    `workers`, classification and skill extraction run in that many worker processes.
    """
    state = state or FetchState()
    summary = RunSummary(source.name, str(store.path) if store else None, dry_run=dry_run)
    writing = store is not None and not dry_run
    started, started_at = time.monotonic(), utc_now()
    if writing:
        summary.run_id = store.start_run(source.name, query.to_dict())
        store.record_request(source.name, query_key(query), started_at)
    seen_this_run: set[str] = set()  # ids not stored yet (all of them in a dry run)
    newest = ""  # latest discovered_at seen, for the incremental marker
    pending: _Page | None = None  # analyzed while the next page was fetched; stored one page late
    with Analyzer(workers) as analyzer:
        try:
            for rows in prefetched(source.pages(query, state)):
                summary.fetched += len(rows)
                postings = _normalize(source, rows, summary)
                newest = max([newest, *(p.discovered_at for p in postings if p.discovered_at)])
                page = _recognize(postings, query, store, summary, seen_this_run)
                page.analysis = analyzer.submit(page.candidates, query)
                _store(pending, store, writing, summary)
                if writing and pending is not None:
                    # Stored now, so store.known() recognizes them: memory stays flat over long runs.
                    seen_this_run.difference_update(p.id for p in pending.candidates)
                pending = page
                summary.stopped_by = state.stopped_by
                summary.duration_s = round(time.monotonic() - started, 3)
                progress(summary)
            _store(pending, store, writing, summary)
            pending = None
        except BaseException as exc:
            if pending is not None and not isinstance(exc, StoreError):
                with contextlib.suppress(Exception):  # keep the pages fetched before the fault
                    _store(pending, store, writing, summary)
            summary.duration_s = round(time.monotonic() - started, 3)
            if writing:
                error = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc) or type(exc).__name__
                store.finish_run(summary.run_id, summary.to_dict(), "failed", error, state.stopped_by)
            raise
    summary.stopped_by = state.stopped_by
    summary.duration_s = round(time.monotonic() - started, 3)
    if writing:
        store.finish_run(summary.run_id, summary.to_dict(), "ok", None, state.stopped_by,
                         _marker(source, query, state, newest, started_at))
    return summary


def plan_fetch(store: SQLiteStore | None, source: Source, query: IngestionQuery, *,
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


def record_held_back(store: SQLiteStore, source: Source, query: IngestionQuery, why: str) -> None:
    """A run the cooldown held back still shows in ingest_runs, so a user sees what cron did."""
    run_id = store.start_run(source.name, query.to_dict())
    store.finish_run(run_id, RunSummary(source.name, str(store.path)).to_dict(), "ok", why, "cooldown")


def next_allowed_call(store: SQLiteStore | None, source: Source, cooldown_hours: float,
                      now: datetime | None = None) -> datetime | None:
    """When a provider that limits daily calls may be called again; None if it may be now."""
    last = store.last_request_at(source.name) if store is not None and cooldown_hours > 0 else None
    if not last:
        return None
    allowed = datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) + \
        timedelta(hours=cooldown_hours)
    return allowed if allowed > (now or datetime.now(timezone.utc)) else None


def prefetched(pages: Iterator[list[dict]]) -> Iterator[list[dict]]:
    """Fetch the next page in a background thread while the caller processes this one.

    At most one page waits in the queue, so memory stays bounded; errors surface in the caller.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        handoff.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            handoff.put(exc)

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=1)


def rebuild_skills(store: SQLiteStore, batch: int = 1000,
                   progress: Callable[[int, int], None] = lambda done, total: None) -> int:
    """Re-extract the skills of every stored posting, one transaction per batch."""
    total, done = store.count_postings(), 0
    for rows in store.iter_for_rebuild(batch):
        store.replace_skills({pid: extract_skills(title, description) for pid, title, description in rows})
        done += len(rows)
        progress(done, total)
    return done


def _normalize(source: Source, rows: list[dict], summary: RunSummary) -> list[JobPosting]:
    postings = []
    for row in rows:
        try:
            if not isinstance(row, dict):
                raise InvalidRow(f"a {type(row).__name__}, not an object")
            postings.append(source.normalize(row))
        except InvalidRow as exc:
            summary.invalid += 1
            row_id = row.get("id") if isinstance(row, dict) else None
            log.debug("invalid %s row %s: %s", source.name, str(row_id)[:40], exc)
    return postings


@dataclass
class _Page:
    candidates: list[JobPosting]        # not stored yet: to classify, match and extract
    seen: list[str]                     # stored already: only last_seen_at moves
    analysis: Future | _Fallback | None = None


def _recognize(postings, query, store, summary, seen_this_run) -> _Page:
    """Recognize stored postings before any classification: a rerun costs almost nothing."""
    known = store.known(postings) if store is not None else {}
    page = _Page([], [])
    for posting in postings:
        stored = known.get(posting.id)
        if stored or posting.id in seen_this_run:
            if stored:
                posting.role_bucket, posting.level_bucket = stored
                page.seen.append(posting.id)
            else:
                posting.role_bucket, posting.level_bucket = classify(posting.title, posting.description_raw)
            if matches_query(posting, query):
                summary.matched += 1
                summary.skipped += 1
            continue
        seen_this_run.add(posting.id)
        page.candidates.append(posting)
    return page


def _store(page: _Page | None, store, writing, summary) -> None:
    if page is None:
        return
    fresh = []
    for index, role, level, skills in page.analysis.result():
        posting = page.candidates[index]
        posting.role_bucket, posting.level_bucket, posting.skills = role, level, skills
        fresh.append(posting)
    summary.matched += len(fresh)
    if writing:
        inserted, raced = store.save_page(fresh, page.seen)
        summary.inserted += inserted
        summary.skipped += raced
    else:
        summary.inserted += len(fresh)


def analyze(postings: list[JobPosting], query: IngestionQuery) -> list[tuple[int, str, str, tuple[str, ...]]]:
    """Classify postings and extract the skills of those that match: the CPU-heavy step.

    Returns (index, role, level, skills) of the matching ones; runs in a worker process too.
    """
    matched = []
    for index, posting in enumerate(postings):
        plain = to_plain_text(posting.description_raw)  # once, for both classification and skills
        posting.role_bucket, posting.level_bucket = classify(posting.title, plain, prepared=True)
        if matches_query(posting, query):
            matched.append((index, posting.role_bucket, posting.level_bucket,
                            tuple(extract_skills(posting.title, plain, prepared=True))))
    return matched


class _Fallback:
    """A worker's result; if the worker process died, the same work done here instead."""

    def __init__(self, future: Future, postings: list[JobPosting], query: IngestionQuery, analyzer: "Analyzer"):
        self.future, self.postings, self.query, self.analyzer = future, postings, query, analyzer

    def result(self):
        try:
            return self.future.result()
        except BrokenProcessPool as exc:
            self.analyzer._give_up(exc)
            return analyze(self.postings, self.query)


def _analyze_slim(rows: list[tuple], query: IngestionQuery):
    """The worker's entry: rebuilds light postings (no raw JSON crosses the process boundary)."""
    return analyze([JobPosting(source="", url="x:", title=title, description_raw=description, date_posted=day,
                               remote=remote, country_code=country, region_code=region, city=city,
                               remote_scope=scope)
                    for title, description, day, remote, country, region, city, scope in rows], query)


class Analyzer:
    """Runs `analyze` in place, or in a worker process so it overlaps fetching, parsing and storing.

    The worker starts only for pages large enough to pay for it; `workers=0` keeps everything in process.
    """

    MIN_BATCH = 100

    def __init__(self, workers: int = 0):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, postings: list[JobPosting], query: IngestionQuery) -> Future:
        if self.workers and len(postings) >= self.MIN_BATCH:
            slim = [(p.title, p.description_raw, p.date_posted, p.remote, p.country_code, p.region_code, p.city,
                     p.remote_scope) for p in postings]
            try:
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(self.workers)
                return _Fallback(self._pool.submit(_analyze_slim, slim, query), postings, query, self)
            except (OSError, RuntimeError, BrokenProcessPool) as exc:
                self._give_up(exc)
        done: Future = Future()
        done.set_result(analyze(postings, query))
        return done

    def _give_up(self, exc: BaseException) -> None:
        log.warning("worker processes unavailable (%s); classifying in this process", exc)
        self.workers = 0

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _marker(source: Source, query: IngestionQuery, state: FetchState, newest: str, started_at: str):
    """A complete run covers everything discovered up to its newest row (never past its own start).

    Pages come newest first, so a run cut short by a budget leaves older rows unfetched: it moves
    no marker, and the next run fills the gap (stored rows are excluded by id).
    """
    if not newest or state.stopped_by not in COMPLETE:
        return None
    return source.name, query_key(query), min(newest, started_at)
