"""SmartRecruiters company postings: a paged list, and one detail request per posting not stored yet."""

from __future__ import annotations

import logging

from ..models import JobPosting
from ..places import structured_place
from .ats import Ats, Board, BoardClient, board_posting, day_of, locate, text_of
from .base import InvalidRow, SourceError, required_text, source_id

log = logging.getLogger(__name__)

NAME = "smartrecruiters"
PAGE = 100
MAX_PAGES = 100
SECTIONS = ("companyDescription", "jobDescription", "qualifications", "additionalInformation")


def fetch(client: BoardClient, board: Board) -> tuple[list, str | None]:
    base = f"{client.base()}/{board.token}/postings"
    items: list = []
    for page in range(MAX_PAGES):
        body = client.get_json(base, params={"limit": PAGE, "offset": page * PAGE})
        content = body.get("content")
        if not isinstance(content, list):
            raise SourceError("SmartRecruiters answered without a 'content' list")
        items.extend(content)
        total = body.get("totalFound")
        if not content or not isinstance(total, int) or len(items) >= total:
            break
    company = None
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("company"), dict):
            company = company or text_of(item["company"].get("name"))
    rows = [_with_details(client, base, item, board) for item in items]
    return [row for row in rows if row is not None], company


def _with_details(client: BoardClient, base: str, item, board: Board):
    """The list item, with its job ad merged in when the posting is not stored yet (N+1 requests
    only for what is new). A new posting whose detail fails is left for the next run (None):
    stored without its text, it would never get its skills."""
    if not isinstance(item, dict) or str(item.get("id")) in board.stored_ids or item.get("id") is None:
        return item
    try:
        detail = client.get_json(f"{base}/{item['id']}", missing_ok=True, listing=False)
    except SourceError as exc:
        log.warning("SmartRecruiters posting %s of %s: %s; trying again next run", item.get("id"), board.token, exc)
        return None
    if not isinstance(detail, dict):  # gone (404) since the list was read
        return None
    merged = dict(item)
    merged["jobAd"] = detail.get("jobAd")
    merged["postingUrl"] = detail.get("postingUrl")
    return merged


def normalize(row: dict, board: Board) -> JobPosting:
    """One SmartRecruiters posting. Its url is the public job page; the text is the job ad's four
    sections."""
    posting_id = source_id(row)
    if posting_id is None:
        raise InvalidRow("missing id")
    company = row.get("company") if isinstance(row.get("company"), dict) else {}
    identifier = text_of(company.get("identifier")) or board.token
    location = row.get("location") if isinstance(row.get("location"), dict) else {}
    place = structured_place(text_of(location.get("city")), text_of(location.get("region")),
                             text_of(location.get("country")))
    remote = location.get("remote") if isinstance(location.get("remote"), bool) else None
    where = locate([place], remote, text_of(location.get("fullLocation")))
    return board_posting(
        NAME, board, row, where,
        url=f"https://jobs.smartrecruiters.com/{identifier}/{posting_id}",
        title=required_text(row, "name"),
        company=text_of(company.get("name")) or board.company or board.token,
        location=text_of(location.get("fullLocation")) or place.text or None,
        remote=remote,
        date_posted=day_of(row.get("releasedDate")),
        description_raw=description(row),
    )


def description(row: dict) -> str:
    """The job ad's sections (HTML), each under its title; empty for a posting seen in the list only."""
    ad = row.get("jobAd") if isinstance(row.get("jobAd"), dict) else {}
    sections = ad.get("sections") if isinstance(ad.get("sections"), dict) else {}
    parts = []
    for name in SECTIONS:
        section = sections.get(name)
        if isinstance(section, dict) and text_of(section.get("text")):
            title = text_of(section.get("title"))
            parts.append(f"<h3>{title}</h3>\n{section['text'].strip()}" if title else section["text"].strip())
    return "\n".join(parts)


ATS = Ats(
    name=NAME,
    label="SmartRecruiters",
    bases={"main": ("SKILLPULSE_SMARTRECRUITERS_URL", "https://api.smartrecruiters.com/v1/companies")},
    fetch=fetch,
    normalize=normalize,
    needs_stored_ids=True,
)
