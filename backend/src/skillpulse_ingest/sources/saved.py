"""A saved API response (as the API returned it), read as if its source had just sent it.

`ingest --load FILE` replays a TheirStack search page, the Remotive feed, or one board of
Greenhouse, Lever, Ashby or SmartRecruiters, without the network: for trying the tool offline,
debugging a normalizer, or loading what another machine fetched. The shape says which API it is.
`--load sample` loads the small Greenhouse board shipped with the package, re-dated so that its
newest posting is from today and the last-30-days views show all of it.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator

from ..boards import parse_url
from ..models import IngestionQuery, JobPosting
from . import jsonrows
from .ats import Board
from .base import ConfigError, FetchState, parse_day

SAMPLE = "sample"
SAMPLE_FILE = "data/samples/greenhouse_board.json"


class SavedResponse:
    """The rows of one saved response, as one page, with the normalizer of the API that sent it."""

    default_min_interval = 0.0
    cooldown_hours = 0.0
    incremental = False

    def __init__(self, name: str, rows: list, normalize: Callable[[dict], JobPosting], origin: str):
        self.name = name
        self.rows = rows
        self._normalize = normalize
        self.origin = origin

    def pages(self, query: IngestionQuery, state: FetchState) -> Iterator[list]:
        state.stopped_by = "end_of_results"
        yield self.rows

    def normalize(self, row: dict) -> JobPosting:
        return self._normalize(row)


def load(path_text: str) -> SavedResponse:
    """The saved response at a path (or the bundled sample); ConfigError if it cannot be read or is
    no response of a known API."""
    if path_text == SAMPLE:
        text = resources.files("skillpulse_ingest").joinpath(SAMPLE_FILE).read_text("utf-8")
        origin = "the bundled sample board"
    else:
        path = Path(path_text).expanduser()
        try:
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}; check the path") from None
        origin = str(path)
    try:
        body = jsonrows.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{origin} is not JSON ({str(exc)[:80]}); save the API's answer as it came") from None
    saved = _recognize(body, origin)
    if path_text == SAMPLE:
        _redate(saved.rows)
    return saved


def _recognize(body, origin: str) -> SavedResponse:
    from . import ashby, greenhouse, lever, remotive, smartrecruiters, theirstack

    if isinstance(body, list):
        return _board(lever.ATS, body, origin, "hostedUrl")
    if isinstance(body, dict):
        if isinstance(body.get("data"), list):
            return SavedResponse(theirstack.NAME, body["data"], theirstack.normalize, origin)
        if isinstance(body.get("content"), list) and "totalFound" in body:
            return _board(smartrecruiters.ATS, body["content"], origin, None)
        jobs = body.get("jobs")
        if isinstance(jobs, list):
            first = next((job for job in jobs if isinstance(job, dict)), {})
            if "absolute_url" in first or "meta" in body:
                return _board(greenhouse.ATS, jobs, origin, "absolute_url")
            if "jobUrl" in first or "apiVersion" in body:
                listed = [job for job in jobs if not (isinstance(job, dict) and job.get("isListed") is False)]
                return _board(ashby.ATS, listed, origin, "jobUrl")
            if "candidate_required_location" in first or "job-count" in body:
                return SavedResponse(remotive.NAME, jobs, remotive.normalize, origin)
    raise ConfigError(f"{origin} is not a saved answer of TheirStack, Remotive, Greenhouse, Lever, Ashby "
                      f"or SmartRecruiters (no 'data', 'jobs' or 'content' list, nor a Lever array)")


def _board(ats, rows: list, origin: str, url_field: str | None) -> SavedResponse:
    """A board's rows; the board is named by its jobs' URLs where they say (else the file's name)."""
    token = None
    for row in rows:
        if isinstance(row, dict) and url_field and isinstance(row.get(url_field), str):
            ref = parse_url(row[url_field])
            if ref is not None and ref.board is not None:
                token = ref.board.token
                break
        if isinstance(row, dict) and isinstance(row.get("company"), dict):  # SmartRecruiters
            token = row["company"].get("identifier") or token
            break
    board = Board(ats.name, token or Path(origin).stem)
    return SavedResponse(ats.name, rows, lambda row: ats.normalize(row, board), origin)


def _redate(rows: list) -> None:
    """Move the sample's dates so its newest posting is from today (its rows' own text goes too)."""
    days = [parse_day(row.get("first_published")) for row in rows]
    newest = max((d for d in days if d), default=None)
    if newest is None:
        return
    shift = datetime.now(timezone.utc).date() - date.fromisoformat(newest)
    for index, row in enumerate(rows):
        moved = dict(row)
        for field in ("first_published", "updated_at"):
            value = moved.get(field)
            if isinstance(value, str) and len(value) >= 10:
                moved[field] = (date.fromisoformat(value[:10]) + shift).isoformat() + value[10:]
        rows[index] = json.loads(json.dumps(moved))
