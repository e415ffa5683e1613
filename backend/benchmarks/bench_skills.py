"""Skill extraction speed: the single compiled pattern (with and without the C accelerator) against
a naive loop of one regex per skill.

    python backend/benchmarks/bench_skills.py [--postings 1000] [--kb 4]

Prints catalog load time, postings per second and MB per second for both, and the speed-up.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakeapi import DESCRIPTION  # noqa: E402
from skillpulse_ingest.skills import load_catalog  # noqa: E402
from skillpulse_ingest import accelerator  # noqa: E402
from skillpulse_ingest import skills as skills_module  # noqa: E402
from skillpulse_ingest.text import to_plain_text  # noqa: E402

SENTENCES = [
    "You will build services in Go and Python backed by PostgreSQL and Redis.",
    "Our frontend is a React + Redux app written in TypeScript.",
    "We deploy to Kubernetes on AWS with Terraform and GitHub Actions.",
    "Nice to have: Kafka, Spark, Airflow or dbt on Snowflake.",
    "We value ownership, kind reviews and shipping small changes often.",
    "Benefits include health insurance, a 401(k) match and a learning budget.",
    "You have 3+ years of experience with Java and Spring Boot.",
    "The rest of the team works across three time zones.",
]


def make_texts(n: int, kb: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts, size = [DESCRIPTION], len(DESCRIPTION)
        while size < kb * 1024:
            sentence = rng.choice(SENTENCES)
            parts.append(sentence)
            size += len(sentence) + 1
        texts.append(" ".join(parts)[: kb * 1024])
    return texts


def naive_patterns(catalog):
    """One regex per skill (all its aliases), the loop the spec forbids; for comparison only."""
    by_skill: dict[str, list[str]] = {}
    for key, forms in catalog.aliases.items():
        by_skill.setdefault(forms[0].skill, []).append(re.escape(key).replace(r"\ ", r"\s+"))
    return [(sid, re.compile(rf"(?<!\w)(?:{'|'.join(a)})(?!\w)", re.I)) for sid, a in by_skill.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=4)
    args = parser.parse_args()

    start = time.perf_counter()
    catalog = load_catalog()
    load_s = time.perf_counter() - start
    skills_module.catalog.cache_clear()
    skills_module.catalog()

    texts = make_texts(args.postings, args.kb)
    prepared = [to_plain_text(t) for t in texts]
    megabytes = sum(len(t.encode()) for t in prepared) / 1e6

    start = time.perf_counter()
    for text in prepared:
        skills_module.extract_skills("Software Engineer", text, prepared=True)
    ours = time.perf_counter() - start

    start = time.perf_counter()
    for text in texts:
        skills_module.extract_skills("Software Engineer", text)
    with_prep = time.perf_counter() - start

    fast_scan, fast_scanner = accelerator.scan, skills_module.catalog().scanner
    accelerator.scan, skills_module.catalog().scanner = None, None  # the pure-Python path
    start = time.perf_counter()
    for text in texts:
        skills_module.extract_skills("Software Engineer", text)
    pure = time.perf_counter() - start
    accelerator.scan, skills_module.catalog().scanner = fast_scan, fast_scanner

    patterns = naive_patterns(catalog)
    start = time.perf_counter()
    for text in prepared:
        {sid for sid, pattern in patterns if pattern.search(text)}
    naive = time.perf_counter() - start

    # Linearity: the same work on texts four times as long.
    long_texts = [to_plain_text(t) for t in make_texts(args.postings // 4, args.kb * 4)]
    start = time.perf_counter()
    for text in long_texts:
        skills_module.extract_skills("Software Engineer", text, prepared=True)
    long_s = time.perf_counter() - start

    print(f"catalog: {len(catalog.skills)} skills, {len(catalog.aliases)} aliases, load+compile {load_s * 1000:.0f} ms")
    print(f"texts: {args.postings} postings of {args.kb} KB ({megabytes:.1f} MB prepared)")
    print(f"{'method':<40}{'postings/s':>12}{'MB/s':>8}")
    accelerated = "" if fast_scan is None else " (C accelerator)"
    for name, seconds in ((f"single pattern{accelerated}", ours), (f"+ text cleaning{accelerated}", with_prep),
                          ("+ text cleaning, pure Python", pure), ("naive loop, one regex per skill", naive)):
        print(f"{name:<40}{args.postings / seconds:>12,.0f}{megabytes / seconds:>8.2f}")
    print(f"speed-up over the naive loop: {naive / ours:.1f}x")
    print(f"linearity: {args.kb * 4} KB texts take {long_s / ours:.2f}x the time of the same bytes in {args.kb} KB texts")


if __name__ == "__main__":
    main()
