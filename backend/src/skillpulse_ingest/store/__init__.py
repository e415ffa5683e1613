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


__all__ = ["Store", "open_store"]
