"""The CLI as a user runs it: a subprocess against a local stand-in of each API."""

import json

from conftest import query, run_cli
from fakeapi import API_KEY, RECENT, REMOTIVE_PATH, THEIRSTACK_PATH, days_ago, remotive_job, theirstack_job
from skillpulse_ingest.models import canonical_url, posting_id


def rows(db, sql="SELECT * FROM postings ORDER BY source_id"):
    return query(db, sql, as_dicts=True)


def test_theirstack_two_pages_stores_exactly_the_matching_postings(api, db):
    # 520 jobs: a full page of 500 and a short page of 20; every 12th title is "Junior Backend Developer".
    api.theirstack_jobs = [theirstack_job(i) for i in range(520)]
    result = run_cli("ingest", "--role", "backend", "--level", "entry", "--location", "Dallas, TX",
                     "--max-results", 600, "--db", db, "--json", env=api.env())
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["fetched"] == 520 and summary["invalid"] == 0
    stored = rows(db)
    expected = [j for j in api.theirstack_jobs
                if j["job_title"] in ("Junior Backend Developer", "Entry Level Java Developer")
                and (j["cities"], j["state_code"]) == (["Dallas"], "TX")]
    assert summary["matched"] == summary["inserted"] == len(stored) == len(expected) > 0
    by_source_id = {r["source_id"]: r for r in stored}
    for job in expected:
        row = by_source_id[str(job["id"])]
        url = canonical_url(job["final_url"])
        assert "utm_source" not in url and row["url"] == url
        assert row["id"] == posting_id("theirstack", url)
        assert (row["role_bucket"], row["level_bucket"]) == ("backend", "entry")
        assert row["date_posted"] == RECENT
        assert row["location"] == "Dallas, TX, United States"
        assert row["remote"] == 0
        assert json.loads(row["raw_json"]) == job

    calls = api.calls(THEIRSTACK_PATH)
    assert [(c.body["offset"], c.body["limit"]) for c in calls] == [(0, 500), (500, 100)]
    first = calls[0]
    assert first.headers["Authorization"] == f"Bearer {API_KEY}"
    assert first.headers["User-Agent"].startswith("skillpulse-ingest/")
    assert first.body["posted_at_max_age_days"] == 30
    assert first.body["job_country_code_or"] == ["US"]
    assert first.body["job_seniority_or"] == ["junior"]
    assert "Dallas" in first.body["job_location_pattern_or"]
    assert any("back" in p for p in first.body["job_title_pattern_or"])

    # The key never shows up in output or in the database.
    assert API_KEY not in result.stdout + result.stderr
    assert API_KEY.encode() not in db.read_bytes()

    again = run_cli("ingest", "--role", "backend", "--level", "entry", "--location", "Dallas, TX",
                    "--max-results", 600, "--db", db, "--json", env=api.env())
    assert again.returncode == 0, again.stderr
    rerun = json.loads(again.stdout)
    assert rerun["inserted"] == 0 and rerun["skipped"] == rerun["matched"] == len(expected)
    assert len(rows(db)) == len(expected)
    runs = rows(db, "SELECT status, inserted, skipped FROM ingest_runs ORDER BY id")
    assert runs == [{"status": "ok", "inserted": len(expected), "skipped": 0},
                    {"status": "ok", "inserted": 0, "skipped": len(expected)}]


def test_max_results_caps_the_rows_requested(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(300)]
    result = run_cli("ingest", "--max-results", 120, "--db", db, "--json", env=api.env())
    assert result.returncode == 0, result.stderr
    assert [c.body["limit"] for c in api.calls(THEIRSTACK_PATH)] == [120]
    assert json.loads(result.stdout)["fetched"] == 120


def test_remotive_ingest_and_rerun(api, db):
    api.remotive_jobs = [remotive_job(i) for i in range(24)] + [
        remotive_job(100, title="Senior Backend Engineer", region="Europe Only"),
        {**remotive_job(101), "url": None},          # invalid: no url
    ]
    first = run_cli("ingest", "--source", "remotive", "--role", "backend", "--days", 30, "--db", db,
                    env=api.env(THEIRSTACK_API_KEY=""))
    assert first.returncode == 0, first.stderr
    assert "fetched 26, invalid 1" in first.stderr
    stored = rows(db)
    titles = {r["title"] for r in stored}
    assert titles == {"Senior Backend Engineer (Python)", "Junior Backend Developer",
                      "Entry Level Java Developer", "Senior Backend Engineer"}
    row = next(r for r in stored if r["source_id"] == "2091000")
    assert row["url"] == "https://remotive.com/remote-jobs/software-development/job-2091000"
    assert row["company"] == "Remote Co 0" and row["remote"] == 1
    assert row["location"] == "Remote (USA Only)" and row["date_posted"] == days_ago(1)
    assert len(api.calls(REMOTIVE_PATH)) == 1

    second = run_cli("ingest", "--source", "remotive", "--role", "backend", "--db", db, "--json", env=api.env())
    summary = json.loads(second.stdout)
    assert summary["inserted"] == 0 and summary["skipped"] == summary["matched"] == len(stored)


def test_missing_key_is_a_usage_error_that_names_the_variable(api, db):
    result = run_cli("ingest", "--role", "backend", "--db", db, env=api.env(THEIRSTACK_API_KEY=""))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "THEIRSTACK_API_KEY" in result.stderr and "--source remotive" in result.stderr
    assert not api.requests and not db.exists()


def test_rejected_key_fails_the_run_without_retrying(api, db):
    result = run_cli("ingest", "--db", db, env=api.env(THEIRSTACK_API_KEY="wrong-key"))
    assert result.returncode == 1
    assert "rejected the API key" in result.stderr and "wrong-key" not in result.stderr
    assert len(api.calls(THEIRSTACK_PATH)) == 1
    assert rows(db, "SELECT status FROM ingest_runs") == [{"status": "failed"}]


def test_dry_run_writes_nothing(api, db):
    api.remotive_jobs = [remotive_job(i) for i in range(5)]
    result = run_cli("ingest", "--source", "remotive", "--dry-run", "--json", "--db", db, env=api.env())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["matched"] == 5
    assert not db.exists()


def test_inspect_shows_newest_postings_as_a_table_and_scripts_match(api, db):
    api.remotive_jobs = [remotive_job(i, published=f"{days_ago(20 - i)}T08:00:00") for i in range(12)]
    assert run_cli("ingest", "--source", "remotive", "--db", db, env=api.env()).returncode == 0
    table = run_cli("inspect", "--db", db, "--limit", 3)  # a table by default, also when piped
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["date_posted", "source", "role_bucket", "level_bucket", "title", "company",
                                "location"]
    assert len(lines) == 5 and lines[2].startswith(days_ago(9)) and lines[4].startswith(days_ago(11))

    script = run_cli("--db", db, "--limit", 3, "--format", "table", script="inspect_db.py")
    assert script.returncode == 0 and script.stdout == table.stdout

    as_json = json.loads(run_cli("inspect", "--db", db, "--limit", 2, "--format", "json").stdout)
    assert [r["date_posted"] for r in as_json] == [days_ago(9), days_ago(10)]


def test_ingest_script_accepts_the_same_flags(api, db):
    api.remotive_jobs = [remotive_job(i) for i in range(3)]
    result = run_cli("--source", "remotive", "--db", db, "--json", script="ingest.py", env=api.env())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 3
    help_text = run_cli("--help", script="ingest.py").stdout
    for flag in ("--source", "--location", "--role", "--level", "--days", "--max-results", "--remote", "--db",
                 "--max-retries", "--backoff-factor", "--timeout", "--dry-run", "--json", "--verbose", "--quiet"):
        assert flag in help_text


def test_inspect_on_missing_database_creates_nothing(tmp_path):
    missing = tmp_path / "nope.db"
    result = run_cli("inspect", "--db", missing)
    assert result.returncode == 2 and "no database" in result.stderr
    assert not missing.exists()
