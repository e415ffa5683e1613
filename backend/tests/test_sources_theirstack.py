import json

import pytest
import responses
from responses import matchers

from fakeapi import theirstack_job
from skillpulse_ingest.models import IngestionQuery
from skillpulse_ingest.sources import AuthError, ConfigError, FetchState, InvalidRow, SourceError, get_source
from skillpulse_ingest.sources.http import HttpSettings
from skillpulse_ingest.role_match import matches_location
from skillpulse_ingest.sources.theirstack import DEFAULT_URL, normalize, search_body

URL = DEFAULT_URL
FAST = HttpSettings(max_retries=2, backoff_factor=0, timeout=5)


def source(settings=FAST, key="  secret-key \n"):
    return get_source("theirstack", settings, {"THEIRSTACK_API_KEY": key})


def page(jobs, total=None):
    return {"metadata": {"total_results": total, "truncated_results": 0, "truncated_companies": 0,
                         "total_companies": None}, "data": jobs}


def fetch_all(src, query, state=None):
    state = state or FetchState()
    return [row for rows in src.pages(query, state) for row in rows], state


def test_missing_key_is_a_config_error():
    with pytest.raises(ConfigError, match="THEIRSTACK_API_KEY"):
        get_source("theirstack", FAST, {})


def test_repr_hides_the_key():
    assert "secret" not in repr(source())


@responses.activate
def test_posts_with_bearer_key_and_pages_until_a_short_page():
    responses.post(URL, json=page([theirstack_job(i) for i in range(500)]),
                   match=[matchers.header_matcher({"Authorization": "Bearer secret-key",
                                                   "Content-Type": "application/json"}),
                          matchers.json_params_matcher({"offset": 0, "limit": 500}, strict_match=False)])
    responses.post(URL, json=page([theirstack_job(i) for i in range(500, 530)]),
                   match=[matchers.json_params_matcher({"offset": 500, "limit": 500}, strict_match=False)])
    rows, state = fetch_all(source(), IngestionQuery(max_results=1000))
    assert len(rows) == 530 and state.stopped_by == "end_of_results" and state.requests == 2


@responses.activate
def test_never_asks_for_more_than_max_results():
    responses.post(URL, json=page([theirstack_job(i) for i in range(500)]))
    responses.post(URL, json=page([theirstack_job(i) for i in range(500, 600)]))
    rows, state = fetch_all(source(), IngestionQuery(max_results=600))
    limits = [json.loads(c.request.body)["limit"] for c in responses.calls]
    assert limits == [500, 100] and len(rows) == 600 and state.stopped_by == "max_results"


@responses.activate
def test_stops_at_reported_total_and_on_a_repeated_page():
    responses.post(URL, json=page([theirstack_job(i) for i in range(3)], total=3))
    rows, state = fetch_all(source(), IngestionQuery(max_results=3))
    assert len(rows) == 3
    responses.reset()
    same = page([theirstack_job(i) for i in range(2)], total=None)
    responses.post(URL, json=same)
    src = source()
    state = FetchState()
    gen = src.pages(IngestionQuery(max_results=1000), state)
    # page size 2 of 500 requested is short -> stops; emulate a server that ignores offset with full pages
    assert sum(len(p) for p in gen) == 2 and state.stopped_by == "end_of_results"


def test_offset_pages_detects_a_loop():
    from skillpulse_ingest.sources.base import offset_pages
    state = FetchState()
    pages = list(offset_pages(lambda offset, limit: ([{"id": 1}, {"id": 2}], None),
                              max_results=100, page_limit=2, state=state))
    assert len(pages) == 1 and state.stopped_by == "repeated_page"


def test_offset_pages_honours_max_pages():
    from skillpulse_ingest.sources.base import offset_pages
    state = FetchState(max_pages=2)
    pages = list(offset_pages(lambda offset, limit: ([{"id": offset}, {"id": offset + 1}], None),
                              max_results=100, page_limit=2, state=state))
    assert len(pages) == 2 and state.stopped_by == "max_pages"


@pytest.mark.parametrize("status,error,message", [
    (401, AuthError, "rejected the API key"), (403, AuthError, "rejected the API key"),
    (402, SourceError, "out of API credits"), (422, SourceError, "posted_at_max_age_days: field required"),
])
@responses.activate
def test_permanent_errors_are_not_retried(status, error, message):
    body = {"detail": [{"loc": ["body", "posted_at_max_age_days"], "msg": "field required"}]} \
        if status == 422 else {"error": {"code": "E-1", "title": "nope"}}
    responses.post(URL, json=body, status=status)
    with pytest.raises(error, match=message) as info:
        fetch_all(source(), IngestionQuery())
    assert len(responses.calls) == 1 and "secret-key" not in str(info.value)


@responses.activate
def test_missing_data_list_is_a_failure():
    responses.post(URL, json={"metadata": {}})
    with pytest.raises(SourceError, match="without a 'data' list"):
        fetch_all(source(), IngestionQuery())


def test_search_body_pushes_filters_to_the_server():
    body = search_body(IngestionQuery(role="backend", level="senior", location="Dallas, TX", days=7,
                                      remote="exclude"), FetchState(since="2026-11-20T00:00:00Z"))
    assert body["posted_at_max_age_days"] == 7
    assert body["job_seniority_or"] == ["senior"]
    assert body["job_country_code_or"] == ["US"]
    assert body["job_location_pattern_or"] == ["Dallas"]
    assert body["remote"] is False
    assert body["discovered_at_gte"] == "2026-11-20T00:00:00Z"
    assert "job_title_pattern_or" in body
    # with remote included, country-only listings must survive the location pattern
    included = search_body(IngestionQuery(location="Dallas, TX"), FetchState())
    assert len(included["job_location_pattern_or"]) == 2 and "remote" not in included
    assert "job_title_pattern_or" not in search_body(IngestionQuery(role="general"), FetchState())


def test_a_metro_asks_for_its_towns_and_rows_keep_their_coordinates():
    body = search_body(IngestionQuery(location="Dallas-Fort Worth Metroplex", remote="exclude"), FetchState())
    patterns = {p.replace("\\", "") for p in body["job_location_pattern_or"]}  # re.escape'd
    assert {"Dallas", "Fort Worth", "Plano", "Irving"} <= patterns and "Austin" not in patterns
    assert body["job_country_code_or"] == ["US"]
    row = theirstack_job(1, city=("Tiny Office Park", "TX", "Texas"))
    row.update(latitude=33.08, longitude=-96.83)
    p = normalize(row)
    assert (p.latitude, p.longitude) == (33.08, -96.83)
    assert matches_location(p, "Dallas-Fort Worth Metroplex") and not matches_location(p, "Dallas, TX")
    row.update(latitude="not a number", longitude=None)
    assert normalize(row).latitude is None


def test_normalize_maps_fields_per_the_spec():
    job = theirstack_job(1)
    p = normalize(job)
    assert p.source == "theirstack" and p.source_id == str(job["id"])
    assert p.url == "https://boards.greenhouse.io/company1/jobs/7400001"
    assert (p.title, p.company, p.location) == (job["job_title"], "Company 1", "Austin, TX, United States")
    assert (p.country_code, p.region_code, p.city, p.remote) == ("US", "TX", "Austin", False)
    assert p.date_posted == job["date_posted"] and p.discovered_at == f"{job['date_posted']}T01:02:41Z"
    assert json.loads(p.raw_json) == job


def test_normalize_country_only_remote_and_fallbacks():
    job = theirstack_job(2, remote=True, country_only=True)
    job.update(final_url=None, date_posted=None, discovered_at="2026-11-20T23:30:00-05:00", company=None)
    p = normalize(job)
    assert p.url == job["url"] and p.location == "Remote (United States)" and p.remote is True
    assert p.remote_scope == ",US," and p.company == "Company 2"
    assert p.date_posted == "2026-11-21"  # the offset timestamp is 04:30 UTC the next day


@pytest.mark.parametrize("change", [
    {"has_blurred_data": True}, {"final_url": None, "url": None, "source_url": None},
    {"job_title": "   "}, {"job_title": 42}, {"final_url": "javascript:alert(1)", "url": None, "source_url": None},
])
def test_unusable_rows_are_invalid(change):
    with pytest.raises(InvalidRow):
        normalize({**theirstack_job(3), **change})


@responses.activate
def test_transient_errors_are_retried_then_succeed():
    responses.post(URL, status=503, json={})
    responses.post(URL, json=page([theirstack_job(1)]))
    rows, state = fetch_all(source(HttpSettings(max_retries=2, backoff_factor=0, timeout=5)),
                            IngestionQuery(max_results=1000))
    assert len(rows) == 1
    # The 503 may have been billed: its 500 rows count, so the retry asks for the other 500 only.
    assert [json.loads(call.request.body)["limit"] for call in responses.calls] == [500, 500]
    assert state.billed == 501


@responses.activate
def test_a_retry_that_may_be_billed_never_breaks_the_credit_cap():
    responses.post(URL, status=502, json={})
    responses.post(URL, json=page([theirstack_job(i) for i in range(100)]))
    rows, state = fetch_all(source(HttpSettings(max_retries=3, backoff_factor=0, timeout=5)),
                            IngestionQuery(max_results=600))
    assert [json.loads(call.request.body)["limit"] for call in responses.calls] == [500, 100]
    assert len(rows) == 100 and state.billed == 600 and state.stopped_by == "max_results"


@responses.activate
def test_a_server_error_is_not_retried_when_the_cap_leaves_no_credits():
    responses.post(URL, status=503, json={})
    with pytest.raises(SourceError, match="no credits"):
        fetch_all(source(HttpSettings(max_retries=3, backoff_factor=0, timeout=5)), IngestionQuery(max_results=250))
    assert len(responses.calls) == 1
