import pytest
import responses

from fakeapi import remotive_job
from skillpulse_ingest.models import IngestionQuery
from skillpulse_ingest.sources import FetchState, InvalidRow, SourceError, get_source
from skillpulse_ingest.sources.http import HttpSettings
from skillpulse_ingest.sources.remotive import DEFAULT_URL, normalize

FAST = HttpSettings(max_retries=3, backoff_factor=0, timeout=5)


def fetch(query=IngestionQuery(source="remotive"), env=None):
    src = get_source("remotive", FAST, env or {})
    state = FetchState()
    return [r for rows in src.pages(query, state) for r in rows], state


def feed(jobs):
    return {"00-warning": "moved", "0-legal-notice": "legal", "job-count": len(jobs), "jobs": jobs}


@responses.activate
def test_one_get_per_run_capped_client_side():
    responses.get(DEFAULT_URL, json=feed([remotive_job(i) for i in range(30)]))
    rows, state = fetch(IngestionQuery(source="remotive", max_results=10))
    assert len(rows) == 10 and len(responses.calls) == 1 and state.stopped_by == "max_results"
    assert "limit=10" in responses.calls[0].request.url


@responses.activate
def test_url_comes_from_the_environment():
    responses.get("http://127.0.0.1:9/jobs", json=feed([]))
    rows, _ = fetch(env={"SKILLPULSE_REMOTIVE_URL": "http://127.0.0.1:9/jobs"})
    assert rows == []


@pytest.mark.parametrize("status", [403, 429])
@responses.activate
def test_blocked_is_not_retried_and_says_to_wait(status):
    responses.get(DEFAULT_URL, status=status, body="blocked")
    with pytest.raises(SourceError, match="wait a few hours"):
        fetch()
    assert len(responses.calls) == 1


@responses.activate
def test_server_errors_are_retried_at_most_once():
    responses.get(DEFAULT_URL, status=503, body="down")
    with pytest.raises(SourceError, match="HTTP 503"):
        fetch()
    assert len(responses.calls) == 2


@pytest.mark.parametrize("body", ['{"job-count": 0}', "<html>maintenance</html>", ""])
@responses.activate
def test_bad_bodies_fail(body):
    responses.get(DEFAULT_URL, body=body, status=200)
    with pytest.raises(SourceError):
        fetch()


def test_normalize_keeps_the_link_back_and_strips_company():
    job = remotive_job(5, region="USA, CST (UTC-6)")
    p = normalize(job)
    assert p.url == job["url"] and p.source_id == "2091005" and p.company == "Remote Co 5"
    assert p.location == "Remote (USA, CST (UTC-6))" and p.remote is True and p.remote_scope == ",US,"
    assert p.date_posted == job["publication_date"][:10]
    assert normalize({**job, "candidate_required_location": ""}).location == "Remote"


@pytest.mark.parametrize("change", [{"url": ""}, {"title": None}, {"title": ["x"]},
                                    {"publication_date": "yesterday"}, {"id": {"x": 1}}])
def test_unusable_rows_are_invalid(change):
    with pytest.raises(InvalidRow):
        normalize({**remotive_job(1), **change})
