"""SkillPulse performance, measured in one run on this machine; prints a table.

    python backend/benchmarks/run.py                 # the full run (several minutes)
    python backend/benchmarks/run.py --quick         # small sizes, for a smoke check

1. ingest throughput of N TheirStack-shaped postings through the real CLI, next to the floor
   (requests + json + one executemany) against the same local server;
2. the same ingest again, every posting already stored;
3. peak memory (max RSS) of the CLI at two sizes;
4. insights latency on a large generated database, selective and unselective;
5. `inspect --summary` on the same database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fakeapi import FakeJobAPI, many_theirstack_jobs  # noqa: E402
from skillpulse_ingest import accelerator  # noqa: E402
from skillpulse_ingest.gazetteer import metro_of  # noqa: E402
from skillpulse_ingest.insights import skill_insights  # noqa: E402
from skillpulse_ingest.models import posting_id  # noqa: E402
from skillpulse_ingest.insights import locations, postings_summary  # noqa: E402
from skillpulse_ingest.storage_sqlite import POSTING_COLUMNS, PostingFilter, SQLiteStore  # noqa: E402


def cli(*args, env=None) -> list[str]:
    return [sys.executable, "-m", "skillpulse_ingest", *map(str, args)]


def timed(command: list[str], env: dict) -> tuple[float, str, int]:
    """Wall time, stdout and the max RSS (KB) of one command, run in a fresh wrapper process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "dt = time.perf_counter() - t; sys.stderr.write(p.stderr); "
               "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if hasattr(resource, 'getrusage') else 0; "
               "print(repr((dt, p.stdout, rss, p.returncode)))")
    try:
        import resource  # noqa: F401  (POSIX only)
        out = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, env=env)
        seconds, stdout, rss, code = eval(out.stdout.strip().splitlines()[-1])  # our own repr
    except ImportError:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        seconds, stdout, rss, code = time.perf_counter() - start, done.stdout, 0, done.returncode
    if code != 0:
        raise SystemExit(f"command failed ({code}): {' '.join(command)}\n{out.stderr if 'out' in locals() else ''}")
    return seconds, stdout, rss


def ingest_env(api: FakeJobAPI) -> dict:
    """This environment without SkillPulse settings (SKILLPULSE_PURE_PYTHON stays), plus the fake API's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SKILLPULSE_", "THEIRSTACK_")) or k == "SKILLPULSE_PURE_PYTHON"}
    env.update(api.env())
    return env


def bench_ingest(n: int, work: Path, repeat: int) -> dict:
    """Median of `repeat` rounds; each round runs the CLI twice (empty, then full) and the floor."""
    api = FakeJobAPI().start()
    try:
        api.theirstack_jobs = many_theirstack_jobs(n)
        env = ingest_env(api)
        firsts, agains, floors = [], [], []
        for round_no in range(repeat):
            db = work / f"ingest-{n}-{round_no}.db"
            command = cli("ingest", "--max-results", n, "--min-interval", 0, "--days", 3650, "--db", db, "--json",
                          "-q", *(["--workers", os.environ["BENCH_WORKERS"]] if os.environ.get("BENCH_WORKERS") else []))
            settle()
            seconds, out, _ = timed(command, env)
            summary = json.loads(out)
            assert summary["inserted"] == n, summary
            firsts.append(seconds)
            seconds, out, _ = timed(command, env)
            assert json.loads(out)["skipped"] == n
            agains.append(seconds)
            floor_db = work / f"floor-{n}-{round_no}.db"
            settle()
            floors.append(timed([sys.executable, str(HERE / "floor_ingest.py"), api.theirstack_url, str(n),
                                 str(floor_db), api.api_key], env)[0])
            for path in work.glob(f"*-{n}-{round_no}.db*"):
                path.unlink()
        megabytes = sum(len(json.dumps(j)) for j in api.theirstack_jobs) / 1e6
    finally:
        api.stop()
    return {"n": n, "first_s": statistics.median(firsts), "again_s": statistics.median(agains),
            "floor_s": statistics.median(floors), "mb": megabytes, "rounds": repeat,
            "first_range": (min(firsts), max(firsts)), "floor_range": (min(floors), max(floors))}


def settle() -> None:
    """Write back what earlier runs left dirty, so that no run pays for another's disk writes."""
    if hasattr(os, "sync"):
        os.sync()


def bench_memory(n: int, work: Path) -> float:
    api = FakeJobAPI().start()
    try:
        api.theirstack_jobs = many_theirstack_jobs(n)
        db = work / f"memory-{n}.db"
        _, _, rss = timed(cli("ingest", "--max-results", n, "--min-interval", 0, "--days", 3650, "--db", db, "-q"),
                          ingest_env(api))
    finally:
        api.stop()
    return rss / 1024


CITIES = [("Dallas", "TX", "US"), ("Austin", "TX", "US"), ("Seattle", "WA", "US"), ("New York", "NY", "US"),
          ("San Francisco", "CA", "US"), ("Chicago", "IL", "US"), ("Boston", "MA", "US"), ("Denver", "CO", "US"),
          ("Toronto", "ON", "CA"), ("Berlin", None, "DE"), ("London", None, "GB"), ("Bengaluru", None, "IN"),
          ("Plano", "TX", "US"), ("Oakland", "CA", "US"), ("Bellevue", "WA", "US"), ("Jersey City", "NJ", "US")]
ROLES = ["backend", "frontend", "fullstack", "mobile", "data", "ml", "devops", "qa", "security", "embedded",
         "general", "other"]
LEVELS = ["intern", "entry", "mid", "senior", "lead", "manager", "unknown"]
SKILLS = ["python", "sql", "aws", "java", "javascript", "typescript", "react", "docker", "kubernetes", "go",
          "postgresql", "git", "linux", "azure", "gcp", "node.js", "c#", ".net", "terraform", "spark", "kafka",
          "rest", "ci/cd", "redis", "mongodb", "graphql", "c++", "rust", "scala", "airflow"]


def build_large_db(path: Path, n: int) -> None:
    """n postings spread over a year, 3-8 skills each, written straight into SQLite."""
    rng = random.Random(11)
    today = date.today()
    with SQLiteStore.open(path) as store:
        conn = store.conn
        conn.execute("BEGIN")
        batch, skills = [], []
        for i in range(n):
            city, region, country = rng.choice(CITIES)
            remote = rng.random() < 0.15
            url = f"https://jobs.example.com/{i}"
            pid = posting_id("theirstack", url)
            day = (today - timedelta(days=rng.randrange(365))).isoformat()
            chosen = sorted(rng.sample(SKILLS, rng.randint(3, 8)))
            batch.append((pid, "theirstack", str(i), url, f"Engineer {i % 500}", f"Company {rng.randrange(20000)}",
                          f"{city}, {region or country}", int(remote), day, rng.choice(ROLES), rng.choice(LEVELS),
                          day + "T06:00:00Z", day + "T06:00:00Z", "Short description.", "{}",
                          None if remote else country, None if remote else region, None if remote else city,
                          f",{country}," if remote else None, None, ",".join(chosen), url, None, 0, 0,
                          None, None, None if remote else metro_of(country, region, city)))
            skills.extend((pid, s) for s in chosen)
            if len(batch) == 20000:
                _flush(conn, batch, skills)
        _flush(conn, batch, skills)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")


def _flush(conn, batch, skills):
    conn.executemany(f"INSERT INTO postings ({','.join(POSTING_COLUMNS)}) VALUES ({','.join('?' * len(POSTING_COLUMNS))})", batch)
    conn.executemany("INSERT INTO posting_skills (posting_id, skill) VALUES (?, ?)", skills)
    batch.clear()
    skills.clear()


def median_ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_queries(path: Path) -> dict:
    with SQLiteStore.open(path, readonly=True) as store:
        selective = median_ms(lambda: skill_insights(store, location="Dallas, TX", role="backend", level="entry"))
        unselective = median_ms(lambda: skill_insights(store, location="United States", level="any"))
        metro = median_ms(lambda: skill_insights(store, location="Dallas-Fort Worth Metroplex", level="entry"))
        places = median_ms(lambda: locations(store, level="entry", min_postings=3))

        summary_ms = median_ms(lambda: postings_summary(store, PostingFilter()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLPULSE_")}
    summary_cli, _, _ = timed(cli("inspect", "--summary", "--format", "json", "--db", path), env)
    insights_cli, _, _ = timed(cli("insights", "--location", "United States", "--level", "any", "--db", path), env)
    return {"selective_ms": selective, "unselective_ms": unselective, "metro_ms": metro, "locations_ms": places,
            "summary_ms": summary_ms,
            "summary_cli_ms": summary_cli * 1000, "insights_cli_ms": insights_cli * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description="SkillPulse performance benchmark")
    parser.add_argument("--n", type=int, default=20_000, help="postings for the ingest throughput run")
    parser.add_argument("--memory", type=int, nargs=2, default=(10_000, 100_000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--db-size", type=int, default=1_000_000, help="postings in the generated database")
    parser.add_argument("--rounds", type=int, default=3, help="ingest rounds (CLI and floor alternate); medians")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs")
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the large database in")
    args = parser.parse_args()
    if args.quick:
        args.n, args.memory, args.db_size, args.rounds = 600, (500, 1000), 5000, 1

    work = Path(tempfile.mkdtemp(prefix="skillpulse-bench-"))
    try:
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
              f"{'C accelerator' if accelerator.scan else 'pure Python'}", flush=True)
        ingest = bench_ingest(args.n, work, args.rounds)
        small, large = (bench_memory(n, work) for n in args.memory)
        big_db = (args.keep or work) / f"large-{args.db_size}.db"
        if not big_db.exists():
            big_db.parent.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            build_large_db(big_db, args.db_size)
            print(f"generated {args.db_size:,} postings in {time.perf_counter() - start:.0f}s", flush=True)
        queries = bench_queries(big_db)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cli_rate, floor_rate = ingest["n"] / ingest["first_s"], ingest["n"] / ingest["floor_s"]
    rows = [
        (f"ingest {ingest['n']:,} postings ({ingest['mb']:.0f} MB JSON), CLI", f"{cli_rate:,.0f} postings/s",
         ">= 50% of floor", cli_rate >= 0.5 * floor_rate),
        ("  floor: requests + json + executemany", f"{floor_rate:,.0f} postings/s",
         f"CLI at {cli_rate / floor_rate:.0%}", None),
        ("ingest again, all stored", f"{ingest['n'] / ingest['again_s']:,.0f} postings/s",
         f">= 2x first ({ingest['first_s'] / ingest['again_s']:.1f}x)", ingest["first_s"] / ingest["again_s"] >= 2),
        (f"peak RSS, {args.memory[0]:,} postings", f"{small:.0f} MB", "< 150 MB", small < 150),
        (f"peak RSS, {args.memory[1]:,} postings", f"{large:.0f} MB",
         f"< 150 MB and <= 1.3x ({large / small:.2f}x)", large < 150 and large <= 1.3 * small),
        (f"insights on {args.db_size:,} postings, selective", f"{queries['selective_ms']:.0f} ms", "<= 200 ms",
         queries["selective_ms"] <= 200),
        (f"insights on {args.db_size:,} postings, unselective", f"{queries['unselective_ms']:.0f} ms", "<= 200 ms",
         queries["unselective_ms"] <= 200),
        ("  the same through the CLI, process included", f"{queries['insights_cli_ms']:.0f} ms", "", None),
        (f"insights on {args.db_size:,} postings, a metro (entry, DFW)", f"{queries['metro_ms']:.0f} ms", "<= 200 ms",
         queries["metro_ms"] <= 200),
        ("/api/locations (entry, min 3 postings)", f"{queries['locations_ms']:.0f} ms", "", None),
        ("inspect --summary", f"{queries['summary_ms']:.0f} ms", "<= 500 ms", queries["summary_ms"] <= 500),
        ("  the same through the CLI, process included", f"{queries['summary_cli_ms']:.0f} ms", "", None),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'result':>18}  target")
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        print(f"{name:<{width}}  {value:>18}  {target}{mark}")
    print(f"\ningest rates are medians of {ingest['rounds']} rounds (CLI and floor alternate): CLI "
          f"{_rates(ingest['n'], ingest['first_range'])}, floor {_rates(ingest['n'], ingest['floor_range'])} postings/s")


def _rates(n: int, seconds: tuple[float, float]) -> str:
    return f"{n / seconds[1]:,.0f}-{n / seconds[0]:,.0f}"


if __name__ == "__main__":
    main()
