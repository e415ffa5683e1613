"""PostgreSQL as the store, for teams: several machines ingest, several processes serve.

Same tables and meanings as the SQLite store. Writes use INSERT ... ON CONFLICT, so two
ingests racing on the same posting store it once; the schema version lives in the database
(`skillpulse_meta`), and migrations run in one transaction under an advisory lock.
Needs the optional extra: python -m pip install "backend[postgres]".
"""

from __future__ import annotations

import json
import os
import re
import socket
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from ..boards import BoardSpec
from ..gazetteer import metro_of
from ..models import JobPosting
from ..places import Place, place_label
from .base import Tally, boards_to_fetch, tally_from, upsert_many
from ..storage_sqlite import (
    COPY_KEYS,
    COPY_TABLES,
    IN_US,
    POSTING_COLUMNS,
    Dialect,
    Known,
    PostingFilter,
    Saved,
    StoreError,
    StoreOpenError,
    _place_test,
    _posting_row,
    _skills_column,
    filter_sql,
    utc_now,
)

SCHEMA_VERSION = 2
READABLE_SINCE = 1  # a read-only store reads these versions as they are (a writer migrates them)
POSTGRES = Dialect("%s", "lower({column}) = lower({mark})")
_LOCK = 7_145_220_113  # advisory lock key: migrators wait for each other

MIGRATIONS = {
    1: """
    CREATE TABLE postings (
        id TEXT PRIMARY KEY, source TEXT NOT NULL, source_id TEXT, url TEXT NOT NULL,
        title TEXT NOT NULL, company TEXT, location TEXT, remote SMALLINT, date_posted TEXT,
        role_bucket TEXT NOT NULL, level_bucket TEXT NOT NULL, retrieved_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL, description_raw TEXT COMPRESSION lz4, raw_json TEXT COMPRESSION lz4 NOT NULL,
        country_code TEXT, region_code TEXT, city TEXT, remote_scope TEXT, discovered_at TEXT,
        skills TEXT NOT NULL DEFAULT '', job_key TEXT, feed TEXT, closed_at TEXT,
        more_places INTEGER NOT NULL DEFAULT 0, duplicate SMALLINT NOT NULL DEFAULT 0,
        latitude DOUBLE PRECISION, longitude DOUBLE PRECISION, metro TEXT,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX postings_source_id ON postings (source, source_id, duplicate);
    CREATE INDEX postings_job_key ON postings (job_key);
    CREATE INDEX postings_feed ON postings (feed, source_id) WHERE feed IS NOT NULL;
    CREATE INDEX postings_insights ON postings (date_posted, role_bucket, level_bucket, country_code)
        INCLUDE (region_code, city, metro, remote, remote_scope, more_places, duplicate, source, company, skills, id);
    CREATE INDEX postings_role_level ON postings (role_bucket, level_bucket, date_posted, duplicate);
    CREATE INDEX postings_metro ON postings (metro, date_posted) WHERE metro IS NOT NULL;
    CREATE TABLE posting_skills (
        posting_id TEXT NOT NULL,
        skill TEXT NOT NULL,
        PRIMARY KEY (posting_id, skill)
    );
    CREATE INDEX posting_skills_skill ON posting_skills (skill);
    CREATE TABLE posting_places (
        posting_id TEXT NOT NULL,
        country_code TEXT, region_code TEXT, city TEXT, metro TEXT
    );
    CREATE INDEX posting_places_posting ON posting_places (posting_id);
    CREATE TABLE ingest_runs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
        source TEXT NOT NULL, query_json TEXT NOT NULL, fetched INTEGER NOT NULL DEFAULT 0,
        invalid INTEGER NOT NULL DEFAULT 0, matched INTEGER NOT NULL DEFAULT 0,
        inserted INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'running', error TEXT, stopped_by TEXT, pid INTEGER, host TEXT, note TEXT
    );
    CREATE TABLE sync_state (
        source TEXT NOT NULL, query_key TEXT NOT NULL, marker TEXT, last_request_at TEXT,
        PRIMARY KEY (source, query_key)
    );
    CREATE TABLE boards (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ats TEXT NOT NULL, token TEXT NOT NULL,
        host TEXT, company TEXT, status TEXT NOT NULL DEFAULT 'new', open_jobs INTEGER,
        added_at TEXT NOT NULL, last_fetched_at TEXT, last_error TEXT, misses INTEGER NOT NULL DEFAULT 0,
        etag TEXT, last_modified TEXT, body_hash TEXT, validators_query TEXT,
        UNIQUE (ats, token)
    );
    """,
    # Insights reads only the index on pages the visibility map marks all-visible, and every ingest
    # un-marks the pages it adds to or updates (last_seen_at). Vacuum after 2% of the table changed,
    # not the default 20%: on 1M postings, 17% re-seen made unselective insights 557 ms against 167.
    2: """
    ALTER TABLE postings SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02)
    """,
}


def is_postgres_url(target) -> bool:
    return isinstance(target, str) and bool(re.match(r"^postgres(?:ql)?://", target.strip(), re.I))


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _driver():
    try:
        import psycopg
    except ImportError:
        raise StoreOpenError('a PostgreSQL URL needs the optional extra: python -m pip install '
                             '"skillpulse-ingest[postgres]" (from a checkout: "backend[postgres]")') from None
    return psycopg


def _clean(value):
    """PostgreSQL text holds no NUL character; SQLite's does. Drop it rather than fail the page."""
    return value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value


class PostgresStore:
    """One PostgreSQL database. Open with `PostgresStore.open(url)`; use as a context manager."""

    def __init__(self, conn, url: str, readonly: bool, release=None):
        self.conn = conn
        self.url = url
        self.readonly = readonly
        self._depth = 0
        self._release = release  # gives a pooled connection back instead of closing it

    @property
    def path(self) -> str:
        """What messages call the database: its URL without the password."""
        return safe_url(self.url)

    @classmethod
    def open(cls, url: str, *, readonly: bool = False, deadline_s: float | None = None) -> "PostgresStore":
        psycopg = _driver()
        try:
            conn = psycopg.connect(url, **_connect_args(readonly, deadline_s))
        except psycopg.OperationalError as exc:
            raise StoreOpenError(f"cannot open PostgreSQL database {safe_url(url)}: {_why(exc)}") from None
        store = cls(conn, url, readonly)
        try:
            store._prepare()
        except psycopg.Error as exc:
            conn.close()
            raise StoreOpenError(f"cannot use PostgreSQL database {safe_url(url)}: {_why(exc)}") from None
        except StoreError:
            conn.close()
            raise
        return store

    def _prepare(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StoreOpenError(f"database {self.path} has schema version {version}, newer than this "
                                 f"skillpulse understands ({SCHEMA_VERSION}); upgrade skillpulse")
        if version == SCHEMA_VERSION or (self.readonly and version >= READABLE_SINCE):
            return
        if self.readonly:
            raise StoreOpenError(f"database {self.path} has no skillpulse tables yet; "
                                 f"run `skillpulse ingest` once to create them")
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            self.conn.execute("CREATE TABLE IF NOT EXISTS skillpulse_meta (key TEXT PRIMARY KEY, value TEXT)")
            version = self._version()  # another migrator may have finished while we waited
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
            self.conn.execute("INSERT INTO skillpulse_meta VALUES ('schema_version', %s) ON CONFLICT (key) "
                              "DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))

    def _version(self) -> int:
        exists = self.conn.execute("SELECT to_regclass('skillpulse_meta') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        row = self.conn.execute("SELECT value FROM skillpulse_meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    # ---- connection and transactions ----------------------------------------------------

    def check_file(self) -> None:
        """Nothing to check: a server database cannot be replaced under an open connection."""

    @contextmanager
    def transaction(self, *, commit: bool = True):
        """One transaction; joins one left open by save_page(commit=False). commit=False keeps it open."""
        if self._depth == 0 and not self.conn.info.transaction_status:
            self.conn.execute("BEGIN")
        self._depth += 1
        psycopg = _driver()
        try:
            yield self.conn
        except BaseException as exc:
            self._depth = 0
            if not self.conn.closed:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, psycopg.Error):  # callers see StoreError, never psycopg's
                raise StoreError(f"database error in {self.path}: {_why(exc)}") from None
            raise
        self._depth -= 1
        if self._depth == 0 and commit:
            self.conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        return bool(self.conn.info.transaction_status)

    def commit(self) -> None:
        if self.in_transaction:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        if self._release is not None:
            release = self._release
            self._release = None  # a second close gives nothing back twice
            release(self.conn)
        elif not self.conn.closed:
            self.conn.close()

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        psycopg = _driver()
        if isinstance(exc, psycopg.errors.QueryCanceled):
            raise StoreError("the query ran past its deadline and was stopped") from None
        if isinstance(exc, psycopg.Error):
            raise StoreError(f"database error in {self.path}: {_why(exc)}") from None

    def _all(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def _batches(self, sql: str, params: Sequence = (), batch: int = 5000) -> Iterator[list[tuple]]:
        """A query's rows in batches from a named (server-side) cursor, never the whole result at once."""
        with self.conn.transaction():
            with self.conn.cursor(name="skillpulse_stream") as cursor:
                cursor.execute(sql, params)
                while rows := cursor.fetchmany(batch):
                    yield [tuple(row) for row in rows]

    def _dicts(self, sql: str, params: Sequence = ()) -> list[dict]:
        cursor = self.conn.execute(sql, params)
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    # ---- writes -------------------------------------------------------------------------

    def known(self, postings: Sequence[JobPosting]) -> dict[str, Known]:
        if not postings:
            return {}
        found: dict[str, Known] = {}
        ids = list({p.id for p in postings})
        for pid, role, level, duplicate in self._all(
                "SELECT id, role_bucket, level_bucket, duplicate FROM postings WHERE id = ANY(%s)", (ids,)):
            found[pid] = Known(pid, role, level, bool(duplicate))
        by_source_id = {(p.source, p.source_id): p.id for p in postings if p.source_id and p.id not in found}
        for source in {s for s, _ in by_source_id}:
            source_ids = [sid for s, sid in by_source_id if s == source]
            for pid, sid, role, level, duplicate in self._all(
                    "SELECT id, source_id, role_bucket, level_bucket, duplicate FROM postings "
                    "WHERE source = %s AND source_id = ANY(%s)", (source, source_ids)):
                found[by_source_id[(source, sid)]] = Known(pid, role, level, bool(duplicate))
        return found

    def save_page(self, new: Sequence[JobPosting], seen_ids: Iterable[str] = (), *, commit: bool = True) -> Saved:
        """Insert new postings with their skills and touch the ones seen again, in one transaction.
        A posting another process stored first is skipped (ON CONFLICT DO NOTHING)."""
        now = utc_now()
        with self.transaction(commit=commit):
            # Writers of one job serialize on its key, so exactly one copy is the first.
            keys = sorted({p.job_key for p in new})
            self.conn.execute("SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM "
                              "(SELECT k FROM unnest(%s::text[]) AS k ORDER BY k) AS ordered", (keys,))  # one order: no deadlock
            copies = {r[0] for r in self._all("SELECT job_key FROM postings WHERE job_key = ANY(%s)", (keys,))}
            rows, duplicates = [], 0
            for p in new:
                duplicate = p.job_key in copies
                rows.append(tuple(_clean(v) for v in _posting_row(p, now, duplicate)))
                duplicates += duplicate
                copies.add(p.job_key)
            inserted_ids: set[str] = set()
            if rows:
                inserted_ids = self._copy_postings(rows)
            fresh = [p for p in new if p.id in inserted_ids]
            self._add_skills((p.id, skill) for p in fresh for skill in p.skills)
            self._add_places(p for p in fresh if p.more_places)
            seen = list(seen_ids)
            if seen:
                self.conn.execute("UPDATE postings SET last_seen_at = %s WHERE id = ANY(%s)", (now, seen))
        return Saved(len(inserted_ids), len(new) - len(inserted_ids), duplicates)

    def _copy_postings(self, rows: list[tuple]) -> set[str]:
        """Insert a page of posting rows with COPY, the bulk load PostgreSQL is built for; returns
        the ids inserted. The caller found them unstored, so COPY goes straight into the table; if
        another process stored one meanwhile, the page goes through a staging table and one
        INSERT ... ON CONFLICT instead (a row-by-row executemany cost 7x as much)."""
        psycopg = _driver()
        columns = ",".join(POSTING_COLUMNS)
        self.conn.execute("SAVEPOINT page")
        try:
            with self.conn.cursor().copy(f"COPY postings ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.errors.UniqueViolation:
            self.conn.execute("ROLLBACK TO SAVEPOINT page")
        else:
            self.conn.execute("RELEASE SAVEPOINT page")
            return {row[0] for row in rows}
        self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS staged_postings ON COMMIT DELETE ROWS "
                          f"AS SELECT {columns} FROM postings WITH NO DATA")
        with self.conn.cursor() as cursor:
            with cursor.copy(f"COPY staged_postings ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO postings ({columns}) SELECT {columns} FROM staged_postings "
                           f"ON CONFLICT (id) DO NOTHING RETURNING id")
            inserted = {r[0] for r in cursor.fetchall()}
        self.conn.execute("TRUNCATE staged_postings")
        return inserted

    def _add_skills(self, pairs: Iterable[tuple[str, str]]) -> None:
        """posting_skills rows, with COPY: they belong to postings this transaction inserted (or
        whose rows it deleted), so none can be there already."""
        pairs = sorted(pairs)
        if pairs:
            with self.conn.cursor().copy("COPY posting_skills (posting_id, skill) FROM STDIN") as copy:
                for pair in pairs:
                    copy.write_row(pair)

    def _add_places(self, postings: Iterable[JobPosting]) -> None:
        rows = [(p.id, *where, metro_of(*where)) for p in postings for where in p.more_places]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany("INSERT INTO posting_places (posting_id, country_code, region_code, city, metro) "
                                   "VALUES (%s, %s, %s, %s, %s)", [tuple(_clean(v) for v in r) for r in rows])

    def upsert_many(self, postings: Iterable[JobPosting]) -> tuple[int, int]:
        return upsert_many(self, postings)

    def replace_skills(self, skills_by_id: dict[str, Iterable[str]]) -> None:
        with self.transaction():
            with self.conn.cursor() as cursor:
                cursor.executemany("UPDATE postings SET skills = %s WHERE id = %s",
                                   [(_skills_column(skills), pid) for pid, skills in skills_by_id.items()])
            self.conn.execute("DELETE FROM posting_skills WHERE posting_id = ANY(%s)", (list(skills_by_id),))
            self._add_skills((pid, skill) for pid, skills in skills_by_id.items() for skill in skills)

    def prune(self, *, closed_before: str | None = None, posted_before: str | None = None,
              dry_run: bool = False) -> int:
        clauses, params = [], []
        if closed_before:
            clauses.append("(closed_at IS NOT NULL AND closed_at < %s)")
            params.append(closed_before)
        if posted_before:
            clauses.append("(date_posted IS NOT NULL AND date_posted < %s)")
            params.append(posted_before)
        if not clauses:
            return 0
        where = " OR ".join(clauses)
        if dry_run:
            return self._all(f"SELECT count(*) FROM postings WHERE {where}", params)[0][0]
        with self.transaction():
            # Their skills and places go with them (no foreign keys: checking one per skill row
            # cost a third of every page's insert; the store writes both in one transaction).
            gone = self._all(f"DELETE FROM postings WHERE {where} RETURNING id, job_key", params)
            ids = [r[0] for r in gone]
            self.conn.execute("DELETE FROM posting_skills WHERE posting_id = ANY(%s)", (ids,))
            self.conn.execute("DELETE FROM posting_places WHERE posting_id = ANY(%s)", (ids,))
            keys = sorted({r[1] for r in gone})
            self.conn.execute(
                "UPDATE postings SET duplicate = 0 WHERE seq IN (SELECT min(seq) FROM postings "
                "WHERE job_key = ANY(%s) GROUP BY job_key HAVING min(duplicate) = 1)", (keys,))
        return len(gone)

    # ---- whole-database copy --------------------------------------------------------------

    def table_counts(self) -> dict[str, int]:
        return {table: self._all(f"SELECT count(*) FROM {table}")[0][0] for table in COPY_TABLES}

    def export_rows(self, table: str, batch: int = 5000) -> Iterator[list[tuple]]:
        order = {"postings": "seq", "posting_places": "posting_id"}.get(table, ", ".join(COPY_KEYS.get(table, ())))
        yield from self._batches(f"SELECT {','.join(COPY_TABLES[table])} FROM {table} ORDER BY {order}", (), batch)

    def import_rows(self, table: str, rows: Sequence[tuple]) -> int:
        columns = COPY_TABLES[table]
        rows = [tuple(_clean(v) for v in row) for row in rows]
        with self.transaction():
            if table == "posting_places":
                have = {r[0] for r in self._all("SELECT DISTINCT posting_id FROM posting_places WHERE posting_id = ANY(%s)",
                                                (sorted({row[0] for row in rows}),))}
                rows = [row for row in rows if row[0] not in have]
                conflict = ""
            else:
                conflict = f" ON CONFLICT ({', '.join(COPY_KEYS[table])}) DO NOTHING"
            overriding = " OVERRIDING SYSTEM VALUE" if table in ("ingest_runs", "boards") else ""
            with self.conn.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {table} ({','.join(columns)}){overriding} "
                                   f"VALUES ({','.join(['%s'] * len(columns))}){conflict}", rows)
                inserted = max(cursor.rowcount, 0) if rows else 0
            if overriding:  # new rows made here must not reuse a copied id
                self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
        return inserted

    def size_bytes(self) -> int:
        return self._all("SELECT pg_database_size(current_database())")[0][0]

    def vacuum(self) -> tuple[int, int]:
        before = self.size_bytes()
        self.conn.execute("VACUUM (ANALYZE) postings")
        self.conn.execute("VACUUM (ANALYZE) posting_skills")
        return before, self.size_bytes()

    # ---- runs ---------------------------------------------------------------------------

    def start_run(self, source: str, query: dict) -> int:
        return self._all("INSERT INTO ingest_runs (started_at, source, query_json, pid, host) "
                         "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                         (utc_now(), source, json.dumps(query, sort_keys=True), os.getpid(), socket.gethostname()))[0][0]

    def finish_run(self, run_id: int, counts: dict, status: str, error: str | None = None,
                   stopped_by: str | None = None, marker: tuple[str, str, str] | None = None,
                   note: str | None = None) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE ingest_runs SET finished_at = %s, fetched = %s, invalid = %s, matched = %s, inserted = %s, "
                "skipped = %s, status = %s, error = %s, stopped_by = %s, note = %s WHERE id = %s",
                (utc_now(), counts["fetched"], counts["invalid"], counts["matched"], counts["inserted"],
                 counts["skipped"], status, _clean(error), stopped_by, note, run_id))
            if marker:
                self.conn.execute(
                    "INSERT INTO sync_state (source, query_key, marker) VALUES (%s, %s, %s) "
                    "ON CONFLICT (source, query_key) DO UPDATE SET "
                    "marker = greatest(coalesce(sync_state.marker, ''), excluded.marker)", marker)

    def runs(self, limit: int = 20) -> list[dict]:
        return self._dicts("SELECT * FROM ingest_runs ORDER BY id DESC LIMIT %s", (limit,))

    def last_runs(self) -> list[dict]:
        return self._dicts("SELECT source, started_at, finished_at, status, inserted, error FROM ingest_runs "
                           "WHERE id IN (SELECT max(id) FROM ingest_runs GROUP BY source) ORDER BY source")

    def marker(self, source: str, query_key: str) -> str | None:
        rows = self._all("SELECT marker FROM sync_state WHERE source = %s AND query_key = %s", (source, query_key))
        return rows[0][0] if rows else None

    def last_request_at(self, source: str) -> str | None:
        return self._all("SELECT max(last_request_at) FROM sync_state WHERE source = %s", (source,))[0][0]

    def record_request(self, source: str, query_key: str, at: str) -> None:
        self.conn.execute("INSERT INTO sync_state (source, query_key, last_request_at) VALUES (%s, %s, %s) "
                          "ON CONFLICT (source, query_key) DO UPDATE SET last_request_at = excluded.last_request_at",
                          (source, query_key, at))

    def source_ids_discovered_since(self, source: str, since: str, limit: int = 1000) -> list[str]:
        return [r[0] for r in self._all(
            "SELECT source_id FROM postings WHERE source = %s AND discovered_at >= %s AND source_id IS NOT NULL "
            "ORDER BY discovered_at DESC LIMIT %s", (source, since, limit))]

    # ---- boards -------------------------------------------------------------------------

    def add_boards(self, specs: Iterable[BoardSpec]) -> tuple[int, int]:
        new = known = 0
        now = utc_now()
        with self.transaction():
            for spec in dict.fromkeys(specs):
                inserted = self._all(
                    "INSERT INTO boards (ats, token, host, added_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (ats, token) DO UPDATE SET misses = 0, host = coalesce(excluded.host, boards.host), "
                    "status = CASE WHEN boards.status = 'missing' THEN 'new' ELSE boards.status END "
                    "RETURNING (xmax = 0)", (spec.ats, spec.token, spec.host, now))[0][0]
                new += inserted
                known += not inserted
        return new, known

    def remove_boards(self, specs: Iterable[BoardSpec]) -> int:
        removed = 0
        with self.transaction():
            for spec in dict.fromkeys(specs):
                removed += self.conn.execute("DELETE FROM boards WHERE ats = %s AND token = %s",
                                             (spec.ats, spec.token)).rowcount
        return removed

    def boards(self, ats: Sequence[str] = ()) -> list[dict]:
        clause = "WHERE ats = ANY(%s)" if ats else ""
        return self._dicts(f"SELECT * FROM boards {clause} ORDER BY ats, lower(token)", (list(ats),) if ats else ())

    def boards_to_fetch(self, ats: Sequence[str], keys: Sequence[str] = ()) -> list[dict]:
        return boards_to_fetch(self, ats, keys)

    def source_ids_of_feed(self, feed: str) -> frozenset[str]:
        return frozenset(r[0] for r in self._all(
            "SELECT source_id FROM postings WHERE feed = %s AND source_id IS NOT NULL", (feed,)))

    def board_fetched(self, board_id: int, feed: str, source_ids: Sequence[str], *, company: str | None,
                      validators: dict, query_key: str, host: str | None) -> tuple[int, int]:
        now = utc_now()
        listed = sorted(set(source_ids))
        with self.transaction(commit=False):
            closed = self.conn.execute(
                "UPDATE postings SET closed_at = %s WHERE feed = %s AND closed_at IS NULL "
                "AND NOT (source_id = ANY(%s))", (now, feed, listed)).rowcount
            reopened = self.conn.execute(
                "UPDATE postings SET closed_at = NULL WHERE feed = %s AND closed_at IS NOT NULL "
                "AND source_id = ANY(%s)", (feed, listed)).rowcount
            self.conn.execute(
                "UPDATE boards SET status = 'ok', last_fetched_at = %s, last_error = NULL, misses = 0, "
                "company = coalesce(%s, company), open_jobs = %s, host = coalesce(%s, host), etag = %s, "
                "last_modified = %s, body_hash = %s, validators_query = %s WHERE id = %s",
                (now, _clean(company), len(listed), host, validators.get("etag"), validators.get("last_modified"),
                 validators.get("body_hash"), query_key, board_id))
        return closed, reopened

    def board_unchanged(self, board_id: int, feed: str) -> None:
        now = utc_now()
        with self.transaction(commit=False):
            self.conn.execute("UPDATE postings SET last_seen_at = %s WHERE feed = %s AND closed_at IS NULL", (now, feed))
            self.conn.execute("UPDATE boards SET status = 'ok', last_fetched_at = %s, last_error = NULL, misses = 0 "
                              "WHERE id = %s", (now, board_id))

    def board_failed(self, board_id: int, status: str, error: str) -> None:
        with self.transaction(commit=False):
            self.conn.execute(
                "UPDATE boards SET status = %s, last_fetched_at = %s, last_error = %s, "
                "misses = CASE WHEN %s = 'missing' THEN misses + 1 ELSE 0 END WHERE id = %s",
                (status, utc_now(), _clean(error), status, board_id))

    def posting_urls(self) -> Iterator[str]:
        rows = (row for batch in self._batches("SELECT url, source, raw_json FROM postings WHERE feed IS NULL")
                for row in batch)  # streamed: raw JSON of every posting would not fit in memory
        for url, source, raw in rows:
            urls = [url]
            if source == "theirstack":
                try:
                    row = json.loads(raw)
                except ValueError:
                    row = None
                if isinstance(row, dict):
                    urls += [row.get("final_url"), row.get("url"), row.get("source_url")]
            for found in urls:
                if isinstance(found, str) and found:
                    yield found

    # ---- reads --------------------------------------------------------------------------

    def postings(self, where: PostingFilter, limit: int | None = None,
                 columns: Sequence[str] = POSTING_COLUMNS) -> Iterator[dict]:
        clause, params = filter_sql(where, POSTGRES)
        sql = (f"SELECT {','.join(columns)} FROM postings p WHERE {clause} "
               f"ORDER BY date_posted IS NULL, date_posted DESC, retrieved_at DESC, seq")
        if limit:
            sql += " LIMIT %s"
            params = [*params, limit]
        names = list(columns)
        for rows in self._batches(sql, params):  # streamed, as SQLite's: `inspect --limit 0` of millions
            yield from (dict(zip(names, row)) for row in rows)

    def tally(self, where: PostingFilter) -> Tally:
        """The counts of an insights answer: one aggregate over the covering index's rows. The
        skills are counted in Python: unnesting them here took 1.5x as long."""
        clause, params = filter_sql(where, POSTGRES)
        row = self._all(
            f"SELECT count(*), count(nullif(p.skills, '')), count(*) FILTER (WHERE p.remote = 1), bool_and({IN_US}), "
            f"string_agg(nullif(p.skills, ''), ','), json_agg(p.company)::text, string_agg(p.source, ',') "
            f"FROM postings p WHERE {clause}", params)[0]
        return tally_from(row)

    def summary(self, where: PostingFilter) -> dict:
        clause, params = filter_sql(where, POSTGRES)

        def value(expression: str):
            return self._all(f"SELECT {expression} FROM postings p WHERE {clause}", params)[0][0]

        def grouped(columns: str) -> list[tuple]:
            return [tuple(r) for r in self._all(f"SELECT {columns}, count(*) FROM postings p WHERE {clause} "
                                                f"GROUP BY {columns}", params)]

        return {"postings": value("count(*)"), "companies": value("count(DISTINCT lower(company))"),
                "first_date": value("min(date_posted)"), "last_date": value("max(date_posted)"),
                "by_source": grouped("source"), "by_role_level": grouped("role_bucket, level_bucket"),
                "by_day": grouped("date_posted")}

    def knows_city(self, place: Place) -> bool:
        test, params = _place_test(place, "p", POSTGRES)
        more, more_params = _place_test(place, "pp", POSTGRES)
        sql = (f"SELECT EXISTS (SELECT 1 FROM postings p WHERE {test}) "
               f"OR EXISTS (SELECT 1 FROM posting_places pp WHERE {more})")
        return bool(self._all(sql, params + more_params)[0][0])

    def place_labels(self, where: PostingFilter, min_postings: int = 1) -> list[str]:
        clause, params = filter_sql(where, POSTGRES)
        rows = self._all(
            f"SELECT metro, min(city), min(region), min(country_code), count(DISTINCT id) AS n FROM ("
            f"SELECT p.id, p.metro, p.city, upper(p.region_code) AS region, p.country_code FROM postings p "
            f"WHERE {clause} UNION ALL "
            f"SELECT p.id, pp.metro, pp.city, upper(pp.region_code), pp.country_code FROM posting_places pp "
            f"JOIN postings p ON p.id = pp.posting_id WHERE p.more_places > 0 AND {clause}) AS places "
            f"WHERE country_code IS NOT NULL AND (metro IS NOT NULL OR city IS NOT NULL OR region IS NOT NULL) "
            f"GROUP BY metro, CASE WHEN metro IS NULL THEN lower(city) END, "
            f"CASE WHEN metro IS NULL THEN region END, CASE WHEN metro IS NULL THEN country_code END "
            f"HAVING count(DISTINCT id) >= %s ORDER BY n DESC, min(coalesce(metro, city))",
            params + params + [min_postings])
        labels = dict.fromkeys(metro or place_label(city, region, country) for metro, city, region, country, _ in rows)
        return [label for label in labels if label]

    def posting(self, posting_id: str) -> dict | None:
        rows = self._dicts("SELECT * FROM postings WHERE id = %s", (posting_id,))
        if not rows:
            return None
        posting = rows[0]
        posting.pop("seq", None)
        posting["more_places"] = [list(r) for r in self._all(
            "SELECT country_code, region_code, city FROM posting_places WHERE posting_id = %s", (posting_id,))]
        posting["copies"] = self._dicts(
            "SELECT id, source, url, retrieved_at, last_seen_at, closed_at FROM postings WHERE job_key = %s "
            "ORDER BY seq", (posting["job_key"],))
        return posting

    def postings_by_source(self) -> list[tuple[str, int]]:
        return [tuple(r) for r in self._all("SELECT source, count(*) FROM postings GROUP BY source ORDER BY source")]

    def schema_version(self) -> int:
        return self._version()

    def count_postings(self) -> int:
        return self._all("SELECT count(*) FROM postings")[0][0]

    def iter_for_rebuild(self, batch: int = 1000) -> Iterator[list[tuple[str, str, str]]]:
        last = 0
        while True:
            rows = self._all("SELECT seq, id, title, description_raw FROM postings WHERE seq > %s "
                             "ORDER BY seq LIMIT %s", (last, batch))
            if not rows:
                return
            last = rows[-1][0]
            yield [(r[1], r[2], r[3] or "") for r in rows]


def _connect_args(readonly: bool, deadline_s: float | None) -> dict:
    """Autocommit (transactions are explicit); a reader's transactions are read-only on the server,
    and every statement of a bounded reader stops at its deadline."""
    options = ["-c jit=off"]  # compiling a plan costs more than these short queries take (200 ms on 1M)
    if readonly:
        options.append("-c default_transaction_read_only=on")
    if deadline_s:
        options.append(f"-c statement_timeout={int(deadline_s * 1000)}")
    return {"autocommit": True, "connect_timeout": 10, "application_name": "skillpulse",
            "options": " ".join(options)}


class ReaderPool:
    """A bounded pool of read-only connections, for `serve`: many requests, a few connections."""

    def __init__(self, url: str, size: int, deadline_s: float):
        _driver()
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise StoreOpenError('serving PostgreSQL needs the optional extra: python -m pip install '
                                 '"skillpulse-ingest[postgres]"') from None
        PostgresStore.open(url, readonly=True).close()  # the schema is there and not too new
        self.url = url
        self.pool = ConnectionPool(url, min_size=1, max_size=size, kwargs=_connect_args(True, deadline_s),
                                   open=True, name="skillpulse-serve")

    def store(self) -> PostgresStore:
        try:
            conn = self.pool.getconn(timeout=10)
        except Exception as exc:  # psycopg_pool.PoolTimeout, or the server went away
            raise StoreError(f"no database connection: {_why(exc)}") from None
        return PostgresStore(conn, self.url, True, release=self.pool.putconn)

    def close(self) -> None:
        self.pool.close()


def _why(exc) -> str:
    """The server's one-line reason, never the password (libpq does not echo it)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text
