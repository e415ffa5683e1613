"""`skillpulse serve`: the read-only HTTP API the frontend calls (data.md), on the standard library.

Each request opens the database read-only, so the server never writes and keeps answering
while an ingest writes to the same file (WAL). Threads keep a slow client from blocking others.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from . import __version__
from .insights import MAX_TOP, SCHEMA_VERSION, check_filters, locations, skill_insights
from .models import QueryError
from .storage_sqlite import SCHEMA_VERSION as DB_SCHEMA_VERSION
from .storage_sqlite import SQLiteStore, StoreError

log = logging.getLogger(__name__)

DEFAULT_ORIGINS = tuple(f"http://{host}:{port}" for port in (5173, 4173) for host in ("localhost", "127.0.0.1"))
SKILLS_DEFAULTS = {"location": "United States", "role": "any", "level": "entry", "days": "30", "top": "5",
                   "remote": "include"}
MAX_LOCATIONS = 1000
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,9}")


class ApiError(Exception):
    def __init__(self, status: int, message: str, parameter: str | None = None):
        super().__init__(message)
        self.status, self.message, self.parameter = status, message, parameter

    def body(self) -> dict:
        error = {"status": self.status, "message": self.message}
        if self.parameter:
            error["parameter"] = self.parameter
        return {"error": error}


class SkillPulseAPI:
    """The routes, independent of the HTTP server: path and query in, (status, JSON body) out."""

    def __init__(self, db: Path):
        self.db = Path(db)
        self.routes: dict[str, Callable[[dict], dict]] = {
            "/api/skills": self.skills, "/api/locations": self.locations,
            "/api/health": self.health, "/openapi.json": lambda params: openapi_document(),
        }

    def handle(self, path: str, query: str) -> tuple[int, dict]:
        route = self.routes.get(path.rstrip("/") or "/")
        try:
            if route is None:
                raise ApiError(404, f"no such endpoint: {path}; see /openapi.json")
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            return 200, route(params)
        except ApiError as exc:
            return exc.status, exc.body()
        except StoreError as exc:
            log.error("database error: %s", exc)
            return 503, ApiError(503, f"the database is not available: {exc}").body()

    def _store(self) -> SQLiteStore:
        return SQLiteStore.open(self.db, readonly=True)

    def skills(self, params: dict) -> dict:
        # Missing parameters take the defaults; present ones must be valid (an empty place means the default).
        values = {k: params.get(k, default).strip() for k, default in SKILLS_DEFAULTS.items()}
        values["location"] = values["location"] or SKILLS_DEFAULTS["location"]
        days = _whole_number(values["days"], "days")
        top = _whole_number(values["top"], "top")
        try:
            check_filters(values["role"], values["level"], values["remote"], days, top)
        except QueryError as exc:
            raise ApiError(400, str(exc), exc.parameter) from None
        with self._store() as store:
            return skill_insights(store, location=values["location"], role=values["role"], level=values["level"],
                                  days=days, remote=values["remote"], top=top)

    def locations(self, params: dict) -> dict:
        days = _whole_number(params.get("days", "30").strip(), "days")
        limit = _whole_number(params.get("limit", "100").strip(), "limit")
        if not 1 <= limit <= MAX_LOCATIONS:
            raise ApiError(400, f"limit must be between 1 and {MAX_LOCATIONS}", "limit")
        with self._store() as store:
            try:
                found = locations(store, days=days, limit=limit)
            except QueryError as exc:
                raise ApiError(400, str(exc), exc.parameter) from None
        return {"locations": found, "window": {"days": days}, "generated_at": _now()}

    def health(self, params: dict) -> dict:
        with self._store() as store:
            postings = store.count_postings()
        return {"status": "ok", "postings": postings, "schema_version": SCHEMA_VERSION,
                "database_schema_version": DB_SCHEMA_VERSION}


def _whole_number(text: str, name: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise ApiError(400, f"{name} must be a whole number, got {text[:40]!r}", name)
    return int(text)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- OpenAPI ------------------------------------------------------------------------------

SCHEMA_FILES = {"SkillInsightsResponse": "skill_insights_response", "LocationsResponse": "locations_response",
                "HealthResponse": "health_response", "ErrorResponse": "error_response",
                "JobPosting": "job_posting", "IngestionQuery": "ingest_query"}


@lru_cache(maxsize=1)
def _schema_files() -> dict[str, dict]:
    folder = resources.files(__package__).joinpath("schemas")
    return {f"{name}.schema.json": json.loads(folder.joinpath(f"{name}.schema.json").read_text("utf-8"))
            for name in SCHEMA_FILES.values()}


def _inline(node, files: dict[str, dict], current: dict):
    """Resolve references between the schema files, so the document stands alone."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target_file, _, pointer = ref.partition("#")
            target = files[target_file] if target_file else current
            value = target
            for part in filter(None, pointer.split("/")):
                value = value[part]
            return _inline(value, files, target)
        return {k: _inline(v, files, current) for k, v in node.items() if k not in ("$schema", "$id", "$defs")}
    if isinstance(node, list):
        return [_inline(v, files, current) for v in node]
    return node


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    files = _schema_files()
    schemas = {name: _inline(files[f"{file}.schema.json"], files, files[f"{file}.schema.json"])
               for name, file in SCHEMA_FILES.items()}

    def query(name, schema, description):
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    def ok(ref, description):
        return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}

    error = ok("ErrorResponse", "error")
    roles = schemas["JobPosting"]["properties"]["role_bucket"]["enum"] + ["any"]
    levels = schemas["JobPosting"]["properties"]["level_bucket"]["enum"] + ["any"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "SkillPulse API", "version": __version__,
                 "description": "Read-only skill insights over the postings SkillPulse has stored."},
        "paths": {
            "/api/skills": {"get": {
                "operationId": "getSkills", "summary": "Top skills for a role, level and place",
                "parameters": [
                    query("location", {"type": "string"}, "place, default United States"),
                    query("role", {"type": "string", "enum": roles}, "role bucket, default any"),
                    query("level", {"type": "string", "enum": levels}, "level bucket, default entry"),
                    query("days", {"type": "integer", "minimum": 1, "maximum": 3650}, "window in days, default 30"),
                    query("top", {"type": "integer", "minimum": 1, "maximum": MAX_TOP}, "how many skills, default 5"),
                    query("remote", {"type": "string", "enum": ["include", "exclude", "only"]}, "default include"),
                ],
                "responses": {"200": ok("SkillInsightsResponse", "the insights"), "400": error, "503": error}}},
            "/api/locations": {"get": {
                "operationId": "getLocations", "summary": "Places found in stored postings, United States first",
                "parameters": [
                    query("days", {"type": "integer", "minimum": 1, "maximum": 3650}, "window in days, default 30"),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LOCATIONS}, "default 100"),
                ],
                "responses": {"200": ok("LocationsResponse", "the places"), "400": error, "503": error}}},
            "/api/health": {"get": {"operationId": "getHealth", "summary": "Liveness and posting count",
                                    "responses": {"200": ok("HealthResponse", "healthy"), "503": error}}},
        },
        "components": {"schemas": schemas},
    }


# ---- HTTP server --------------------------------------------------------------------------

def make_server(db: Path, host: str = "127.0.0.1", port: int = 8000,
                origins: tuple[str, ...] = DEFAULT_ORIGINS) -> ThreadingHTTPServer:
    """A threading HTTP server for the API. Checks the database first (StoreOpenError if unusable)."""
    SQLiteStore.open(db, readonly=True).close()
    api = SkillPulseAPI(db)
    allowed = frozenset(o.rstrip("/") for o in origins)

    class Handler(BaseHTTPRequestHandler):
        server_version = f"skillpulse/{__version__}"
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            parts = urlsplit(self.path)
            status, body = api.handle(parts.path, parts.query)
            self._send(status, body)

        def do_HEAD(self):
            parts = urlsplit(self.path)
            status, body = api.handle(parts.path, parts.query)
            self._send(status, body, include_body=False)

        def do_OPTIONS(self):
            self.send_response(204)
            self._cors_headers(preflight=True)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _not_allowed(self):
            self._send(405, ApiError(405, f"{self.command} is not allowed; this API is read-only (GET)").body(),
                       extra={"Allow": "GET, HEAD, OPTIONS"})

        def __getattr__(self, name):
            # Every other method (POST, PUT, TRACE, ...) gets a JSON 405 instead of the stock 501 page.
            if name.startswith("do_"):
                return self._not_allowed
            raise AttributeError(name)

        def _send(self, status: int, body: dict, include_body: bool = True, extra: dict | None = None):
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self._cors_headers()
            self.end_headers()
            if include_body:
                self.wfile.write(data)

        def _cors_headers(self, preflight: bool = False):
            origin = (self.headers.get("Origin") or "").rstrip("/")
            self.send_header("Vary", "Origin")
            if origin not in allowed:
                return
            self.send_header("Access-Control-Allow-Origin", origin)
            if preflight:
                self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
                self.send_header("Access-Control-Allow-Headers",
                                 self.headers.get("Access-Control-Request-Headers") or "Content-Type")
                self.send_header("Access-Control-Max-Age", "600")

        def log_message(self, fmt, *args):
            log.debug("%s %s", self.address_string(), fmt % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
