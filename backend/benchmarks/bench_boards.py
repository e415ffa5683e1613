"""Many company boards at once: `ingest --source boards` against a slow local fake.

    python backend/benchmarks/bench_boards.py            # 500 boards of ~40 jobs, 200 ms per answer
    python backend/benchmarks/bench_boards.py --quick    # 20 boards, for a smoke check

Sequential fetching would take boards x delay; the bound set by the concurrency limit is
boards x delay / concurrency. Prints wall time, postings/s, requests in flight (peak, per host),
peak RSS and CPU time of the CLI, then the same for a second run over the unchanged boards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fakeboards import FakeBoards, greenhouse_job  # noqa: E402

TITLES = ["Backend Engineer", "Senior Software Engineer", "Junior Frontend Developer", "Data Engineer",
          "Machine Learning Engineer", "Site Reliability Engineer", "iOS Engineer", "QA Automation Engineer",
          "Security Engineer", "Full Stack Developer", "Account Executive", "Product Designer"]
PARAGRAPHS = ["<p>You will design and build services in Python, Go and PostgreSQL on AWS.</p>",
              "<ul><li>3+ years with React and TypeScript</li><li>Experience with Docker and Kubernetes</li></ul>",
              "<p>We run Spark and Airflow pipelines; SQL is a must, dbt is a plus.</p>",
              "<p>Our benefits include health insurance, 401(k) matching and a learning budget.</p>",
              "<h3>About us</h3><p>We are a fast-growing company with offices in New York and Austin.</p>"]
PLACES = ["New York, NY", "San Francisco, CA; Remote - US", "Austin, TX", "Remote", "London, United Kingdom",
          "Seattle, WA / Denver, CO", "Dallas, TX"]


def stock(fake: FakeBoards, boards: int, jobs: int, seed: int = 3) -> int:
    rng = random.Random(seed)
    total = 0
    for b in range(boards):
        token = f"company{b}"
        count = max(1, int(rng.gauss(jobs, jobs / 4)))
        fake.boards[("greenhouse", token)] = [
            greenhouse_job(b * 1000 + j, rng.choice(TITLES), rng.choice(PLACES), token=token, company=f"Company {b}",
                           days_ago=rng.randrange(25), content="".join(rng.choices(PARAGRAPHS, k=8)))
            for j in range(count)]
        total += count
    return total


def run(command: list[str], env: dict) -> dict:
    """One CLI run, measured by a fresh copy of this script, so the CPU time and peak RSS of its
    children are the CLI's alone."""
    done = subprocess.run([sys.executable, __file__, "--measure", *command], capture_output=True, text=True, env=env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"the run failed:\n{done.stderr[-2000:]}")
    result["summary"] = json.loads(result["out"])
    return result


def measure(command: list[str]) -> None:
    """Run the command; print its wall time, CPU time and peak RSS as JSON (no CPU or RSS on Windows)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    cpu = rss_mb = 0.0
    try:
        import resource
    except ImportError:
        pass
    else:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu, rss_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    sys.stderr.write(done.stderr)
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": rss_mb, "code": done.returncode, "out": done.stdout}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=40, help="jobs per board, on average")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the fake takes to answer")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="20 boards of 10 jobs")
    parser.add_argument("--postgres", action="store_true",
                        help="store into PostgreSQL, on a server started from the binaries on this machine")
    args = parser.parse_args()
    if args.quick:
        args.boards, args.jobs = 20, 10
    fake = FakeBoards(delay=args.delay).start()
    server = None
    try:
        postings = stock(fake, args.boards, args.jobs)
        with tempfile.TemporaryDirectory(prefix="skillpulse-bench-") as tmp:
            db = str(Path(tmp) / "boards.db")
            if args.postgres:
                server = start_postgres()
                db = server.create_database("boards")
            env = {**os.environ, **fake.env(), "SKILLPULSE_DB": db}
            cli = [sys.executable, "-m", "skillpulse_ingest"]
            specs = [f"greenhouse:company{b}" for b in range(args.boards)]
            subprocess.run([*cli, "boards", "add", "-q", *specs], env=env, check=True)
            ingest = [*cli, "ingest", "--source", "boards", "--json", "-q", "--concurrency", str(args.concurrency)]
            first = run(ingest, env)
            peak = dict(fake.peak)
            fake.peak.clear()
            second = run(ingest, env)
        bound = args.boards * args.delay / args.concurrency
        print(f"{args.boards} boards, {postings} postings, {args.delay * 1000:.0f} ms per answer, "
              f"--concurrency {args.concurrency}")
        print(f"sequential fetching would take {args.boards * args.delay:.1f} s; the concurrency bound is {bound:.1f} s")
        print(f"{'run':<22} {'wall s':>7} {'postings/s':>10} {'CPU s':>7} {'RSS MB':>7}  outcome")
        for name, result in (("first (all new)", first), ("second (unchanged)", second)):
            s = result["summary"]
            print(f"{name:<22} {result['wall']:7.2f} {s['inserted'] / result['wall']:10.0f} {result['cpu']:7.2f} "
                  f"{result['rss_mb']:7.0f}  inserted {s['inserted']}, ok {s['boards_ok']}, "
                  f"unchanged {s['boards_unchanged']}, failed {s['boards_failed']}")
        per_host = ", ".join(f"{k} {v}" for k, v in sorted(peak.items()) if k != "all")
        print(f"requests in flight, first run: peak {peak.get('all', 0)} (per host: {per_host})")
        print(f"first run wall / (bound + its CPU time): {first['wall'] / (bound + first['cpu']):.2f} "
              f"(target at most 1.5); wall / bound: {first['wall'] / bound:.2f}")
        print(f"CPU time, first run / second run: {first['cpu'] / max(second['cpu'], 1e-9):.1f}x (target at least 5x)")
        print(f"store: {'PostgreSQL' if args.postgres else 'SQLite'}")
    finally:
        fake.stop()
        if server is not None:
            server.stop()


def start_postgres():
    import pgserver
    binaries = pgserver.find_binaries()
    if binaries is None:
        raise SystemExit("--postgres: no PostgreSQL server binaries found")
    return pgserver.PostgresServer(binaries).start()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(sys.argv[2:])
    else:
        main()
