"""The two records everything else passes around: what to fetch, and one posting."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

from .boards import job_key

ROLE_BUCKETS = (
    "backend", "frontend", "fullstack", "mobile", "data", "ml", "devops",
    "qa", "security", "embedded", "general", "other",
)
LEVEL_BUCKETS = ("intern", "entry", "mid", "senior", "lead", "manager", "unknown")
REMOTE_MODES = ("include", "exclude", "only")
MAX_DAYS = 3650  # ten years: a bound keeps date arithmetic safe


class QueryError(ValueError):
    """A query value the user gave is not allowed (a usage error); `parameter` names it."""

    def __init__(self, message: str, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


def check_choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise QueryError(f"{name} must be one of {', '.join(allowed)} (got {value!r})", name)


def check_range(name: str, value, low: int, high: int | None = None) -> None:
    """A whole number from low to high (no upper bound when high is None)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"a whole number of at least {low}"
        raise QueryError(f"{name} must be {bound}", name)


@dataclass(frozen=True)
class IngestionQuery:
    """What a run asks for. Validated on creation so bad flags fail before any request."""

    source: str = "theirstack"
    location: str | None = None
    role: str = "any"
    level: str = "any"
    days: int = 30
    max_results: int = 250
    remote: str = "include"

    def __post_init__(self) -> None:
        check_choice("role", self.role, ROLE_BUCKETS + ("any",))
        check_choice("level", self.level, LEVEL_BUCKETS + ("any",))
        check_choice("remote", self.remote, REMOTE_MODES)
        check_range("days", self.days, 1, MAX_DAYS)
        check_range("max_results", self.max_results, 1)
        if self.location is not None and not self.location.strip():
            object.__setattr__(self, "location", None)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class JobPosting:
    """One normalized posting. `url` is canonical; `id` is derived from source and url."""

    source: str
    url: str
    title: str
    source_id: str | None = None
    company: str | None = None
    location: str | None = None
    remote: bool | None = None
    date_posted: str | None = None
    description_raw: str = ""
    raw_json: str = "{}"
    # Structured place, filled by the adapter from the source's own fields.
    country_code: str | None = None
    region_code: str | None = None
    city: str | None = None
    latitude: float | None = None   # the source's own coordinates of the first place, when it gives them
    longitude: float | None = None
    remote_scope: str | None = None
    discovered_at: str | None = None
    # A board posting: its board ("greenhouse:stripe"), and its places beyond the first, as
    # (country_code, region_code, city).
    feed: str | None = None
    more_places: tuple[tuple[str | None, str | None, str | None], ...] = ()
    role_bucket: str = "other"
    level_bucket: str = "unknown"
    skills: tuple[str, ...] = field(default_factory=tuple)
    id: str = field(init=False, default="")
    job_key: str = field(init=False, default="")  # the job across sources: counted once in every view

    def __post_init__(self) -> None:
        self.url = canonical_url(self.url)
        self.id = posting_id(self.source, self.url)
        self.job_key = job_key(self.source, self.source_id, self.url)

    @property
    def places(self) -> tuple[tuple[str | None, str | None, str | None], ...]:
        """Every place of the posting, the first one first."""
        return ((self.country_code, self.region_code, self.city), *self.more_places)


def posting_id(source: str, url: str) -> str:
    """First 32 hex characters of sha256("source:url"), per the data contract."""
    return hashlib.sha256(f"{source}:{url}".encode()).hexdigest()[:32]


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment and utm_* tracking parameters.

    Plain string operations rather than urlsplit: this runs for every posting fetched.
    """
    base = url.strip().partition("#")[0]
    head, _, query = base.partition("?")
    scheme_end = head.find("://")
    if scheme_end > 0:
        host_end = head.find("/", scheme_end + 3)
        host_end = len(head) if host_end < 0 else host_end
        head = head[:host_end].lower() + head[host_end:]
    if query:
        # Filter the raw pairs rather than re-encoding them, so other parameters stay byte-identical.
        query = "&".join(pair for pair in query.split("&") if pair and not pair[:4].lower() == "utm_")
    return f"{head}?{query}" if query else head


def date_window(days: int, today: date | None = None) -> tuple[str, str]:
    """(from, to) ISO dates of "the last N days" in UTC, both inclusive: exactly N calendar days
    ending today (the last 1 day is today)."""
    today = today or datetime.now(timezone.utc).date()
    return (today - timedelta(days=days - 1)).isoformat(), today.isoformat()
