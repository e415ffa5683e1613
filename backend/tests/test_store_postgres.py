"""What only PostgreSQL has: a server to reach, roles, concurrent migrators, a version kept in
the database. Every failure to open is one line without the password."""

import sys
import threading

import pytest

from skillpulse_ingest.models import JobPosting
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


def autovacuum_options(store) -> list[str]:
    return store.conn.execute("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE relname = 'postings'").fetchone()[0]


def test_a_version_1_database_is_read_as_it_is_and_migrated_by_a_writer(pg_url):
    with open_store(pg_url) as store:
        assert "autovacuum_vacuum_scale_factor=0.02" in autovacuum_options(store)
        store.upsert_many([JobPosting(source="remotive", url="https://x.io/1", title="Dev", date_posted="2026-11-20")])
        store.conn.execute("ALTER TABLE postings RESET (autovacuum_vacuum_scale_factor, "
                           "autovacuum_vacuum_insert_scale_factor)")  # as version 1 left it
        store.conn.execute("UPDATE skillpulse_meta SET value = '1' WHERE key = 'schema_version'")
    with open_store(pg_url, readonly=True) as reader:  # serve on an older database: reads, changes nothing
        assert reader.count_postings() == 1 and reader.schema_version() == 1 and autovacuum_options(reader) == []
    with open_store(pg_url) as writer:
        assert writer.schema_version() == SCHEMA_VERSION == 2 and writer.count_postings() == 1
        assert sorted(autovacuum_options(writer)) == ["autovacuum_vacuum_insert_scale_factor=0.02",
                                                      "autovacuum_vacuum_scale_factor=0.02"]


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
