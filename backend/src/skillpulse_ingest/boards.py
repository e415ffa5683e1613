"""Company job boards by name: parse `ats:token` and board or job URLs, and a job's identity.

A board is one company's listing on an applicant-tracking system (ATS). Users name boards the
way they meet them: `greenhouse:stripe`, or a URL from a browser (a board page, a job page, a
careers page with `?gh_jid=`). The same URLs are how a job found in two sources is recognized
as one job (`job_key`), and how boards are discovered from stored postings.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

ATS_NAMES = ("greenhouse", "lever", "ashby", "smartrecruiters")

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_NUMBER = re.compile(r"^\d{1,20}$")
_TOKEN = re.compile(r"^[\w.-]{1,100}$")
# Words of a careers host that are not the company's name ("careers.acme.com" -> "acme").
_HOST_WORDS = {"www", "careers", "jobs", "job", "career", "work", "apply", "boards", "join", "about", "en",
               "com", "co", "io", "org", "net", "ai", "dev", "app", "tech", "uk", "de"}


class BoardSpecError(ValueError):
    """A board named in a way no known ATS matches; the message names the spec."""


@dataclass(frozen=True)
class BoardSpec:
    """One board: the ATS, its token (the company's name on that ATS), and a host hint (Lever's EU)."""

    ats: str
    token: str
    host: str | None = None

    @property
    def key(self) -> str:
        return f"{self.ats}:{self.token}"


@dataclass(frozen=True)
class JobRef:
    """What a URL on an ATS host says: the board, and the job when it is a job page."""

    board: BoardSpec | None
    job_id: str | None = None


def parse_spec(text: str) -> BoardSpec:
    """`ats:token` or a board/job URL as a BoardSpec; BoardSpecError says what is wrong."""
    spec = text.strip()
    if not spec:
        raise BoardSpecError("empty board spec")
    if "://" in spec or spec.lower().startswith(("www.", "jobs.", "boards.", "job-boards.")):
        ref = parse_url(spec if "://" in spec else f"https://{spec}")
        if ref is None or ref.board is None:
            raise BoardSpecError(f"{spec[:100]!r} is not a board or job URL of {', '.join(ATS_NAMES)}")
        return ref.board
    ats, colon, token = spec.partition(":")
    ats = ats.strip().lower()
    if not colon:
        raise BoardSpecError(f"{spec[:100]!r} names no ATS: write it as ATS:TOKEN (for example "
                             f"greenhouse:stripe) or paste the board's URL")
    if ats not in ATS_NAMES:
        raise BoardSpecError(f"unknown ATS {ats[:40]!r} in {spec[:100]!r}; known: {', '.join(ATS_NAMES)}")
    token = token.strip().strip("/")
    host = None
    if ats == "lever" and token.lower().startswith("eu/"):
        host, token = "eu", token[3:]
    if not _TOKEN.match(token):
        raise BoardSpecError(f"{spec[:100]!r}: the board token must be letters, digits, '.', '_' or '-'")
    return BoardSpec(ats, _case(ats, token), host)


def specs_from_text(text: str) -> tuple[list[BoardSpec], list[str]]:
    """Board specs from a file's text: one spec a line, or a CSV with a URL column.

    Returns (specs, bad lines); blank lines and `#` comments are neither."""
    lines = text.splitlines()
    header = [c.strip().lower() for c in next(csv.reader(lines[:1]), [])]
    if len(header) > 1 and "url" in header:
        rows = csv.reader(io.StringIO(text))
        next(rows)
        values = [row[header.index("url")] for row in rows if len(row) > header.index("url")]
    else:
        values = lines
    specs, bad = [], []
    for value in (v.strip() for v in values):
        if not value or value.startswith("#"):
            continue
        try:
            specs.append(parse_spec(value))
        except BoardSpecError:
            bad.append(value)
    return specs, bad


def parse_url(url: str) -> JobRef | None:
    """The board (and job) a URL points at; None when it is on no known ATS.

    A careers page with `?gh_jid=` names a Greenhouse job; its board token is guessed from the
    host ("careers.acme.com" -> "acme"), which a first fetch confirms or marks missing.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    path = [p for p in parts.path.split("/") if p]
    query = parse_qs(parts.query)
    if host.endswith("greenhouse.io"):
        return _greenhouse(host, path, query)
    if host.endswith("lever.co"):
        return _lever(host, path)
    if host.endswith("ashbyhq.com"):
        return _ashby(host, path)
    if host.endswith("smartrecruiters.com"):
        return _smartrecruiters(host, path)
    job = _first(query, "gh_jid")
    if job and _NUMBER.match(job):
        guess = _company_of_host(host)
        return JobRef(BoardSpec("greenhouse", guess) if guess else None, job)
    return None


def job_key(source: str, source_id: str | None, url: str) -> str:
    """A job's identity across sources: `greenhouse:<id>` and the like, else its canonical URL."""
    if source in ATS_NAMES and source_id:
        return f"{source}:{source_id.lower() if source in ('lever', 'ashby') else source_id}"
    ref = parse_url(url) if _maybe_ats(url) else None
    if ref is not None and ref.job_id:
        ats = ref.board.ats if ref.board else "greenhouse"
        return f"{ats}:{ref.job_id}"
    return url


def _maybe_ats(url: str) -> bool:
    """A cheap test before parsing: every URL of every posting passes through job_key."""
    lowered = url.lower()
    return ("greenhouse.io" in lowered or "lever.co" in lowered or "ashbyhq.com" in lowered
            or "smartrecruiters.com" in lowered or "gh_jid=" in lowered)


def _greenhouse(host: str, path: list[str], query: dict) -> JobRef | None:
    job = _first(query, "gh_jid") or _first(query, "token")
    token = _first(query, "for")
    if host.startswith("boards-api.") and len(path) >= 3 and path[:2] == ["v1", "boards"]:
        token = path[2]
        if len(path) >= 5 and path[3] == "jobs":
            job = path[4]
    elif path and path[0] != "embed":
        token = path[0]
        if len(path) >= 3 and path[1] == "jobs":
            job = path[2]
    if not token or not _TOKEN.match(token):
        return None
    return JobRef(BoardSpec("greenhouse", token.lower()), job if job and _NUMBER.match(job) else None)


def _lever(host: str, path: list[str]) -> JobRef | None:
    eu = ".eu." in f".{host}"
    if host.startswith("api.") and len(path) >= 3 and path[:2] == ["v0", "postings"]:
        path = path[2:]
    if not path or not _TOKEN.match(path[0]):
        return None
    job = path[1] if len(path) > 1 and _UUID.match(path[1]) else None
    return JobRef(BoardSpec("lever", path[0].lower(), "eu" if eu else None), job.lower() if job else None)


def _ashby(host: str, path: list[str]) -> JobRef | None:
    if host.startswith("api.") and len(path) >= 3 and path[:2] == ["posting-api", "job-board"]:
        path = path[2:]
    if not path or not _TOKEN.match(path[0]):
        return None
    job = path[1] if len(path) > 1 and _UUID.match(path[1]) else None
    return JobRef(BoardSpec("ashby", path[0]), job.lower() if job else None)


def _smartrecruiters(host: str, path: list[str]) -> JobRef | None:
    if host.startswith("api.") and len(path) >= 3 and path[:2] == ["v1", "companies"]:
        path = path[2:]
        job = path[2] if len(path) > 2 and path[1] == "postings" else None
    else:
        job = path[1].partition("-")[0] if len(path) > 1 else None
    if not path or not _TOKEN.match(path[0]):
        return None
    return JobRef(BoardSpec("smartrecruiters", path[0]), job if job and _NUMBER.match(job) else None)


def _company_of_host(host: str) -> str | None:
    words = [w for w in host.split(".") if w and w not in _HOST_WORDS]
    return words[-1] if words and _TOKEN.match(words[-1]) else None


def _first(query: dict, name: str) -> str | None:
    values = query.get(name)
    return values[0].strip() if values else None


def _case(ats: str, token: str) -> str:
    """Greenhouse and Lever tokens are lower-case; Ashby and SmartRecruiters names keep their case."""
    return token.lower() if ats in ("greenhouse", "lever") else token
