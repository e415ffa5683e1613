"""Greenhouse job boards: one GET returns a whole board, descriptions as entity-escaped HTML."""

from __future__ import annotations

import html
import re

from ..models import JobPosting
from .ats import Ats, Board, BoardClient, board_posting, day_of, is_remote_text, locate, split_places, text_of
from .base import SourceError, http_url, required_text

NAME = "greenhouse"
_ESCAPED = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-f]+|nbsp);", re.I)
_WORKPLACE_KEYS = ("location type", "workplace type", "remote", "work type", "workplace")


def fetch(client: BoardClient, board: Board) -> tuple[list, str | None]:
    body = client.get_json(f"{client.base()}/{board.token}/jobs", params={"content": "true"}, conditional=True)
    jobs = body.get("jobs")
    if not isinstance(jobs, list):
        raise SourceError("Greenhouse answered without a 'jobs' list")
    company = next((job.get("company_name") for job in jobs if isinstance(job, dict)
                    and isinstance(job.get("company_name"), str)), None)
    return jobs, company


def normalize(row: dict, board: Board) -> JobPosting:
    """One Greenhouse job. `content` is unescaped until stable, so what is stored is plain HTML."""
    location = row.get("location")
    location_name = text_of(location.get("name")) if isinstance(location, dict) else None
    offices = [o for o in row.get("offices") or () if isinstance(o, dict)]
    places = split_places(location_name) or [text_of(o.get("location")) or text_of(o.get("name")) or "" for o in offices]
    workplace = _workplace(row.get("metadata"))  # when a board fills it, it beats the location's words
    remote = "remote" in workplace if workplace else is_remote_text(location_name)
    where = locate(places, remote, location_name)
    published = row.get("first_published") or row.get("updated_at")
    return board_posting(
        NAME, board, row, where,
        url=http_url(row, "absolute_url"),
        title=required_text(row, "title"),
        company=text_of(row.get("company_name")) or board.company or board.token,
        location=location_name,
        remote=remote,
        date_posted=day_of(published),
        description_raw=unescape(text_of(row.get("content")) or ""),
    )


def unescape(content: str) -> str:
    """Greenhouse's entity-escaped HTML, unescaped until it no longer changes (some boards escape twice)."""
    for _ in range(4):
        if not _ESCAPED.search(content):
            break
        content = html.unescape(content)
    return content


def _workplace(metadata) -> str | None:
    """"Location Type" / "Workplace Type" metadata, lower-cased ("remote", "hybrid", ...)."""
    if not isinstance(metadata, list):
        return None
    for item in metadata:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and \
                item["name"].strip().lower() in _WORKPLACE_KEYS:
            value = item.get("value")
            value = value[0] if isinstance(value, list) and value else value
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return None


ATS = Ats(
    name=NAME,
    label="Greenhouse",
    bases={"main": ("SKILLPULSE_GREENHOUSE_URL", "https://boards-api.greenhouse.io/v1/boards")},
    fetch=fetch,
    normalize=normalize,
)
