"""The frontend's HTTP API: a real server on a free port, called with a real HTTP client."""

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from conftest import clean_env, run_cli
from fakeapi import Rows, remotive_job, theirstack_job
from skillpulse_ingest.models import IngestionQuery
from skillpulse_ingest.pipeline import run_ingest
from skillpulse_ingest.server import make_server, openapi_document
from skillpulse_ingest.sources.remotive import normalize as remotive_normalize
from skillpulse_ingest.sources.theirstack import normalize as theirstack_normalize
from skillpulse_ingest.storage_sqlite import SCHEMA_VERSION, SQLiteStore

SCHEMAS = Path(__file__).resolve().parents[2] / "src" / "skillpulse_ingest" / "schemas"


def validator(name):
    files = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources([(n, Resource.from_contents(s)) for n, s in files.items()] +
                                         [(s["$id"], Resource.from_contents(s)) for s in files.values()])
    return Draft202012Validator(files[f"{name}.schema.json"], registry=registry)


def fill(db):
    cities = [("Dallas", "TX", "Texas"), ("Seattle", "WA", "Washington"), ("San Francisco", "CA", "California"),
              ("New York", "NY", "New York"), ("Austin", "TX", "Texas")]
    rows = [theirstack_job(i, city=cities[i % 5], title=["Junior Backend Developer", "Software Engineer",
                                                        "Senior Data Engineer"][i % 3]) for i in range(90)]
    suburbs = [theirstack_job(600 + i, city=city, title="Junior Backend Developer")
               for i, city in enumerate([("Plano", "TX", "Texas")] * 3 + [("Oakland", "CA", "California")] * 2)]
    berlin = theirstack_job(500, title="Junior Backend Developer")
    berlin.update(country="Germany", country_code="DE", state_code=None, cities=["Berlin"], short_location="Berlin",
                  location="Berlin")
    with SQLiteStore.open(db) as store:
        run_ingest(IngestionQuery(), Rows("theirstack", rows + suburbs + [berlin], theirstack_normalize), store)
        run_ingest(IngestionQuery(source="remotive"), Rows("remotive", [remotive_job(i) for i in range(12)],
                                                           remotive_normalize), store)


def serving(db):
    fill(db)
    httpd = make_server(db, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host, port = httpd.server_address[:2]
    return httpd, f"http://{host}:{port}"


@pytest.fixture
def server(db):
    httpd, base = serving(db)
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for every generated case of the fuzz test (it only reads)."""
    httpd, base = serving(tmp_path_factory.mktemp("fuzz") / "skillpulse.db")
    yield base
    httpd.shutdown()
    httpd.server_close()


def get(base, path, **params):
    return requests.get(base + path, params=params, timeout=10)


def test_skills_with_the_frontend_call_and_defaults(server):
    explicit = get(server, "/api/skills", location="United States", role="any", level="entry", days=30, top=5)
    assert explicit.status_code == 200
    body = explicit.json()
    validator("skill_insights_response").validate(body)
    assert body["title"] == "Top skills for entry-level tech jobs in the United States"
    assert body["filters"] == {"location": "United States", "role": "any", "level": "entry", "remote": "include"}
    assert len(body["skills"]) == 5 and body["totals"]["postings_count"] > 0
    defaults = get(server, "/api/skills").json()
    assert {k: v for k, v in defaults.items() if k != "generated_at"} == \
        {k: v for k, v in body.items() if k != "generated_at"}


def test_skills_for_a_city_and_metro_names(server):
    dallas = get(server, "/api/skills", location="Dallas, TX", role="backend", level="entry").json()
    assert dallas["title"] == "Top skills for entry-level backend jobs in Dallas, TX"
    metro = get(server, "/api/skills", location="Dallas-Fort Worth Metroplex", role="backend", level="entry").json()
    assert metro["title"] == "Top skills for entry-level backend jobs in Dallas-Fort Worth Metroplex"
    local = metro["totals"]["local_postings_count"]
    assert local == dallas["totals"]["local_postings_count"] + 3  # Plano counts; Austin does not
    austin = get(server, "/api/skills", location="Austin, TX", role="backend", level="entry").json()
    assert austin["totals"]["local_postings_count"] > 0
    bay = get(server, "/api/skills", location="San Francisco Bay Area", role="backend", level="entry").json()
    city = get(server, "/api/skills", location="San Francisco, CA", role="backend", level="entry").json()
    assert bay["totals"]["local_postings_count"] == city["totals"]["local_postings_count"] + 2  # Oakland
    for name in ("San Francisco Bay Area", "Greater Seattle Area", "New York City Metropolitan Area"):
        assert get(server, "/api/skills", location=name, level="any").json()["totals"]["postings_count"] > 0


def test_a_known_place_with_no_postings_is_an_empty_answer_not_an_error(server):
    response = get(server, "/api/skills", location="Boise, ID", remote="exclude")
    assert response.status_code == 200
    body = response.json()
    validator("skill_insights_response").validate(body)
    assert body["totals"]["postings_count"] == 0 and body["skills"] == [] and body["sources"] == []


def test_a_place_nobody_knows_is_a_400_with_the_nearest_names(server):
    for typo, nearest in (("Dallsa, TX", '"Dallas, TX"'), ("San Francisco Bay Aera", '"San Francisco Bay Area"')):
        response = get(server, "/api/skills", location=typo)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["parameter"] == "location" and nearest in error["message"] and typo in error["message"]


def test_locations_are_clean_and_each_works_as_a_location(server):
    body = get(server, "/api/locations", days=30, limit=100).json()
    validator("locations_response").validate(body)
    places = body["locations"]
    assert places[0] == "United States" and body["window"] == {"days": 30}
    assert {"Dallas-Fort Worth Metroplex", "Greater Seattle Area", "Austin, Texas Metropolitan Area",
            "San Francisco Bay Area", "New York City Metropolitan Area"} <= set(places)
    assert not {"Dallas, TX", "Plano, TX", "Oakland, CA"} & set(places)  # a metro is one entry
    assert "Berlin, Germany" not in places  # one posting: under the default min_postings of 3
    assert len(places) == len(set(places))
    for place in places:  # each choice gives a page with postings, for the frontend's own query
        answer = get(server, "/api/skills", location=place, remote="exclude").json()
        assert answer["totals"]["postings_count"] >= 3 or place == "United States", place
    assert get(server, "/api/locations", limit=2).json()["locations"] == places[:2]
    everything = get(server, "/api/locations", min_postings=1, level="any").json()["locations"]
    assert "Berlin, Germany" in everything
    for parameter, value in (("role", "chef"), ("level", "junior"), ("remote", "maybe"), ("min_postings", "0")):
        error = get(server, "/api/locations", **{parameter: value})
        assert error.status_code == 400 and error.json()["error"]["parameter"] == parameter


def test_health(server):
    body = get(server, "/api/health").json()
    validator("health_response").validate(body)
    assert body["status"] == "ok" and body["postings"] == 108 and body["database_schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize("path,params,parameter", [
    ("/api/skills", {"role": "chef"}, "role"), ("/api/skills", {"level": "junior"}, "level"),
    ("/api/skills", {"days": "0"}, "days"), ("/api/skills", {"days": "abc"}, "days"),
    ("/api/skills", {"top": "-1"}, "top"), ("/api/skills", {"top": "10000"}, "top"),
    ("/api/skills", {"remote": "maybe"}, "remote"), ("/api/skills", {"days": "99999999"}, "days"),
    ("/api/locations", {"limit": "0"}, "limit"), ("/api/locations", {"days": "x"}, "days"),
])
def test_bad_parameters_are_400_naming_the_parameter(server, path, params, parameter):
    response = get(server, path, **params)
    assert response.status_code == 400
    body = response.json()
    validator("error_response").validate(body)
    assert body["error"]["parameter"] == parameter and body["error"]["status"] == 400


def test_unknown_parameters_are_ignored_and_unknown_paths_are_404(server):
    assert get(server, "/api/skills", color="blue").status_code == 200
    missing = get(server, "/api/nope")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == 404
    post = requests.post(server + "/api/skills", timeout=10)
    assert post.status_code == 405 and post.json()["error"]["status"] == 405


def test_cors_for_allowed_origins_and_preflight(server):
    origin = "http://localhost:5173"
    response = requests.get(server + "/api/health", headers={"Origin": origin}, timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == origin
    preflight = requests.options(server + "/api/skills", timeout=10, headers={
        "Origin": "http://127.0.0.1:4173", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:4173"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    stranger = requests.get(server + "/api/health", headers={"Origin": "http://evil.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_a_slow_client_does_not_block_others(server):
    host, port = server.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    try:
        start = time.monotonic()
        assert get(server, "/api/health").status_code == 200
        assert time.monotonic() - start < 2
    finally:
        slow.close()


def test_answers_while_an_ingest_writes(server, db, api):
    api.theirstack_jobs = [theirstack_job(10_000 + i) for i in range(3000)]
    ingest = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "ingest", "--max-results", "3000",
                               "--min-interval", "0", "--db", str(db)], env=clean_env(**api.env()),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    statuses, counts = [], []
    while ingest.poll() is None:
        statuses.append(get(server, "/api/skills", level="any").status_code)
        counts.append(get(server, "/api/health").json()["postings"])
    assert ingest.returncode == 0, ingest.stderr.read()
    assert len(statuses) > 3 and set(statuses) == {200}
    assert counts == sorted(counts) and get(server, "/api/health").json()["postings"] == 108 + 3000


def test_openapi_describes_every_endpoint(server):
    doc = get(server, "/openapi.json").json()
    assert doc == json.loads(json.dumps(openapi_document()))
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/api/skills", "/api/locations", "/api/health"}
    assert set(doc["components"]["schemas"]) >= {"SkillInsightsResponse", "LocationsResponse", "HealthResponse",
                                                 "ErrorResponse"}


def test_serve_command_starts_answers_and_stops_on_ctrl_c(db, tmp_path):
    missing = run_cli("serve", "--db", tmp_path / "missing.db", "--port", 0)
    assert missing.returncode == 2 and "no database" in missing.stderr
    fill(db)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "serve", "--db", str(db), "--port", str(port)],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}" in line
        assert get(f"http://127.0.0.1:{port}", "/api/health").status_code == 200
    finally:
        if sys.platform == "win32":
            proc.terminate()
        else:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    if sys.platform != "win32":
        assert proc.returncode == 0 and "stopped" in proc.stderr.read()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_serve_stops_cleanly_when_started_in_the_background(db, signame):
    fill(db)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "serve", "--db", str(db), "--port", str(port)],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        # The line comes after the handlers are in place, so a signal sent at once must stop it cleanly.
        assert f":{port}" in proc.stderr.readline()
        proc.send_signal(getattr(signal, signame))  # a background job inherits SIGINT ignored; skillpulse still stops
        proc.wait(timeout=10)
        assert proc.returncode == 0 and "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


# The schema comes straight from the code that serves /openapi.json; test_openapi_describes_every_endpoint
# checks the served copy. Loading it eagerly avoids schemathesis' lazy fixtures.
fuzz = schemathesis.openapi.from_dict(openapi_document())


@fuzz.parametrize()
def test_fuzz_the_api_from_its_own_openapi_document(case, shared_server):
    response = case.call(base_url=shared_server)
    excluded = []
    if response.status_code == 400 and response.json()["error"]["parameter"] == "location":
        # Any string is a schema-valid place, but a place nobody knows is a 400 by design.
        assert response.json()["error"]["message"].startswith("unknown place")
        excluded.append(positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)
