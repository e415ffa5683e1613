"""`skillpulse serve`: the read-only HTTP API the frontend calls, on the standard library.

Each request opens the database read-only, so the server never writes and keeps answering
while an ingest writes to the same file (WAL). Threads keep a slow client from blocking others.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import formatdate
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from . import __version__
from .insights import MAX_TOP, SCHEMA_VERSION, check_filters, locations, skill_insights
from .models import QueryError
from .storage_sqlite import StoreError
from .store import Store, open_readers

log = logging.getLogger(__name__)

DEFAULT_ORIGINS = tuple(f"http://{host}:{port}" for port in (5173, 4173) for host in ("localhost", "127.0.0.1"))
SKILLS_DEFAULTS = {"location": "United States", "role": "any", "level": "entry", "days": "30", "top": "5",
                   "remote": "include"}
LOCATIONS_DEFAULTS = {"days": "30", "limit": "100", "role": "any", "level": "entry", "remote": "include",
                      "min_postings": "3"}
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

    def __init__(self, db):
        self.db = db
        self.readers = open_readers(db, size=MAX_QUERIES, deadline_s=QUERY_DEADLINE_S)
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
        except StoreError as exc:  # the path and SQLite's words go to our log, not to every client
            log.error("database error: %s", exc)
            return 503, ApiError(503, "the database is not available right now; try again later").body()
        except Exception:
            log.exception("unexpected error answering %s", path[:200])
            return 500, ApiError(500, "internal error; the server log says more").body()

    def _store(self) -> Store:
        return self.readers.store()

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
            try:
                return skill_insights(store, location=values["location"], role=values["role"],
                                      level=values["level"], days=days, remote=values["remote"], top=top)
            except QueryError as exc:  # a place nobody knows, with the nearest names
                raise ApiError(400, str(exc), exc.parameter) from None

    def locations(self, params: dict) -> dict:
        values = {k: params.get(k, default).strip() for k, default in LOCATIONS_DEFAULTS.items()}
        days = _whole_number(values["days"], "days")
        limit = _whole_number(values["limit"], "limit")
        min_postings = _whole_number(values["min_postings"], "min_postings")
        if not 1 <= limit <= MAX_LOCATIONS:
            raise ApiError(400, f"limit must be between 1 and {MAX_LOCATIONS}", "limit")
        if min_postings < 1:
            raise ApiError(400, "min_postings must be at least 1", "min_postings")
        with self._store() as store:
            try:
                found = locations(store, days=days, limit=limit, role=values["role"], level=values["level"],
                                  remote=values["remote"], min_postings=min_postings)
            except QueryError as exc:
                raise ApiError(400, str(exc), exc.parameter) from None
        return {"locations": found, "window": {"days": days}, "generated_at": _now()}

    def health(self, params: dict) -> dict:
        with self._store() as store:
            postings = store.count_postings()
            finished = [run["finished_at"] for run in store.last_runs() if run["finished_at"]]
            version = store.schema_version()  # each engine numbers its own schema
        return {"status": "ok", "postings": postings, "schema_version": SCHEMA_VERSION,
                "database_schema_version": version, "last_run_at": max(finished, default=None)}


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
                "operationId": "getLocations",
                "summary": "Places with enough postings for a role, level and remote mode; United States first",
                "parameters": [
                    query("days", {"type": "integer", "minimum": 1, "maximum": 3650}, "window in days, default 30"),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LOCATIONS}, "default 100"),
                    query("role", {"type": "string", "enum": roles}, "role bucket, default any"),
                    query("level", {"type": "string", "enum": levels}, "level bucket, default entry"),
                    query("remote", {"type": "string", "enum": ["include", "exclude", "only"]}, "default include"),
                    query("min_postings", {"type": "integer", "minimum": 1, "maximum": 999999999},
                          "least postings based in a place for it to be listed, default 3"),
                ],
                "responses": {"200": ok("LocationsResponse", "the places"), "400": error, "503": error}}},
            "/api/health": {"get": {"operationId": "getHealth", "summary": "Liveness and posting count",
                                    "responses": {"200": ok("HealthResponse", "healthy"), "503": error}}},
        },
        "components": {"schemas": schemas},
    }


# ---- HTTP server --------------------------------------------------------------------------
# The standard library's http.server trusts its clients: a thread per connection without limit,
# no timeout on a request that never ends, a body it never reads (a second request hidden in it
# gets its own answer), HTML error pages. This small HTTP/1.1 server keeps its simple model, a
# thread per connection, and bounds everything a client can make it do.

MAX_CONNECTIONS = 1024        # open connections at once; one more gets a JSON 503 and is closed
MAX_QUERIES = 4               # database queries at once (the rest wait their turn)
HEAD_TIMEOUT_S = 10.0         # to send a request's line and headers, and to wait for the next one
WRITE_TIMEOUT_S = 10.0        # to take a response
QUERY_DEADLINE_S = 10.0       # a query still running then is stopped (503)
MAX_REQUEST_LINE = 32 * 1024  # 414 beyond
MAX_HEAD = 64 * 1024          # request line and headers; 431 beyond
MAX_REQUESTS_PER_CONNECTION = 10_000
SERVER_HEADER = "skillpulse"
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Content Too Large", 414: "URI Too Long",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
            505: "HTTP Version Not Supported"}


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-cased names

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


class BadRequest(Exception):
    """The request cannot be served; answered with this status, then the connection is closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ApiServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """The API's HTTP server: bounded connections, timeouts, JSON for every answer."""

    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: a burst of connects waits, not a 1 s SYN retry
    allow_reuse_address = os.name != "nt"  # on Windows it would let another process take the port

    def __init__(self, address, api: SkillPulseAPI, origins: frozenset[str]):
        self.api = api
        self.origins = origins
        self.connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.queries = threading.BoundedSemaphore(MAX_QUERIES)
        super().__init__(address, None)

    def server_close(self) -> None:
        super().server_close()
        self.api.readers.close()

    def process_request(self, request, client_address):
        if not self.connections.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.settimeout(1)
                request.sendall(_response(503, ApiError(503, "too many connections; try again shortly").body(),
                                          keep_alive=False))
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            _Connection(request, self).serve()
        except Exception:  # a bug must cost one connection, not the server
            log.exception("unexpected error serving %s", client_address[0])
        finally:
            self.shutdown_request(request)
            self.connections.release()

    def handle_error(self, request, client_address):  # socketserver's default prints a traceback
        log.debug("error on a connection from %s", client_address[0], exc_info=True)


class _Connection:
    """One client connection: requests read with a deadline, answered in one write each."""

    def __init__(self, sock: socket.socket, server: ApiServer):
        self.sock, self.server = sock, server
        self.buffer = b""
        with contextlib.suppress(OSError):
            # Headers and body go in one write, and TCP_NODELAY sends it at once: with Nagle's
            # algorithm, each answer after the first on a keep-alive connection waited ~40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def serve(self) -> None:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            try:
                request = self._read_request()
            except BadRequest as exc:
                origin = _ORIGIN.search(self.buffer[:MAX_HEAD])  # best effort, for the CORS header
                fallback = Request("GET", "", "HTTP/1.1", {"origin": origin.group(1).decode("latin-1") if origin else ""})
                self._send(exc.status, ApiError(exc.status, str(exc)).body(), fallback, keep_alive=False)
                return
            if request is None:
                return  # the client hung up or went quiet: nothing half-read is ever served
            keep_alive = request.keep_alive
            self._send(*self._answer(request), request, keep_alive=keep_alive)
            if not keep_alive:
                return

    def _answer(self, request: Request) -> tuple[int, dict | None]:
        if request.method == "OPTIONS":
            return 204, None
        if request.method not in ("GET", "HEAD"):
            return 405, ApiError(405, f"{request.method} is not allowed; this API is read-only (GET)").body()
        parts = urlsplit(request.target)
        if parts.path in ("/api/skills", "/api/locations"):
            with self.server.queries:
                return self.server.api.handle(parts.path, parts.query)
        return self.server.api.handle(parts.path, parts.query)

    def _read_request(self) -> Request | None:
        deadline = time.monotonic() + HEAD_TIMEOUT_S
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if 0 <= end <= MAX_HEAD:
                request = _parse_head(self.buffer[:end])  # a BadRequest leaves the head for _ORIGIN
                self.buffer = self.buffer[end + 4:]
                return request
            if len(self.buffer) > MAX_HEAD:
                raise BadRequest(431, "the request's headers are too large")
            if b"\r\n" not in self.buffer[:MAX_REQUEST_LINE + 2] and len(self.buffer) > MAX_REQUEST_LINE:
                raise BadRequest(414, "the request line is too long")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self.sock.settimeout(remaining)  # each read waits only what is left of the deadline
                chunk = self.sock.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def _send(self, status: int, body: dict | None, request: Request | None, *, keep_alive: bool) -> None:
        headers = self._cors(request)
        if status == 405:
            headers["Allow"] = "GET, HEAD, OPTIONS"
        data = _response(status, body, keep_alive=keep_alive, extra=headers,
                         include_body=request is None or request.method != "HEAD")
        try:
            self.sock.settimeout(WRITE_TIMEOUT_S)
            self.sock.sendall(data)
        except OSError:  # the client hung up mid-answer: its loss, and no traceback in our log
            pass
        if request is not None:
            log.debug("%s %s %s", request.method, request.target[:200], status)

    def _cors(self, request: Request | None) -> dict[str, str]:
        headers = {"Vary": "Origin"}
        origin = (request.headers.get("origin", "") if request else "").rstrip("/")
        if "*" in self.server.origins:
            headers["Access-Control-Allow-Origin"] = "*"  # the API is read-only and sends no credentials
        elif origin in self.server.origins:
            headers["Access-Control-Allow-Origin"] = origin
        else:
            return headers
        if request.method == "OPTIONS":
            headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            headers["Access-Control-Allow-Headers"] = _header_safe(
                request.headers.get("access-control-request-headers") or "Content-Type")
            headers["Access-Control-Max-Age"] = "600"
        return headers


_ORIGIN = re.compile(rb"\r\norigin:[ \t]*([^\r\n]{1,500})", re.I)


def _parse_head(head: bytes) -> Request:
    """The request line and headers; BadRequest for anything a proxy might read differently."""
    line, *lines = head.decode("latin-1").split("\r\n")  # latin-1: every byte is a character
    if len(line) > MAX_REQUEST_LINE:
        raise BadRequest(414, "the request line is too long")
    words = line.split(" ")
    if len(words) != 3 or not words[0].isalpha() or not words[1]:
        raise BadRequest(400, "the request line is not METHOD TARGET HTTP/1.1")
    method, target, version = words
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        if version.startswith("HTTP/"):
            raise BadRequest(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
        raise BadRequest(400, "the request line is not METHOD TARGET HTTP/1.1")
    headers: dict[str, str] = {}
    for header in lines:
        name, colon, value = header.partition(":")
        if not colon or not name or name != name.strip() or " " in name:
            raise BadRequest(400, "a header line is malformed")
        name = name.lower()
        if name in headers and name in ("content-length", "transfer-encoding", "host"):
            raise BadRequest(400, f"the {name} header is repeated")
        headers[name] = value.strip()
    # This API takes no bodies. Refusing them (and closing) means a body is never read as a request.
    if headers.get("transfer-encoding") or headers.get("content-length", "0") != "0":
        raise BadRequest(413, "this API takes no request body")
    return Request(method.upper(), target, version, headers)


def _response(status: int, body: dict | None, *, keep_alive: bool, extra: dict | None = None,
              include_body: bool = True) -> bytes:
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", f"Server: {SERVER_HEADER}",
             f"Date: {formatdate(usegmt=True)}", "Cache-Control: no-store",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    if body is not None:
        lines += ["Content-Type: application/json; charset=utf-8", f"Content-Length: {len(data)}"]
    else:
        lines.append("Content-Length: 0")
    lines += [f"{key}: {value}" for key, value in (extra or {}).items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + data if include_body else head


def _header_safe(value: str) -> str:
    """A client's header value echoed back: printable, no line breaks, bounded."""
    return "".join(c for c in value[:500] if c.isprintable())


def make_server(db: Path, host: str = "127.0.0.1", port: int = 8000,
                origins: tuple[str, ...] = DEFAULT_ORIGINS) -> ApiServer:
    """The API's HTTP server. Checks the database first (StoreOpenError if unusable)."""
    return ApiServer((host, port), SkillPulseAPI(db), frozenset(o.rstrip("/") for o in origins))
