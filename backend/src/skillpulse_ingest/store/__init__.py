"""Open the store a --db value or SKILLPULSE_DB names: a SQLite file, or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path

from .base import Store


def open_store(target: str | Path, *, readonly: bool = False, deadline_s: float | None = None) -> Store:
    """A PostgreSQL URL (postgresql://user@host/db) opens PostgreSQL; anything else is a SQLite file."""
    from ..storage_sqlite import DatabaseURL
    from .postgres import PostgresStore, is_postgres_url
    if isinstance(target, DatabaseURL):
        target = target.url
    if is_postgres_url(target):
        return PostgresStore.open(str(target), readonly=readonly, deadline_s=deadline_s)
    from ..storage_sqlite import SQLiteStore
    return SQLiteStore.open(target, readonly=readonly, deadline_s=deadline_s)


def copy_store(source: Store, dest: Store, progress=None) -> list[dict]:
    """Copy every table of one store into another, in batches of one transaction each. Rows the
    destination has already are skipped, so an interrupted copy resumes where it stopped. Returns,
    per table, the rows in the source, copied now, and in the destination after."""
    from ..storage_sqlite import COPY_TABLES

    report = []
    for table in COPY_TABLES:
        copied = 0
        for rows in source.export_rows(table):
            copied += dest.import_rows(table, rows)
            if progress:
                progress(table, copied)
        report.append({"table": table, "source": source.table_counts()[table], "copied": copied,
                       "destination": dest.table_counts()[table]})
    return report


__all__ = ["Store", "copy_store", "open_store"]
