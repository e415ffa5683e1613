"""The one HTTP client every source uses: retries with backoff, timeouts, pacing, error mapping."""

from __future__ import annotations

import codecs
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import guess_json_utf
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from .. import __version__
from . import jsonrows
from .base import ConfigError, HttpSettings, SourceError, UncertainOutcome

log = logging.getLogger(__name__)

USER_AGENT = f"skillpulse-ingest/{__version__} (+https://github.com/skillpulse)"
RETRY_AFTER_CAP = 120.0
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)
MAX_BODY_BYTES = 64 * 2**20  # decompressed; the largest real page is a few MB


@dataclass(frozen=True)
class RetryPolicy:
    """What a provider tolerates: which statuses to retry, how often, how long to wait at least."""

    statuses: tuple[int, ...] = TRANSIENT_STATUSES
    max_retries: int | None = None
    min_backoff: float = 0.0
    # False for requests that cost money (TheirStack's search): a timeout after sending, or a 5xx,
    # may have been billed, so it raises UncertainOutcome and the caller decides, counting credits.
    repeat_uncertain: bool = True


class PoliteRetry(Retry):
    """urllib3 Retry that caps server-requested waits, reads RateLimit-Reset and logs each retry."""

    def __init__(self, *args, min_backoff: float = 0.0, watch: "_Watchdog | None" = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_backoff = min_backoff
        self.watch = watch

    def new(self, **kwargs):
        kwargs.setdefault("min_backoff", self.min_backoff)
        kwargs.setdefault("watch", self.watch)
        return super().new(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """Only the statuses of the policy: urllib3 would also retry 413/429/503 whenever they carry
        Retry-After, and a provider that says "never retry our 429" means it."""
        if status_code not in (self.status_forcelist or ()):
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def get_backoff_time(self) -> float:
        return max(super().get_backoff_time(), self.min_backoff if self.history else 0.0)

    def get_retry_after(self, response) -> float | None:
        waits = []
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            try:
                waits.append(self.parse_retry_after(retry_after))
            except Exception:  # an unparseable header is the server's bug; fall back to backoff
                pass
        elif response.headers.get("RateLimit-Reset"):
            waits.extend(_reset_seconds(response.headers))
        return min(max(waits), RETRY_AFTER_CAP) if waits else None

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if self.watch is not None:
            self.watch.disarm()  # the attempt is over; the backoff wait is not part of its deadline
        if isinstance(error, NameResolutionError):
            # No address for the host: offline, a proxy needed, or a typo. Waiting does not fix those,
            # so the run fails at once, in one line; the next scheduled run tries again.
            raise MaxRetryError(_pool, url, error)
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None and response.status:
            cause = f"HTTP {response.status}"
        elif self.watch is not None and self.watch.fired:
            cause = "no complete answer in time"
        else:
            cause = _reason(error)
        host = _pool.host if _pool is not None else "the source"
        log.warning("%s from %s; retrying (%d of %d)", cause, host, len(new.history), self.total_limit)
        return new

    @property
    def total_limit(self) -> int:
        return len(self.history) + (self.total or 0)


def _numbers(text: str) -> list[float | None]:
    return [_number(v) for v in text.split(",")]


def _reset_seconds(headers) -> list[float]:
    """RateLimit-Reset lists one reset per window; wait for the exhausted ones (or all)."""
    resets = _numbers(headers.get("RateLimit-Reset", ""))
    if len(_numbers(headers.get("RateLimit-Remaining", ""))) == len(resets):
        resets = _exhausted_resets(headers) or resets
    return [r for r in resets if r is not None]


def _exhausted_resets(headers) -> list[float]:
    """Seconds until each window with nothing left (RateLimit-Remaining 0) resets."""
    return [r for r, left in zip(_numbers(headers.get("RateLimit-Reset", "")),
                                 _numbers(headers.get("RateLimit-Remaining", "")))
            if r is not None and left is not None and left <= 0]


def _number(text: str) -> float | None:
    try:
        return max(0.0, float(text.strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class Answer:
    """An HTTP answer whose body has been read (within the size cap)."""

    status_code: int
    headers: Mapping[str, str]
    text: str


class HttpClient:
    """A requests.Session with retries mounted, a deadline per attempt, a body size cap, and a
    minimum gap between requests."""

    def __init__(self, label: str, settings: HttpSettings, policy: RetryPolicy = RetryPolicy()):
        self.label = label
        self.settings = settings
        self.policy = policy
        retries = settings.max_retries if policy.max_retries is None else min(settings.max_retries, policy.max_retries)
        self.watch = _Watchdog(settings.timeout)
        statuses = policy.statuses if policy.repeat_uncertain else tuple(s for s in policy.statuses if s == 429)
        retry = PoliteRetry(
            total=retries,
            read=None if policy.repeat_uncertain else 0,
            backoff_factor=settings.backoff_factor,
            status_forcelist=statuses,
            allowed_methods=frozenset({"GET", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
            min_backoff=policy.min_backoff * settings.backoff_factor,
            watch=self.watch,
        )
        self.retries = retries
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        adapter = _WatchedAdapter(self.watch, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._last_request = 0.0
        self._not_before = 0.0

    def request_json(
        self,
        method: str,
        url: str,
        *,
        explain: Callable[[Answer], SourceError | None] = lambda answer: None,
        **kwargs,
    ) -> dict:
        """Send one request and return its JSON object, or raise a SourceError that says why."""
        return self.read_json(self.request(method, url, **kwargs), explain)

    def read_json(self, answer: Answer, explain: Callable[[Answer], SourceError | None] = lambda answer: None,
                  expect: type = dict):
        """The JSON body of an answer (an object, or what `expect` says), or a SourceError that says why."""
        if answer.status_code >= 400:
            raise explain(answer) or self._status_error(answer)
        try:
            body = jsonrows.loads(answer.text)
        except ValueError:
            raise SourceError(f"{self.label} answered HTTP {answer.status_code} with a body that is not JSON "
                              f"({_snippet(answer.text)!r}); try again later") from None
        except RecursionError:
            raise SourceError(f"{self.label} answered with JSON nested too deeply to read; try again later") from None
        if not isinstance(body, expect):
            kind = "an object" if expect is dict else "a list"
            raise SourceError(f"{self.label} answered with JSON that is not {kind}")
        return body

    def request(self, method: str, url: str, **kwargs) -> Answer:
        """One request with its retries; the answer's body read in full, up to MAX_BODY_BYTES."""
        self._pace()
        host = urlsplit(url).netloc
        self.watch.fired = False
        try:
            response = self.session.request(method, url, timeout=self.settings.timeout, stream=True, **kwargs)
            try:
                answer = Answer(response.status_code, response.headers, _text(response, self._read(response)))
            finally:
                response.close()
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            raise self._transport_error(exc, host) from None
        finally:
            self.watch.disarm()
            self._last_request = time.monotonic()
        self._respect_rate_limits(answer.headers)
        if not self.policy.repeat_uncertain and answer.status_code >= 500:
            raise UncertainOutcome(f"{self.label} answered HTTP {answer.status_code}: {error_detail(answer)}")
        return answer

    def _read(self, response: requests.Response) -> bytes:
        """The decompressed body, refusing one past MAX_BODY_BYTES (a compressed "bomb" included)."""
        chunks, size = [], 0
        for chunk in response.raw.stream(256 * 1024, decode_content=True):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise SourceError(f"{self.label} sent more than {MAX_BODY_BYTES // 2**20} MB in one answer; "
                                  f"refusing it")
            chunks.append(chunk)
        return b"".join(chunks)

    def _transport_error(self, exc: Exception, host: str) -> SourceError:
        timeout = self.settings.timeout
        if self.watch.fired or _is_read_timeout(exc):
            if not self.policy.repeat_uncertain:
                return UncertainOutcome(f"{self.label} did not answer within {timeout:g}s; "
                                        f"if it keeps happening, raise --timeout")
            return SourceError(f"{self.label} did not answer within {timeout:g}s "
                               f"(after {self.retries} retries); try again later or raise --timeout")
        if _reason(exc) == "unknown host":
            return SourceError(f"could not reach {self.label}: no address for {host} (offline, or a proxy is "
                               f"needed: set HTTPS_PROXY); check the network and try again")
        if not self.policy.repeat_uncertain and not _never_sent(exc):
            return UncertainOutcome(f"the connection to {self.label} at {host} failed ({_reason(exc)})")
        return SourceError(f"could not reach {self.label} at {host} after {self.retries} retries "
                           f"({_reason(exc)}); check the network and try again")

    def wait_before_retry(self, attempt: int, why: str) -> None:
        """The backoff of the retry policy, for retries the caller makes itself (UncertainOutcome)."""
        wait = min(self.settings.backoff_factor * 2 ** (attempt - 1), RETRY_AFTER_CAP)
        log.warning("%s; retrying (%d of %d)", why, attempt, self.retries)
        time.sleep(wait)

    def _status_error(self, answer: Answer) -> SourceError:
        status = answer.status_code
        if status >= 500 or status == 429:
            return SourceError(f"{self.label} answered HTTP {status} after {self.retries} retries: "
                               f"{error_detail(answer)}; try again later")
        return SourceError(f"{self.label} answered HTTP {status}: {error_detail(answer)}")

    def _pace(self) -> None:
        wait = max(self._last_request + self.settings.min_interval, self._not_before) - time.monotonic()
        if wait > 0:
            log.debug("waiting %.2fs before the next request to %s", wait, self.label)
            time.sleep(wait)

    def _respect_rate_limits(self, headers) -> None:
        """A window with nothing left (RateLimit-Remaining 0) delays the next request until it resets."""
        resets = _exhausted_resets(headers)
        if resets:
            self._not_before = time.monotonic() + min(max(resets), RETRY_AFTER_CAP)


def check_url(url: str, variable: str) -> str:
    """A base URL from the environment, checked before any request (ConfigError names the variable)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{variable} is not a valid URL ({exc}): {url[:100]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable} must be an http:// or https:// URL with a host, got {url[:100]!r}")
    return url


def check_header_value(value: str, variable: str) -> str:
    """A secret that goes into a header: printable Latin-1 without line breaks, or a ConfigError
    (which never shows the value)."""
    if not value.isprintable() or any(ord(c) > 255 for c in value):
        raise ConfigError(f"{variable} contains characters an HTTP header cannot carry (a line break, "
                          f"or a letter outside Latin-1); copy the key again")
    return value


class _Watchdog:
    """Bounds each attempt of a request: `timeout` seconds after it is sent, its connection is shut.

    requests' timeout applies to each read, so a server that sends a byte a second would hold a
    run for as long as it likes; this makes --timeout the limit for the whole answer.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.fired = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def arm(self, conn: HTTPConnection) -> None:
        with self._lock:
            self._cancel()
            self.fired = False
            self._timer = threading.Timer(self.timeout, self._fire, (conn,))
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        with self._lock:
            self._cancel()

    def _fire(self, conn: HTTPConnection) -> None:
        with self._lock:
            if self._timer is not threading.current_thread():
                return  # disarmed or re-armed while this timer was starting
            self.fired = True
            self._timer = None
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
            except OSError:
                pass

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _WatchedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections arm the client's watchdog each time they send a request."""

    def __init__(self, watch: _Watchdog, **kwargs):
        self.watch = watch
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.watch)

    def proxy_manager_for(self, *args, **kwargs):
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = _pool_classes(self.watch)
        return manager


def _pool_classes(watch: _Watchdog) -> dict:
    def watched(base):
        class Watched(base):
            def request(self, *args, **kwargs):
                watch.arm(self)
                return super().request(*args, **kwargs)
        return Watched

    http = type("WatchedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": watched(HTTPConnection)})
    https = type("WatchedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": watched(HTTPSConnection)})
    return {"http": http, "https": https}


def _text(response: requests.Response, content: bytes) -> str:
    """The body as text, decoded the way requests decodes JSON (no slow charset sniffing).

    An unknown charset falls back to UTF-8; undecodable bytes become U+FFFD, so one bad byte
    costs one row, not the page."""
    encoding = response.encoding or guess_json_utf(content) or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        log.debug("unknown charset %r in the answer; reading it as UTF-8", encoding[:40])
        encoding = "utf-8"
    return content.decode(encoding, errors="replace")


def _is_read_timeout(exc: Exception) -> bool:
    """requests reports a read timeout that outlasted the retries as a ConnectionError."""
    if isinstance(exc, (requests.ReadTimeout, ReadTimeoutError, socket.timeout)):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ReadTimeoutError)


def _never_sent(exc: Exception) -> bool:
    """True when the request never reached the server (so it cannot have been billed)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


def error_detail(answer: Answer) -> str:
    """The provider's own words: error.title, else detail, else the first 200 characters."""
    try:
        body = json.loads(answer.text)
    except (ValueError, RecursionError):
        return _snippet(answer.text) or "no details"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and (error.get("title") or error.get("description")):
            return " - ".join(str(error[k]) for k in ("title", "description") if error.get(k))
        if body.get("detail"):
            detail = body["detail"]
            if isinstance(detail, list):
                return "; ".join(_validation_item(d) for d in detail[:5])
            return str(detail)[:200]
    return _snippet(answer.text)


def _validation_item(item) -> str:
    if isinstance(item, dict):
        where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
        return f"{where}: {item.get('msg', '')}".strip(": ")
    return str(item)


def _snippet(text: str) -> str:
    return " ".join((text or "").split())[:200]


_REASONS = (("connection refused", "connection refused"), ("name or service not known", "unknown host"),
            ("nodename nor servname", "unknown host"), ("failed to resolve", "unknown host"),
            ("getaddrinfo failed", "unknown host"), ("temporary failure in name resolution", "unknown host"),
            ("network is unreachable", "network unreachable"), ("connection reset", "connection reset"),
            ("remote end closed connection", "the server closed the connection"),
            ("connection aborted", "the connection was dropped"), ("certificate verify failed", "TLS certificate not trusted"),
            ("timed out", "timed out"), ("proxy", "proxy error"))


def _reason(exc: BaseException | None) -> str:
    """A short, whole reason for a transport failure ("connection refused"), never a cut repr."""
    if exc is None:
        return "no answer"
    text = str(exc).lower()
    for marker, reason in _REASONS:
        if marker in text:
            return reason
    return type(getattr(exc.args[0], "reason", None) or exc).__name__ if exc.args else type(exc).__name__
