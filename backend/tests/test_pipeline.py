import pytest

from fakeapi import remotive_job
from skillpulse_ingest.models import IngestionQuery, JobPosting
from skillpulse_ingest.pipeline import get_source, query_key, run_ingest
from skillpulse_ingest.sources import ConfigError, FetchState, SourceError
from skillpulse_ingest.sources.remotive import normalize
from skillpulse_ingest.storage_sqlite import PostingFilter, SQLiteStore


class ListSource:
    """An in-memory source: pages of Remotive-shaped rows, optionally failing after some pages."""

    name = "remotive"

    def __init__(self, pages, fail_after=None):
        self._pages, self.fail_after = pages, fail_after

    def pages(self, query, state):
        for i, rows in enumerate(self._pages):
            if self.fail_after is not None and i >= self.fail_after:
                raise SourceError("Remotive went away")
            state.requests += 1
            yield rows
        state.stopped_by = "end_of_results"

    def normalize(self, row):
        return normalize(row)


QUERY = IngestionQuery(source="remotive", role="backend")


def test_counts_follow_the_contract(db):
    rows = [remotive_job(i) for i in range(12)] + [{"id": 1, "title": "x"}]
    with SQLiteStore.open(db) as store:
        summary = run_ingest(QUERY, ListSource([rows[:6], rows[6:]]), store)
        assert (summary.fetched, summary.invalid) == (13, 1)
        assert summary.matched == summary.inserted == 3 and summary.skipped == 0
        again = run_ingest(QUERY, ListSource([rows]), store)
        assert again.inserted == 0 and again.skipped == again.matched == 3
        stored = list(store.postings(PostingFilter()))
        assert len(stored) == 3 and all(p["role_bucket"] == "backend" for p in stored)
        skills = {r[0] for r in store.conn.execute("SELECT DISTINCT skill FROM posting_skills")}
        assert {"python", "aws", "postgresql", "docker", "kubernetes"} <= skills


def test_duplicates_within_a_run_are_skipped_not_stored_twice(db):
    job = remotive_job(0)
    with SQLiteStore.open(db) as store:
        summary = run_ingest(QUERY, ListSource([[job], [job]]), store)
        assert (summary.inserted, summary.skipped, summary.matched) == (1, 1, 2)
        assert store.count_postings() == 1


def test_failure_keeps_committed_pages_and_marks_the_run_failed(db):
    pages = [[remotive_job(i) for i in range(12)], [remotive_job(i) for i in range(12, 24)]]
    with SQLiteStore.open(db) as store:
        with pytest.raises(SourceError):
            run_ingest(QUERY, ListSource(pages, fail_after=1), store)
        assert store.count_postings() == 3
        [run] = store.runs()
        assert run["status"] == "failed" and run["error"] == "Remotive went away" and run["inserted"] == 3
        resumed = run_ingest(QUERY, ListSource(pages), store)
        assert (resumed.inserted, resumed.skipped) == (3, 3) and store.count_postings() == 6


def test_dry_run_without_a_store_counts_but_writes_nothing():
    summary = run_ingest(QUERY, ListSource([[remotive_job(i) for i in range(12)]]), None, dry_run=True)
    assert summary.matched == summary.inserted == 3 and summary.dry_run


def test_get_source_lists_the_valid_names():
    with pytest.raises(ConfigError, match="theirstack, remotive"):
        get_source("indeed")


def test_query_key_ignores_window_and_budget():
    assert query_key(QUERY) == query_key(IngestionQuery(source="remotive", role="backend", days=3, max_results=9))
    assert query_key(QUERY) != query_key(IngestionQuery(source="remotive", role="frontend"))


def test_marker_never_passes_the_run_start(db):
    job = {**remotive_job(0)}
    src = ListSource([[job]])
    src.normalize = lambda row: _with_discovered(normalize(row), "2999-01-01T00:00:00Z")
    with SQLiteStore.open(db) as store:
        run_ingest(QUERY, src, store, state=FetchState())
        marker = store.marker("remotive", query_key(QUERY))
    assert marker is not None and marker < "2999"


def _with_discovered(posting, stamp):
    posting.discovered_at = stamp
    return posting


def test_worker_processes_give_the_same_result_as_in_process(db, tmp_path):
    pages = [[remotive_job(i) for i in range(150)], [remotive_job(i) for i in range(150, 300)]]
    with SQLiteStore.open(db) as store:
        pooled = run_ingest(QUERY, ListSource(pages), store, workers=1)
        pooled_rows = store.conn.execute("SELECT id, role_bucket, level_bucket, skills FROM postings ORDER BY id").fetchall()
    with SQLiteStore.open(tmp_path / "inline.db") as store:
        inline = run_ingest(QUERY, ListSource(pages), store, workers=0)
        inline_rows = store.conn.execute("SELECT id, role_bucket, level_bucket, skills FROM postings ORDER BY id").fetchall()
    assert pooled.to_dict() | {"duration_s": 0, "db": ""} == inline.to_dict() | {"duration_s": 0, "db": ""}
    assert pooled_rows == inline_rows and len(pooled_rows) == pooled.inserted > 0


def test_a_dead_worker_falls_back_to_in_process(db, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import skillpulse_ingest.workers as workers_module

    class DeadPool:
        def __init__(self, workers, mp_context=None, initializer=None):
            pass

        def submit(self, *args):
            raise BrokenProcessPool("worker died")

        def shutdown(self, **kwargs):
            pass

    monkeypatch.setattr(workers_module, "ProcessPoolExecutor", DeadPool)
    with SQLiteStore.open(db) as store:
        summary = run_ingest(QUERY, ListSource([[remotive_job(i) for i in range(200)]]), store, workers=1)
    assert summary.inserted == summary.matched > 0


def test_a_run_commits_what_it_stored_before_it_waits_for_the_network(db, monkeypatch):
    import threading

    import skillpulse_ingest.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "COMMIT_EVERY_S", 3600)  # only the wait may commit
    release = threading.Event()
    seen_while_waiting = []

    class SlowThirdPage(ListSource):
        def pages(self, query, state):
            for i, rows in enumerate(self._pages):
                if i == 2:  # the run stores page 1 once page 2 is in; then it waits here
                    with SQLiteStore.open(db, readonly=True) as reader:
                        for _ in range(200):
                            seen_while_waiting[:] = [reader.count_postings()]
                            if seen_while_waiting[0]:
                                break
                            release.wait(0.05)
                yield rows
            state.stopped_by = "end_of_results"

    pages = [[remotive_job(i) for i in range(n, n + 12)] for n in (0, 12, 24)]
    with SQLiteStore.open(db) as store:
        summary = run_ingest(QUERY, SlowThirdPage(pages), store)
    assert seen_while_waiting == [3]  # page 1's three matches, visible to another connection
    assert summary.inserted == 9


def test_a_database_error_rolls_back_the_open_batch_and_counts_none_of_it(db, monkeypatch):
    import skillpulse_ingest.pipeline as pipeline_module
    from skillpulse_ingest.storage_sqlite import StoreError

    monkeypatch.setattr(pipeline_module, "COMMIT_EVERY_S", 3600)
    monkeypatch.setattr(pipeline_module, "prefetched", lambda pages, **hooks: pages)  # never waits
    import sqlite3

    import skillpulse_ingest.storage_sqlite as storage_module

    rows = []
    real_row = storage_module._posting_row

    def failing_row(posting, now, duplicate):  # the disk fails while page 2 is written
        rows.append(posting.id)
        if len(rows) == 4:
            raise sqlite3.OperationalError("disk I/O error")
        return real_row(posting, now, duplicate)

    monkeypatch.setattr(storage_module, "_posting_row", failing_row)
    pages = [[remotive_job(i) for i in range(n, n + 12)] for n in (0, 12, 24)]
    with SQLiteStore.open(db) as store:
        with pytest.raises(StoreError):
            run_ingest(QUERY, ListSource(pages), store)
        assert store.count_postings() == 0  # page 1 was in the same, rolled-back transaction
        [run] = store.runs()
    assert run["status"] == "failed" and run["inserted"] == 0 and "disk I/O" in run["error"]


def test_page_writer_reports_what_it_committed_and_then_its_error(db):
    from skillpulse_ingest.workers import PageWriter

    first, second = normalize(remotive_job(1)), normalize(remotive_job(2))
    SQLiteStore.open(db).close()
    writer = PageWriter(db, commit_every=3600)
    writer.save([first], [], [first.id, "not-matching"])
    writer.close()
    assert writer.committed() == (1, 0, 0, [first.id, "not-matching"]) and writer.committed() == (0, 0, 0, [])

    broken = PageWriter(db, commit_every=3600)
    broken.save([second], [], [second.id])
    broken.save([object()], [], [])  # cannot be stored: the transaction, second included, rolls back
    broken.commit()  # the writer goes on draining its queue, so neither this nor close() blocks
    broken.close()
    with pytest.raises(AttributeError):
        broken.check()
    assert broken.committed() == (0, 0, 0, [])
    with SQLiteStore.open(db) as store:
        assert store.count_postings() == 1


def test_worker_processes_start_only_after_the_first_thousand_postings():
    from skillpulse_ingest.workers import Analyzer

    postings = [JobPosting(source="t", url=f"https://x/{i}", title="Python Developer") for i in range(250)]
    with Analyzer(workers=2) as analyzer:
        for _ in range(4):  # 1,000 postings: a default run analyzes in process
            assert len(analyzer.submit(postings, IngestionQuery()).result()) == 250
        assert analyzer._pool is None
        assert len(analyzer.submit(postings, IngestionQuery()).result()) == 250
        assert analyzer._pool is not None
