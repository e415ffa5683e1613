"""The API key never leaks; cron runs stay quiet; progress only on a terminal."""

import os
import subprocess
import sys

import pytest

from conftest import clean_env, run_cli
from fakeapi import THEIRSTACK_PATH, Fault, theirstack_job

SECRET = "sk-live-THIS-MUST-NEVER-LEAK-7f3a9c"


def everything_written(tmp_path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_key_appears_nowhere_even_at_the_most_verbose_level(api, db, tmp_path):
    api.api_key = SECRET
    api.theirstack_jobs = [theirstack_job(i) for i in range(40)]
    api.fail(THEIRSTACK_PATH, Fault(status=503), Fault(kind="drop"))
    ok = run_cli("ingest", "-vv", "--json", "--backoff-factor", "0", "--max-results", "1500", "--db", db,
                 env=api.env())
    assert ok.returncode == 0, ok.stderr
    assert "Starting new HTTP connection" in ok.stderr or "POST" in ok.stderr  # urllib3 debug is on
    rejected = run_cli("ingest", "-vv", "--db", db, env=api.env(THEIRSTACK_API_KEY=SECRET + "-revoked"))
    assert rejected.returncode == 1 and "rejected the API key" in rejected.stderr
    api.fail(THEIRSTACK_PATH, *[Fault(status=500)] * 5)
    failed = run_cli("ingest", "-vv", "--backoff-factor", "0", "--max-retries", "1", "--db", db, env=api.env())
    assert failed.returncode == 1
    for result in (ok, rejected, failed):
        assert SECRET not in result.stdout and SECRET not in result.stderr
    assert SECRET.encode() not in everything_written(tmp_path)
    help_text = run_cli("ingest", "--help", env=api.env()).stdout
    assert SECRET not in help_text
    # the key did reach the server, so the check above is meaningful
    assert any(SECRET in c.headers.get("Authorization", "") for c in api.requests)


def test_quiet_prints_nothing_on_success_and_one_line_on_failure(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(10)]
    ok = run_cli("ingest", "-q", "--db", db, env=api.env())
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == ""
    api.fail(THEIRSTACK_PATH, Fault(status=402))
    failed = run_cli("ingest", "-q", "--db", db, env=api.env())
    assert failed.returncode == 1 and failed.stdout == "" and failed.stderr.count("\n") == 1


def test_no_progress_animation_when_stderr_is_not_a_terminal(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(1200)]
    result = run_cli("ingest", "--max-results", 1200, "--db", db, env=api.env())
    assert result.returncode == 0 and "\r" not in result.stderr and "\x1b" not in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_progress_on_a_terminal(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(1200)]
    primary, secondary = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "ingest", "--max-results", "1200",
                             "--db", str(db)], stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL,
                            env=clean_env(**api.env()))
    os.close(secondary)
    proc.wait(timeout=120)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "\rtheirstack: fetched 500" in text.replace("\x1b[K", "") and "fetched 1200" in text
