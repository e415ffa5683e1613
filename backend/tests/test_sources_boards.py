"""The four ATS sources: fetching one board (responses) and normalizing its rows."""

import json

import pytest
import responses

from fakeboards import ashby_job, greenhouse_job, lever_posting, smartrecruiters_posting
from skillpulse_ingest.skills import extract_skills
from skillpulse_ingest.sources import ats_families
from skillpulse_ingest.sources.ats import Board, BoardClient, fetch_board, split_places
from skillpulse_ingest.sources.base import HttpSettings, InvalidRow
from skillpulse_ingest.text import to_plain_text

FAST = HttpSettings(max_retries=2, backoff_factor=0, timeout=5)
FAMILIES = ats_families("boards")
GH = "https://boards-api.greenhouse.io/v1/boards"
LEVER, LEVER_EU = "https://api.lever.co/v0/postings", "https://api.eu.lever.co/v0/postings"
ASHBY = "https://api.ashbyhq.com/posting-api/job-board"
SR = "https://api.smartrecruiters.com/v1/companies"
UUID = "2f1c9e4a-1111-2222-3333-444455556666"


def fetch(board: Board):
    ats = FAMILIES[board.ats]
    return fetch_board(ats, BoardClient(ats, FAST, ats.base_urls({})), board)


def posting(board: Board, row: dict):
    return FAMILIES[board.ats].normalize(json.loads(json.dumps(row)), board)


# -- Greenhouse --

@responses.activate
def test_greenhouse_board_is_one_request_with_content_and_its_validators():
    responses.get(f"{GH}/acme/jobs", json={"jobs": [greenhouse_job(1, "Backend Engineer")], "meta": {"total": 1}},
                  headers={"ETag": '"v1"', "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT"})
    snapshot = fetch(Board("greenhouse", "acme"))
    assert snapshot.status == "ok" and len(snapshot.rows) == 1 and snapshot.company == "Acme Corp"
    assert "content=true" in responses.calls[0].request.url
    assert snapshot.validators["etag"] == '"v1"' and snapshot.validators["last_modified"].startswith("Tue")


@responses.activate
def test_greenhouse_sends_validators_and_a_304_is_unchanged():
    responses.get(f"{GH}/acme/jobs", status=304)
    snapshot = fetch(Board("greenhouse", "acme", etag='"v1"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT"))
    assert snapshot.status == "unchanged" and snapshot.rows == []
    headers = responses.calls[0].request.headers
    assert headers["If-None-Match"] == '"v1"' and headers["If-Modified-Since"].startswith("Tue")


@responses.activate
def test_the_same_body_as_last_time_is_unchanged_without_validators():
    body = {"jobs": [greenhouse_job(1, "Backend Engineer")]}
    responses.get(f"{GH}/acme/jobs", json=body)
    first = fetch(Board("greenhouse", "acme"))
    again = fetch(Board("greenhouse", "acme", body_hash=first.validators["body_hash"]))
    assert first.status == "ok" and again.status == "unchanged"


@pytest.mark.parametrize("status, body, outcome, words", [
    (404, '{"status": 404}', "missing", "no board 'acme'"),
    (503, "down", "failed", "HTTP 503 after 2 retries"),
    (200, "<html>maintenance</html>", "failed", "not JSON"),
    (200, '{"jobs": {"a": 1}}', "failed", "without a 'jobs' list"),
    (200, "[1, 2]", "failed", "not an object"),
])
@responses.activate
def test_greenhouse_missing_and_failed_boards(status, body, outcome, words):
    responses.get(f"{GH}/acme/jobs", status=status, body=body)
    snapshot = fetch(Board("greenhouse", "acme"))
    assert snapshot.status == outcome and words in snapshot.error


def test_greenhouse_content_is_unescaped_before_html_becomes_text():
    board = Board("greenhouse", "acme")
    job = greenhouse_job(7, "Backend Engineer", content="<p>Python&nbsp;and <b>Go</b></p><ul><li>AWS</li></ul>",
                         double_escaped=True)
    assert "&amp;lt;p&amp;gt;" in job["content"] or "&amp;" in job["content"]
    p = posting(board, job)
    assert p.description_raw.startswith("<p>Python")
    assert to_plain_text(p.description_raw) == "Python and Go\n- AWS"
    assert "<" not in to_plain_text(p.description_raw)
    assert {"python", "go", "aws"} <= set(extract_skills(p.title, p.description_raw))
    assert p.job_key == "greenhouse:7" and p.feed == "greenhouse:acme" and p.source_id == "7"


def test_greenhouse_places_remote_and_dates():
    board = Board("greenhouse", "acme")
    multi = posting(board, greenhouse_job(1, "Engineer", "New York City, NY; San Francisco, CA / Austin, TX"))
    assert (multi.city, multi.region_code, multi.country_code) == ("New York", "NY", "US")
    assert [(c, r, city) for c, r, city in multi.more_places] == [("US", "CA", "San Francisco"), ("US", "TX", "Austin")]
    assert multi.remote is False
    remote = posting(board, greenhouse_job(2, "Engineer", "Remote - US"))
    assert remote.remote is True and remote.remote_scope == ",US,"
    hybrid = posting(board, greenhouse_job(3, "Engineer", "Remote",
                                           metadata=[{"name": "Location Type", "value": "Hybrid", "value_type": "single_select"}]))
    assert hybrid.remote is False
    by_meta = posting(board, greenhouse_job(4, "Engineer", "Denver, CO",
                                            metadata=[{"name": "Workplace Type", "value": ["Remote"]}]))
    assert by_meta.remote is True and by_meta.city == "Denver"
    office = posting(board, greenhouse_job(5, "Engineer", "", offices=[{"name": "SF",
                                                                       "location": "San Francisco, California, United States"}]))
    assert (office.city, office.region_code) == ("San Francisco", "CA")
    row = greenhouse_job(6, "Engineer")
    row["first_published"] = "2026-11-20T09:00:00-05:00"
    assert posting(board, row).date_posted == "2026-11-20"
    del row["first_published"]
    row["updated_at"] = "2026-11-25T23:30:00-05:00"
    assert posting(board, row).date_posted == "2026-11-26"  # UTC


def test_greenhouse_rows_without_url_or_title_are_invalid():
    row = greenhouse_job(1, "Engineer")
    del row["absolute_url"]
    with pytest.raises(InvalidRow):
        posting(Board("greenhouse", "acme"), row)


def test_place_lists_split_on_their_separators():
    assert split_places("New York, NY; London, UK / Berlin | Paris") == ["New York, NY", "London, UK", "Berlin", "Paris"]
    assert split_places("Greater Toronto/Hamilton Area") == ["Greater Toronto/Hamilton Area"]


# -- Lever --

@responses.activate
def test_lever_tries_the_eu_host_when_the_global_one_does_not_know_the_site():
    responses.get(f"{LEVER}/euco", json=[])
    responses.get(f"{LEVER_EU}/euco", json=[lever_posting(UUID, "SRE", "Berlin, Germany", site="euco", eu=True)])
    snapshot = fetch(Board("lever", "euco"))
    assert snapshot.status == "ok" and snapshot.host == "eu" and len(snapshot.rows) == 1
    assert "mode=json" in responses.calls[0].request.url


@responses.activate
def test_lever_missing_on_both_hosts():
    responses.get(f"{LEVER}/ghost", status=404)
    responses.get(f"{LEVER_EU}/ghost", json=[])
    snapshot = fetch(Board("lever", "ghost"))
    assert snapshot.status == "missing" and "either host" in snapshot.error and len(responses.calls) == 2


@responses.activate
def test_lever_pages_while_pages_are_full():
    rows = [lever_posting(f"{i:08d}-1111-2222-3333-444455556666", f"Engineer {i}") for i in range(150)]
    responses.get(f"{LEVER}/big", json=rows[:100], match=[responses.matchers.query_param_matcher(
        {"mode": "json", "skip": "0", "limit": "100"})])
    responses.get(f"{LEVER}/big", json=rows[100:], match=[responses.matchers.query_param_matcher(
        {"mode": "json", "skip": "100", "limit": "100"})])
    snapshot = fetch(Board("lever", "big"))
    assert snapshot.status == "ok" and len(snapshot.rows) == 150 and len(responses.calls) == 2


def test_lever_analyzes_description_lists_and_additional():
    board = Board("lever", "acme")
    row = lever_posting(UUID.upper(), "Platform Engineer", requirements="<li>Kubernetes and Terraform</li>",
                        all_locations=["San Francisco, CA", "Seattle, WA"], days_ago=0)
    row["createdAt"] = 1764547200000  # 2025-12-01T00:00:00Z
    p = posting(board, row)
    assert "What you bring" in p.description_raw and "Kubernetes" in p.description_raw
    assert "great benefits" in p.description_raw
    assert {"kubernetes", "terraform"} <= set(extract_skills(p.title, p.description_raw))
    assert p.date_posted == "2025-12-01" and p.remote is False
    assert (p.city, p.region_code) == ("San Francisco", "CA") and p.more_places == (("US", "WA", "Seattle"),)
    assert p.job_key == f"lever:{UUID}"
    remote = posting(board, lever_posting(UUID, "Engineer", "Remote - Canada", workplace="remote", country="CA"))
    assert remote.remote is True and remote.remote_scope == ",CA,"


# -- Ashby --

@responses.activate
def test_ashby_skips_unlisted_jobs():
    responses.get(f"{ASHBY}/Acme", json={"apiVersion": "1", "jobs": [
        ashby_job(UUID, "Data Engineer"), ashby_job("bbbbbbbb-1111-2222-3333-444455556666", "Secret", listed=False)]})
    snapshot = fetch(Board("ashby", "Acme"))
    assert [r["title"] for r in snapshot.rows] == ["Data Engineer"]
    assert "includeCompensation=true" in responses.calls[0].request.url


def test_ashby_place_from_the_postal_address_else_the_text():
    board = Board("ashby", "Acme")
    address = {"postalAddress": {"addressLocality": "Plano", "addressRegion": "Texas", "addressCountry": "United States"}}
    p = posting(board, ashby_job(UUID, "Backend Engineer", "Dallas Office", remote=False, workplace="OnSite",
                                 address=address, secondary=[{"location": "Austin, TX", "address": None}]))
    assert (p.city, p.region_code, p.country_code) == ("Plano", "TX", "US") and p.remote is False
    assert p.more_places == (("US", "TX", "Austin"),)
    empty = {"postalAddress": {"addressLocality": "", "addressRegion": None, "addressCountry": ""}}
    q = posting(board, ashby_job(UUID, "Engineer", "Remote (United States | Canada)", address=empty))
    assert q.remote is True and q.remote_scope == ",CA,US,"


# -- SmartRecruiters --

@responses.activate
def test_smartrecruiters_details_only_for_postings_not_stored():
    jobs = [smartrecruiters_posting(str(743999000000 + i), f"Engineer {i}") for i in range(3)]
    listed = [{k: v for k, v in j.items() if k not in ("jobAd", "postingUrl")} for j in jobs]
    responses.get(f"{SR}/AcmeInc/postings", json={"offset": 0, "limit": 100, "totalFound": 3, "content": listed})
    responses.get(f"{SR}/AcmeInc/postings/743999000002", json=jobs[2])
    snapshot = fetch(Board("smartrecruiters", "AcmeInc",
                           stored_ids=frozenset({"743999000000", "743999000001"})))
    assert snapshot.status == "ok" and len(responses.calls) == 2
    assert "jobAd" in snapshot.rows[2] and "jobAd" not in snapshot.rows[0]
    p = posting(Board("smartrecruiters", "AcmeInc"), snapshot.rows[2])
    assert p.url == "https://jobs.smartrecruiters.com/AcmeInc/743999000002"
    assert "Qualifications" in p.description_raw and "Spring Boot" in p.description_raw
    assert {"java", "spring boot"} <= set(extract_skills(p.title, p.description_raw))
    assert (p.city, p.region_code, p.country_code) == ("Austin", "TX", "US")
    assert p.job_key == "smartrecruiters:743999000002" and p.company == "Acme Inc"


@responses.activate
def test_smartrecruiters_pages_until_total_found():
    jobs = [{"id": str(i), "name": f"Engineer {i}"} for i in range(130)]
    responses.get(f"{SR}/Big/postings", json={"offset": 0, "limit": 100, "totalFound": 130, "content": jobs[:100]},
                  match=[responses.matchers.query_param_matcher({"limit": "100", "offset": "0"})])
    responses.get(f"{SR}/Big/postings", json={"offset": 100, "limit": 100, "totalFound": 130, "content": jobs[100:]},
                  match=[responses.matchers.query_param_matcher({"limit": "100", "offset": "100"})])
    snapshot = fetch(Board("smartrecruiters", "Big", stored_ids=frozenset(str(i) for i in range(130))))
    assert len(snapshot.rows) == 130 and len(responses.calls) == 2


@pytest.mark.parametrize("status", [404, 500])
@responses.activate
def test_smartrecruiters_new_posting_whose_detail_fails_waits_for_the_next_run(status):
    jobs = [smartrecruiters_posting(str(743999000000 + i), f"Engineer {i}") for i in range(2)]
    listed = [{k: v for k, v in j.items() if k not in ("jobAd", "postingUrl")} for j in jobs]
    responses.get(f"{SR}/AcmeInc/postings", json={"offset": 0, "limit": 100, "totalFound": 2, "content": listed})
    responses.get(f"{SR}/AcmeInc/postings/743999000000", json=jobs[0])
    responses.get(f"{SR}/AcmeInc/postings/743999000001", status=status, json={"message": "nope"})
    snapshot = fetch(Board("smartrecruiters", "AcmeInc"))
    assert snapshot.status == "ok" and [r["id"] for r in snapshot.rows] == ["743999000000"]


# -- hostile rows --

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=200)  # lone surrogates included
ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(), ANY_TEXT, st.lists(ANY_TEXT, max_size=3),
                      st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3))


@settings(max_examples=60, deadline=None)
@given(title=ANY_TEXT, location=ANY_TEXT, content=ANY_TEXT, anything=ANY_VALUE)
def test_every_normalizer_takes_any_text_as_a_posting_or_an_invalid_row(title, location, content, anything):
    rows = {
        "greenhouse": {**greenhouse_job(1, "x"), "title": title, "location": {"name": location}, "content": content,
                       "metadata": anything, "first_published": anything},
        "lever": {**lever_posting(UUID, "x"), "text": title, "categories": {"location": location,
                  "allLocations": anything}, "lists": [{"text": title, "content": content}], "createdAt": anything},
        "ashby": {**ashby_job(UUID, "x"), "title": title, "location": location, "descriptionHtml": content,
                  "address": {"postalAddress": {"addressLocality": location, "addressRegion": anything}}},
        "smartrecruiters": {**smartrecruiters_posting("1", "x"), "name": title,
                            "location": {"city": location, "region": anything, "country": title}},
    }
    for ats, row in rows.items():
        board = Board(ats, "acme")
        try:
            p = FAMILIES[ats].normalize(row, board)
        except (InvalidRow, ValueError):
            continue
        assert p.title and p.feed == "greenhouse:acme".replace("greenhouse", ats)
        to_plain_text(p.description_raw)
