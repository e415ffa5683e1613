"""PostgreSQL: ingest throughput against a COPY floor, and insights on a large database.

    python backend/benchmarks/bench_postgres.py [--n 20000] [--db-size 1000000] [--quick]

Starts its own PostgreSQL server from the binaries on the machine (as tests/pgserver.py does).
1. N TheirStack-shaped postings through the real CLI into PostgreSQL, against the floor: the
   same pages fetched and parsed, then loaded with COPY in one transaction (no analysis);
2. insights on a generated database of --db-size postings, vacuumed as autovacuum keeps a live
   one: selective, unselective, a metro, /api/locations; and unselective before that VACUUM.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import pgserver  # noqa: E402
import requests  # noqa: E402
from fakeapi import FakeJobAPI, many_theirstack_jobs  # noqa: E402
from run import CITIES, LEVELS, ROLES, SKILLS, cli, ingest_env, median_ms, timed  # noqa: E402
from skillpulse_ingest.gazetteer import metro_of  # noqa: E402
from skillpulse_ingest.insights import locations, skill_insights  # noqa: E402
from skillpulse_ingest.models import posting_id  # noqa: E402
from skillpulse_ingest.storage_sqlite import COPY_TABLES  # noqa: E402
from skillpulse_ingest.store import open_store  # noqa: E402


def floor(url: str, api: FakeJobAPI, n: int) -> float:
    """Fetch and parse the same pages, then COPY them into a bare table in one transaction."""
    import psycopg
    start = time.perf_counter()
    session = requests.Session()
    rows = []
    for offset in range(0, n, 500):
        page = session.post(api.theirstack_url, json={"offset": offset, "limit": min(500, n - offset)},
                            headers={"Authorization": f"Bearer {api.api_key}"}).json()
        rows.extend((str(j["id"]), j["job_title"], j["company"], j["location"], j["date_posted"], j["description"],
                     json.dumps(j)) for j in page["data"])
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE floor (id TEXT PRIMARY KEY, title TEXT, company TEXT, location TEXT, "
                     "date_posted TEXT, description TEXT, raw_json TEXT)")
        with conn.cursor().copy("COPY floor FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - start


def bench_ingest(server: pgserver.PostgresServer, n: int, rounds: int) -> dict:
    api = FakeJobAPI().start()
    try:
        api.theirstack_jobs = many_theirstack_jobs(n)
        env = ingest_env(api)
        cli_s, floor_s = [], []
        for round_no in range(rounds):
            url = server.create_database(f"ingest_{round_no}")
            seconds, out, _ = timed(cli("ingest", "--max-results", n, "--min-interval", 0, "--days", 3650,
                                        "--db", url, "--json", "-q"), env)
            assert json.loads(out)["inserted"] == n, out
            cli_s.append(seconds)
            floor_s.append(floor(server.create_database(f"floor_{round_no}"), api, n))
    finally:
        api.stop()
    return {"cli": statistics.median(cli_s), "floor": statistics.median(floor_s)}


def build_large(url: str, n: int) -> None:
    """n postings spread over a year, as run.py's SQLite database, loaded with COPY."""
    import psycopg
    rng = random.Random(11)
    today = date.today()
    with open_store(url):
        pass  # creates the schema
    columns = COPY_TABLES["postings"]
    with psycopg.connect(url) as conn:
        # The test server commits asynchronously, and VACUUM marks a page all-visible only once
        # the commit that wrote it is on disk: this one is made synchronous.
        conn.execute("SET synchronous_commit = on")
        with conn.cursor().copy(f"COPY postings ({','.join(columns)}) FROM STDIN") as copy:
            for i in range(n):
                city, region, country = rng.choice(CITIES)
                remote = rng.random() < 0.15
                post_url = f"https://jobs.example.com/{i}"
                day = (today - timedelta(days=rng.randrange(365))).isoformat()
                skills = ",".join(sorted(rng.sample(SKILLS, rng.randint(3, 8))))
                row = {"id": posting_id("theirstack", post_url), "source": "theirstack", "source_id": str(i),
                       "url": post_url, "title": f"Engineer {i % 500}", "company": f"Company {rng.randrange(20000)}",
                       "location": f"{city}, {region or country}", "remote": int(remote), "date_posted": day,
                       "role_bucket": rng.choice(ROLES), "level_bucket": rng.choice(LEVELS),
                       "retrieved_at": day + "T06:00:00Z", "last_seen_at": day + "T06:00:00Z",
                       "description_raw": "Short description.", "raw_json": "{}",
                       "country_code": None if remote else country, "region_code": None if remote else region,
                       "city": None if remote else city, "remote_scope": f",{country}," if remote else None,
                       "skills": skills, "job_key": post_url, "more_places": 0, "duplicate": 0,
                       "metro": None if remote else metro_of(country, region, city)}
                copy.write_row([row.get(c) for c in columns])


def vacuum(url: str) -> None:
    """The steady state autovacuum keeps: the visibility map set, so insights reads only the index."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE postings")
        pages, visible = conn.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'postings'").fetchone()
    assert visible == pages, f"VACUUM marked {visible} of {pages} pages all-visible"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--db-size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs")
    args = parser.parse_args()
    if args.quick:
        args.n, args.db_size, args.rounds = 600, 5000, 1
    binaries = pgserver.find_binaries()
    if binaries is None:
        raise SystemExit("no PostgreSQL server binaries found")
    server = pgserver.PostgresServer(binaries).start()
    try:
        ingest = bench_ingest(server, args.n, args.rounds)
        url = server.create_database("large")
        start = time.perf_counter()
        build_large(url, args.db_size)
        print(f"generated {args.db_size:,} postings in {time.perf_counter() - start:.0f}s", flush=True)
        with open_store(url, readonly=True) as store:
            fresh = median_ms(lambda: skill_insights(store, location="United States", level="any"))
        vacuum(url)
        with open_store(url, readonly=True) as store:
            queries = {
                "selective (backend, entry, Dallas, TX)":
                    median_ms(lambda: skill_insights(store, location="Dallas, TX", role="backend", level="entry")),
                "unselective (United States, any level)":
                    median_ms(lambda: skill_insights(store, location="United States", level="any")),
                "a metro (Dallas-Fort Worth Metroplex, entry)":
                    median_ms(lambda: skill_insights(store, location="Dallas-Fort Worth Metroplex", level="entry")),
                "/api/locations (entry, min 3)": median_ms(lambda: locations(store, level="entry", min_postings=3)),
            }
    finally:
        server.stop()
    rate, floor_rate = args.n / ingest["cli"], args.n / ingest["floor"]
    print(f"\ningest {args.n:,} postings into PostgreSQL, CLI: {rate:,.0f} postings/s "
          f"(median of {args.rounds})")
    print(f"  floor (fetch + parse + COPY in one transaction): {floor_rate:,.0f} postings/s; "
          f"CLI at {rate / floor_rate:.0%} (target >= 50%)")
    for name, ms in queries.items():
        print(f"insights on {args.db_size:,} postings, {name}: {ms:.0f} ms")
    print(f"  unselective before the first VACUUM (every row read from the table too): {fresh:.0f} ms")


if __name__ == "__main__":
    main()
