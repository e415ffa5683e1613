"""What a new user meets in the first hour: exports, one posting, status, prune, messages."""

import csv
import io
import json
import socket
import subprocess
import sys

import pytest

from conftest import BACKEND, clean_env, query, run_cli
from skillpulse_ingest.storage_sqlite import SCHEMA_VERSION

sys.path.insert(0, str(BACKEND / "benchmarks"))


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("sample") / "sample.db"
    assert run_cli("ingest", "--load", "sample", "--db", db).returncode == 0
    return db


def test_exports_take_everything_when_asked_and_every_format_works(sample_db):
    everything = json.loads(run_cli("inspect", "--limit", 0, "--format", "json", "--db", sample_db).stdout)
    assert len(everything) == 40 and all(isinstance(p["skills"], list) for p in everything)
    assert len(json.loads(run_cli("inspect", "--format", "json", "--db", sample_db).stdout)) == 10  # the default
    lines = run_cli("inspect", "--limit", 0, "--nl", "--description", "--db", sample_db).stdout.splitlines()
    assert len(lines) == 40 and "Example Co builds software" in json.loads(lines[0])["description"]
    rows = list(csv.DictReader(io.StringIO(run_cli("inspect", "--limit", 0, "--format", "csv", "--db",
                                                   sample_db).stdout)))
    assert len(rows) == 40 and {"skills", "job_key", "closed_at"} <= set(rows[0]) and "," in rows[0]["skills"]
    summary = list(csv.DictReader(io.StringIO(run_cli("inspect", "--summary", "--format", "csv", "--db",
                                                      sample_db).stdout)))
    assert {"group": "total", "value": "", "postings": "40"} in summary
    assert {r["group"] for r in summary} == {"total", "companies", "source", "role", "level", "month"}


def test_one_posting_whole_and_a_skill_filter(sample_db):
    with_python = json.loads(run_cli("inspect", "--skill", "Python", "--limit", 0, "--format", "json",
                                     "--db", sample_db).stdout)
    assert with_python and all("python" in p["skills"] for p in with_python)
    one = json.loads(run_cli("inspect", "--id", with_python[0]["id"], "--db", sample_db).stdout)
    assert one["id"] == with_python[0]["id"] and "python" in one["skills"]
    assert "<" not in one["description"] and one["places"][0][0] == "US"
    assert [copy["source"] for copy in one["seen_in"]] == ["greenhouse"]
    missing = run_cli("inspect", "--id", "0" * 32, "--db", sample_db)
    assert missing.returncode == 2 and "no posting with id" in missing.stderr
    typo = run_cli("inspect", "--skill", "pythn", "--db", sample_db)
    assert typo.returncode == 2 and "did you mean 'python'?" in typo.stderr


def test_insights_in_csv(sample_db):
    rows = list(csv.DictReader(io.StringIO(run_cli("insights", "--format", "csv", "--db", sample_db).stdout)))
    assert rows and set(rows[0]) == {"id", "name", "category", "count", "pct", "postings_count"}
    assert int(rows[0]["count"]) >= int(rows[-1]["count"])


def test_typos_get_suggestions_and_choices_take_any_case(sample_db):
    flag = run_cli("ingest", "--locaton", "Dallas, TX")
    assert flag.returncode == 2 and "did you mean '--location'?" in flag.stderr
    choice = run_cli("ingest", "--role", "backnd")
    assert choice.returncode == 2 and "did you mean 'backend'?" in choice.stderr
    assert len(choice.stderr.strip().splitlines()) == 1
    upper = run_cli("insights", "--role", "Backend", "--level", "ENTRY", "--format", "JSON", "--db", sample_db)
    assert upper.returncode == 0 and json.loads(upper.stdout)["filters"]["role"] == "backend"


def test_status_says_which_database_and_never_the_key(sample_db):
    key = "ts-secret-key-0123456789"
    result = run_cli("status", "--format", "json", "--db", sample_db, env={"THEIRSTACK_API_KEY": key})
    assert result.returncode == 0 and key not in result.stdout + result.stderr
    status = json.loads(result.stdout)
    assert status["database"] == str(sample_db) and status["schema_version"] == SCHEMA_VERSION and status["size_bytes"] > 0
    assert status["postings"] == {"greenhouse": 40} and status["THEIRSTACK_API_KEY"] is True
    assert status["last_runs"][0]["source"] == "greenhouse" and status["last_runs"][0]["age_hours"] < 1
    table = run_cli("status", "--db", sample_db).stdout
    assert f"schema {SCHEMA_VERSION}" in table and "greenhouse 40" in table and "not set" in table
    assert "not created yet" in run_cli("status", "--db", sample_db.parent / "none.db").stdout


def test_prune_and_vacuum(tmp_path):
    db = tmp_path / "p.db"
    run_cli("ingest", "--load", "sample", "--db", db)
    days = sorted(r[0] for r in query(db, "SELECT date_posted FROM postings"))
    cut = days[len(days) // 2]
    older = sum(day < cut for day in days)
    dry = run_cli("prune", "--posted-before", cut, "--dry-run", "--db", db)
    assert f"would delete {older} postings" in dry.stderr and query(db, "SELECT count(*) FROM postings") == [(40,)]
    assert run_cli("prune", "--posted-before", cut, "--db", db).returncode == 0
    assert query(db, "SELECT count(*) FROM postings") == [(40 - older,)]
    assert query(db, "SELECT count(*) FROM posting_skills WHERE posting_id NOT IN (SELECT id FROM postings)") == [(0,)]
    vacuum = run_cli("vacuum", "--db", db)
    assert vacuum.returncode == 0 and "MB ->" in vacuum.stderr
    assert run_cli("prune", "--db", db).returncode == 2
    assert run_cli("vacuum", "--db", tmp_path / "none.db").returncode == 2 and not (tmp_path / "none.db").exists()


def test_prune_keeps_a_job_counted_when_its_first_copy_goes(tmp_path):
    from skillpulse_ingest.models import JobPosting
    from skillpulse_ingest.storage_sqlite import PostingFilter, SQLiteStore

    db = tmp_path / "d.db"
    first = JobPosting(source="theirstack", source_id="1", url="https://x.io/?gh_jid=77", title="Dev",
                       date_posted="2026-01-01")
    second = JobPosting(source="greenhouse", source_id="77", url="https://boards.greenhouse.io/x/jobs/77",
                        title="Dev", date_posted="2026-06-01")
    with SQLiteStore.open(db) as store:
        store.save_page([first])
        store.save_page([second])
        assert store.summary(PostingFilter())["postings"] == 1
        assert store.prune(posted_before="2026-03-01") == 1
        assert store.summary(PostingFilter())["postings"] == 1


def test_runs_give_the_query_as_an_object(sample_db):
    [run] = json.loads(run_cli("runs", "--format", "json", "--db", sample_db).stdout)
    assert run["query"]["source"] == "greenhouse" and "query_json" not in run
    assert "days=30" in run_cli("runs", "--db", sample_db).stdout


def test_a_dry_run_says_would_insert(tmp_path):
    result = run_cli("ingest", "--load", "sample", "--dry-run", "--db", tmp_path / "d.db")
    assert "would insert 40" in result.stderr and "[dry run: nothing written]" in result.stderr


def test_serve_refuses_a_port_in_use_with_a_hint_and_takes_any_origin(sample_db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_cli("serve", "--port", port, "--db", sample_db, timeout=30)
    assert busy.returncode == 2 and f"try --port {port + 1}" in busy.stderr
    bad = run_cli("serve", "--cors-origin", "localhost:5173", "--db", sample_db)
    assert bad.returncode == 2 and "is not an origin" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "serve", "--db", str(sample_db), "--port", "0",
                             "--cors-origin", "*"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=clean_env(), stdin=subprocess.DEVNULL)
    try:
        line = proc.stderr.readline()
        assert "CORS: any origin (*)" in line
        served_port = int(line.split("http://127.0.0.1:")[1].split(" ")[0])
        with socket.create_connection(("127.0.0.1", served_port), timeout=10) as conn:
            conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"Access-Control-Allow-Origin: *" in head
        assert json.loads(body)["last_run_at"].endswith("Z")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX")
def test_an_export_of_100000_rows_streams_in_constant_memory(tmp_path):
    from run import build_large_db

    db = tmp_path / "big.db"
    build_large_db(db, 100_000)

    def peak_mb(*args) -> float:
        measure = ("import resource, subprocess, sys; "
                   "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
        done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "skillpulse_ingest", "inspect",
                               "--db", str(db), *args], capture_output=True, text=True, env=clean_env())
        assert done.returncode == 0, done.stderr
        return float(done.stdout.strip())

    one = peak_mb("--limit", "1", "--format", "csv")
    for fmt in (("--format", "csv"), ("--format", "json"), ("--nl",)):
        assert peak_mb("--limit", "0", *fmt) - one < 40, fmt  # a list of 100,000 rows would be hundreds of MB
    lines = subprocess.run([sys.executable, "-m", "skillpulse_ingest", "inspect", "--db", str(db), "--limit", "0",
                            "--nl"], capture_output=True, text=True, env=clean_env()).stdout.count("\n")
    assert lines == 100_000


def test_an_unknown_host_fails_at_once_in_one_line(db):
    result = run_cli("ingest", "--source", "remotive", "--db", db,
                     env={"SKILLPULSE_REMOTIVE_URL": "https://skillpulse-test.invalid/api/remote-jobs"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "skillpulse: error: could not reach Remotive: no address for skillpulse-test.invalid (offline, or a proxy is "
        "needed: set HTTPS_PROXY); check the network and try again"]


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_on_a_terminal_the_first_request_says_what_it_waits_for(db):
    import os
    import pty

    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/remote-jobs"
        leader, follower = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "ingest", "--source", "remotive", "--db",
                                 str(db), "--timeout", "1", "--max-retries", "0"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=follower, env=clean_env(SKILLPULSE_REMOTIVE_URL=url))
        os.close(follower)
        seen = b""
        try:
            proc.wait(timeout=60)
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed with the process
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            os.close(leader)
    text = seen.decode(errors="replace")
    assert f"remotive: waiting for 127.0.0.1:{url.split(':')[2].split('/')[0]} (up to 1s an attempt, 0 retries)" in text
    assert "did not answer within 1s" in text and proc.returncode == 1
