import itertools
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeapi import FakeJobAPI  # noqa: E402
from skillpulse_ingest.models import JobPosting  # noqa: E402

BACKEND = Path(__file__).resolve().parents[1]


def posting(n, **kw) -> JobPosting:
    """A stored-shape posting for the store tests: a backend entry-level Remotive job by default."""
    base = dict(source="remotive", url=f"https://remotive.com/j/{n}", title=f"Job {n}", source_id=str(n),
                date_posted="2026-11-20", role_bucket="backend", level_bucket="entry")
    base.update(kw)
    return JobPosting(**base)


@pytest.fixture
def api():
    server = FakeJobAPI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "skillpulse.db"


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session, from the binaries on the machine. Without them (or
    without psycopg) the PostgreSQL tests skip and say why; SKILLPULSE_REQUIRE_POSTGRES=1 (CI)
    makes that a failure."""
    import pgserver

    reason = None
    binaries = pgserver.find_binaries()
    if binaries is None:
        reason = "no PostgreSQL server binaries (initdb, postgres) on this machine"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        reason = 'psycopg is not installed: python -m pip install -e "backend[test,postgres]"'
    if reason:
        if os.environ.get("SKILLPULSE_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = pgserver.PostgresServer(binaries).start()
    try:
        yield server
    finally:
        server.stop()


_DATABASES = itertools.count()


@pytest.fixture
def pg_url(postgres_server) -> str:
    """A new, empty database on the session's server."""
    return postgres_server.create_database(f"test_{os.getpid()}_{next(_DATABASES)}")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request, tmp_path):
    """Where a store test keeps its data: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "store.db"
    return request.getfixturevalue("pg_url")


def clean_env(**extra) -> dict:
    """The parent environment without any real key or database setting, plus extra.

    SKILLPULSE_PURE_PYTHON stays, so a pure-Python test run runs the CLI that way too."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SKILLPULSE_", "THEIRSTACK_")) or k == "SKILLPULSE_PURE_PYTHON"}
    env.update(extra)
    return env


def run_cli(*args, env: dict | None = None, script: str | None = None, timeout: float = 120):
    """Run the real command line in a subprocess; returns CompletedProcess with text output."""
    if script:
        command = [sys.executable, str(BACKEND / "scripts" / script), *map(str, args)]
    else:
        command = [sys.executable, "-m", "skillpulse_ingest", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=clean_env(**(env or {})),
                          timeout=timeout, stdin=subprocess.DEVNULL)


def query(db, sql: str, *, as_dicts: bool = False) -> list:
    """All rows of one query on a test database; the connection is closed again."""
    conn = sqlite3.connect(db)
    if as_dicts:
        conn.row_factory = sqlite3.Row
    try:
        return [dict(r) if as_dicts else r for r in conn.execute(sql)]
    finally:
        conn.close()


def write_sqlite(db, *statements: str) -> None:
    """Run statements on a test database (creating the file) and commit: a file made by hand."""
    conn = sqlite3.connect(db)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
