"""The benchmarks run (tiny sizes; the numbers themselves are not checked here)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("script,args,expect", [
    ("bench_skills.py", ["--postings", "20"], "speed-up over the naive loop"),
    ("bench_role_match.py", ["--repeat", "1"], "titles/s"),
    ("run.py", ["--quick"], "inspect --summary"),
    ("bench_boards.py", ["--quick", "--delay", "0.05"], "requests in flight"),
])
def test_benchmark_runs(script, args, expect):
    run(script, args, expect)


@pytest.mark.parametrize("script,args,expect", [
    ("bench_postgres.py", ["--quick"], "insights on 5,000 postings, unselective"),
    ("bench_boards.py", ["--quick", "--delay", "0.05", "--postgres"], "store: PostgreSQL"),
])
def test_postgres_benchmark_runs(postgres_server, script, args, expect):
    """They start servers of their own; the fixture only says whether the binaries are there."""
    run(script, args, expect)


def run(script: str, args: list[str], expect: str) -> None:
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert expect in result.stdout
