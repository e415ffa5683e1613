"""Cron-grade runs: incremental fetching, budgets, pacing and the Remotive guard, via the real CLI."""

import json
import sqlite3
from datetime import datetime, timedelta, timezone

from conftest import query, run_cli
from fakeapi import REMOTIVE_PATH, THEIRSTACK_PATH, Fault, remotive_job, theirstack_job

# The README's daily TheirStack cron line (a larger budget, for this test's volume), minus the database path.
CRON = ("ingest", "--incremental", "--role", "any", "--max-results", "2000", "-q")


def stamp(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) - delta).strftime("%Y-%m-%dT%H:%M:%S")


def count(db, sql="SELECT count(*) FROM postings"):
    return query(db, sql)[0][0]


def summary(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_second_incremental_run_fetches_and_pays_only_for_new_postings(api, db):
    old = [theirstack_job(i, discovered_at=stamp(timedelta(hours=30 - i % 24))) for i in range(100)]
    api.theirstack_jobs = old
    first = summary(run_cli(*CRON, "--json", "--db", db, env=api.env()))
    assert first["inserted"] == 100 and "discovered_at_gte" not in api.calls(THEIRSTACK_PATH)[0].body

    conn = sqlite3.connect(db)
    marker = conn.execute("SELECT marker FROM sync_state WHERE marker IS NOT NULL").fetchone()[0]
    conn.close()
    newest = max(j["discovered_at"] for j in old)
    assert marker == newest + "Z"

    new = [theirstack_job(1000 + i, discovered_at=stamp(timedelta(minutes=5))) for i in range(20)]
    api.theirstack_jobs = old + new
    api.requests.clear()
    second = summary(run_cli(*CRON, "--json", "--db", db, env=api.env()))
    [call] = api.calls(THEIRSTACK_PATH)
    expected_since = (datetime.strptime(marker, "%Y-%m-%dT%H:%M:%SZ") - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert call.body["discovered_at_gte"] == expected_since
    overlap_ids = {j["id"] for j in old if j["discovered_at"] + "Z" >= expected_since}
    assert overlap_ids and overlap_ids <= set(call.body["job_id_not"])
    # credits = rows returned: only the 20 new ones
    assert second["fetched"] == 20 and second["inserted"] == 20 and count(db) == 120

    runs = run_cli("runs", "--db", db, "--format", "json")
    listed = json.loads(runs.stdout)
    assert [r["inserted"] for r in listed] == [20, 100] and all(r["status"] == "ok" for r in listed)


def test_interrupted_run_resumes_without_gaps_or_duplicates(api, db):
    api.theirstack_jobs = [theirstack_job(i, discovered_at=stamp(timedelta(hours=1 + i / 100))) for i in range(1200)]
    api.fail(THEIRSTACK_PATH, Fault(kind="pass"), Fault(status=500))
    broken = run_cli(*CRON, "--db", db, "--max-retries", 0, env=api.env())
    assert broken.returncode == 1 and count(db) == 500
    assert count(db, "SELECT count(*) FROM sync_state WHERE marker IS NOT NULL") == 0

    api.requests.clear()
    resumed = summary(run_cli(*CRON, "--json", "--db", db, env=api.env()))
    assert resumed["inserted"] == 700 and resumed["fetched"] == 700
    assert count(db) == 1200 == count(db, "SELECT count(DISTINCT source_id) FROM postings")
    statuses = [r["status"] for r in json.loads(run_cli("runs", "--db", db, "--format", "json").stdout)]
    assert statuses == ["ok", "failed"]


def test_budgets_stop_the_run_and_say_so(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(1200)]
    result = run_cli("ingest", "--max-pages", 1, "--max-results", 5000, "--db", db, env=api.env())
    assert result.returncode == 0 and "(stopped by --max-pages)" in result.stderr
    assert len(api.calls(THEIRSTACK_PATH)) == 1 and count(db) == 500
    assert count(db, "SELECT count(*) FROM sync_state WHERE marker IS NOT NULL") == 0


def test_min_interval_paces_requests(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(1100)]
    assert run_cli("ingest", "--max-results", 1100, "--min-interval", 0.4, "--db", db, env=api.env()).returncode == 0
    times = [c.at for c in api.calls(THEIRSTACK_PATH)]
    assert len(times) == 3 and all(b - a >= 0.38 for a, b in zip(times, times[1:]))


def test_rate_limit_headers_lengthen_the_wait(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(600)]
    # every answer says the second window is exhausted for one more second
    api.limit_headers = {"RateLimit-Remaining": "3, 0", "RateLimit-Reset": "1, 1"}
    result = run_cli("ingest", "--max-results", 600, "--min-interval", 0, "--db", db, env=api.env())
    assert result.returncode == 0, result.stderr
    first, second = (c.at for c in api.calls(THEIRSTACK_PATH))
    assert second - first >= 0.95


def test_remotive_guard_blocks_scheduled_runs_within_the_cooldown_and_force_passes(api, db):
    api.remotive_jobs = [remotive_job(i) for i in range(5)]
    cron = ("ingest", "--source", "remotive", "--incremental", "--db", db)
    assert run_cli(*cron, env=api.env()).returncode == 0
    blocked = run_cli(*cron, env=api.env())
    assert blocked.returncode == 0 and blocked.stdout == ""
    assert "next call allowed after" in blocked.stderr and blocked.stderr.count("\n") == 1
    assert len(api.calls(REMOTIVE_PATH)) == 1
    runs = json.loads(run_cli("runs", "--db", db, "--format", "json").stdout)
    assert [(r["status"], r["stopped_by"], r["fetched"]) for r in runs] == [("ok", "cooldown", 0),
                                                                          ("ok", "end_of_results", 5)]
    assert runs[0]["error"] is None and runs[0]["note"].startswith("next call allowed after")  # a note, not an error
    assert runs[0]["query"]["source"] == "remotive"
    table = run_cli("runs", "--db", db).stdout
    assert "next call allowed after" in table and "days=30" in table
    quiet = run_cli(*cron, "-q", env=api.env())
    assert quiet.returncode == 0 and quiet.stderr == ""
    forced = run_cli(*cron, "--force", env=api.env())
    assert forced.returncode == 0 and len(api.calls(REMOTIVE_PATH)) == 2
    short = run_cli(*cron, "--cooldown", 0, env=api.env())
    assert short.returncode == 0 and len(api.calls(REMOTIVE_PATH)) == 3
    # a run by hand is not held back, unless it asks for a cooldown
    by_hand = run_cli("ingest", "--source", "remotive", "--db", db, env=api.env())
    assert by_hand.returncode == 0 and len(api.calls(REMOTIVE_PATH)) == 4
    careful = run_cli("ingest", "--source", "remotive", "--cooldown", 1, "--db", db, env=api.env())
    assert careful.returncode == 0 and "next call allowed" in careful.stderr and len(api.calls(REMOTIVE_PATH)) == 4
