"""SQLiteStore: the SQLite engine of the Store interface (store/base.py). Schema, migrations, batched writes, queries."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

from .boards import BoardSpec, job_key
from .gazetteer import coordinate, metro_of
from .models import JobPosting, date_window
from .places import WORLDWIDE, Place, place_label
from .store.base import Tally, boards_to_fetch, tally_from, upsert_many

SCHEMA_VERSION = 5
READABLE_SINCE = 5  # read commands read these versions as they are; only a writer migrates
BUSY_TIMEOUT_S = 60.0
PAGE_SIZE = 32768

MIGRATIONS = {
    1: """
    CREATE TABLE postings (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        source_id TEXT,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        company TEXT,
        location TEXT,
        remote INTEGER,
        date_posted TEXT,
        role_bucket TEXT NOT NULL,
        level_bucket TEXT NOT NULL,
        retrieved_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        description_raw TEXT,
        raw_json TEXT NOT NULL,
        country_code TEXT,
        region_code TEXT,
        city TEXT,
        remote_scope TEXT,
        discovered_at TEXT
    );
    CREATE INDEX postings_source_id ON postings (source, source_id);
    CREATE INDEX postings_date ON postings (date_posted);
    CREATE INDEX postings_retrieved ON postings (retrieved_at);
    CREATE TABLE posting_skills (
        posting_id TEXT NOT NULL REFERENCES postings (id) ON DELETE CASCADE,
        skill TEXT NOT NULL,
        PRIMARY KEY (posting_id, skill)
    ) WITHOUT ROWID;
    CREATE INDEX posting_skills_skill ON posting_skills (skill);
    CREATE TABLE ingest_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        source TEXT NOT NULL,
        query_json TEXT NOT NULL,
        fetched INTEGER NOT NULL DEFAULT 0,
        invalid INTEGER NOT NULL DEFAULT 0,
        matched INTEGER NOT NULL DEFAULT 0,
        inserted INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'running',
        error TEXT,
        stopped_by TEXT
    );
    CREATE TABLE sync_state (
        source TEXT NOT NULL,
        query_key TEXT NOT NULL,
        marker TEXT,
        last_request_at TEXT,
        PRIMARY KEY (source, query_key)
    );
    """,
    # Version 2 makes reads fast on millions of postings: each posting carries its skills (the same
    # ids as posting_skills, comma-joined, written in the same transaction), and a covering index
    # answers every insights query from the index alone.
    2: """
    ALTER TABLE postings ADD COLUMN skills TEXT NOT NULL DEFAULT '';
    UPDATE postings SET skills = coalesce((SELECT group_concat(skill, ',') FROM
        (SELECT skill FROM posting_skills s WHERE s.posting_id = postings.id ORDER BY skill)), '');
    DROP INDEX postings_date;
    DROP INDEX postings_retrieved;
    CREATE INDEX postings_insights ON postings (date_posted, role_bucket, level_bucket, country_code,
        region_code, city, remote, remote_scope, source, company, skills);
    CREATE INDEX postings_role_level ON postings (role_bucket, level_bucket, date_posted);
    CREATE INDEX postings_company ON postings (company COLLATE NOCASE);
    """,
    # Version 3: which process runs an ingest, so `runs` can tell a run whose process is gone.
    3: """
    ALTER TABLE ingest_runs ADD COLUMN pid INTEGER;
    ALTER TABLE ingest_runs ADD COLUMN host TEXT;
    """,
    # Version 4: company job boards. A job's identity across sources (job_key); `duplicate` marks every
    # copy but the first stored, so that reads count a job once from the indexes alone (each read
    # index carries it, and postings_insights carries `id` for the more-places test). The board a
    # posting came from (feed) and when it left it (closed_at), places beyond the first
    # (posting_places; more_places says whether to look), and the board registry.
    4: """
    ALTER TABLE postings ADD COLUMN job_key TEXT;
    ALTER TABLE postings ADD COLUMN feed TEXT;
    ALTER TABLE postings ADD COLUMN closed_at TEXT;
    ALTER TABLE postings ADD COLUMN more_places INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE postings ADD COLUMN duplicate INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE ingest_runs ADD COLUMN note TEXT;
    UPDATE postings SET job_key = skillpulse_job_key(source, source_id, url);
    CREATE INDEX postings_job_key ON postings (job_key);
    UPDATE postings SET duplicate = 1 WHERE rowid > (SELECT min(rowid) FROM postings q WHERE q.job_key = postings.job_key);
    CREATE INDEX postings_feed ON postings (feed, source_id) WHERE feed IS NOT NULL;
    DROP INDEX postings_insights;
    CREATE INDEX postings_insights ON postings (date_posted, role_bucket, level_bucket, country_code,
        region_code, city, remote, remote_scope, more_places, duplicate, source, company, skills, id);
    DROP INDEX postings_role_level;
    CREATE INDEX postings_role_level ON postings (role_bucket, level_bucket, date_posted, duplicate);
    DROP INDEX postings_company;
    CREATE INDEX postings_company ON postings (company COLLATE NOCASE, duplicate);
    DROP INDEX postings_source_id;
    CREATE INDEX postings_source_id ON postings (source, source_id, duplicate);
    CREATE TABLE posting_places (
        posting_id TEXT NOT NULL REFERENCES postings (id) ON DELETE CASCADE,
        country_code TEXT,
        region_code TEXT,
        city TEXT
    );
    CREATE INDEX posting_places_posting ON posting_places (posting_id);
    CREATE TABLE boards (
        id INTEGER PRIMARY KEY,
        ats TEXT NOT NULL,
        token TEXT NOT NULL,
        host TEXT,
        company TEXT,
        status TEXT NOT NULL DEFAULT 'new',
        open_jobs INTEGER,
        added_at TEXT NOT NULL,
        last_fetched_at TEXT,
        last_error TEXT,
        misses INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        validators_query TEXT,
        UNIQUE (ats, token)
    );
    """,
    # Version 5: metro areas. Each place carries the metro it lies in (gazetteer.metro_of, from the
    # source's coordinates when it gave them, which TheirStack rows carry), so that a metro query is
    # one indexed equality and /api/locations lists a metro once.
    5: """
    ALTER TABLE postings ADD COLUMN latitude REAL;
    ALTER TABLE postings ADD COLUMN longitude REAL;
    ALTER TABLE postings ADD COLUMN metro TEXT;
    ALTER TABLE posting_places ADD COLUMN metro TEXT;
    UPDATE postings SET latitude = skillpulse_coordinate(json_extract(raw_json, '$.latitude'), 90),
        longitude = skillpulse_coordinate(json_extract(raw_json, '$.longitude'), 180)
        WHERE source = 'theirstack' AND json_valid(raw_json);
    UPDATE postings SET metro = skillpulse_metro(country_code, region_code, city, latitude, longitude);
    UPDATE posting_places SET metro = skillpulse_metro(country_code, region_code, city, NULL, NULL);
    DROP INDEX postings_insights;
    CREATE INDEX postings_insights ON postings (date_posted, role_bucket, level_bucket, country_code,
        region_code, city, metro, remote, remote_scope, more_places, duplicate, source, company, skills, id);
    """,
}

POSTING_COLUMNS = ("id", "source", "source_id", "url", "title", "company", "location", "remote",
                   "date_posted", "role_bucket", "level_bucket", "retrieved_at", "last_seen_at",
                   "description_raw", "raw_json", "country_code", "region_code", "city",
                   "remote_scope", "discovered_at", "skills", "job_key", "feed", "more_places", "duplicate",
                   "latitude", "longitude", "metro")


COPY_TABLES: dict[str, tuple[str, ...]] = {
    "postings": POSTING_COLUMNS + ("closed_at",),
    "posting_skills": ("posting_id", "skill"),
    "posting_places": ("posting_id", "country_code", "region_code", "city", "metro"),
    "ingest_runs": ("id", "started_at", "finished_at", "source", "query_json", "fetched", "invalid", "matched",
                    "inserted", "skipped", "status", "error", "stopped_by", "pid", "host", "note"),
    "sync_state": ("source", "query_key", "marker", "last_request_at"),
    "boards": ("id", "ats", "token", "host", "company", "status", "open_jobs", "added_at", "last_fetched_at",
               "last_error", "misses", "etag", "last_modified", "body_hash", "validators_query"),
}
COPY_KEYS = {"postings": ("id",), "posting_skills": ("posting_id", "skill"), "ingest_runs": ("id",),
             "sync_state": ("source", "query_key"), "boards": ("id",)}  # posting_places: by its posting


_INSERT_POSTING = (f"INSERT OR IGNORE INTO postings ({','.join(POSTING_COLUMNS)}) "
                   f"VALUES ({','.join('?' * len(POSTING_COLUMNS))})")


def _posting_row(p: JobPosting, now: str, duplicate: bool) -> tuple:
    return (p.id, p.source, p.source_id, p.url, p.title, p.company, p.location,
            None if p.remote is None else int(p.remote), p.date_posted, p.role_bucket, p.level_bucket,
            now, now, p.description_raw, p.raw_json, p.country_code, p.region_code, p.city, p.remote_scope,
            p.discovered_at, _skills_column(p.skills), p.job_key, p.feed, len(p.more_places), int(duplicate),
            p.latitude, p.longitude, metro_of(p.country_code, p.region_code, p.city, p.latitude, p.longitude))


def _skills_column(skills: Iterable[str]) -> str:
    """postings.skills: the posting's skill ids, sorted and comma-joined."""
    return ",".join(sorted(skills))


class Known(NamedTuple):
    """A posting found stored: its stored id (the url may have changed since) and what it was found to be."""

    id: str
    role: str
    level: str
    duplicate: bool = False


class Saved(NamedTuple):
    """What saving a page did: inserted, skipped (stored first by another process), duplicates
    (inserted copies of a job stored already from elsewhere)."""

    inserted: int
    skipped: int
    duplicates: int = 0


class StoreError(Exception):
    """A database operation failed (the run fails)."""


class StoreOpenError(StoreError):
    """The database path cannot be used: missing, not SQLite, too new, or not writable."""


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PostingFilter:
    """Which stored postings a read asks for. `place` comes from places.parse_place."""

    source: str | None = None
    role: str = "any"
    level: str = "any"
    place: Place | None = None
    remote: str = "include"
    days: int | None = None
    today: date | None = None
    open_only: bool = False   # only postings no complete board fetch has found closed
    skill: str | None = None  # only postings with this skill id
    tech_only: bool = False   # role "any" means every engineering bucket, not `other`

    @property
    def window(self) -> tuple[str, str] | None:
        return None if self.days is None else date_window(self.days, self.today)


class SQLiteStore:
    """One SQLite file. Open with `SQLiteStore.open(path)`; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool):
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._identity: tuple[int, int] | None = None

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, deadline_s: float | None = None) -> "SQLiteStore":
        """Open (and for a writer, create or migrate) the database at path.

        `deadline_s` bounds every query of a reader: past it, the query fails with StoreError.
        The file is never opened by anything but SQLite: closing another descriptor of a file
        SQLite has open drops its POSIX locks, and two writers could then both write.
        """
        path = Path(path).expanduser()
        if path.is_dir():
            raise StoreOpenError(f"database path {path} is a folder; give a file name")
        if readonly and not path.exists():
            raise StoreOpenError(f"no database at {path}; run `skillpulse ingest` first or pass --db")
        try:
            if readonly:
                conn = _connect_readonly(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StoreOpenError(_open_error(path, exc, readonly)) from None
        store = cls(conn, path, readonly)
        try:
            store._prepare_when_free()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreOpenError(_open_error(path, exc, readonly)) from None
        except StoreError:
            conn.close()
            raise
        store._identity = _identity(path)
        if deadline_s is not None:
            store._set_deadline(deadline_s)
        return store

    def _set_deadline(self, seconds: float) -> None:
        """Interrupt any query that runs past `seconds` from now (a hostile or huge database)."""
        deadline = time.monotonic() + seconds
        self.conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)

    def check_file(self) -> None:
        """StoreError if the database file was deleted or replaced since it was opened: what was
        written since then went to a file nobody will read."""
        if _identity(self.path) != self._identity:
            raise StoreError(f"the database file {self.path} was deleted or replaced during the run; "
                             f"what this run stored is not in it; run it again")

    def _prepare_when_free(self) -> None:
        """Prepare, waiting out another process that is creating or migrating the same file.

        Switching a new file to WAL needs a lock SQLite does not wait for, so retry here.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return self._prepare()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _prepare(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreOpenError(f"database {self.path} has schema version {version}, newer than this "
                                 f"skillpulse understands ({SCHEMA_VERSION}); upgrade skillpulse")
        self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if self.readonly:
            if version < READABLE_SINCE:
                raise StoreOpenError(f"database {self.path} has schema version {version}; "
                                     f"run any skillpulse ingest once to migrate it")
            return
        if version == 0:
            # Before the first table, while the file is empty: 32 KB pages make the many small
            # index inserts of posting_skills about a third cheaper than the default 4 KB.
            self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoint every ~64 MB of WAL rather than 4 MB: a page of postings is several MB.
        page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {64 * 2**20 // page_size}")
        self.conn.execute("PRAGMA cache_size = -32000")  # 32 MB: postings ids are random, so their index pages are too
        # foreign_keys stays off (SQLite's default): posting_skills rows are written in the same
        # transaction as their posting, so the check would only add a lookup per row (13% of a save).
        if version < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        self.conn.create_function("skillpulse_job_key", 3, job_key, deterministic=True)
        self.conn.create_function("skillpulse_metro", 5, metro_of, deterministic=True)
        self.conn.create_function("skillpulse_coordinate", 2, coordinate, deterministic=True)
        with self.transaction():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def transaction(self, *, commit: bool = True):
        """BEGIN IMMEDIATE ... COMMIT; joins a transaction that save_page left open."""
        return _Transaction(self.conn, commit)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def commit(self) -> None:
        """End the transaction that save_page(commit=False) left open, if any."""
        if self.in_transaction:
            with self.transaction():
                pass

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        if isinstance(exc, sqlite3.Error):  # a query failed: callers see StoreError, never sqlite3's
            if "interrupted" in str(exc):
                raise StoreError("the query ran past its deadline and was stopped") from None
            raise StoreError(f"database error in {self.path}: {_why(exc)}") from None

    # ---- writes -------------------------------------------------------------------------

    def known(self, postings: Sequence[JobPosting]) -> dict[str, Known]:
        """For postings already stored (by id, or by source and source_id): its stored id, buckets,
        and whether it is a later copy of a job stored first from elsewhere."""
        if not postings:
            return {}
        by_id = {p.id: p for p in postings}
        found: dict[str, Known] = {}
        for chunk in _chunks(list(by_id), 500):
            marks = ",".join("?" * len(chunk))
            for pid, role, level, duplicate in self.conn.execute(
                    f"SELECT id, role_bucket, level_bucket, duplicate FROM postings WHERE id IN ({marks})", chunk):
                found[pid] = Known(pid, role, level, bool(duplicate))
        by_source_id = {(p.source, p.source_id): p.id for p in postings if p.source_id and p.id not in found}
        for source in {s for s, _ in by_source_id}:
            ids = [sid for s, sid in by_source_id if s == source]
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                for pid, sid, role, level, duplicate in self.conn.execute(
                        f"SELECT id, source_id, role_bucket, level_bucket, duplicate FROM postings "
                        f"WHERE source = ? AND source_id IN ({marks})", [source, *chunk]):
                    found[by_source_id[(source, sid)]] = Known(pid, role, level, bool(duplicate))
        return found

    def save_page(self, new: Sequence[JobPosting], seen_ids: Iterable[str] = (), *,
                  commit: bool = True) -> Saved:
        """Insert new postings with their skills and touch the ones seen again, atomically.

        With `commit=False` the transaction stays open for more pages; `commit()` or the next
        `transaction()` ends it. A posting another process stored first counts as skipped; a posting
        whose job is stored already (from another source) is stored as a duplicate. On an error
        every page of the open transaction is rolled back.
        """
        now = utc_now()
        with self.transaction(commit=commit):
            copies = self._stored_job_keys(new)  # inside the write transaction: no other writer races it
            rows, duplicates = [], 0
            for p in new:
                duplicate = p.job_key in copies
                rows.append(_posting_row(p, now, duplicate))
                duplicates += duplicate
                copies.add(p.job_key)
            # rowcount counts what the statement itself changed; total_changes would add the writes
            # of any trigger a supplied database carries.
            inserted = max(self.conn.executemany(_INSERT_POSTING, rows).rowcount, 0)
            self._add_skills((p.id, skill) for p in new for skill in p.skills)
            self._add_places(p for p in new if p.more_places)
            seen = list(seen_ids)
            for chunk in _chunks(seen, 500):
                self.conn.execute(f"UPDATE postings SET last_seen_at = ? WHERE id IN ({','.join('?' * len(chunk))})",
                                  [now, *chunk])
        return Saved(inserted, len(new) - inserted, duplicates)

    def _stored_job_keys(self, postings: Sequence[JobPosting]) -> set[str]:
        keys = sorted({p.job_key for p in postings})
        found: set[str] = set()
        for chunk in _chunks(keys, 500):
            found.update(r[0] for r in self.conn.execute(
                f"SELECT job_key FROM postings WHERE job_key IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def _add_places(self, postings: Iterable[JobPosting]) -> None:
        """posting_places rows for places beyond the first; a posting raced in already has them."""
        rows = [(p.id, *where, metro_of(*where)) for p in postings for where in p.more_places]
        if rows:
            self.conn.execute("DELETE FROM posting_places WHERE posting_id IN (SELECT value FROM json_each(?))",
                              [json.dumps(sorted({r[0] for r in rows}))])
            self.conn.executemany("INSERT INTO posting_places (posting_id, country_code, region_code, city, metro) "
                                  "VALUES (?, ?, ?, ?, ?)", rows)

    # ---- boards -------------------------------------------------------------------------

    def add_boards(self, specs: Iterable[BoardSpec]) -> tuple[int, int]:
        """Register boards; returns (new, known). Adding a known board again makes a board that was
        skipped as missing a new one, to be tried on the next run."""
        new = known = 0
        now = utc_now()
        with self.transaction():
            for spec in dict.fromkeys(specs):
                cursor = self.conn.execute(
                    "UPDATE boards SET misses = 0, host = coalesce(?, host), "
                    "status = CASE WHEN status = 'missing' THEN 'new' ELSE status END "
                    "WHERE ats = ? AND token = ?", (spec.host, spec.ats, spec.token))
                if cursor.rowcount:
                    known += 1
                    continue
                self.conn.execute("INSERT INTO boards (ats, token, host, added_at) VALUES (?, ?, ?, ?)",
                                  (spec.ats, spec.token, spec.host, now))
                new += 1
        return new, known

    def remove_boards(self, specs: Iterable[BoardSpec]) -> int:
        """Forget boards (their stored postings stay); returns how many were registered."""
        removed = 0
        with self.transaction():
            for spec in dict.fromkeys(specs):
                removed += self.conn.execute("DELETE FROM boards WHERE ats = ? AND token = ?",
                                             (spec.ats, spec.token)).rowcount
        return removed

    def boards(self, ats: Sequence[str] = ()) -> list[dict]:
        """Registered boards, by ATS and token; all of them, or those of the given ATS."""
        clause = f"WHERE ats IN ({','.join('?' * len(ats))})" if ats else ""
        return list(_dicts(self.conn.execute(f"SELECT * FROM boards {clause} ORDER BY ats, token COLLATE NOCASE",
                                             list(ats))))

    def boards_to_fetch(self, ats: Sequence[str], keys: Sequence[str] = ()) -> list[dict]:
        return boards_to_fetch(self, ats, keys)

    def source_ids_of_feed(self, feed: str) -> frozenset[str]:
        """Provider ids of the postings stored from one board."""
        return frozenset(r[0] for r in self.conn.execute(
            "SELECT source_id FROM postings WHERE feed = ? AND source_id IS NOT NULL", (feed,)))

    def board_fetched(self, board_id: int, feed: str, source_ids: Sequence[str], *, company: str | None,
                      validators: dict, query_key: str, host: str | None) -> tuple[int, int]:
        """A complete fetch of a board: its postings no longer listed are closed, listed ones open
        again, and the board is `ok`. Returns (closed, reopened); joins an open transaction."""
        now = utc_now()
        listed = json.dumps(sorted(set(source_ids)))
        with self.transaction(commit=False):
            closed = self.conn.execute(
                "UPDATE postings SET closed_at = ? WHERE feed = ? AND closed_at IS NULL AND source_id NOT IN "
                "(SELECT value FROM json_each(?))", (now, feed, listed)).rowcount
            reopened = self.conn.execute(
                "UPDATE postings SET closed_at = NULL WHERE feed = ? AND closed_at IS NOT NULL AND source_id IN "
                "(SELECT value FROM json_each(?))", (feed, listed)).rowcount
            self.conn.execute(
                "UPDATE boards SET status = 'ok', last_fetched_at = ?, last_error = NULL, misses = 0, "
                "company = coalesce(?, company), open_jobs = ?, host = coalesce(?, host), etag = ?, "
                "last_modified = ?, body_hash = ?, validators_query = ? WHERE id = ?",
                (now, company, len(set(source_ids)), host, validators.get("etag"), validators.get("last_modified"),
                 validators.get("body_hash"), query_key, board_id))
        return closed, reopened

    def board_unchanged(self, board_id: int, feed: str) -> None:
        """The board answered that nothing changed: its open postings were seen again."""
        now = utc_now()
        with self.transaction(commit=False):
            self.conn.execute("UPDATE postings SET last_seen_at = ? WHERE feed = ? AND closed_at IS NULL", (now, feed))
            self.conn.execute("UPDATE boards SET status = 'ok', last_fetched_at = ?, last_error = NULL, misses = 0 "
                              "WHERE id = ?", (now, board_id))

    def board_failed(self, board_id: int, status: str, error: str) -> None:
        """A board that is `missing` (counted toward skipping it) or `failed`; it closes nothing."""
        with self.transaction(commit=False):
            self.conn.execute(
                "UPDATE boards SET status = ?, last_fetched_at = ?, last_error = ?, "
                "misses = CASE WHEN ? = 'missing' THEN misses + 1 ELSE 0 END WHERE id = ?",
                (status, utc_now(), error, status, board_id))

    def posting_urls(self) -> Iterator[str]:
        """Every URL stored postings of APIs carry: their own, and the original ones a source kept in
        its row (TheirStack's final_url, url and source_url). Board postings are left out: their board
        is registered already, or was removed on purpose."""
        for row in self.conn.execute(
                "SELECT url, json_extract(raw, '$.final_url'), json_extract(raw, '$.url'), "
                "json_extract(raw, '$.source_url') FROM (SELECT url, CASE WHEN source = 'theirstack' AND "
                "json_valid(raw_json) THEN raw_json END AS raw FROM postings WHERE feed IS NULL)"):
            for url in row:
                if isinstance(url, str) and url:
                    yield url

    def upsert_many(self, postings: Iterable[JobPosting]) -> tuple[int, int]:
        return upsert_many(self, postings)

    def start_run(self, source: str, query: dict) -> int:
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO ingest_runs (started_at, source, query_json, pid, host) VALUES (?, ?, ?, ?, ?)",
                (utc_now(), source, json.dumps(query, sort_keys=True), os.getpid(), socket.gethostname()))
        return cursor.lastrowid

    def finish_run(self, run_id: int, counts: dict, status: str, error: str | None = None,
                   stopped_by: str | None = None, marker: tuple[str, str, str] | None = None,
                   note: str | None = None) -> None:
        """Close the run's row; a complete incremental run moves its marker in the same transaction."""
        with self.transaction():
            self.conn.execute(
                "UPDATE ingest_runs SET finished_at = ?, fetched = ?, invalid = ?, matched = ?, inserted = ?, "
                "skipped = ?, status = ?, error = ?, stopped_by = ?, note = ? WHERE id = ?",
                (utc_now(), counts["fetched"], counts["invalid"], counts["matched"], counts["inserted"],
                 counts["skipped"], status, error, stopped_by, note, run_id))
            if marker:
                self._set_marker(*marker)

    def source_ids_discovered_since(self, source: str, since: str, limit: int = 1000) -> list[str]:
        """Provider ids of stored postings first discovered at or after `since` (newest first)."""
        rows = self.conn.execute(
            "SELECT source_id FROM postings WHERE source = ? AND discovered_at >= ? AND source_id IS NOT NULL "
            "ORDER BY discovered_at DESC LIMIT ?", (source, since, limit)).fetchall()
        return [r[0] for r in rows]

    def marker(self, source: str, query_key: str) -> str | None:
        """Where the last complete incremental run of this source and query got to."""
        row = self.conn.execute("SELECT marker FROM sync_state WHERE source = ? AND query_key = ?",
                                (source, query_key)).fetchone()
        return row[0] if row else None

    def last_request_at(self, source: str) -> str | None:
        """When any run last called this source (for providers that limit calls per day)."""
        row = self.conn.execute("SELECT max(last_request_at) FROM sync_state WHERE source = ?", (source,)).fetchone()
        return row[0]

    def record_request(self, source: str, query_key: str, at: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO sync_state (source, query_key, last_request_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source, query_key) DO UPDATE SET last_request_at = excluded.last_request_at",
                (source, query_key, at))

    def _set_marker(self, source: str, query_key: str, marker: str) -> None:
        self.conn.execute(
            "INSERT INTO sync_state (source, query_key, marker) VALUES (?, ?, ?) "
            "ON CONFLICT (source, query_key) DO UPDATE SET marker = max(coalesce(marker, ''), excluded.marker)",
            (source, query_key, marker))

    # ---- reads --------------------------------------------------------------------------

    def postings(self, where: PostingFilter, limit: int | None = None,
                 columns: Sequence[str] = POSTING_COLUMNS) -> Iterator[dict]:
        """Matching postings, newest first (by date posted, then by first retrieval)."""
        clause, params = filter_sql(where)
        sql = (f"SELECT {','.join(columns)} FROM postings p WHERE {clause} "
               f"ORDER BY date_posted IS NULL, date_posted DESC, retrieved_at DESC")
        yield from _dicts(self.conn.execute(*_limited(sql, params, limit)))

    def tally(self, where: PostingFilter) -> Tally:
        """The counts of an insights answer: one aggregate over the covering index's rows."""
        clause, params = filter_sql(where)
        row = self.conn.execute(
            f"SELECT count(*), count(nullif(p.skills, '')), sum(p.remote = 1), min({IN_US}), "
            f"group_concat(nullif(p.skills, ''), ','), json_group_array(p.company), group_concat(p.source, ',') "
            f"FROM postings p INDEXED BY postings_insights WHERE {clause}", params).fetchone()
        return tally_from(row)

    def summary(self, where: PostingFilter) -> dict:
        """Totals, date range and counts by source, role, level and day: each one indexed query."""
        clause, params = filter_sql(where)

        def value(expression: str):
            return self.conn.execute(f"SELECT {expression} FROM postings p WHERE {clause}", params).fetchone()[0]

        def grouped(columns: str) -> list[tuple]:
            return self.conn.execute(f"SELECT {columns}, count(*) FROM postings p WHERE {clause} "
                                     f"GROUP BY {columns}", params).fetchall()

        return {"postings": value("count(*)"),
                "companies": value("count(DISTINCT company COLLATE NOCASE)"),
                "first_date": value("min(date_posted)"), "last_date": value("max(date_posted)"),
                "by_source": grouped("source"), "by_role_level": grouped("role_bucket, level_bucket"),
                "by_day": grouped("date_posted")}

    def knows_city(self, place: Place) -> bool:
        """True when a stored posting is in the place's city (one no gazetteer lists, say)."""
        test, params = _place_test(place, "p")
        more, more_params = _place_test(place, "pp")
        return self.conn.execute(f"SELECT EXISTS (SELECT 1 FROM postings p WHERE {test}) "
                                 f"OR EXISTS (SELECT 1 FROM posting_places pp WHERE {more})",
                                 params + more_params).fetchone()[0] == 1

    def place_labels(self, where: PostingFilter, min_postings: int = 1) -> list[str]:
        """Place labels of on-site postings, most postings first: a metro's name for places inside
        one ("San Francisco Bay Area"), else the city or state ("Boise, ID", "Berlin, Germany").

        A posting with several places counts once in each place they make up."""
        clause, params = filter_sql(where)
        rows = self.conn.execute(
            f"SELECT metro, city, region, country_code, count(DISTINCT id) AS n FROM ("
            f"SELECT p.id, p.metro, p.city, upper(p.region_code) AS region, p.country_code FROM postings p "
            f"WHERE {clause} UNION ALL "
            f"SELECT p.id, pp.metro, pp.city, upper(pp.region_code), pp.country_code FROM posting_places pp "
            f"JOIN postings p ON p.id = pp.posting_id WHERE p.more_places > 0 AND {clause}) "
            f"WHERE country_code IS NOT NULL AND (metro IS NOT NULL OR city IS NOT NULL OR region IS NOT NULL) "
            f"GROUP BY metro, CASE WHEN metro IS NULL THEN lower(city) END, "
            f"CASE WHEN metro IS NULL THEN region END, CASE WHEN metro IS NULL THEN country_code END "
            f"HAVING n >= ? ORDER BY n DESC, coalesce(metro, city)",
            params + params + [min_postings]).fetchall()
        labels = dict.fromkeys(metro or place_label(city, region, country) for metro, city, region, country, _ in rows)
        return [label for label in labels if label]

    def posting(self, posting_id: str) -> dict | None:
        """One stored posting whole: its columns, its places, and every stored copy of the same job."""
        rows = list(_dicts(self.conn.execute("SELECT * FROM postings WHERE id = ?", (posting_id,))))
        if not rows:
            return None
        posting = rows[0]
        posting["more_places"] = [list(r) for r in self.conn.execute(
            "SELECT country_code, region_code, city FROM posting_places WHERE posting_id = ?", (posting_id,))]
        posting["copies"] = list(_dicts(self.conn.execute(
            "SELECT id, source, url, retrieved_at, last_seen_at, closed_at FROM postings WHERE job_key = ? "
            "ORDER BY rowid", (posting["job_key"],))))
        return posting

    def prune(self, *, closed_before: str | None = None, posted_before: str | None = None,
              dry_run: bool = False) -> int:
        """Delete postings closed before a day, or posted before one (with their skills and places);
        returns how many. A job whose first copy goes keeps its next copy, now counted."""
        clauses, params = [], []
        if closed_before:
            clauses.append("(closed_at IS NOT NULL AND closed_at < ?)")
            params.append(closed_before)
        if posted_before:
            clauses.append("(date_posted IS NOT NULL AND date_posted < ?)")
            params.append(posted_before)
        if not clauses:
            return 0
        where = " OR ".join(clauses)
        if dry_run:
            return self.conn.execute(f"SELECT count(*) FROM postings WHERE {where}", params).fetchone()[0]
        with self.transaction():
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS pruned (id TEXT PRIMARY KEY, job_key TEXT)")
            self.conn.execute("DELETE FROM pruned")
            self.conn.execute(f"INSERT INTO pruned SELECT id, job_key FROM postings WHERE {where}", params)
            self.conn.execute("DELETE FROM posting_skills WHERE posting_id IN (SELECT id FROM pruned)")
            self.conn.execute("DELETE FROM posting_places WHERE posting_id IN (SELECT id FROM pruned)")
            removed = self.conn.execute("DELETE FROM postings WHERE id IN (SELECT id FROM pruned)").rowcount
            self.conn.execute(
                "UPDATE postings SET duplicate = 0 WHERE rowid IN (SELECT min(p.rowid) FROM postings p "
                "WHERE p.job_key IN (SELECT job_key FROM pruned) GROUP BY p.job_key HAVING min(p.duplicate) = 1)")
            self.conn.execute("DELETE FROM pruned")
        return removed

    def vacuum(self) -> tuple[int, int]:
        """Rewrite the file without its free pages, and refresh the planner's statistics; returns the
        size in bytes before and after."""
        before = file_size(self.path)
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
            self.conn.execute("ANALYZE")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"could not vacuum {self.path}: {_why(exc)} (it needs free disk space about "
                             f"the size of the database, and no other run writing it)") from None
        return before, file_size(self.path)

    # ---- whole-database copy --------------------------------------------------------------

    def table_counts(self) -> dict[str, int]:
        return {table: self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COPY_TABLES}

    def export_rows(self, table: str, batch: int = 5000) -> Iterator[list[tuple]]:
        """A table's rows (COPY_TABLES columns) in storage order, in batches."""
        order = "posting_id, skill" if table == "posting_skills" else "rowid"  # WITHOUT ROWID: its key
        cursor = self.conn.execute(f"SELECT {','.join(COPY_TABLES[table])} FROM {table} ORDER BY {order}")
        while rows := cursor.fetchmany(batch):
            yield rows

    def import_rows(self, table: str, rows: Sequence[tuple]) -> int:
        """Rows from another store's export_rows; ones already here are skipped, so a copy resumes."""
        columns = COPY_TABLES[table]
        with self.transaction():
            if table == "posting_places":  # no key of its own: a posting's places come whole, once
                ids = sorted({row[0] for row in rows})
                have = {r[0] for chunk in _chunks(ids, 500) for r in self.conn.execute(
                    f"SELECT DISTINCT posting_id FROM posting_places WHERE posting_id IN ({','.join('?' * len(chunk))})",
                    chunk)}
                rows = [row for row in rows if row[0] not in have]
            verb = "INSERT" if table == "posting_places" else "INSERT OR IGNORE"
            cursor = self.conn.executemany(f"{verb} INTO {table} ({','.join(columns)}) "
                                           f"VALUES ({','.join('?' * len(columns))})", rows)
        return max(cursor.rowcount, 0) if rows else 0

    def size_bytes(self) -> int:
        """The database's size on disk, its write-ahead log included."""
        return file_size(self.path)

    def last_runs(self) -> list[dict]:
        """The latest run of each source: when it started and finished, and how it ended."""
        return list(_dicts(self.conn.execute(
            "SELECT source, started_at, finished_at, status, inserted, error FROM ingest_runs "
            "WHERE id IN (SELECT max(id) FROM ingest_runs GROUP BY source) ORDER BY source")))

    def postings_by_source(self) -> list[tuple[str, int]]:
        return self.conn.execute("SELECT source, count(*) FROM postings GROUP BY source ORDER BY source").fetchall()

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def runs(self, limit: int = 20) -> list[dict]:
        return list(_dicts(self.conn.execute("SELECT * FROM ingest_runs ORDER BY id DESC LIMIT ?", (limit,))))

    def count_postings(self) -> int:
        return self.conn.execute("SELECT count(*) FROM postings").fetchone()[0]

    def iter_for_rebuild(self, batch: int = 1000) -> Iterator[list[tuple[str, str, str]]]:
        """(id, title, description) in batches of rowid order, for re-extracting skills."""
        last = 0
        while True:
            rows = self.conn.execute("SELECT rowid, id, title, description_raw FROM postings WHERE rowid > ? "
                                     "ORDER BY rowid LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(r[1], r[2], r[3] or "") for r in rows]

    def replace_skills(self, skills_by_id: dict[str, Iterable[str]]) -> None:
        with self.transaction():
            self.conn.executemany("UPDATE postings SET skills = ? WHERE id = ?",
                                  [(_skills_column(skills), pid) for pid, skills in skills_by_id.items()])
            ids = list(skills_by_id)
            for chunk in _chunks(ids, 500):
                self.conn.execute(f"DELETE FROM posting_skills WHERE posting_id IN ({','.join('?' * len(chunk))})", chunk)
            self._add_skills((pid, skill) for pid, skills in skills_by_id.items() for skill in skills)

    def _add_skills(self, pairs: Iterable[tuple[str, str]]) -> None:
        """posting_skills rows, inside the caller's transaction.

        In key order, so neighbouring inserts land on the same index pages; 100 rows a statement, so
        SQLite runs longer stretches without the GIL (the ingest writer shares it with the parser).
        A posting raced in by another process already has its rows: OR IGNORE keeps them once.
        """
        for chunk in _chunks(sorted(pairs), 100):
            self.conn.execute("INSERT OR IGNORE INTO posting_skills (posting_id, skill) VALUES "
                              + ",".join(["(?, ?)"] * len(chunk)), [value for pair in chunk for value in pair])


class Dialect(NamedTuple):
    """What differs between the engines in a filter: the placeholder, and a case-blind equality."""

    mark: str
    same_text: str  # format with {column} and {mark}


SQLITE = Dialect("?", "{column} = {mark} COLLATE NOCASE")


# Is a matching posting in (or, remote, open only to) the United States? For Tally.us_only.
IN_US = "coalesce(p.country_code = 'US' OR (p.country_code IS NULL AND p.remote_scope = ',US,'), false)"


def filter_sql(where: PostingFilter, dialect: Dialect = SQLITE) -> tuple[str, list]:
    """SQL for a PostingFilter; mirrors role_match.matches_location for the place test.

    A job stored from several sources counts once, as its first copy; within one source it has one."""
    clause, params = _filter_sql(where, dialect)
    return (clause.replace("?", dialect.mark) if dialect.mark != "?" else clause), params


def _filter_sql(where: PostingFilter, dialect: Dialect) -> tuple[str, list]:
    clauses, params = ["1 = 1"], []
    if where.source:
        clauses.append("p.source = ?")
        params.append(where.source)
    else:
        clauses.append("p.duplicate = 0")
    if where.role != "any":
        clauses.append("p.role_bucket = ?")
        params.append(where.role)
    elif where.tech_only:
        clauses.append("p.role_bucket <> 'other'")
    if where.level != "any":
        clauses.append("p.level_bucket = ?")
        params.append(where.level)
    if where.window:
        clauses.append("p.date_posted >= ? AND p.date_posted <= ?")
        params.extend(where.window)
    if where.remote == "only":
        clauses.append("p.remote = 1")
    elif where.remote == "exclude":
        clauses.append("coalesce(p.remote, 0) = 0")
    if where.open_only:
        clauses.append("p.closed_at IS NULL")
    if where.skill:
        clauses.append("p.id IN (SELECT posting_id FROM posting_skills WHERE skill = ?)")
        params.append(where.skill)
    place = where.place
    if place is not None:
        if place.remote_only:
            clauses.append("p.remote = 1")
        if place.countries or place.region or place.city:
            inside, inside_params = _inside_sql(place, dialect)
            countries = sorted(place.countries)
            covers = " OR ".join(["p.remote_scope = ?"] + ["p.remote_scope LIKE ?"] * len(countries))
            clauses.append(f"(CASE WHEN p.remote = 1 THEN ({inside}) OR ({covers}) ELSE ({inside}) END)")
            params += inside_params + [WORLDWIDE] + [f"%,{c},%" for c in countries] + inside_params
    return " AND ".join(clauses), params


def _inside_sql(place: Place, dialect: Dialect = SQLITE) -> tuple[str, list]:
    """The place test on a posting's first place, or on any other it has (posting_places)."""
    first, params = _place_test(place, "p", dialect)
    more, more_params = _place_test(place, "pp", dialect)
    return (f"({first}) OR (p.more_places > 0 AND EXISTS (SELECT 1 FROM posting_places pp "
            f"WHERE pp.posting_id = p.id AND {more}))"), params + more_params


def _place_test(place: Place, table: str, dialect: Dialect = SQLITE) -> tuple[str, list]:
    mark = dialect.mark
    if place.metro:
        return f"{table}.metro = {mark}", [place.metro]
    clauses, params = ["1 = 1"], []
    if place.countries:
        clauses.append(f"{table}.country_code IN ({','.join([mark] * len(place.countries))})")
        params.extend(sorted(place.countries))
    if place.region:
        clauses.append(f"upper({table}.region_code) = {mark}")
        params.append(place.region)
    if place.city:
        clauses.append(dialect.same_text.format(column=f"{table}.city", mark=mark))
        params.append(place.city)
    return " AND ".join(clauses), params


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front so concurrent writers wait, not fail.

    Inside a transaction left open (commit=False), it adds to that one; any error rolls it all back.
    """

    def __init__(self, conn: sqlite3.Connection, commit: bool = True):
        self.conn, self.commit = conn, commit

    def __enter__(self):
        if self.conn.in_transaction:
            return self.conn
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {_why(exc)}") from None
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if not self.commit:
                return False
            try:
                self.conn.execute("COMMIT")
                return False
            except sqlite3.Error as commit_error:
                exc = commit_error
        if self.conn.in_transaction:  # SQLite may have rolled back already (a full disk, say)
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error that got us here is the one to report
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"database error: {_why(exc)}") from None
        return False


def _limited(sql: str, params: list, limit: int | None) -> tuple[str, list]:
    return (sql + " LIMIT ?", [*params, limit]) if limit is not None else (sql, params)


def _dicts(cursor: sqlite3.Cursor) -> Iterator[dict]:
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row))


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection, also where this user may not write the folder (a read-only mount,
    a file another user's cron job writes).

    SQLite reads a WAL database through its -shm file, which it must create when it is missing.
    Where it cannot, and no -wal file says a writer is at work, the file is read as immutable.
    """
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if ("unable to open" not in str(exc) and "readonly" not in str(exc)) or \
                Path(f"{path}-wal").exists():
            raise
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)


def _open_error(path: Path, exc: Exception, readonly: bool) -> str:
    why = _why(exc)
    if "not a database" in why:
        return f"{path} is not a SQLite database; refusing to touch it"
    if "unable to open" in why or "readonly" in why or isinstance(exc, PermissionError):
        if readonly:
            return (f"cannot read database {path}: {why}; check that you may read it, and, while a run "
                    f"writes it, its folder too")
        return (f"cannot write database {path}: {why}; check that you may write it and its folder, "
                f"or pass --db with another path")
    return f"cannot use database {path}: {why}"


def file_size(path: Path) -> int:
    """Bytes a database takes on disk: the file and its write-ahead log."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class DatabaseURL:
    """A PostgreSQL URL where the CLI would hold a file path. Printing it never shows the password."""

    def __init__(self, url: str):
        self.url = url

    def exists(self) -> bool:
        return True  # the server says otherwise when it opens

    def __str__(self) -> str:
        from .store.postgres import safe_url
        return safe_url(self.url)

    __repr__ = __str__


def database_path(text: str, name: str = "--db") -> "Path | DatabaseURL":
    """The database a --db value or SKILLPULSE_DB names: a SQLite file, or a PostgreSQL URL. Any
    other URL is never taken for a file name (it would quietly become a folder named "https:"),
    and is not echoed: it may hold a password."""
    from .store.postgres import is_postgres_url
    if is_postgres_url(text):
        return DatabaseURL(text.strip())
    if _URL.match(text.strip()):
        scheme = text.strip().split(":", 1)[0].lower()
        raise StoreOpenError(f"{name} is a {scheme}:// URL, not a SQLite file path or a postgresql:// URL")
    return Path(text).expanduser()


def default_db_path(env) -> "Path | DatabaseURL":
    """$SKILLPULSE_DB, else backend/data/skillpulse.db in a source checkout, else a per-user file."""
    if env.get("SKILLPULSE_DB"):
        return database_path(env["SKILLPULSE_DB"], "SKILLPULSE_DB")
    backend = Path(__file__).resolve().parents[2]
    if (backend / "pyproject.toml").is_file() and backend.name == "backend":
        return backend / "data" / "skillpulse.db"
    if env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "skillpulse" / "skillpulse.db"
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "skillpulse" / "skillpulse.db"
