"""Two ingests at once, and ingests killed at random points: nothing lost, nothing corrupt."""

import json
import random
import sqlite3
import subprocess
import sys
import time

from conftest import clean_env, query
from fakeapi import FakeJobAPI, many_theirstack_jobs, theirstack_job


def spawn(api, db, *extra):
    command = [sys.executable, "-m", "skillpulse_ingest", "ingest", "--max-results", "5000", "--db", str(db), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(**api.env()), stdin=subprocess.DEVNULL)


def counts(db):
    return query(db, "SELECT count(*), count(DISTINCT id), count(DISTINCT source_id) FROM postings")[0]


def test_two_ingests_on_one_database_at_once_store_the_union(db):
    first, second = FakeJobAPI().start(), FakeJobAPI().start()
    procs = []
    try:
        first.theirstack_jobs = [theirstack_job(i) for i in range(1500)]
        second.theirstack_jobs = [theirstack_job(i) for i in range(750, 2250)]
        procs = [spawn(first, db, "--json", "--min-interval", "0.05"),
                 spawn(second, db, "--json", "--min-interval", "0.05")]
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        first.stop()
        second.stop()
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert "locked" not in err
    summaries = [json.loads(out) for out, _ in outputs]
    assert counts(db) == (2250, 2250, 2250)
    assert sum(s["inserted"] for s in summaries) == 2250
    assert all(s["inserted"] + s["skipped"] == s["matched"] == 1500 for s in summaries)


def test_killing_ingest_at_random_points_never_corrupts_the_database(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(3000)]
    rng = random.Random(42)
    for _ in range(20):
        proc = spawn(api, db, "--min-interval", "0")
        time.sleep(rng.uniform(0.05, 1.2))
        proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
        proc.communicate(timeout=60)  # returns once no worker process is left holding its output open
        if db.exists():
            conn = sqlite3.connect(db)
            try:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                total, distinct_ids, _ = conn.execute(
                    "SELECT count(*), count(DISTINCT id), 0 FROM postings").fetchone()
                assert total == distinct_ids
                orphans = conn.execute("SELECT count(*) FROM posting_skills s LEFT JOIN postings p "
                                       "ON p.id = s.posting_id WHERE p.id IS NULL").fetchone()[0]
                assert orphans == 0
            finally:
                conn.close()
    final = spawn(api, db, "--json", "--min-interval", "0")
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert counts(db) == (3000, 3000, 3000)


def test_a_killed_ingest_leaves_no_worker_process_behind(api, db):
    # Pool workers hold both ends of their task pipe, so only a watch on the parent ends them.
    api.theirstack_jobs = many_theirstack_jobs(5000)
    proc = spawn(api, db, "--min-interval", "0.5", "--workers", "2")  # ten pages: at least 5 s
    time.sleep(2)  # a few pages in: both workers are analyzing
    proc.kill()
    proc.communicate(timeout=60)  # the workers hold copies of its stdout and stderr until they exit
    assert proc.returncode != 0  # killed, not finished
