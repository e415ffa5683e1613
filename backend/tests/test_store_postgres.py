"""What only PostgreSQL has: a server to reach, roles, concurrent migrators, a version kept in
the database. Every failure to open is one line without the password."""

import sys
import threading

import pytest

from skillpulse_ingest.storage_sqlite import StoreOpenError
from skillpulse_ingest.store import open_store
from skillpulse_ingest.store.postgres import SCHEMA_VERSION, safe_url


def test_concurrent_first_opens_migrate_once(pg_url):
    errors, versions = [], []

    def open_one():
        try:
            with open_store(pg_url) as store:
                versions.append(store.schema_version())
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and versions == [SCHEMA_VERSION] * 4


def test_a_newer_schema_is_refused_untouched(pg_url):
    with open_store(pg_url) as store:
        store.conn.execute("UPDATE skillpulse_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreOpenError, match="newer than this skillpulse"):
        open_store(pg_url)
    with pytest.raises(StoreOpenError, match="newer"):
        open_store(pg_url, readonly=True)


def test_every_failure_to_open_is_one_line_without_the_password(postgres_server, pg_url):
    import psycopg

    server = f"127.0.0.1:{postgres_server.port}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE reader LOGIN PASSWORD 'hunter2-secret'")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    cases = {
        "unreachable": (f"postgresql://skillpulse:hunter2-secret@127.0.0.1:{_closed_port()}/x", "connection"),
        "no such role": (f"postgresql://nobody:hunter2-secret@{server}/postgres", 'role "nobody" does not exist'),
        "no such database": (f"postgresql://skillpulse:hunter2-secret@{server}/nope", '"nope" does not exist'),
        "permission denied": (pg_url.replace("skillpulse@", "reader:hunter2-secret@"), "permission denied"),
    }
    for name, (url, words) in cases.items():
        with pytest.raises(StoreOpenError) as caught:
            open_store(url)
        message = str(caught.value)
        assert words in message and "hunter2" not in message and "\n" not in message, (name, message)


def test_without_psycopg_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreOpenError, match=r"backend\[postgres\]"):
        open_store("postgresql://someone@127.0.0.1:1/x")


def test_messages_never_show_the_password():
    assert safe_url("postgresql://team:s3cret@db.example.com:5432/sp") == "postgresql://team@db.example.com:5432/sp"
    assert safe_url("postgresql://db.example.com/sp") == "postgresql://db.example.com/sp"


def _closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
