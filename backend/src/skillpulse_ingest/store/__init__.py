"""Open the store a --db value or SKILLPULSE_DB names: a SQLite file, or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path

from .base import Store


def open_store(target: str | Path, *, readonly: bool = False, deadline_s: float | None = None) -> Store:
    """A PostgreSQL URL (postgresql://user@host/db) opens PostgreSQL; anything else is a SQLite file."""
    url = _postgres_url(target)
    if url:
        from .postgres import PostgresStore
        return PostgresStore.open(url, readonly=readonly, deadline_s=deadline_s)
    from ..storage_sqlite import SQLiteStore
    return SQLiteStore.open(target, readonly=readonly, deadline_s=deadline_s)


def open_readers(target, *, size: int, deadline_s: float):
    """What `serve` reads through, with .store() a request and .close() at the end: a bounded pool
    of read-only connections for PostgreSQL, a read-only connection a request for a SQLite file
    (cheap to open, and WAL readers never wait). Checks the database first (StoreOpenError)."""
    url = _postgres_url(target)
    if url:
        from .postgres import ReaderPool
        return ReaderPool(url, size, deadline_s)
    return _FileReaders(target, deadline_s)


def _postgres_url(target) -> str | None:
    """The PostgreSQL URL a target names (a DatabaseURL or a URL string), or None for a file."""
    from ..storage_sqlite import DatabaseURL
    from .postgres import is_postgres_url
    if isinstance(target, DatabaseURL):
        return target.url
    if is_postgres_url(target):
        return target.strip()
    return None


class _FileReaders:
    def __init__(self, path: Path, deadline_s: float):
        self.path = path
        self.deadline_s = deadline_s
        open_store(path, readonly=True).close()

    def store(self) -> Store:
        return open_store(self.path, readonly=True, deadline_s=self.deadline_s)

    def close(self) -> None:
        """Nothing held between requests."""


def copy_store(source: Store, dest: Store, progress=None) -> list[dict]:
    """Copy every table of one store into another, in batches of one transaction each. Rows the
    destination has already are skipped, so an interrupted copy resumes where it stopped. Returns,
    per table, the rows in the source, copied now, and in the destination after."""
    from ..storage_sqlite import COPY_TABLES

    copied = {}
    for table in COPY_TABLES:
        copied[table] = 0
        for rows in source.export_rows(table):
            copied[table] += dest.import_rows(table, rows)
            if progress:
                progress(table, copied[table])
    in_source, in_dest = source.table_counts(), dest.table_counts()  # each counts every table
    return [{"table": table, "source": in_source[table], "copied": copied[table], "destination": in_dest[table]}
            for table in COPY_TABLES]


__all__ = ["Store", "copy_store", "open_readers", "open_store"]
