"""Company job boards: what an ATS module declares, and the machinery that fetches many boards.

A board (one company's listing) is the unit of fetching. An ATS module (greenhouse.py, ...) says
where its API lives, how to fetch one board's rows, and how to normalize one row; everything
else lives here once: conditional requests, recognizing an unchanged board, telling a missing
board from a failed one, and fetching up to N boards at once while the caller analyzes and stores.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator, Mapping

from ..models import JobPosting
from ..places import encode_scope, parse_place, remote_scope
from .base import HttpSettings, SourceError, parse_day, raw_json, source_id
from .http import Answer, HttpClient, RetryPolicy, check_url

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8


class BoardMissing(SourceError):
    """The ATS has no such board (HTTP 404, or Lever's empty answer on both hosts)."""


class NotModified(Exception):
    """The board answered 304: nothing changed since the validators it was sent."""


@dataclass(frozen=True)
class Board:
    """A registered board as a run fetches it, with what the last complete fetch left behind."""

    ats: str
    token: str
    id: int | None = None
    host: str | None = None             # Lever: "eu" when the site lives on the EU host
    company: str | None = None
    etag: str | None = None             # validators of the last complete fetch for this run's query
    last_modified: str | None = None
    body_hash: str | None = None
    stored_ids: frozenset[str] = frozenset()  # provider ids stored already (SmartRecruiters skips their details)

    @property
    def key(self) -> str:
        return f"{self.ats}:{self.token}"


@dataclass
class Snapshot:
    """The outcome of fetching one board: `ok` (every open job in `rows`), `unchanged`, `missing`
    or `failed` (with `error`)."""

    board: Board
    status: str
    rows: list = field(default_factory=list)
    company: str | None = None
    host: str | None = None
    error: str | None = None
    validators: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Ats:
    """One ATS family. `fetch(client, board)` returns (rows, company name or None) for the whole
    board, or raises BoardMissing; `normalize(row, board)` makes one row a JobPosting."""

    name: str
    label: str
    bases: Mapping[str, tuple[str, str]]   # host -> (environment variable, default base URL); first is main
    fetch: Callable[["BoardClient", Board], tuple[list, str | None]]
    normalize: Callable[[dict, Board], JobPosting]
    needs_stored_ids: bool = False
    policy: RetryPolicy = RetryPolicy()

    def base_urls(self, env: Mapping[str, str]) -> dict[str, str]:
        """The base URL of each host, from the environment or the default; ConfigError if malformed."""
        return {host: check_url(env.get(variable) or default, variable).rstrip("/")
                for host, (variable, default) in self.bases.items()}


class BoardClient:
    """One thread's view of an ATS: its own HTTP client (sessions and watchdogs are not shared
    between threads), the base URLs, and what the current board's requests have seen."""

    def __init__(self, ats: Ats, settings: HttpSettings, urls: dict[str, str]):
        self.ats = ats
        self.http = HttpClient(ats.label, settings, ats.policy)
        self.urls = urls
        self.board: Board | None = None
        self.host: str | None = None
        self.validators: dict = {}
        self._digest = hashlib.sha256()

    def start(self, board: Board) -> None:
        self.board = board
        self.host = None
        self.validators = {}
        self._digest = hashlib.sha256()

    def base(self, host: str | None = None) -> str:
        return self.urls[host or next(iter(self.urls))]

    def get_json(self, url: str, *, params: dict | None = None, conditional: bool = False, expect: type = dict,
                 missing_ok: bool = False, listing: bool = True):
        """GET one JSON document of the board. A 404 raises BoardMissing (or returns None with
        `missing_ok`); with `conditional`, the board's validators are sent and a 304 raises NotModified.
        A `listing` body is part of the board's hash; a detail fetched for a new posting is not."""
        headers = {}
        if conditional and self.board is not None:
            if self.board.etag:
                headers["If-None-Match"] = self.board.etag
            if self.board.last_modified:
                headers["If-Modified-Since"] = self.board.last_modified
        answer = self.http.request("GET", url, params=params, headers=headers)
        if answer.status_code == 304:
            raise NotModified
        if answer.status_code == 404:
            if missing_ok:
                return None
            raise BoardMissing(f"{self.ats.label} has no board {self.board.token!r} (HTTP 404)")
        if conditional:
            self.validators = _validators(answer)
        if listing:
            self._digest.update(answer.text.encode("utf-8", "surrogatepass"))
        return self.http.read_json(answer, expect=expect)

    @property
    def body_hash(self) -> str:
        """A hash of every body this board's fetch read: equal to the last one means unchanged."""
        return self._digest.hexdigest()


def _validators(answer: Answer) -> dict:
    return {name: answer.headers.get(header) for name, header in (("etag", "ETag"), ("last_modified", "Last-Modified"))
            if answer.headers.get(header)}


def fetch_board(ats: Ats, client: BoardClient, board: Board) -> Snapshot:
    """Fetch one board; every outcome is a Snapshot, never an exception (one board never fails a run)."""
    client.start(board)
    try:
        rows, company = ats.fetch(client, board)
    except NotModified:
        return Snapshot(board, "unchanged")
    except BoardMissing as exc:
        return Snapshot(board, "missing", error=str(exc))
    except SourceError as exc:
        return Snapshot(board, "failed", error=str(exc))
    except Exception as exc:  # a shape no one foresaw: this board fails, the others go on
        log.debug("fetching %s failed", board.key, exc_info=True)
        return Snapshot(board, "failed", error=f"{type(exc).__name__}: {exc}"[:300])
    digest = client.body_hash
    if board.body_hash == digest:
        return Snapshot(board, "unchanged")
    return Snapshot(board, "ok", rows, company, client.host, validators={**client.validators, "body_hash": digest})


def fetch_boards(boards: list[Board], families: Mapping[str, Ats], settings: HttpSettings, env: Mapping[str, str],
                 concurrency: int = DEFAULT_CONCURRENCY, *, before_waiting: Callable[[], None] = lambda: None,
                 should_stop: Callable[[], bool] = lambda: False) -> Iterator[Snapshot]:
    """Snapshots of the boards as they complete, fetched by up to `concurrency` threads, so at most
    that many requests are in flight, across all hosts.

    Finished snapshots wait in a queue of `concurrency` places: when the caller falls behind, the
    fetchers wait, and memory stays bounded. `before_waiting` runs in the caller's thread when no
    snapshot has come for 0.2 s (not at every short gap: a commit per board costs more than the
    board); `should_stop()` turning true ends the wait with KeyboardInterrupt. The
    threads are daemons that stop after their current request: Ctrl+C never waits for a slow host.
    """
    urls = {name: ats.base_urls(env) for name, ats in families.items()}  # bad URLs fail before any request
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for board in boards:
        todo.put(board)
    done: queue.Queue = queue.Queue(maxsize=max(concurrency, 1))
    stop = threading.Event()

    def work() -> None:
        clients: dict[str, BoardClient] = {}
        while not stop.is_set():
            try:
                board = todo.get_nowait()
            except queue.Empty:
                return
            try:
                if board.ats not in clients:
                    clients[board.ats] = BoardClient(families[board.ats], settings, urls[board.ats])
                snapshot = fetch_board(families[board.ats], clients[board.ats], board)
            except Exception as exc:  # never leave the caller waiting for a board
                snapshot = Snapshot(board, "failed", error=f"{type(exc).__name__}: {exc}"[:300])
            while not stop.is_set():
                try:
                    done.put(snapshot, timeout=0.1)
                    break
                except queue.Full:
                    continue

    threads = [threading.Thread(target=work, name=f"board-fetch-{i}", daemon=True)
               for i in range(min(concurrency, len(boards)))]
    for thread in threads:
        thread.start()
    try:
        for _ in boards:
            waited = False
            while True:
                try:
                    snapshot = done.get(timeout=0.2)
                    break
                except queue.Empty:
                    if should_stop():
                        raise KeyboardInterrupt from None
                    if not waited:  # a slow host: commit now, rather than hold the write lock while waiting
                        before_waiting()
                        waited = True
            yield snapshot
    finally:
        stop.set()


# Helpers the ATS normalizers share.

_PLACE_SEPARATORS = re.compile(r"\s*(?:;|\s/\s|\s\|\s)\s*")
_REMOTE = re.compile(r"\bremote\b", re.I)


def split_places(text: str | None) -> list[str]:
    """"New York City, NY; San Francisco, CA" (also " / " and " | ") as its places."""
    if not text:
        return []
    return [part for part in _PLACE_SEPARATORS.split(text[:2000]) if part.strip()]


def is_remote_text(text: str | None) -> bool:
    return bool(text) and bool(_REMOTE.search(text))


@dataclass
class Located:
    """Where a board posting is: its first place as codes, the others, and its remote scope."""

    country: str | None = None
    region: str | None = None
    city: str | None = None
    more: tuple = ()
    scope: str | None = None


def locate(places: list, remote: bool | None, scope_text: str | None = None) -> Located:
    """Place codes from the places a posting names (text, or Place objects); the first with a
    country, region or city is the posting's place, the rest are more places."""
    found = []
    for where in places:
        place = parse_place(where) if isinstance(where, str) else where
        if place is None or not (place.countries or place.region or place.city):
            continue
        country = place.country or (next(iter(sorted(place.countries))) if len(place.countries) == 1 else None)
        triple = (country, place.region, place.city)
        if triple not in found:
            found.append(triple)
    located = Located(*(found[0] if found else (None, None, None)), more=tuple(found[1:]))
    if remote:
        located.scope = remote_scope(scope_text) if scope_text else None
        if located.scope is None and located.country:
            located.scope = encode_scope({located.country})
    return located


def board_posting(ats: str, board: Board, row: dict, where: Located, **fields) -> JobPosting:
    """A board row's JobPosting: the place from `where`, the board as its feed, the row as raw JSON."""
    return JobPosting(source=ats, source_id=source_id(row), raw_json=raw_json(row), feed=board.key,
                      country_code=where.country, region_code=where.region, city=where.city,
                      more_places=where.more, remote_scope=where.scope, **fields)


def day_of(value) -> str | None:
    """An ISO timestamp or epoch milliseconds (Lever) as a `YYYY-MM-DD` UTC date."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value / 1000, timezone.utc).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return parse_day(value)


def text_of(value) -> str | None:
    """A string field, stripped; None when absent, empty or not a string."""
    return value.strip() or None if isinstance(value, str) else None
