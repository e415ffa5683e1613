"""The Store interface: what the pipeline, the CLI and the server ask of a database.

Two engines implement it: SQLite (storage_sqlite.SQLiteStore, one file, the default) and
PostgreSQL (store.postgres.PostgresStore, for teams). Callers get one from store.open_store
and never learn which engine it is.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol, Sequence

from .. import accelerator
from ..boards import BoardSpec
from ..models import JobPosting
from ..places import Place


MISSES_BEFORE_SKIPPING = 3  # a board missing on this many runs in a row is skipped until added again


def boards_to_fetch(store: "Store", ats: Sequence[str], keys: Sequence[str] = ()) -> list[dict]:
    """The boards a run fetches: those named (as `ats:token`), else all of the ATS but the ones
    missing too often."""
    boards = store.boards(ats)
    if keys:
        wanted = set(keys)
        return [b for b in boards if f"{b['ats']}:{b['token']}" in wanted]
    return [b for b in boards if b["misses"] < MISSES_BEFORE_SKIPPING]


def upsert_many(store: "Store", postings: Iterable[JobPosting]) -> tuple[int, int]:
    """Store postings not stored yet; returns (inserted, skipped)."""
    postings = list(postings)
    known = store.known(postings)
    fresh = [p for p in postings if p.id not in known]
    saved = store.save_page(fresh, [known[p.id].id for p in postings if p.id in known])
    return saved.inserted, saved.skipped + len(postings) - len(fresh)


@dataclass
class Tally:
    """What an insights answer counts over the matching postings."""

    postings: int = 0
    with_skills: int = 0
    companies: int = 0        # distinct companies, case-blind
    skills: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    us_only: bool = True      # every posting is in (or, remote, open only to) the United States
    remote: int = 0           # remote jobs (open to the place, when there is one)


def tally_from(row: Sequence) -> Tally:
    """A Tally from an engine's one aggregate row over the matching postings: (postings,
    with_skills, remote, us_only, skill lists joined by commas, companies as a JSON array,
    sources joined by commas). Three strings instead of a row a posting: the engines send less,
    and Python builds one object a posting (its company) instead of a tuple and six values."""
    postings, with_skills, remote, us_only, skills, companies, sources = row
    tally = Tally(postings=postings, with_skills=with_skills, remote=remote or 0)
    tally.us_only = us_only is None or bool(us_only)  # None: no posting at all
    if skills:
        tally.skills.update(_count(skills))
    if sources:
        tally.sources.update(_count(sources))
    if companies:
        tally.companies = len({name.casefold() for name in set(json.loads(companies)) if name})
    return tally


def _count(joined: str) -> dict[str, int]:
    """{item: count} of a comma-joined list; the accelerator does it 7x as fast (no str an item)."""
    if accelerator.scan is not None and joined.isascii():
        return accelerator.scan.count_tokens(joined, ",")
    return Counter(joined.split(","))


class Store(Protocol):
    """A store is a context manager; every method raises StoreError (or StoreOpenError), never
    the driver's own exceptions."""

    readonly: bool

    @property
    def path(self): ...                     # what messages call it: a file path, or a URL without password

    def __enter__(self) -> "Store": ...
    def __exit__(self, exc_type, exc, tb) -> None: ...
    def close(self) -> None: ...
    def check_file(self) -> None: ...       # StoreError if the database went away during a run
    def transaction(self, *, commit: bool = True): ...
    @property
    def in_transaction(self) -> bool: ...
    def commit(self) -> None: ...
    def schema_version(self) -> int: ...
    def size_bytes(self) -> int: ...

    # writes
    def known(self, postings: Sequence[JobPosting]) -> dict: ...
    def save_page(self, new: Sequence[JobPosting], seen_ids: Iterable[str] = (), *, commit: bool = True): ...
    def upsert_many(self, postings: Iterable[JobPosting]) -> tuple[int, int]: ...
    def replace_skills(self, skills_by_id: dict[str, Iterable[str]]) -> None: ...
    def prune(self, *, closed_before: str | None = None, posted_before: str | None = None,
              dry_run: bool = False) -> int: ...
    def vacuum(self) -> tuple[int, int]: ...

    # runs and incremental state
    def start_run(self, source: str, query: dict) -> int: ...
    def finish_run(self, run_id: int, counts: dict, status: str, error: str | None = None,
                   stopped_by: str | None = None, marker: tuple[str, str, str] | None = None,
                   note: str | None = None) -> None: ...
    def runs(self, limit: int = 20) -> list[dict]: ...
    def last_runs(self) -> list[dict]: ...
    def marker(self, source: str, query_key: str) -> str | None: ...
    def last_request_at(self, source: str) -> str | None: ...
    def record_request(self, source: str, query_key: str, at: str) -> None: ...
    def source_ids_discovered_since(self, source: str, since: str, limit: int = 1000) -> list[str]: ...

    # boards
    def add_boards(self, specs: Iterable[BoardSpec]) -> tuple[int, int]: ...
    def remove_boards(self, specs: Iterable[BoardSpec]) -> int: ...
    def boards(self, ats: Sequence[str] = ()) -> list[dict]: ...
    def boards_to_fetch(self, ats: Sequence[str], keys: Sequence[str] = ()) -> list[dict]: ...
    def source_ids_of_feed(self, feed: str) -> frozenset[str]: ...
    def board_fetched(self, board_id: int, feed: str, source_ids: Sequence[str], *, company: str | None,
                      validators: dict, query_key: str, host: str | None) -> tuple[int, int]: ...
    def board_unchanged(self, board_id: int, feed: str) -> None: ...
    def board_failed(self, board_id: int, status: str, error: str) -> None: ...
    def posting_urls(self) -> Iterator[str]: ...

    # reads
    def postings(self, where, limit: int | None = None, columns: Sequence[str] = ...) -> Iterator[dict]: ...
    def tally(self, where) -> Tally: ...
    def summary(self, where) -> dict: ...
    def knows_city(self, place: Place) -> bool: ...
    def place_labels(self, where, min_postings: int = 1) -> list[str]: ...
    def posting(self, posting_id: str) -> dict | None: ...
    def postings_by_source(self) -> list[tuple[str, int]]: ...
    def count_postings(self) -> int: ...
    def iter_for_rebuild(self, batch: int = 1000) -> Iterator[list[tuple[str, str, str]]]: ...
