"""Hostile answers, signals, full disks, deleted and read-only databases, through the real CLI."""

import gzip
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from conftest import clean_env, query, run_cli, write_sqlite
from fakeapi import REMOTIVE_PATH, THEIRSTACK_PATH, Fault, many_theirstack_jobs, theirstack_job

FAST = ("--backoff-factor", "0.05", "--max-retries", "2", "--timeout", "2", "--min-interval", "0")


def ingest(api, db, *extra, env=None):
    return run_cli("ingest", "--max-results", 1200, *FAST, "--db", db, *extra, env={**api.env(), **(env or {})})


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


def spawn(api, db, *extra):
    """An ingest in a session of its own, so a signal can go to its whole process group."""
    command = [sys.executable, "-m", "skillpulse_ingest", "ingest", "--db", str(db), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(**api.env()), stdin=subprocess.DEVNULL, start_new_session=True)


@contextmanager
def stopped_at_the_end(proc):
    """The process and its group are gone when the block ends, whatever the test found."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)
        with_group_gone(proc.pid)


def with_group_gone(pgid, wait=10.0) -> bool:
    """True once no process of the group is left (killing the stragglers after `wait` seconds)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
    return False


def wait_for_rows(db, at_least, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if query(db, "SELECT count(*) FROM postings")[0][0] >= at_least:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} postings after {timeout}s")


# ---- poison rows and hostile answers ------------------------------------------------------

def test_poison_rows_are_invalid_rows_and_the_run_completes(api, db):
    good = [theirstack_job(i) for i in range(20)]
    nbsp = theirstack_job(100, title="Spring\u00a0Boot Developer", description="Node\u00a0JS and Spring\tBoot")
    cut_emoji = theirstack_job(101, title="Backend Engineer \ud83d", description="Python \ud83d")
    bad_url = theirstack_job(102)
    bad_url["final_url"] = "https://jobs.example.com/\ud83d"
    bad_url["url"] = bad_url["source_url"] = None
    wrong_type = theirstack_job(103)
    wrong_type["cities"] = [{"nested": ["x"]}]
    wrong_type["company_object"] = ["not", "an", "object"]
    api.theirstack_jobs = good + [nbsp, cut_emoji, bad_url, wrong_type]
    for _ in range(2):  # and again: the same rows never fail a later run
        result = ingest(api, db, "--json", "-v")
        assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["fetched"] == 24 and summary["invalid"] == 1
    assert "invalid theirstack row 195500102" in result.stderr  # the reason, at -v
    stored = dict(query(db, "SELECT source_id, title FROM postings"))
    assert len(stored) == 23 and stored["195500101"] == "Backend Engineer \ufffd"
    skills = query(db, "SELECT skills FROM postings WHERE source_id = '195500100'")[0][0]
    assert "spring boot" in skills.split(",")


def test_a_page_bigger_than_asked_for_is_kept_whole(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(1500)]
    api.ignore_limit = True
    result = ingest(api, db, "--max-results", "500", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 1500
    assert "sent 1500 rows where 500 were asked for" in result.stderr


@pytest.mark.parametrize("fault,expect", [
    (lambda: Fault(status=200, body=b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "nested too deeply"),
    (lambda: Fault(status=200, body=gzip.compress(b" " * (80 * 2**20)), headers={"Content-Encoding": "gzip"}),
     "more than 64 MB"),  # 80 MB of JSON white space in 80 KB on the wire
], ids=["deep JSON", "gzip bomb"])
def test_a_hostile_answer_fails_the_run_in_one_line(api, db, fault, expect):
    api.fail(THEIRSTACK_PATH, fault())
    result = ingest(api, db, "--max-retries", "0")
    assert result.returncode == 1
    [line] = error_lines(result)
    assert expect in line


def test_an_unknown_charset_is_read_as_utf8(api, db):
    api.fail(THEIRSTACK_PATH, Fault(status=200, body=json.dumps({"data": [theirstack_job(1)]}).encode(),
                                    headers={"Content-Type": "application/json; charset=x-no-such-charset"}))
    result = ingest(api, db, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 1


def test_a_server_that_drips_its_answer_is_cut_off_at_the_timeout(api, db):
    api.fail(REMOTIVE_PATH, *[Fault(kind="drip", body=b'{"jobs": []}' + b" " * 500)] * 3)
    start = time.monotonic()
    result = run_cli("ingest", "--source", "remotive", "--timeout", "1", "--max-retries", "0", "--db", db,
                     env=api.env())
    assert result.returncode == 1 and time.monotonic() - start < 20
    [line] = error_lines(result)
    assert "did not answer within 1s" in line and "--timeout" in line


@pytest.mark.parametrize("env,expect", [
    ({"THEIRSTACK_API_KEY": "ключ-123"}, "THEIRSTACK_API_KEY contains characters"),
    ({"THEIRSTACK_API_KEY": "abc\ndef"}, "THEIRSTACK_API_KEY contains characters"),
    ({"SKILLPULSE_THEIRSTACK_URL": "http://[::1"}, "SKILLPULSE_THEIRSTACK_URL is not a valid URL"),
    ({"SKILLPULSE_THEIRSTACK_URL": "ftp://example.com/x"}, "must be an http:// or https:// URL"),
])
def test_a_bad_key_or_url_is_a_config_error_before_any_request(api, db, env, expect):
    result = ingest(api, db, env=env)
    assert result.returncode == 2
    [line] = error_lines(result)
    assert expect in line and "ключ" not in line and "def" not in line
    assert api.calls(THEIRSTACK_PATH) == []


def test_quiet_means_quiet_through_retries(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(5)]
    api.fail(THEIRSTACK_PATH, Fault(kind="drop"), Fault(status=429))
    quiet = ingest(api, db, "-q", "--max-results", "2000")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""
    api.fail(THEIRSTACK_PATH, Fault(kind="drop"))
    loud = ingest(api, db, "--max-results", "2000")
    assert loud.returncode == 0
    assert loud.stderr.count("retrying") == 1 and "Retrying (" not in loud.stderr


def test_a_read_timeout_says_timeout_and_a_refused_connection_says_so(api, db):
    api.slow_seconds = 3
    api.fail(REMOTIVE_PATH, *[Fault(kind="slow")] * 3)
    slow = run_cli("ingest", "--source", "remotive", "--timeout", "1", "--max-retries", "1", "--backoff-factor", "0",
                   "--db", db, env=api.env())
    [line] = [l for l in error_lines(slow) if "error:" in l]
    assert slow.returncode == 1 and "did not answer within 1s" in line
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    refused = run_cli("ingest", "--source", "remotive", "--max-retries", "0", "--db", db,
                      env={"SKILLPULSE_REMOTIVE_URL": f"http://127.0.0.1:{port}/api/remote-jobs"})
    [line] = error_lines(refused)
    assert refused.returncode == 1 and "(connection refused)" in line and "check the network" in line


def test_remotive_429_is_never_retried_even_with_retry_after(api, db):
    api.fail(REMOTIVE_PATH, Fault(status=429, headers={"Retry-After": "0"}))
    result = run_cli("ingest", "--source", "remotive", "--db", db, "--backoff-factor", "0", env=api.env())
    assert result.returncode == 1 and len(api.calls(REMOTIVE_PATH)) == 1


def test_a_repeated_page_moves_no_incremental_marker(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(800)]
    api.repeat_pages = True
    result = ingest(api, db, "--incremental", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stopped_by"] == "repeated_page"
    assert query(db, "SELECT marker FROM sync_state") == [(None,)]


# ---- signals and processes ----------------------------------------------------------------

@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")
@pytest.mark.parametrize("signame,to_group", [("SIGINT", True), ("SIGTERM", False)])
def test_a_signal_mid_ingest_ends_the_run_cleanly(api, db, signame, to_group):
    api.theirstack_jobs = many_theirstack_jobs(6000)
    # A page a second: when 1,500 rows are stored, 8 pages (8 s) are still to come, even on a loaded machine.
    with stopped_at_the_end(spawn(api, db, "--max-results", "6000", "--min-interval", "1",
                                  "--workers", "2")) as proc:
        wait_for_rows(db, 1500)  # past the first thousand: worker processes are analyzing
        if to_group:
            os.killpg(proc.pid, getattr(signal, signame))  # Ctrl+C reaches every process of the group
        else:
            proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["skillpulse: error: interrupted"]  # one line; no worker traceback
    assert with_group_gone(proc.pid), "a worker process outlived the run"
    [run] = query(db, "SELECT status, error, inserted FROM ingest_runs", as_dicts=True)
    stored = query(db, "SELECT count(*) FROM postings")[0][0]
    assert run["status"] == "failed" and run["error"] == "interrupted" and run["inserted"] == stored >= 1500


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_signal_mid_rebuild_stops_it_and_a_rerun_finishes(db):
    rows = ",".join(f"('id{i}', 's', 'https://x/{i}', 'Python Developer {i}', 'backend', 'entry', '2026-01-01', "
                    f"'2026-01-01', '{'We use Kubernetes, Terraform and Go. ' * 150}', '{{}}')" for i in range(15000))
    run_cli("runs", "--db", db)  # nothing yet
    from skillpulse_ingest.storage_sqlite import SQLiteStore
    SQLiteStore.open(db).close()  # the schema
    write_sqlite(db, "INSERT INTO postings (id, source, url, title, role_bucket, level_bucket, retrieved_at, "
                     f"last_seen_at, description_raw, raw_json) VALUES {rows}")
    proc = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "skills", "rebuild", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
                            start_new_session=True)
    with stopped_at_the_end(proc):
        deadline = time.monotonic() + 60
        while query(db, "SELECT count(*) FROM postings WHERE skills != ''")[0][0] == 0:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines() == ["skillpulse: error: interrupted"]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT count(*) FROM postings WHERE skills = ''")[0][0] > 0  # it really stopped early
    again = run_cli("skills", "rebuild", "--db", db)
    assert again.returncode == 0, again.stderr
    assert query(db, "SELECT count(*) FROM postings WHERE skills LIKE '%kubernetes%'")[0][0] == 15000


@pytest.mark.skipif(sys.platform == "win32", reason="process groups")
def test_a_default_run_starts_no_worker_process_and_leaves_none(api, db):
    api.theirstack_jobs = many_theirstack_jobs(250)
    with stopped_at_the_end(spawn(api, db, "--max-results", "250", "--json")) as proc:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["inserted"] == 250
    assert with_group_gone(proc.pid, wait=0.5)


def test_runs_shows_a_run_whose_process_is_gone(api, db):
    api.theirstack_jobs = [theirstack_job(1)]
    assert ingest(api, db).returncode == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_sqlite(db, "INSERT INTO ingest_runs (started_at, source, query_json, status, pid, host) VALUES "
                     f"('2026-01-01T00:00:00Z', 'theirstack', '{{}}', 'running', {int(dead.stdout)}, "
                     f"'{socket.gethostname()}')")
    runs = json.loads(run_cli("runs", "--format", "json", "--db", db).stdout)
    assert [r["status"] for r in runs] == ["gone", "ok"]


# ---- the database -------------------------------------------------------------------------

@contextmanager
def small_disk(tmp_path, size):
    """A folder on a tmpfs of `size` (root only); skips where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if sys.platform == "win32" or os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs (the store test covers a full database without it)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_fails_in_one_line_and_the_next_run_completes(api, tmp_path):
    api.theirstack_jobs = many_theirstack_jobs(3000)
    with small_disk(tmp_path, "3m") as disk:
        db = disk / "skillpulse.db"
        full = ingest(api, db, "--max-results", "3000")
        assert full.returncode == 1
        [line] = error_lines(full)
        assert "database or disk is full" in line and "rollback" not in line
        assert query(db, "PRAGMA integrity_check") == [("ok",)]
        kept = query(db, "SELECT count(*) FROM postings")[0][0]
        subprocess.run(["mount", "-o", "remount,size=200m", str(disk)], check=True)
        again = ingest(api, db, "--max-results", "3000", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["inserted"] == 3000 - kept
        assert query(db, "SELECT count(*) FROM postings")[0][0] == 3000


@pytest.mark.skipif(sys.platform == "win32", reason="Windows does not delete a file that is open")
def test_a_database_deleted_during_the_run_fails_it(api, db):
    api.theirstack_jobs = many_theirstack_jobs(3000)
    with stopped_at_the_end(spawn(api, db, "--max-results", "3000", "--min-interval", "1")) as proc:
        wait_for_rows(db, 500)  # 4 pages (4 s) are still to come
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{db}{suffix}"):
                os.remove(f"{db}{suffix}")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "deleted or replaced during the run" in err and "inserted" not in err


@contextmanager
def read_only_folder(folder):
    """The folder made unwritable for this user: chmod for a user, chattr +i for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = ["chmod", "755", str(folder)]
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        undo = ["chattr", "-i", str(folder)]
    else:
        pytest.skip("cannot make a folder read-only for root here (no chattr)")
    try:
        yield
    finally:
        subprocess.run(undo, check=True)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_commands_read_a_database_they_may_not_write(api, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "skillpulse.db"
    api.theirstack_jobs = [theirstack_job(i) for i in range(30)]
    assert ingest(api, db).returncode == 0
    with read_only_folder(folder):
        for command in (["inspect"], ["inspect", "--summary"], ["insights", "--level", "any"], ["runs"]):
            result = run_cli(*command, "--db", db)
            assert result.returncode == 0, (command, result.stderr)
        assert "postings" in run_cli("inspect", "--summary", "--db", db).stdout
        from skillpulse_ingest.server import SkillPulseAPI
        status, body = SkillPulseAPI(db).handle("/api/health", "")
        assert status == 200 and body["postings"] == 30
        write = ingest(api, db)
        assert write.returncode == 2 and "cannot write database" in write.stderr


def test_triggers_in_a_supplied_database_do_not_skew_the_counts(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(300)]
    assert ingest(api, db, "--max-results", "10").returncode == 0
    write_sqlite(db, "CREATE TABLE audit (id TEXT)",
                 "CREATE TRIGGER audit_insert AFTER INSERT ON postings BEGIN "
                 "INSERT INTO audit VALUES (new.id); INSERT INTO audit VALUES (new.id); END")
    result = ingest(api, db, "--max-results", "300", "--json")
    summary = json.loads(result.stdout)
    assert (summary["inserted"], summary["skipped"]) == (290, 10)


def test_a_second_connection_in_one_process_keeps_the_first_ones_lock(db):
    """Python opening and closing the database file dropped SQLite's POSIX locks on it. Another
    process closing its last connection then believed nobody else had the file open and deleted
    the WAL under the writer: the cause of the malformed databases three ingests at once made."""
    from skillpulse_ingest.storage_sqlite import SQLiteStore
    with SQLiteStore.open(db) as writer:
        writer.conn.execute("UPDATE postings SET title = title")  # a write: the WAL exists now
        SQLiteStore.open(db, readonly=True).close()  # as the page writer thread and every server request do
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                        "c.execute('SELECT count(*) FROM postings').fetchall(); c.close()", str(db)], check=True)
        assert os.path.exists(f"{db}-wal"), "another process's close took the WAL from under an open writer"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU pinning")
def test_three_ingests_on_a_new_database_on_one_cpu_store_the_union(tmp_path):
    from fakeapi import FakeJobAPI, remotive_job
    apis = [FakeJobAPI().start() for _ in range(3)]
    try:
        apis[0].theirstack_jobs = [theirstack_job(i, title="Junior Backend Developer") for i in range(600)]
        apis[1].theirstack_jobs = [theirstack_job(i, title="Senior Data Engineer") for i in range(300, 900)]
        apis[2].remotive_jobs = [remotive_job(i) for i in range(300)]
        for attempt in range(3):
            db = tmp_path / f"new{attempt}.db"
            args = [["--role", "backend"], ["--role", "data"], ["--source", "remotive"]]
            procs = [subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "ingest", "--db", str(db),
                                       "--max-results", "1000", "--min-interval", "0", "--json", *extra],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=clean_env(**api.env()), preexec_fn=lambda: os.sched_setaffinity(0, {0}))
                     for api, extra in zip(apis, args)]
            outputs = [p.communicate(timeout=300) for p in procs]
            for proc, (out, err) in zip(procs, outputs):
                assert proc.returncode == 0, err
            assert query(db, "PRAGMA integrity_check") == [("ok",)]
            inserted = sum(json.loads(out)["inserted"] for out, _ in outputs)
            assert inserted == query(db, "SELECT count(*) FROM postings")[0][0] == 600 + 300 + 300
    finally:
        for api in apis:
            api.stop()
