"""Concurrency for an ingest run: the next page fetched in a thread, the CPU-heavy step in
processes, and pages stored in a thread of their own."""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

from .models import IngestionQuery, JobPosting
from .role_match import classify, matches_query
from .skills import extract_skills
from .store import Store, open_store
from .text import to_plain_text

log = logging.getLogger(__name__)


def prefetched(pages: Iterator[list[dict]], before_waiting: Callable[[], None] = lambda: None,
               should_stop: Callable[[], bool] = lambda: False) -> Iterator[list[dict]]:
    """Fetch the next page in a background thread while the caller processes this one.

    At most one page waits in the queue, so memory stays bounded; errors surface in the caller.
    `before_waiting` runs in the caller's thread whenever the next page is not there yet; while it
    waits, `should_stop()` turning true ends the wait with KeyboardInterrupt.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def hand_over(item) -> bool:
        """Queue an item unless the consumer has stopped; never blocks past its stopping."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not hand_over(page):
                    return
            hand_over(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            hand_over(exc)

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            if handoff.empty():
                before_waiting()
            while True:
                try:
                    item = handoff.get(timeout=0.2)
                    break
                except queue.Empty:
                    if should_stop():
                        raise KeyboardInterrupt from None
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=1)


class Verdict(NamedTuple):
    """What analysis made of one posting of a page: it matches (role, level, skills) or it failed."""

    index: int
    role: str = ""
    level: str = ""
    skills: tuple[str, ...] = ()
    error: str | None = None


def analyze(postings: list[JobPosting], query: IngestionQuery) -> list[Verdict]:
    """Classify postings and extract the skills of those that match: the CPU-heavy step.

    Returns a Verdict for each posting that matches or that analysis failed on (one bad row is an
    invalid row, never a failed page); runs in a worker process too.
    """
    verdicts = []
    for index, posting in enumerate(postings):
        try:
            title, plain = analyzed_text(posting)  # once, for both classification and skills
            posting.role_bucket, posting.level_bucket = classify(title, plain, company=posting.company, prepared=True)
            if matches_query(posting, query):
                verdicts.append(Verdict(index, posting.role_bucket, posting.level_bucket,
                                        tuple(extract_skills(title, plain, prepared=True))))
        except Exception as exc:  # a bug or a hostile row must not cost the page
            verdicts.append(Verdict(index, error=f"analysis failed: {type(exc).__name__}: {exc}"[:200]))
    return verdicts


def analyzed_text(posting: JobPosting) -> tuple[str, str]:
    """(title, description) as plain text: what ingest and `skills rebuild` both analyze."""
    return to_plain_text(posting.title), to_plain_text(posting.description_raw)


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


def _worker_start() -> None:
    """Worker start-up: ignore Ctrl+C; leave as soon as the ingest process is gone, killed included.

    A pool worker holds both ends of its task pipe, so it never sees the parent's death by itself:
    after a SIGKILL it would idle forever, keeping the run's stdout and stderr open.
    """
    # Ctrl+C reaches the whole process group; the ingest process alone decides how the run ends,
    # and shuts the pool down, so a worker must not die of it with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=lambda: (parent.join(), os._exit(1)), name="parent-watch", daemon=True).start()


class Analysis:
    """A page's analysis, in chunks: result() joins them, with indexes into the whole page."""

    def __init__(self, chunks: list[tuple[int, "Future | _Fallback"]]):
        self.chunks = chunks

    def result(self) -> list[Verdict]:
        return [verdict._replace(index=start + verdict.index) for start, chunk in self.chunks
                for verdict in chunk.result()]


def _slim(postings: list[JobPosting]) -> list[tuple]:
    """What analysis needs of a posting: no raw JSON crosses the process boundary."""
    return [(p.title, p.description_raw, p.date_posted, p.remote, p.country_code, p.region_code, p.city,
             p.remote_scope) for p in postings]


def _analyze_slim(rows: list[tuple], query: IngestionQuery):
    """The worker's entry: rebuilds light postings from _slim rows."""
    return analyze([JobPosting(source="", url="x:", title=title, description_raw=description, date_posted=day,
                               remote=remote, country_code=country, region_code=region, city=city,
                               remote_scope=scope)
                    for title, description, day, remote, country, region, city, scope in rows], query)


class Analyzer:
    """Runs `analyze` in place, or in a worker process so it overlaps fetching, parsing and storing.

    Starting worker processes costs about as much as analyzing a thousand postings here, so the
    first POOL_AFTER postings of a run are analyzed in this process: a small run (the default 250)
    never starts one. `workers=0` keeps everything in process.
    """

    MIN_BATCH = 100
    POOL_AFTER = 1000

    def __init__(self, workers: int = 0):
        self.workers = workers
        self.analyzed = 0
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, postings: list[JobPosting], query: IngestionQuery) -> "Analysis":
        """Start analyzing a page: split across the workers, so a page is done in 1/workers the time."""
        self.analyzed += len(postings)
        if self.workers and len(postings) >= self.MIN_BATCH and self.analyzed > self.POOL_AFTER:
            try:
                if self._pool is None:
                    # spawn, not fork: the prefetch thread is running, and forking a threaded process
                    # can deadlock the child; spawn is also what Windows and macOS do.
                    self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_worker_start)
                size = -(-len(postings) // self.workers)  # ceiling division
                return Analysis([(start, self._start(postings[start:start + size], query))
                                 for start in range(0, len(postings), size)])
            except (OSError, RuntimeError, BrokenProcessPool) as exc:
                self._give_up(exc)
        done: Future = Future()
        done.set_result(analyze(postings, query))
        return Analysis([(0, done)])

    def _start(self, chunk: list[JobPosting], query: IngestionQuery) -> _Fallback:
        return _Fallback(self._pool.submit(_analyze_slim, _slim(chunk), query), chunk, query, self)

    def _give_up(self, exc: BaseException) -> None:
        log.warning("worker processes unavailable (%s); classifying in this process", exc)
        self.workers = 0

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # no worker outlives the run


_COMMIT = object()


class _Call(NamedTuple):
    """A store call the writer makes in its thread, in order with the pages (a board's bookkeeping)."""

    function: Callable[[Store], None]


class PageWriter:
    """Stores pages in a thread, on a connection of its own, while the caller goes on fetching.

    Saved pages share one transaction, committed every `commit_every` seconds, on `commit()` and
    on `close()`; `committed()` tells the caller what reached the disk. After an error (the open
    transaction rolls back) it stores nothing more, and `check()` raises the error in the caller.
    """

    def __init__(self, path: Path, commit_every: float):
        self.path, self.commit_every = path, commit_every
        self.error: BaseException | None = None
        self._inbox: queue.Queue = queue.Queue(maxsize=2)
        self._lock = threading.Lock()
        self._committed: list[tuple[int, int, int, list[str]]] = []
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    def save(self, new: Sequence[JobPosting], seen: Sequence[str], ids: list[str]) -> None:
        """Queue a page: new postings to insert, stored ids seen again, and the page's candidate ids."""
        self.check()
        self._inbox.put((new, seen, ids))

    def call(self, function: Callable[[Store], None]) -> None:
        """Queue a store call, made in the same transaction as the pages saved before it."""
        self.check()
        self._inbox.put(_Call(function))

    def commit(self) -> None:
        self._inbox.put(_COMMIT)

    def close(self) -> None:
        """Commit what was saved and stop (an error stays in `error`)."""
        if self._thread.is_alive():
            self._inbox.put(None)
            self._thread.join()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def committed(self) -> tuple[int, int, int, list[str]]:
        """(inserted, skipped, duplicates, candidate ids) of the pages committed since the last call."""
        with self._lock:
            pages, self._committed = self._committed, []
        return (sum(p[0] for p in pages), sum(p[1] for p in pages), sum(p[2] for p in pages),
                [i for p in pages for i in p[3]])

    def _run(self) -> None:
        store = None
        batch: list = []
        started = 0.0
        dirty = False  # a page or a call made since the last commit
        try:
            store = open_store(self.path)
        except BaseException as exc:  # handed to the caller by check()
            self.error = exc
        while True:
            item = self._inbox.get()
            try:
                if self.error is None and item is not None and item is not _COMMIT:
                    started = started if dirty else time.monotonic()
                    dirty = True
                    if isinstance(item, _Call):
                        item.function(store)
                    else:
                        new, seen, ids = item
                        batch.append((*store.save_page(new, seen, commit=False), ids))
                if self.error is None and dirty and (item is None or item is _COMMIT or
                                                     time.monotonic() - started >= self.commit_every):
                    store.commit()
                    store.check_file()
                    with self._lock:
                        self._committed += batch
                    batch = []
                    dirty = False
            except BaseException as exc:  # the store rolled the open transaction back
                self.error = exc
                batch = []
                dirty = False
            if item is None:
                break
        if store is not None:
            store.close()
