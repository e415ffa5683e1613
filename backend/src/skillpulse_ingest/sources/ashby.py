"""Ashby job boards: one GET returns a whole board; unlisted jobs are skipped."""

from __future__ import annotations

from ..models import JobPosting
from ..places import structured_place
from .ats import Ats, Board, BoardClient, board_posting, day_of, is_remote_text, locate, text_of
from .base import SourceError, http_url, required_text

NAME = "ashby"


def fetch(client: BoardClient, board: Board) -> tuple[list, str | None]:
    body = client.get_json(f"{client.base()}/{board.token}", params={"includeCompensation": "true"},
                           conditional=True)
    jobs = body.get("jobs")
    if not isinstance(jobs, list):
        raise SourceError("Ashby answered without a 'jobs' list")
    return [job for job in jobs if not (isinstance(job, dict) and job.get("isListed") is False)], None


def normalize(row: dict, board: Board) -> JobPosting:
    """One Ashby job. Its place comes from the postal address where that is filled, else from the
    location text; secondary locations are more places."""
    location = text_of(row.get("location"))
    places = [_address_place(row.get("address")) or location]
    for other in row.get("secondaryLocations") or ():
        if isinstance(other, dict):
            places.append(_address_place(other.get("address")) or text_of(other.get("location")))
    remote = row.get("isRemote") if isinstance(row.get("isRemote"), bool) else None
    workplace = (text_of(row.get("workplaceType")) or "").lower()
    if workplace:
        remote = workplace == "remote"
    elif remote is None and is_remote_text(location):
        remote = True
    where = locate([p for p in places if p], remote, location)
    return board_posting(
        NAME, board, row, where,
        url=http_url(row, "jobUrl", "applyUrl"),
        title=required_text(row, "title"),
        company=board.company or board.token,
        location=location,
        remote=remote,
        date_posted=day_of(row.get("publishedAt")),
        description_raw=text_of(row.get("descriptionHtml")) or text_of(row.get("descriptionPlain")) or "",
    )


def _address_place(address):
    """The place of a filled `address.postalAddress`; None when it has no city, region or country."""
    postal = address.get("postalAddress") if isinstance(address, dict) else None
    if not isinstance(postal, dict):
        return None
    place = structured_place(text_of(postal.get("addressLocality")), text_of(postal.get("addressRegion")),
                             text_of(postal.get("addressCountry")))
    return place if place.countries or place.region or place.city else None


ATS = Ats(
    name=NAME,
    label="Ashby",
    bases={"main": ("SKILLPULSE_ASHBY_URL", "https://api.ashbyhq.com/posting-api/job-board")},
    fetch=fetch,
    normalize=normalize,
)
