"""What every source adapter is, the errors it raises, and the shared paging rules.

An adapter is a small object with a `name`, `pages(query, state)` that streams raw rows a
page at a time, and `normalize(row)` that turns one raw row into a JobPosting or raises
InvalidRow. Retries, timeouts and error mapping live in `http.py`; stop rules live here.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, Iterator, Protocol

from ..models import IngestionQuery, JobPosting

log = logging.getLogger(__name__)

REPEAT_WINDOW = 32  # pages remembered for loop detection: memory stays flat however long the run


class SourceError(Exception):
    """The source failed in a way retries did not fix; the run fails."""


class UncertainOutcome(SourceError):
    """A request that may have been served (and billed) although no answer arrived: a timeout after
    it was sent, or a server error. Raised only where repeating a request costs money."""


class AuthError(SourceError):
    """The source rejected our credentials."""


class ConfigError(Exception):
    """The source cannot be used as configured (missing key, bad URL): a usage error."""


class InvalidRow(ValueError):
    """A raw row that cannot become a JobPosting; counted as invalid, never fatal."""


@dataclass(frozen=True)
class HttpSettings:
    """What the user can tune from the command line about talking to a source."""

    max_retries: int = 3
    backoff_factor: float = 1.0
    timeout: float = 30.0
    min_interval: float = 0.0


@dataclass
class FetchState:
    """Per-run knobs and outcome of fetching: incremental marker in, why paging stopped out."""

    since: str | None = None
    max_pages: int | None = None
    known_ids: tuple[str, ...] = ()
    stopped_by: str | None = None
    requests: int = 0
    billed: int = 0               # rows the source may have charged for (TheirStack: credits)


class Source(Protocol):
    name: str
    default_min_interval: float   # least seconds between requests, unless --min-interval says otherwise
    cooldown_hours: float         # least hours between runs (a provider's daily-call limit); 0: none
    incremental: bool             # honours FetchState.since and known_ids

    @classmethod
    def from_env(cls, settings, env) -> "Source": ...  # raises ConfigError when it cannot be used

    def pages(self, query: IngestionQuery, state: FetchState) -> Iterator[list[dict]]: ...

    def normalize(self, row: dict) -> JobPosting: ...


def offset_pages(
    fetch: Callable[[int, int], tuple[list[dict], int | None]],
    *,
    max_results: int,
    page_limit: int,
    state: FetchState,
    retries: int = 0,
    wait: Callable[[int, str], None] = lambda attempt, why: None,
) -> Iterator[list[dict]]:
    """Page with offset+limit until a stop rule fires; never asks for more than max_results rows.

    Stops on a short or empty page, at max_results, at the reported total, at max_pages,
    or when a page repeats one of the last REPEAT_WINDOW pages (a server stuck on the same page).
    A fetch that raises UncertainOutcome may have been billed: its whole limit counts toward
    max_results (state.billed) before it is retried, so max_results stays a hard credit cap.
    """
    offset, recent, uncertain = 0, deque(maxlen=REPEAT_WINDOW), 0
    while True:
        if state.billed >= max_results:
            state.stopped_by = "max_results"
            return
        if state.max_pages is not None and state.requests >= state.max_pages:
            state.stopped_by = "max_pages"
            return
        limit = min(page_limit, max_results - state.billed)
        try:
            rows, total = fetch(offset, limit)
        except UncertainOutcome as exc:
            state.billed += limit
            uncertain += 1
            if uncertain > retries:
                raise SourceError(f"{exc} (after {retries} retries); try again later") from None
            if state.billed >= max_results:
                raise SourceError(f"{exc}; not retried: the {limit} rows asked for may have been billed, and "
                                  f"--max-results leaves no credits for another try") from None
            wait(uncertain, f"{exc} ({limit} rows counted as spent)")
            continue
        state.requests += 1
        if len(rows) > limit:
            log.warning("the source sent %d rows where %d were asked for; keeping them all", len(rows), limit)
        state.billed += len(rows)
        # The ids in order identify a page well enough, and cost nothing next to hashing 2 MB of JSON.
        fingerprint = hash(tuple(row.get("id") if isinstance(row, dict) else repr(row)[:64] for row in rows))
        if rows and fingerprint in recent:
            log.warning("the source sent the same page twice; stopping to avoid a loop")
            state.stopped_by = "repeated_page"
            return
        recent.append(fingerprint)
        yield rows
        offset += len(rows)
        if len(rows) < limit:
            state.stopped_by = "end_of_results"
            return
        if total is not None and offset >= total:
            state.stopped_by = "total_reached"
            return


# Field helpers shared by every normalizer: they check types and raise InvalidRow.

def required_text(row: dict, *keys: str) -> str:
    """The first non-empty string among keys, stripped; InvalidRow if there is none."""
    value = optional_text(row, *keys)
    if value is None:
        raise InvalidRow(f"missing {' / '.join(keys)}")
    return value


def optional_text(row: dict, *keys: str) -> str | None:
    for key in keys:
        value = row.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRow(f"{key} is {type(value).__name__}, not text")
        value = value.strip()
        if value:
            return value
    return None


def http_url(row: dict, *keys: str) -> str:
    url = required_text(row, *keys)
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidRow(f"url is not http(s): {url[:80]!r}")
    return url


def source_id(row: dict) -> str | None:
    value = row.get("id")
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, str)):
        return str(value).strip() or None
    raise InvalidRow(f"id is {type(value).__name__}")


def parse_timestamp(value) -> datetime | None:
    """ISO 8601 timestamp (naive means UTC) as an aware UTC datetime; None if unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_day(value) -> str | None:
    """`YYYY-MM-DD` (or a timestamp) as an ISO date string in UTC; None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        stamp = parse_timestamp(value)
        return stamp.date().isoformat() if stamp else None


def iso_utc(stamp: datetime | None) -> str | None:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else None


def raw_json(row: dict) -> str:
    """The row as JSON: as the source sent it when the response kept it (jsonrows.Row)."""
    text = getattr(row, "text", None)
    return text if text is not None else json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
