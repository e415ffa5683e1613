"""Remotive public remote-jobs feed: one GET per run, filtered client-side, remote by definition."""

from __future__ import annotations

from typing import Iterator, Mapping

from ..models import IngestionQuery, JobPosting
from ..places import remote_scope
from .base import (
    FetchState,
    HttpSettings,
    InvalidRow,
    SourceError,
    http_url,
    optional_text,
    parse_timestamp,
    raw_json,
    required_text,
    source_id,
)
from .http import HttpClient, RetryPolicy, check_url

NAME = "remotive"
DEFAULT_URL = "https://remotive.com/api/remote-jobs"
URL_VARIABLE = "SKILLPULSE_REMOTIVE_URL"
# Remotive blocks clients that call often: never retry 403/429, retry 5xx once, 30 s later
# (scaled by --backoff-factor so tests can shrink it).
POLICY = RetryPolicy(statuses=(500, 502, 503, 504), max_retries=1, min_backoff=30.0)


class RemotiveSource:
    name = NAME
    default_min_interval = 0.0
    cooldown_hours = 6.0         # the provider asks for a few calls a day, runs 6 hours apart
    incremental = False          # one feed, no "since": stored postings are skipped before any work

    def __init__(self, client: HttpClient, url: str):
        self.client = client
        self.url = url

    @classmethod
    def from_env(cls, settings: HttpSettings, env: Mapping[str, str]) -> "RemotiveSource":
        return cls(HttpClient("Remotive", settings, POLICY), check_url(env.get(URL_VARIABLE) or DEFAULT_URL, URL_VARIABLE))

    def pages(self, query: IngestionQuery, state: FetchState) -> Iterator[list[dict]]:
        if state.max_pages == 0:
            state.stopped_by = "max_pages"
            return
        # The feed may ignore every parameter, so `limit` is a courtesy; we cap client-side too.
        payload = self.client.request_json("GET", self.url, params={"limit": query.max_results},
                                           explain=_explain)
        state.requests += 1
        jobs = payload.get("jobs")
        if not isinstance(jobs, list):
            raise SourceError("Remotive answered without a 'jobs' list; try again later")
        state.stopped_by = "max_results" if len(jobs) > query.max_results else "end_of_results"
        yield jobs[: query.max_results]

    def normalize(self, row: dict) -> JobPosting:
        return normalize(row)


def _explain(answer) -> SourceError | None:
    if answer.status_code in (403, 429):
        return SourceError(f"Remotive refused the request (HTTP {answer.status_code}), which usually "
                           f"means too many calls: wait a few hours before the next run")
    return None


def normalize(row: dict) -> JobPosting:
    """One Remotive job to a JobPosting. The url is Remotive's own page: the required link-back."""
    region = row.get("candidate_required_location")
    region = region.strip() if isinstance(region, str) else None
    published = parse_timestamp(row.get("publication_date"))
    if row.get("publication_date") is not None and published is None:
        raise InvalidRow(f"unparseable publication_date {str(row.get('publication_date'))[:40]!r}")
    return JobPosting(
        source=NAME,
        source_id=source_id(row),
        url=http_url(row, "url"),
        title=required_text(row, "title"),
        company=optional_text(row, "company_name"),
        location=f"Remote ({region})" if region else "Remote",
        remote=True,
        date_posted=published.date().isoformat() if published else None,
        description_raw=optional_text(row, "description") or "",
        raw_json=raw_json(row),
        remote_scope=remote_scope(region),
    )
