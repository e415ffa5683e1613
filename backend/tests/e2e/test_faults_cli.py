"""Every fault a job API can throw, through the real CLI against a real local server.

The outcome of each is the README's Reliability table.
"""

import json

import pytest

from conftest import query, run_cli
from fakeapi import REMOTIVE_PATH, THEIRSTACK_PATH, Fault, remotive_job, theirstack_job

FAST = ("--backoff-factor", "0.05", "--max-retries", "3", "--timeout", "1", "--min-interval", "0")


def ingest(api, db, *extra):
    return run_cli("ingest", "--max-results", 1200, *FAST, "--db", db, *extra, env=api.env())


def runs(db):
    return query(db, "SELECT * FROM ingest_runs ORDER BY id", as_dicts=True)


def stored(db):
    return query(db, "SELECT count(*), count(DISTINCT source_id) FROM postings")[0]


TRANSIENT = {
    "429 with Retry-After": Fault(status=429, headers={"Retry-After": "0"}),
    "429 without Retry-After": Fault(status=429),
    "500": Fault(status=500), "502": Fault(status=502), "503": Fault(status=503), "504": Fault(status=504),
    "dropped connection": Fault(kind="drop"),
    "read timeout": Fault(kind="slow"),
}


@pytest.mark.parametrize("name", TRANSIENT)
def test_transient_fault_that_clears_is_invisible_but_for_a_log_line(api, db, name):
    api.theirstack_jobs = [theirstack_job(i) for i in range(30)]
    api.fail(THEIRSTACK_PATH, TRANSIENT[name], TRANSIENT[name])
    result = ingest(api, db, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 30
    assert len(api.calls(THEIRSTACK_PATH)) == 3
    assert result.stderr.count("retrying") == 2 and "error" not in result.stderr


@pytest.mark.parametrize("name", TRANSIENT)
def test_transient_fault_that_persists_fails_after_exactly_max_retries(api, db, name):
    api.theirstack_jobs = [theirstack_job(i) for i in range(30)]
    api.fail(THEIRSTACK_PATH, *[TRANSIENT[name]] * 10)
    result = ingest(api, db, "--max-results", "2000")  # credits for every retry (500 rows each)
    assert result.returncode == 1
    assert len(api.calls(THEIRSTACK_PATH)) == 4  # the request and 3 retries
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and ("try again" in error_lines[0] or "--timeout" in error_lines[0]
                                      or "--min-interval" in error_lines[0])
    [run] = runs(db)
    assert run["status"] == "failed" and run["error"] and run["finished_at"]


def test_backoff_is_exponential(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(3)]
    api.fail(THEIRSTACK_PATH, *[Fault(status=503)] * 3)
    result = run_cli("ingest", "--backoff-factor", "0.2", "--max-retries", "3", "--max-results", "2000",
                     "--db", db, env=api.env())
    assert result.returncode == 0, result.stderr
    times = [c.at for c in api.calls(THEIRSTACK_PATH)]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[1] >= 0.38 and gaps[2] >= 0.78 and gaps[2] > gaps[1]


def test_retry_after_is_honoured(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(3)]
    api.fail(THEIRSTACK_PATH, Fault(status=429, headers={"Retry-After": "1"}))
    assert ingest(api, db).returncode == 0
    first, second = (c.at for c in api.calls(THEIRSTACK_PATH))
    assert second - first >= 0.95


PERMANENT = {
    "401": (Fault(status=401), "rejected the API key"),
    "403": (Fault(status=403), "rejected the API key"),
    "402": (Fault(status=402), "out of API credits"),
    "422": (Fault(status=422, body=b'{"detail": [{"loc": ["body", "limit"], "msg": "too large"}]}'), "limit: too large"),
    "200 truncated JSON": (Fault(kind="truncated"), "not JSON"),
    "200 HTML page": (Fault(kind="html"), "not JSON"),
    "200 empty body": (Fault(kind="empty"), "not JSON"),
}


@pytest.mark.parametrize("name", PERMANENT)
def test_permanent_fault_is_not_retried_and_fails_in_one_line(api, db, name):
    fault, words = PERMANENT[name]
    api.theirstack_jobs = [theirstack_job(i) for i in range(30)]
    api.fail(THEIRSTACK_PATH, fault)
    result = ingest(api, db)
    assert result.returncode == 1
    assert len(api.calls(THEIRSTACK_PATH)) == 1
    assert result.stderr.count("\n") == 1 and words in result.stderr
    [run] = runs(db)
    assert run["status"] == "failed" and words in run["error"]


def test_failure_keeps_pages_already_processed_and_a_rerun_completes(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(1100)]
    api.fail(THEIRSTACK_PATH, Fault(kind="pass"), Fault(kind="pass"), *[Fault(status=502)] * 4)
    first = ingest(api, db, "--max-results", "3000")
    assert first.returncode == 1 and stored(db) == (1000, 1000)
    second = ingest(api, db, "--json")
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert (summary["inserted"], summary["skipped"]) == (100, 1000)
    assert stored(db) == (1100, 1100)


def test_a_page_that_never_ends_stops(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(800)]
    api.repeat_pages = True
    result = ingest(api, db, "--json")
    assert result.returncode == 0, result.stderr
    assert len(api.calls(THEIRSTACK_PATH)) == 2 and json.loads(result.stdout)["stopped_by"] == "repeated_page"
    assert stored(db) == (500, 500)


def test_empty_page_ends_paging(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(500)]
    result = ingest(api, db, "--json")
    assert result.returncode == 0 and len(api.calls(THEIRSTACK_PATH)) == 2
    assert json.loads(result.stdout)["stopped_by"] == "end_of_results"


@pytest.mark.parametrize("status", [403, 429])
def test_remotive_block_is_not_retried(api, db, status):
    api.fail(REMOTIVE_PATH, Fault(status=status))
    result = run_cli("ingest", "--source", "remotive", *FAST, "--db", db, env=api.env())
    assert result.returncode == 1 and "wait a few hours" in result.stderr
    assert len(api.calls(REMOTIVE_PATH)) == 1


def test_remotive_server_error_is_retried_once(api, db):
    api.remotive_jobs = [remotive_job(i) for i in range(4)]
    api.fail(REMOTIVE_PATH, Fault(status=503))
    result = run_cli("ingest", "--source", "remotive", *FAST, "--db", db, env=api.env())
    assert result.returncode == 0, result.stderr
    calls = api.calls(REMOTIVE_PATH)
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 30 * 0.05 * 0.95
