"""Bad rows and bad input: counted or refused in one line, never a crash, never a touched file."""

import json
from pathlib import Path

import pytest

from conftest import query, run_cli, write_sqlite
from fakeapi import theirstack_job
from skillpulse_ingest.storage_sqlite import SCHEMA_VERSION


def test_bad_rows_are_counted_invalid_with_the_reason_at_debug_level(api, db):
    good = [theirstack_job(i) for i in range(5)]
    bad = [
        {**theirstack_job(10), "final_url": None, "url": None, "source_url": None},
        {**theirstack_job(11), "job_title": None},
        {**theirstack_job(12), "job_title": ["not", "text"]},
        {**theirstack_job(13), "has_blurred_data": True},
        "not even an object",
    ]
    odd = [
        {**theirstack_job(20), "date_posted": "not a date", "discovered_at": None},
        {**theirstack_job(21), "job_title": "Senior Backend Engineer 🚀\u202e\x07", "description": "מהנדס " * 100},
        {**theirstack_job(22), "description": "<p>Python</p>" * 300_000},
    ]
    api.theirstack_jobs = good + bad + odd
    result = run_cli("ingest", "--db", db, "--json", "-v", env=api.env())
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["fetched"] == 13 and summary["invalid"] == 5
    assert "missing job_title" in result.stderr and "blurred preview row" in result.stderr
    assert "not an object" in result.stderr
    dates = dict(query(db, "SELECT source_id, date_posted FROM postings"))
    assert dates[str(20 + 195500000)] is None and len(dates) == 8


@pytest.mark.parametrize("args,words", [
    (["--days", "0"], "--days"), (["--days", "-3"], "--days"), (["--max-results", "0"], "--max-results"),
    (["--max-results", "lots"], "--max-results"), (["--role", "wizard"], "--role"), (["--level", "junior"], "--level"),
    (["--source", "indeed"], "--source"), (["--remote", "sometimes"], "--remote"), (["--timeout", "0"], "--timeout"),
    (["--backoff-factor", "-1"], "--backoff-factor"), (["--max-retries", "1.5"], "--max-retries"),
    (["--bogus"], "unrecognized"),
])
def test_cli_misuse_is_exit_2_in_one_line(api, db, args, words):
    result = run_cli("ingest", "--db", db, *args, env=api.env())
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and words in result.stderr
    assert not api.requests and not db.exists()


def test_unusable_db_paths_are_exit_2(api, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("hello")
    for path in (a_file / "x.db", tmp_path):
        result = run_cli("ingest", "--source", "remotive", "--db", path, env=api.env())
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert a_file.read_text() == "hello" and not api.requests


def test_a_database_url_is_never_taken_for_a_file_name(api, tmp_path):
    url = "postgresql://team:s3cret-pw@db.invalid:5432/skillpulse"  # .invalid never resolves
    for args, env in ((["--db", url], {}), ([], {"SKILLPULSE_DB": url})):
        for command in (["ingest", "--source", "remotive"], ["insights"], ["status"]):
            result = run_cli(*command, *args, env={**api.env(), **env, "HOME": str(tmp_path)})
            assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
            assert "cannot open PostgreSQL database postgresql://team@db.invalid:5432/skillpulse" in result.stderr
            assert "s3cret" not in result.stderr + result.stdout
    other = run_cli("insights", "--db", "https://example.com/x.db")
    assert other.returncode == 2 and "https:// URL" in other.stderr
    assert not list(tmp_path.iterdir()) and not api.requests  # nothing created, no request
    assert not Path("postgresql:").exists()  # where the URL, read as a relative path, would have gone


def test_a_file_that_is_not_sqlite_is_refused_untouched(api, tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"These are my notes, not a database.\n" * 50)
    before = path.read_bytes()
    for command in (["ingest", "--source", "remotive"], ["inspect"], ["insights"], ["runs"], ["skills", "rebuild"]):
        result = run_cli(*command, "--db", path, env=api.env())
        assert result.returncode == 2 and "not a SQLite database" in result.stderr
    assert path.read_bytes() == before and not api.requests
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_a_newer_database_is_refused_untouched(api, db):
    write_sqlite(db, "CREATE TABLE postings (id TEXT)", f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    before = db.read_bytes()
    for command in (["ingest", "--source", "remotive"], ["inspect"], ["insights"]):
        result = run_cli(*command, "--db", db, env=api.env())
        assert result.returncode == 2 and "upgrade skillpulse" in result.stderr
    assert db.read_bytes() == before and not api.requests


def test_read_commands_on_a_missing_database_create_nothing(tmp_path):
    missing = tmp_path / "sub" / "missing.db"
    for command in (["inspect"], ["insights"], ["runs"], ["inspect", "--summary"]):
        result = run_cli(*command, "--db", missing)
        assert result.returncode == 2 and "no database" in result.stderr
    assert not (tmp_path / "sub").exists()


@pytest.mark.parametrize("args,expect", [
    (["ingest", "--max-pages", "0"], "--max-pages: must be at least 1"),
    (["ingest", "--full-refresh"], "--full-refresh only applies with --incremental"),
])
def test_flags_that_would_do_nothing_are_refused(db, args, expect):
    result = run_cli(*args, "--db", db, "--source", "remotive", env={"SKILLPULSE_REMOTIVE_URL": "http://127.0.0.1:9/x"})
    assert result.returncode == 2 and expect in result.stderr and len(result.stderr.splitlines()) == 1
    assert not db.exists()


def test_rebuild_of_a_missing_database_says_so_and_creates_nothing(db):
    result = run_cli("skills", "rebuild", "--db", db)
    assert result.returncode == 2 and "no database at" in result.stderr
    assert not db.exists()
