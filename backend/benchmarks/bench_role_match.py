"""Titles classified per second (role and level together) on the labeled title set.

    python backend/benchmarks/bench_role_match.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from skillpulse_ingest.role_match import classify

TITLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "titles_labeled.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    titles = [line.split("\t")[0] for line in TITLES.read_text("utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    # Each title made distinct, so the cache of repeated titles does not flatter the number.
    start = time.perf_counter()
    for round_ in range(args.repeat):
        for title in titles:
            classify(f"{title} {round_}")
    seconds = time.perf_counter() - start
    n = len(titles) * args.repeat
    print(f"{n:,} titles in {seconds:.2f}s: {n / seconds:,.0f} titles/s (role and level), "
          f"{seconds / n * 1e6:.1f} us per distinct title")
    start = time.perf_counter()
    for _ in range(args.repeat):
        for title in titles:
            classify(title)
    seconds = time.perf_counter() - start
    print(f"repeated titles, as job boards list them: {seconds / n * 1e6:.1f} us per title")


if __name__ == "__main__":
    main()
