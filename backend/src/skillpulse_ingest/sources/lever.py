"""Lever job sites: a JSON array of postings, paged with skip/limit, on a global or an EU host."""

from __future__ import annotations

from ..models import JobPosting
from .ats import Ats, Board, BoardClient, board_posting, BoardMissing, day_of, locate, text_of
from .base import InvalidRow, SourceError, http_url, required_text

NAME = "lever"
PAGE = 100
MAX_PAGES = 100  # 10,000 postings: past that, a server that ignores `skip` would page forever
_REMOTE = {"remote": True, "on-site": False, "onsite": False, "hybrid": False}


def fetch(client: BoardClient, board: Board) -> tuple[list, str | None]:
    """The whole site, from the host it lives on: an unknown site answers 404 or [] on the other one."""
    hosts = ["eu", "main"] if board.host == "eu" else ["main", "eu"]
    for host in hosts:
        rows = _pages(client, client.base(host), board)
        if rows:
            client.host = host if host == "eu" else None
            return rows, None
    raise BoardMissing(f"Lever has no site {board.token!r} on either host (HTTP 404 or no postings)")


def _pages(client: BoardClient, base: str, board: Board) -> list:
    rows: list = []
    for page in range(MAX_PAGES):
        params = {"mode": "json", "skip": page * PAGE, "limit": PAGE}
        batch = client.get_json(f"{base}/{board.token}", params=params, expect=list, missing_ok=True)
        if batch is None:
            return rows
        rows.extend(batch)
        if len(batch) < PAGE:
            return rows
    raise SourceError(f"Lever site {board.token!r} has more than {PAGE * MAX_PAGES} postings; refusing to page on")


def normalize(row: dict, board: Board) -> JobPosting:
    """One Lever posting. The text analyzed and stored is the description, every list, and the
    closing text: the requirements (and most skills) are in `lists`."""
    categories = row.get("categories") if isinstance(row.get("categories"), dict) else {}
    places = [p for p in [text_of(categories.get("location")), *_texts(categories.get("allLocations"))] if p]
    remote = _REMOTE.get((text_of(row.get("workplaceType")) or "").lower())  # "unspecified": unknown
    country = text_of(row.get("country"))
    where = locate(places + ([country] if country and not places else []), remote,
                   ", ".join(places) if places else country)
    if where.country is None and country and len(country) == 2:
        where.country = country.upper()  # an ISO code is a country even where the place text is not
    return board_posting(
        NAME, board, row, where,
        url=http_url(row, "hostedUrl", "applyUrl"),
        title=required_text(row, "text"),
        company=board.company or board.token,
        location=places[0] if places else None,
        remote=remote,
        date_posted=day_of(row.get("createdAt")),
        description_raw=description(row),
    )


def description(row: dict) -> str:
    """The description HTML, each list as a heading and its items, then the additional text."""
    parts = [text_of(row.get("description")) or text_of(row.get("descriptionPlain")) or ""]
    lists = row.get("lists")
    if lists is not None and not isinstance(lists, list):
        raise InvalidRow(f"lists is {type(lists).__name__}, not a list")
    for item in lists or ():
        if isinstance(item, dict):
            heading = text_of(item.get("text"))
            if heading:
                parts.append(f"<h3>{heading}</h3>")
            parts.append(f"<ul>{text_of(item.get('content')) or ''}</ul>")
    parts.append(text_of(row.get("additional")) or text_of(row.get("additionalPlain")) or "")
    return "\n".join(p for p in parts if p)


def _texts(values) -> list[str]:
    return [v.strip() for v in values if isinstance(v, str) and v.strip()] if isinstance(values, list) else []


ATS = Ats(
    name=NAME,
    label="Lever",
    bases={"main": ("SKILLPULSE_LEVER_URL", "https://api.lever.co/v0/postings"),
           "eu": ("SKILLPULSE_LEVER_EU_URL", "https://api.eu.lever.co/v0/postings")},
    fetch=fetch,
    normalize=normalize,
)
