"""The frontend's own session, request for request: it loads the place list, opens its default
place, then every place in its dropdown. Each page must be an answer a job seeker calls right:
metros with their suburbs, tech jobs only, local and remote postings told apart."""

import json
import threading
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator

from fakeapi import Rows, remotive_job, theirstack_job
from skillpulse_ingest.models import IngestionQuery
from skillpulse_ingest.pipeline import run_ingest
from skillpulse_ingest.server import make_server
from skillpulse_ingest.sources.remotive import normalize as remotive_normalize
from skillpulse_ingest.sources.theirstack import normalize as theirstack_normalize
from skillpulse_ingest.storage_sqlite import SQLiteStore

SCHEMAS = Path(__file__).resolve().parents[2] / "src" / "skillpulse_ingest" / "schemas"
DEFAULT_PLACE = "San Francisco Bay Area"  # what the frontend opens with


def frontend_skills_request(place: str) -> dict:
    """The query string the frontend sends for a place: its only level, its top five, no remote switch."""
    return {"location": place, "role": "any", "level": "entry", "days": "30", "top": "5"}


OFFICE_SUITE = "<p>Daily work in Microsoft Excel, Word and Outlook; reconcile invoices in our ERP.</p>"
BACKEND = "<p>Build Python services on AWS with PostgreSQL and Docker.</p>"
# (city, state, state name, how many entry-level engineering postings)
ENGINEERING = [
    ("San Francisco", "CA", "California", 3), ("San Jose", "CA", "California", 2), ("Oakland", "CA", "California", 1),
    ("Mountain View", "CA", "California", 1), ("Sacramento", "CA", "California", 3),
    ("Dallas", "TX", "Texas", 2), ("Plano", "TX", "Texas", 2), ("Irving", "TX", "Texas", 1),
    ("Fort Worth", "TX", "Texas", 1), ("Austin", "TX", "Texas", 3), ("Seattle", "WA", "Washington", 2),
    ("Bellevue", "WA", "Washington", 2), ("New York", "NY", "New York", 2), ("Jersey City", "NJ", "New Jersey", 2),
    ("Boise", "ID", "Idaho", 1),
]


def fill(db):
    rows, n = [], 0
    for city, state, name, count in ENGINEERING:
        for _ in range(count):
            rows.append(theirstack_job(n, city=(city, state, name), title="Junior Backend Developer", description=BACKEND))
            n += 1
    for city in [("Dallas", "TX", "Texas")] * 5 + [("Austin", "TX", "Texas")] * 5:  # one bookkeeping team each
        rows.append(theirstack_job(n, city=city, title="Junior Accounts Payable Specialist", description=OFFICE_SUITE))
        n += 1
    for _ in range(4):  # Denver has postings, but none for the frontend's level
        rows.append(theirstack_job(n, city=("Denver", "CO", "Colorado"), title="Senior Backend Engineer", description=BACKEND))
        n += 1
    remote = [remotive_job(i, title="Junior Backend Developer") for i in range(6)]
    with SQLiteStore.open(db) as store:
        run_ingest(IngestionQuery(), Rows("theirstack", rows, theirstack_normalize), store)
        run_ingest(IngestionQuery(source="remotive"), Rows("remotive", remote, remotive_normalize), store)


@pytest.fixture
def frontend(db):
    fill(db)
    httpd = make_server(db, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    session = requests.Session()
    base = "http://%s:%d" % httpd.server_address[:2]
    try:
        yield lambda path, params=None: session.get(base + path, params=params, timeout=10)
    finally:
        session.close()
        httpd.shutdown()
        httpd.server_close()


def insights_schema():
    schema = json.loads((SCHEMAS / "skill_insights_response.schema.json").read_text("utf-8"))
    return Draft202012Validator(schema)  # the file alone, as the frontend's validator loads it


def test_every_place_in_the_dropdown_gives_a_right_answer(frontend):
    listed = frontend("/api/locations")
    assert listed.status_code == 200
    places = listed.json()["locations"]
    assert places[0] == "United States"
    assert {DEFAULT_PLACE, "Dallas-Fort Worth Metroplex", "Austin, Texas Metropolitan Area", "Greater Seattle Area",
            "New York City Metropolitan Area", "Sacramento Metropolitan Area"} <= set(places)
    assert not {"San Jose, CA", "Plano, TX", "Bellevue, WA", "Jersey City, NJ"} & set(places)  # metros, once
    assert "Denver Metropolitan Area" not in places  # nothing there for entry level
    assert "Boise, ID" not in places  # one posting: under min_postings
    validate = insights_schema()
    for place in places:
        answer = frontend("/api/skills", frontend_skills_request(place))
        assert answer.status_code == 200, place
        body = answer.json()
        validate.validate(body)
        totals = body["totals"]
        where = "the United States" if place == "United States" else place
        assert body["title"] == f"Top skills for entry-level tech jobs in {where}"
        assert body["filters"]["location"] == place
        assert totals["local_postings_count"] + totals["remote_postings_count"] == totals["postings_count"]
        assert place == "United States" or totals["local_postings_count"] >= 3, place
        ids = [skill["id"] for skill in body["skills"]]
        assert ids and not {"excel", "microsoft word", "outlook"} & set(ids), (place, ids)
        assert f"based in {where}" in body["subtitle"] and "remote jobs open to it" in body["subtitle"], body["subtitle"]


def test_the_default_page_counts_the_whole_bay_area(frontend):
    body = frontend("/api/skills", frontend_skills_request(DEFAULT_PLACE)).json()
    totals = body["totals"]
    assert totals["local_postings_count"] == 3 + 2 + 1 + 1  # San Francisco, San Jose, Oakland, Mountain View
    assert totals["remote_postings_count"] == 6  # remote jobs open to the United States
    assert body["title"] == "Top skills for entry-level tech jobs in San Francisco Bay Area"
    assert body["subtitle"] == ("Posted in the last 30 days: 7 based in San Francisco Bay Area, "
                                "6 remote jobs open to it")
    city = frontend("/api/skills", frontend_skills_request("San Francisco, CA")).json()
    assert city["totals"]["local_postings_count"] == 3  # a city query stays the city
    dfw = frontend("/api/skills", frontend_skills_request("Dallas-Fort Worth Metroplex")).json()
    assert dfw["totals"]["local_postings_count"] == 2 + 2 + 1 + 1  # Dallas, Plano, Irving, Fort Worth; not Austin


def test_a_typo_gets_the_nearest_names_not_an_answer(frontend):
    for typo, nearest in (("Dallsa, TX", "Dallas, TX"), ("San Francisco Bay Aera", DEFAULT_PLACE)):
        answer = frontend("/api/skills", frontend_skills_request(typo))
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["parameter"] == "location" and f'did you mean "{nearest}"' in error["message"]
    known_but_empty = frontend("/api/skills", frontend_skills_request("Tulsa, OK"))
    assert known_but_empty.status_code == 200
    assert known_but_empty.json()["totals"]["local_postings_count"] == 0
