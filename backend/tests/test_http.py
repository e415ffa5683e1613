import time

import pytest
import responses
from urllib3 import HTTPResponse

from skillpulse_ingest.sources import SourceError
from skillpulse_ingest.sources.http import RETRY_AFTER_CAP, HttpClient, HttpSettings, PoliteRetry, RetryPolicy


def response(headers):
    return HTTPResponse(status=429, headers=headers)


def test_retry_after_is_honoured_up_to_the_cap():
    retry = PoliteRetry(total=3)
    assert retry.get_retry_after(response({"Retry-After": "7"})) == 7
    assert retry.get_retry_after(response({"Retry-After": "86400"})) == RETRY_AFTER_CAP


def test_ratelimit_reset_waits_for_the_exhausted_window():
    retry = PoliteRetry(total=3)
    headers = {"RateLimit-Reset": "1, 40, 3000", "RateLimit-Remaining": "3, 0, 12"}
    assert retry.get_retry_after(response(headers)) == 40
    assert retry.get_retry_after(response({"RateLimit-Reset": "5"})) == 5
    assert retry.get_retry_after(response({})) is None


def test_min_backoff_survives_copies():
    retry = PoliteRetry(total=3, backoff_factor=0, min_backoff=30).increment(method="GET", url="/", error=OSError())
    assert retry.min_backoff == 30 and retry.get_backoff_time() == 30


@responses.activate
def test_exhausted_retries_name_the_status_and_count(caplog):
    responses.get("https://api.test/x", status=502, body="bad gateway")
    client = HttpClient("Test", HttpSettings(max_retries=2, backoff_factor=0))
    with pytest.raises(SourceError, match="HTTP 502 after 2 retries: bad gateway; try again later"):
        client.request_json("GET", "https://api.test/x")
    assert len(responses.calls) == 3
    assert sum("retrying" in r.message for r in caplog.records) == 2


@responses.activate
def test_policy_limits_retries_and_statuses():
    responses.get("https://api.test/x", status=429, body="slow down")
    client = HttpClient("Test", HttpSettings(max_retries=5, backoff_factor=0), RetryPolicy(statuses=(503,)))
    with pytest.raises(SourceError):
        client.request_json("GET", "https://api.test/x")
    assert len(responses.calls) == 1


@responses.activate
def test_min_interval_spaces_requests():
    responses.get("https://api.test/x", json={"ok": True})
    client = HttpClient("Test", HttpSettings(min_interval=0.2))
    start = time.monotonic()
    for _ in range(3):
        client.request_json("GET", "https://api.test/x")
    assert time.monotonic() - start >= 0.4


@responses.activate
def test_non_object_json_is_an_error():
    responses.get("https://api.test/x", json=[1, 2])
    with pytest.raises(SourceError, match="not an object"):
        HttpClient("Test", HttpSettings()).request_json("GET", "https://api.test/x")
