"""PostgreSQL end to end: the CLI ingests from the local fake APIs into a real server, answers
as SQLite does, lets two ingests run at once, and serve reads it through its pool."""

import json
import subprocess
import sys
import threading

import requests

from conftest import clean_env, run_cli
from fakeapi import remotive_job, theirstack_job
from fakeboards import FakeBoards

from .test_boards_cli import add_all, stock


def ingest(api, db, *extra):
    result = run_cli("ingest", "--max-results", 200, "--db", db, *extra, env=api.env())
    assert result.returncode == 0, result.stderr
    return result


def without_clock(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "generated_at"}


def test_the_same_ingest_gives_the_same_answers_as_sqlite(api, pg_url, tmp_path):
    api.theirstack_jobs = [theirstack_job(i) for i in range(120)]
    sqlite_db = tmp_path / "same.db"
    for db in (pg_url, sqlite_db):
        ingest(api, db)
        assert "inserted 0" in ingest(api, db).stderr  # a rerun stores nothing twice
    for args in (["insights", "--level", "entry"], ["insights", "--location", "Dallas, TX", "--role", "backend"],
                 ["insights", "--location", "Dallas-Fort Worth Metroplex"], ["inspect", "--summary", "--format", "json"]):
        answers = [json.loads(run_cli(*args, "--db", db).stdout) for db in (pg_url, sqlite_db)]
        assert without_clock(answers[0]) == without_clock(answers[1]), args
    status = json.loads(run_cli("status", "--format", "json", "--db", pg_url).stdout)
    assert status["postings"] == {"theirstack": 120} and status["database"].startswith("postgresql://")


def test_boards_and_remotive_give_the_same_answers_as_sqlite(api, pg_url, tmp_path):
    """The other sources: every ATS family, board closing on a rerun, and Remotive."""
    api.remotive_jobs = [remotive_job(i) for i in range(24)]
    fake = FakeBoards().start()
    try:
        stock(fake)
        sqlite_db = tmp_path / "boards.db"
        for db in (pg_url, sqlite_db):
            add_all(fake, db)
            for source_args in (["--source", "boards"], ["--source", "remotive"]):
                env = {**fake.env(), **api.env()}
                result = run_cli("ingest", *source_args, "--db", db, "--json", "--max-retries", "1",
                                 "--backoff-factor", "0", "--min-interval", "0", env=env)
                assert result.returncode == 0, result.stderr
        del fake.boards[("greenhouse", "acme")][1]  # a job taken down: closed on both
        for db in (pg_url, sqlite_db):
            assert run_cli("ingest", "--source", "boards", "--db", db, env=fake.env()).returncode == 0
        for args in (["insights", "--level", "any"], ["insights", "--location", "Remote", "--level", "any"],
                     ["inspect", "--summary", "--format", "json"], ["boards", "list", "--format", "json"]):
            answers = [json.loads(run_cli(*args, "--db", db).stdout) for db in (pg_url, sqlite_db)]
            if args[0] == "boards":  # fetch times differ by the seconds between the two runs
                answers = [[{k: v for k, v in board.items() if not k.endswith("_at")} for board in answer]
                           for answer in answers]
            else:
                answers = [without_clock(answer) for answer in answers]
            assert answers[0] == answers[1], args
        assert [b["open_jobs"] for b in answers[0] if b["token"] == "acme"] == [1]
        status = json.loads(run_cli("status", "--format", "json", "--db", pg_url).stdout)
        assert set(status["postings"]) == {"greenhouse", "lever", "ashby", "smartrecruiters", "remotive"}
    finally:
        fake.stop()


def test_two_ingests_at_once_store_the_union(api, pg_url):
    api.theirstack_jobs = [theirstack_job(i) for i in range(300)]
    env = clean_env(**api.env())
    command = [sys.executable, "-m", "skillpulse_ingest", "ingest", "--db", pg_url, "--min-interval", "0"]
    first = subprocess.Popen([*command, "--max-results", "200"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen([*command, "--max-results", "300"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        for process in (first, second):
            process.wait(timeout=120)
            assert process.returncode == 0, process.stderr.read()
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
    status = json.loads(run_cli("status", "--format", "json", "--db", pg_url).stdout)
    assert status["postings"] == {"theirstack": 300}


def test_serve_answers_from_postgres_during_an_ingest(api, pg_url):
    from skillpulse_ingest.server import make_server
    from skillpulse_ingest.storage_sqlite import database_path
    from skillpulse_ingest.store.postgres import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION

    api.theirstack_jobs = [theirstack_job(i) for i in range(60)]
    ingest(api, pg_url)
    httpd = make_server(database_path(pg_url), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = "http://127.0.0.1:%d" % httpd.server_address[1]
    try:
        answer = requests.get(base + "/api/skills", params={"level": "any"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["totals"]["postings_count"] > 0
        health = requests.get(base + "/api/health", timeout=10).json()
        assert health["postings"] == 60 and health["database_schema_version"] == POSTGRES_SCHEMA_VERSION
        assert "United States" in requests.get(base + "/api/locations", timeout=10).json()["locations"]
        api.theirstack_jobs = [theirstack_job(i) for i in range(60, 400)]
        writer = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "ingest", "--db", pg_url,
                                   "--max-results", "400", "--min-interval", "0"], env=clean_env(**api.env()),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            statuses = []
            while writer.poll() is None:
                statuses.append(requests.get(base + "/api/skills", params={"level": "any"}, timeout=10).status_code)
            assert writer.returncode == 0, writer.stderr.read()
            assert set(statuses) <= {200}
        finally:
            if writer.poll() is None:
                writer.kill()
        assert requests.get(base + "/api/health", timeout=10).json()["postings"] == 400
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_db_copy_round_trips_and_resumes(api, pg_url, tmp_path):
    api.theirstack_jobs = [theirstack_job(i) for i in range(150)]
    original = tmp_path / "original.db"
    ingest(api, original)
    run_cli("boards", "add", "greenhouse:acme", "lever:globex", "--db", original)
    there = run_cli("db", "copy", "--from", original, "--to", pg_url)
    assert there.returncode == 0, there.stderr
    assert "postings" in there.stdout and "every table has all its rows" in there.stderr
    again = run_cli("db", "copy", "--from", original, "--to", pg_url)  # resumes: nothing left to copy
    assert again.returncode == 0 and all(line.split()[2] == "0" for line in again.stdout.splitlines()[2:])
    back = tmp_path / "back.db"
    home = run_cli("db", "copy", "--from", pg_url, "--to", back)
    assert home.returncode == 0, home.stderr
    for args in (["insights", "--level", "entry"], ["inspect", "--summary", "--format", "json"],
                 ["boards", "list", "--format", "json"], ["runs", "--format", "json"]):
        answers = [run_cli(*args, "--db", db).stdout for db in (original, pg_url, back)]
        parsed = [json.loads(a) for a in answers]
        if isinstance(parsed[0], dict):
            parsed = [without_clock(p) for p in parsed]
        assert parsed[0] == parsed[1] == parsed[2], args
    same = run_cli("db", "copy", "--from", back, "--to", back)
    assert same.returncode == 2 and same.stderr.count("\n") == 1
