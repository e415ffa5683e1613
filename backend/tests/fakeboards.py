"""A real HTTP server on 127.0.0.1 that plays Greenhouse, Lever (global and EU), Ashby and
SmartRecruiters job boards, with ETags, scripted faults, a delay, and requests-in-flight counts.

Payloads follow the providers' public job-board APIs field by field: Greenhouse's entity-escaped
`content`, Lever's top-level array with requirements in `lists`, Ashby's `isListed`, and
SmartRecruiters' list-then-detail split.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PREFIXES = {"greenhouse": "/greenhouse", "lever": "/lever", "lever-eu": "/lever-eu", "ashby": "/ashby",
            "smartrecruiters": "/smartrecruiters"}


def stamp(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S-04:00")


def epoch_ms(days_ago: float) -> int:
    return int((datetime.now(timezone.utc) - timedelta(days=days_ago)).timestamp() * 1000)


class FakeBoards:
    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.boards: dict[tuple[str, str], list[dict]] = {}   # (ats, token) -> jobs; ats "lever-eu" for EU sites
        self.faults: dict[tuple[str, str], deque[int]] = {}  # statuses to answer first (0: serve normally)
        self.etags = True
        self.requests: list[tuple[str, str, dict]] = []      # (method, path with query, headers)
        self.in_flight = Counter()
        self.peak = Counter()                                 # per prefix, and "all"
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle --
    def start(self) -> "FakeBoards":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 1024
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def env(self, **extra) -> dict:
        base = self.base_url
        return {"SKILLPULSE_GREENHOUSE_URL": base + "/greenhouse", "SKILLPULSE_LEVER_URL": base + "/lever",
                "SKILLPULSE_LEVER_EU_URL": base + "/lever-eu", "SKILLPULSE_ASHBY_URL": base + "/ashby",
                "SKILLPULSE_SMARTRECRUITERS_URL": base + "/smartrecruiters", **extra}

    def fail(self, ats: str, token: str, *statuses: int) -> None:
        self.faults.setdefault((ats, token), deque()).extend(statuses)

    def paths(self, prefix: str = "") -> list[str]:
        return [path for _, path, _ in self.requests if path.startswith(prefix)]

    # -- serving --
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        segments = [s for s in parts.path.split("/") if s]
        prefix = segments[0] if segments else ""
        with self._lock:
            self.requests.append(("GET", handler.path, dict(handler.headers)))
            self.in_flight[prefix] += 1
            self.in_flight["all"] += 1
            for key in (prefix, "all"):
                self.peak[key] = max(self.peak[key], self.in_flight[key])
        try:
            if self.delay:
                time.sleep(self.delay)
            status, body, headers = self._answer(prefix, segments[1:], parse_qs(parts.query), handler.headers)
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        finally:
            with self._lock:
                self.in_flight[prefix] -= 1
                self.in_flight["all"] -= 1

    def _answer(self, prefix: str, rest: list[str], query: dict, headers) -> tuple[int, bytes, dict]:
        if not rest:
            return 404, b'{"error": "not found"}', {}
        token = rest[0]
        with self._lock:
            pending = self.faults.get((prefix, token))
            fault = pending.popleft() if pending else 0
        if fault:
            return fault, b'{"error": "scripted fault"}', {"Content-Type": "application/json"}
        jobs = self.boards.get((prefix, token))
        if prefix == "lever" or prefix == "lever-eu":
            if jobs is None:
                return 200, b"[]", {"Content-Type": "application/json"}  # Lever: an unknown site is an empty list
            skip, limit = int(query.get("skip", ["0"])[0]), int(query.get("limit", ["100000"])[0])
            return self._json(jobs[skip:skip + limit], headers, etag=False)
        if jobs is None:
            return 404, b'{"status": 404, "error": "Job board not found"}', {"Content-Type": "application/json"}
        if prefix == "greenhouse":
            return self._json({"jobs": jobs, "meta": {"total": len(jobs)}}, headers)
        if prefix == "ashby":
            return self._json({"apiVersion": "1", "jobs": jobs}, headers)
        if prefix == "smartrecruiters":
            if len(rest) >= 3:  # a detail
                detail = next((j for j in jobs if str(j["id"]) == rest[2]), None)
                if detail is None:
                    return 404, b'{"message": "not found"}', {}
                return self._json(detail, headers, etag=False)
            offset, limit = int(query.get("offset", ["0"])[0]), int(query.get("limit", ["10"])[0])
            listed = [{k: v for k, v in j.items() if k not in ("jobAd", "postingUrl")}
                      for j in jobs[offset:offset + limit]]
            return self._json({"offset": offset, "limit": limit, "totalFound": len(jobs), "content": listed},
                              headers, etag=False)
        return 404, b"{}", {}

    def _json(self, payload, headers, etag: bool = True) -> tuple[int, bytes, dict]:
        body = json.dumps(payload).encode()
        out = {"Content-Type": "application/json; charset=utf-8"}
        if etag and self.etags:
            tag = '"' + hashlib.md5(body).hexdigest() + '"'
            out["ETag"] = tag
            if headers.get("If-None-Match") == tag:
                return 304, b"", out
        return 200, body, out


# -- realistic payloads --

def greenhouse_job(job_id: int, title: str, location: str = "New York, NY", *, content: str | None = None,
                   days_ago: float = 2, company: str = "Acme Corp", token: str = "acme", metadata=None,
                   offices: list | None = None, double_escaped: bool = False) -> dict:
    body = content if content is not None else (
        "<p>We are hiring.</p><h3>Requirements</h3><ul><li>3+ years of Python and PostgreSQL</li>"
        "<li>Experience with AWS and Docker</li></ul>")
    escaped = html.escape(body, quote=True)
    if double_escaped:
        escaped = html.escape(escaped, quote=False)
    return {
        "id": job_id, "internal_job_id": job_id + 1000, "title": title,
        "absolute_url": f"https://boards.greenhouse.io/{token}/jobs/{job_id}",
        "location": {"name": location}, "offices": offices or [], "departments": [{"name": "Engineering"}],
        "metadata": metadata, "company_name": company, "first_published": stamp(days_ago),
        "updated_at": stamp(0.1), "requisition_id": "TBD", "language": "en", "data_compliance": [],
        "content": escaped,
    }


def lever_posting(uuid: str, title: str, location: str = "San Francisco, CA", *, site: str = "acme",
                  all_locations: list | None = None, workplace: str = "on-site", days_ago: float = 3,
                  requirements: str = "<li>Go and Kubernetes in production</li><li>Terraform</li>",
                  commitment: str = "Full-time", country: str = "US", eu: bool = False) -> dict:
    host = "jobs.eu.lever.co" if eu else "jobs.lever.co"
    return {
        "id": uuid, "text": title, "hostedUrl": f"https://{host}/{site}/{uuid}",
        "applyUrl": f"https://{host}/{site}/{uuid}/apply",
        "categories": {"location": location, "allLocations": all_locations or [location], "team": "Platform",
                       "department": "Engineering", "commitment": commitment},
        "country": country, "workplaceType": workplace, "createdAt": epoch_ms(days_ago),
        "description": "<div>Join our platform team.</div>", "descriptionPlain": "Join our platform team.",
        "lists": [{"text": "What you bring", "content": requirements}],
        "additional": "<div>We offer great benefits.</div>", "additionalPlain": "We offer great benefits.",
        "salaryRange": {"currency": "USD", "interval": "per-year-salary", "min": 150000, "max": 200000},
    }


def ashby_job(uuid: str, title: str, location: str = "Remote (United States)", *, board: str = "Acme",
              listed: bool = True, remote: bool | None = True, address: dict | None = None,
              secondary: list | None = None, days_ago: float = 1, workplace: str | None = "Remote",
              description: str = "<p>You will build data pipelines with Spark, Airflow and SQL.</p>") -> dict:
    job = {
        "id": uuid, "title": title, "department": "Engineering", "team": "Data", "employmentType": "FullTime",
        "location": location, "secondaryLocations": secondary or [], "isRemote": remote, "isListed": listed,
        "publishedAt": stamp(days_ago), "jobUrl": f"https://jobs.ashbyhq.com/{board}/{uuid}",
        "applyUrl": f"https://jobs.ashbyhq.com/{board}/{uuid}/application", "descriptionHtml": description,
        "descriptionPlain": html.unescape(description), "address": address,
        "compensation": {"compensationTierSummary": "$140K - $180K"},
    }
    if workplace is not None:
        job["workplaceType"] = workplace
    return job


def smartrecruiters_posting(posting_id: str, title: str, *, company: str = "AcmeInc", city: str = "Austin",
                            region: str = "TX", country: str = "us", remote: bool = False, days_ago: float = 4,
                            qualifications: str = "<ul><li>Java and Spring Boot</li><li>REST APIs</li></ul>") -> dict:
    return {
        "id": posting_id, "name": title, "uuid": f"u-{posting_id}",
        "company": {"identifier": company, "name": "Acme Inc"}, "releasedDate": stamp(days_ago)[:19] + ".000Z",
        "location": {"city": city, "region": region, "country": country, "remote": remote, "hybrid": False,
                     "fullLocation": f"{city}, {region}, {country.upper()}"},
        "department": {"label": "Engineering"}, "function": {"label": "Software"},
        "typeOfEmployment": {"label": "Full-time"}, "experienceLevel": {"id": "entry_level", "label": "Entry Level"},
        "ref": f"https://api.smartrecruiters.com/v1/companies/{company}/postings/{posting_id}",
        "postingUrl": f"https://jobs.smartrecruiters.com/{company}/{posting_id}-{title.lower().replace(' ', '-')}",
        "jobAd": {"sections": {
            "companyDescription": {"title": "Company Description", "text": "<p>Acme makes things.</p>"},
            "jobDescription": {"title": "Job Description", "text": "<p>Build services.</p>"},
            "qualifications": {"title": "Qualifications", "text": qualifications},
            "additionalInformation": {"title": "Additional Information", "text": "<p>Benefits.</p>"}}},
    }
