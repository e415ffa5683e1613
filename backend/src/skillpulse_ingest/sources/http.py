"""The one HTTP client every source uses: retries with backoff, timeouts, pacing, error mapping."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import guess_json_utf
from urllib3.util.retry import Retry

from .. import __version__
from . import jsonrows
from .base import HttpSettings, SourceError

log = logging.getLogger(__name__)

USER_AGENT = f"skillpulse-ingest/{__version__} (+https://github.com/skillpulse)"
RETRY_AFTER_CAP = 120.0
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class RetryPolicy:
    """What a provider tolerates: which statuses to retry, how often, how long to wait at least."""

    statuses: tuple[int, ...] = TRANSIENT_STATUSES
    max_retries: int | None = None
    min_backoff: float = 0.0


class PoliteRetry(Retry):
    """urllib3 Retry that caps server-requested waits, reads RateLimit-Reset and logs each retry."""

    def __init__(self, *args, min_backoff: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_backoff = min_backoff

    def new(self, **kwargs):
        kwargs.setdefault("min_backoff", self.min_backoff)
        return super().new(**kwargs)

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
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        cause = f"HTTP {response.status}" if response is not None and response.status else type(error).__name__
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


class HttpClient:
    """A requests.Session with retries mounted, plus a minimum gap between requests."""

    def __init__(self, label: str, settings: HttpSettings, policy: RetryPolicy = RetryPolicy()):
        self.label = label
        self.settings = settings
        retries = settings.max_retries if policy.max_retries is None else min(settings.max_retries, policy.max_retries)
        retry = PoliteRetry(
            total=retries,
            backoff_factor=settings.backoff_factor,
            status_forcelist=policy.statuses,
            allowed_methods=frozenset({"GET", "POST"}),  # the search POST is a read; safe to repeat
            respect_retry_after_header=True,
            raise_on_status=False,
            min_backoff=policy.min_backoff * settings.backoff_factor,
        )
        self.retries = retries
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._last_request = 0.0
        self._not_before = 0.0

    def request_json(
        self,
        method: str,
        url: str,
        *,
        explain: Callable[[requests.Response], SourceError | None] = lambda response: None,
        **kwargs,
    ) -> dict:
        """Send one request and return its JSON object, or raise a SourceError that says why."""
        self._pace()
        host = urlsplit(url).netloc
        try:
            response = self.session.request(method, url, timeout=self.settings.timeout, **kwargs)
        except requests.Timeout:
            raise SourceError(f"{self.label} did not answer within {self.settings.timeout:g}s "
                              f"(after {self.retries} retries); try again later or raise --timeout") from None
        except requests.RequestException as exc:
            raise SourceError(f"could not reach {self.label} at {host} after {self.retries} retries "
                              f"({_reason(exc)}); check the network and try again") from None
        finally:
            self._last_request = time.monotonic()
        self._respect_rate_limits(response.headers)
        if response.status_code >= 400:
            raise explain(response) or self._status_error(response)
        try:
            body = jsonrows.loads(_json_text(response))
        except ValueError:  # UnicodeDecodeError included
            raise SourceError(f"{self.label} answered HTTP {response.status_code} with a body that is not JSON "
                              f"({_snippet(response.text)!r}); try again later") from None
        if not isinstance(body, dict):
            raise SourceError(f"{self.label} answered with JSON that is not an object")
        return body

    def _status_error(self, response: requests.Response) -> SourceError:
        status = response.status_code
        if status >= 500 or status == 429:
            return SourceError(f"{self.label} answered HTTP {status} after {self.retries} retries: "
                               f"{error_detail(response)}; try again later")
        return SourceError(f"{self.label} answered HTTP {status}: {error_detail(response)}")

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


def _json_text(response: requests.Response) -> str:
    """The body as text, decoded the way requests decodes JSON (no slow charset sniffing)."""
    content = response.content
    return content.decode(response.encoding or guess_json_utf(content) or "utf-8")


def error_detail(response: requests.Response) -> str:
    """The provider's own words: error.title, else detail, else the first 200 characters."""
    try:
        body = response.json()
    except ValueError:
        return _snippet(response.text) or response.reason or "no details"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and (error.get("title") or error.get("description")):
            return " - ".join(str(error[k]) for k in ("title", "description") if error.get(k))
        if body.get("detail"):
            detail = body["detail"]
            if isinstance(detail, list):
                return "; ".join(_validation_item(d) for d in detail[:5])
            return str(detail)[:200]
    return _snippet(response.text)


def _validation_item(item) -> str:
    if isinstance(item, dict):
        where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
        return f"{where}: {item.get('msg', '')}".strip(": ")
    return str(item)


def _snippet(text: str) -> str:
    return " ".join((text or "").split())[:200]


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Caused by ", "Connection aborted.", "Failed to establish"):
        if marker in text:
            return text[text.index(marker):][:160].rstrip(")'\"")
    return type(exc).__name__
