"""A real HTTP server on 127.0.0.1 that plays TheirStack and Remotive, with scriptable faults.

Used by the end-to-end tests (the CLI runs as a subprocess against it) and the benchmarks.
Payloads follow the providers' documented fields, one by one.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THEIRSTACK_PATH = "/v1/jobs/search"
REMOTIVE_PATH = "/api/remote-jobs"
API_KEY = "ts-test-key-0123456789abcdef"


def days_ago(n: int) -> str:
    """An ISO date n days before today (UTC), so fixtures stay inside the default 30-day window."""
    return (date.today() - timedelta(days=n)).isoformat()


RECENT = days_ago(2)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: dict | None
    at: float


@dataclass
class Fault:
    """One scripted answer: a status with headers/body, or a transport failure."""

    status: int = 503
    headers: dict = field(default_factory=dict)
    body: bytes = b'{"error": {"code": "E-500", "title": "scripted fault"}}'
    kind: str = "status"          # status | drop | slow | drip | truncated | html | empty | pass (serve normally)


class FakeJobAPI:
    def __init__(self, api_key: str = API_KEY):
        self.api_key = api_key
        self.theirstack_jobs: list[dict] = []
        self.remotive_jobs: list[dict] = []
        self.requests: list[Recorded] = []
        self.faults: dict[str, deque[Fault]] = {THEIRSTACK_PATH: deque(), REMOTIVE_PATH: deque()}
        self.repeat_pages = False     # answer every page with the first one, forever
        self.ignore_limit = False     # answer with every row from the offset on, whatever the limit
        self.slow_seconds = 2.0
        self.limit_headers: dict = {}  # RateLimit-* headers sent with every TheirStack answer
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle --
    def start(self) -> "FakeJobAPI":
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                api._handle(self, "GET")

            def do_POST(self):
                api._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
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

    @property
    def theirstack_url(self) -> str:
        return self.base_url + THEIRSTACK_PATH

    @property
    def remotive_url(self) -> str:
        return self.base_url + REMOTIVE_PATH

    def env(self, **extra) -> dict:
        return {"SKILLPULSE_THEIRSTACK_URL": self.theirstack_url, "SKILLPULSE_REMOTIVE_URL": self.remotive_url,
                "THEIRSTACK_API_KEY": self.api_key, **extra}

    def fail(self, path: str, *faults: Fault) -> None:
        self.faults[path].extend(faults)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    # -- serving --
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = handler.path.split("?")[0]
        with self._lock:
            self.requests.append(Recorded(method, handler.path, dict(handler.headers), body, time.monotonic()))
            fault = self.faults.get(path) and self.faults[path].popleft()
        if fault and fault.kind != "pass":
            return self._fault(handler, fault)
        if path == THEIRSTACK_PATH and method == "POST":
            if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
                return self._send(handler, 401, {"error": {"code": "E-401", "title": "Invalid API key"}})
            return self._send_raw(handler, 200, self._theirstack_page(body or {}),
                                  {"Content-Type": "application/json", **self.limit_headers})
        if path == REMOTIVE_PATH and method == "GET":
            return self._send(handler, 200, {"00-warning": "Remotive main domain moved to remotive.com !",
                                             "0-legal-notice": "Legal warning - Hey, thanks for using Remotive's API",
                                             "job-count": len(self.remotive_jobs),
                                             "total-job-count": len(self.remotive_jobs),
                                             "jobs": self.remotive_jobs})
        return self._send(handler, 404, {"detail": "Not Found"})

    def _encoded(self, jobs: list[dict]) -> list[bytes]:
        """Each job's JSON, encoded once: a benchmark should time the client, not this server."""
        key = (id(self.theirstack_jobs), len(self.theirstack_jobs))
        if getattr(self, "_encoded_key", None) != key:
            self._encoded_jobs = {id(j): json.dumps(j).encode() for j in self.theirstack_jobs}
            self._encoded_key = key
        return [self._encoded_jobs.get(id(j)) or json.dumps(j).encode() for j in jobs]

    def _theirstack_page(self, body: dict) -> bytes:
        jobs = self.theirstack_jobs
        if body.get("discovered_at_gte"):
            since = body["discovered_at_gte"].rstrip("Z")
            jobs = [j for j in jobs if (j.get("discovered_at") or "") >= since]
        if body.get("job_id_not"):
            excluded = set(body["job_id_not"])
            jobs = [j for j in jobs if j.get("id") not in excluded]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 25))
        if self.repeat_pages:
            offset = 0
        metadata = {"total_results": len(jobs) if body.get("include_total_results") else None,
                    "truncated_results": 0, "truncated_companies": 0, "total_companies": None}
        rows = b",".join(self._encoded(jobs[offset:] if self.ignore_limit else jobs[offset:offset + limit]))
        return b'{"metadata": ' + json.dumps(metadata).encode() + b', "data": [' + rows + b"]}"

    def _fault(self, handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        if fault.kind == "drop":
            handler.close_connection = True
            handler.connection.close()
            return
        if fault.kind == "drip":  # a valid answer, one byte every 0.2 s, until the client gives up
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(fault.body)))
            handler.end_headers()
            try:
                for byte in fault.body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        if fault.kind == "slow":
            time.sleep(self.slow_seconds)
            return self._send(handler, 200, {"data": [], "jobs": []})
        body = {"truncated": b'{"metadata": {}, "data": [{"id": 1, "job_ti',
                "html": b"<!DOCTYPE html><html><body><h1>Service maintenance</h1></body></html>",
                "empty": b""}.get(fault.kind, fault.body)
        status = 200 if fault.kind in ("truncated", "html", "empty") else fault.status
        ctype = "text/html" if fault.kind == "html" else "application/json"
        self._send_raw(handler, status, body, {"Content-Type": ctype, **fault.headers})

    def _send(self, handler, status: int, payload: dict, headers: dict | None = None) -> None:
        self._send_raw(handler, status, json.dumps(payload).encode(),
                       {"Content-Type": "application/json", **(headers or {})})

    def _send_raw(self, handler, status: int, body: bytes, headers: dict) -> None:
        handler.send_response(status)
        for k, v in headers.items():
            handler.send_header(k, str(v))
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


# ---- realistic payloads -------------------------------------------------------------------

TITLES = [
    ("Senior Backend Engineer (Python)", "backend", "senior"),
    ("Junior Backend Developer", "backend", "entry"),
    ("Frontend Developer (React)", "frontend", "unknown"),
    ("Full Stack Engineer II", "fullstack", "mid"),
    ("Data Engineer", "data", "unknown"),
    ("Machine Learning Engineer, New Grad", "ml", "entry"),
    ("Staff Site Reliability Engineer", "devops", "lead"),
    ("QA Automation Engineer", "qa", "unknown"),
    ("iOS Engineer", "mobile", "unknown"),
    ("Product Manager", "other", "manager"),
    ("Entry Level Java Developer", "backend", "entry"),
    ("Software Engineer", "general", "unknown"),
]
CITIES = [("Dallas", "TX", "Texas"), ("Austin", "TX", "Texas"), ("Dallas", "OR", "Oregon"),
          ("Seattle", "WA", "Washington"), ("New York", "NY", "New York")]
# Where TheirStack puts each city (its rows carry coordinates); a city not listed gets none.
COORDINATES = {("Dallas", "TX"): (32.7831, -96.8067), ("Austin", "TX"): (30.2672, -97.7431),
               ("Dallas", "OR"): (44.9193, -123.317), ("Seattle", "WA"): (47.6062, -122.3321),
               ("New York", "NY"): (40.7128, -74.006), ("San Francisco", "CA"): (37.7749, -122.4194),
               ("Plano", "TX"): (33.0198, -96.6989), ("Oakland", "CA"): (37.8044, -122.2712)}
DESCRIPTION = ("## About the role\nBuild **Python** and PostgreSQL services on AWS that price freight. "
               "You will design REST APIs, run them on Kubernetes and ship with GitHub Actions.\n\n"
               "## Requirements\n- 1-2 years of experience with Python or Go\n- SQL and Docker\n\n"
               "## Benefits\nHealth insurance, 401(k), and a learning budget. We are an equal "
               "opportunity employer.")


def theirstack_job(i: int, *, title: str | None = None, city=None, remote: bool = False,
                   date_posted: str | None = None, discovered_at: str | None = None,
                   description: str = DESCRIPTION, country_only: bool = False) -> dict:
    """One job with the full field set of a TheirStack search result."""
    title = title or TITLES[i % len(TITLES)][0]
    date_posted = date_posted or RECENT
    city, state, state_name = city or CITIES[i % len(CITIES)]
    short = "United States" if country_only else f"{city}, {state}"
    lat, lon = (None, None) if country_only else COORDINATES.get((city, state), (None, None))
    return {
        "id": 195500000 + i,
        "job_title": title,
        "normalized_title": "",
        "url": f"https://www.linkedin.com/jobs/view/40{i:08d}",
        "final_url": f"https://boards.greenhouse.io/company{i % 97}/jobs/{7400000 + i}?utm_source=theirstack",
        "source_url": f"https://www.linkedin.com/jobs/view/40{i:08d}",
        "date_posted": date_posted,
        "discovered_at": discovered_at or f"{date_posted}T{(i % 24):02d}:02:41",
        "reposted": False, "date_reposted": None, "closed_at": None,
        "has_blurred_data": False,
        "company": f"Company {i % 97}", "company_domain": f"company{i % 97}.com",
        "location": short, "short_location": short,
        "long_location": short if country_only else f"{city}, {state} 75201",
        "state_code": None if country_only else state, "postal_code": None if country_only else "75201",
        "latitude": lat, "longitude": lon,
        "country": "United States", "country_code": "US", "countries": ["United States"],
        "country_codes": ["US"], "cities": [] if country_only else [city], "continents": ["North America"],
        "locations": [{"id": 6252001, "name": "United States", "type": "country", "display_name": "United States"}]
        if country_only else [{"id": 4684888, "name": city, "type": "city",
                               "display_name": f"{city}, {state_name}, United States"}],
        "remote": remote, "hybrid": False,
        "salary_string": "$150,000 - $180,000 a year", "min_annual_salary": 150000, "max_annual_salary": 180000,
        "min_annual_salary_usd": 150000, "max_annual_salary_usd": 180000, "avg_annual_salary_usd": 165000,
        "salary_currency": "USD", "seniority": None, "employment_statuses": ["full_time"], "easy_apply": False,
        "description": description,
        "technology_slugs": ["python", "postgresql"], "keyword_slugs": ["python"],
        "hiring_team": [], "manager_roles": [], "matching_phrases": [], "matching_words": [],
        "company_object": {"id": f"company-{i % 97}", "name": f"Company {i % 97}", "domain": f"company{i % 97}.com",
                           "industry": "Software", "employee_count_range": "501-1000"},
    }


def remotive_job(i: int, *, title: str | None = None, region: str = "USA Only",
                 published: str | None = None, description: str | None = None) -> dict:
    """One job with the fields of a Remotive feed entry (HTML description with a tracking pixel)."""
    title = title or TITLES[i % len(TITLES)][0]
    return {
        "id": 2091000 + i,
        "url": f"https://remotive.com/remote-jobs/software-development/job-{2091000 + i}",
        "title": title,
        "company_name": f"Remote Co {i % 31} ",
        "company_logo": f"https://remotive.com/job/{2091000 + i}/logo",
        "category": "Software Development",
        "tags": ["python", "AWS", ""],
        "job_type": "full_time",
        "publication_date": published or f"{days_ago(1)}T09:41:27",
        "candidate_required_location": region,
        "salary": "$140k - $170k",
        "description": description or (
            "<p style=\"margin:0\">Own our <strong>Python</strong> ingestion APIs on AWS&nbsp;Lambda "
            "and PostgreSQL.</p><ul><li>2+ years of experience</li><li>Docker, Kubernetes</li></ul>"
            f"<img src=\"https://remotive.com/job/track/{2091000 + i}/blank.gif?source=public_api\" alt=\"\"/>"),
    }


PROSE = [
    "We are a small, remote-friendly team that ships every day and reviews code kindly.",
    "You will own features end to end, from the first sketch to monitoring them in production.",
    "Our customers are logistics companies that move millions of parcels every week.",
    "We value clear writing, thoughtful trade-offs and leaving the campsite cleaner than we found it.",
    "You will pair with product managers and designers to decide what to build next.",
    "Our services handle millions of requests a day with Java, Spring Boot, Kafka and Redis on GCP.",
    "Experience with TypeScript and React is a plus, as is an eye for accessible interfaces.",
    "We run on AWS with Terraform, Docker and Kubernetes, and deploy many times a day.",
    "You care about tests, observability and on-call that lets people sleep.",
    "Benefits include health, dental and vision insurance, a 401(k) match and a learning budget.",
    "We offer flexible hours, parental leave and an annual team offsite.",
    "We are an equal opportunity employer and welcome applicants from every background.",
    "Salary range depends on experience and location; equity is part of every offer.",
    "Nice to have: experience with Airflow, dbt or Snowflake, or with data pipelines in general.",
    "Our interview process has four steps and we answer every application within a week.",
]


def many_theirstack_jobs(n: int, seed: int = 7, description_kb: tuple[int, int] = (2, 5)) -> list[dict]:
    """n varied jobs with unique urls and 2-5 KB descriptions, for volume tests and benchmarks."""
    rng = random.Random(seed)
    jobs = []
    for i in range(n):
        size = rng.randint(description_kb[0] * 1024, description_kb[1] * 1024)
        parts, length = [DESCRIPTION], len(DESCRIPTION)
        while length < size:
            sentence = rng.choice(PROSE)
            parts.append(sentence)
            length += len(sentence) + 1
        jobs.append(theirstack_job(i, title=rng.choice(TITLES)[0], description=" ".join(parts)[:size],
                                   remote=rng.random() < 0.2))
    return jobs


class Rows:
    """A source that yields given rows as one page, for filling a store through run_ingest."""

    def __init__(self, name, rows, normalize):
        self.name = name
        self.rows = rows
        self.normalize = normalize

    def pages(self, query, state):
        yield self.rows
