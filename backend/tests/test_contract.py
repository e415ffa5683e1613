"""The JSON contract: examples and real output validate against the published schemas."""

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from fakeapi import theirstack_job
from skillpulse_ingest.insights import skill_insights
from skillpulse_ingest.models import IngestionQuery
from skillpulse_ingest.pipeline import run_ingest
from skillpulse_ingest.sources.theirstack import normalize
from skillpulse_ingest.storage_sqlite import SQLiteStore

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMAS = Path(__file__).resolve().parents[1] / "src" / "skillpulse_ingest" / "schemas"
NAMES = ("ingest_query", "job_posting", "skill_insights_response")


def validator(name: str) -> Draft202012Validator:
    schemas = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources(
        [(n, Resource.from_contents(s)) for n, s in schemas.items()] +
        [(s["$id"], Resource.from_contents(s)) for s in schemas.values()])
    schema = schemas[f"{name}.schema.json"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry)


def test_published_schemas_match_the_package():
    published = {p.name: p.read_bytes() for p in (DOCS / "schemas").glob("*.json")}
    packaged = {p.name: p.read_bytes() for p in SCHEMAS.glob("*.json")}
    assert published == packaged and len(packaged) == 6


@pytest.mark.parametrize("name", NAMES)
def test_examples_are_valid(name):
    validator(name).validate(json.loads((DOCS / "examples" / f"{name}.json").read_text()))


def test_schema_rejects_a_wrong_bucket():
    bad = json.loads((DOCS / "examples" / "skill_insights_response.json").read_text())
    bad["filters"]["role"] = "wizard"
    assert list(validator("skill_insights_response").iter_errors(bad))


def test_query_to_dict_is_valid():
    validator("ingest_query").validate(IngestionQuery(location="Dallas, TX", role="backend").to_dict())


class Rows:
    name = "theirstack"

    def __init__(self, rows):
        self.rows = rows

    def pages(self, query, state):
        yield self.rows

    def normalize(self, row):
        return normalize(row)


@pytest.fixture
def filled(db):
    rows = [theirstack_job(i, date_posted="2026-11-20") for i in range(60)]
    rows += [theirstack_job(100 + i, date_posted="2026-08-01") for i in range(5)]  # outside the window
    # fixed dates: these tests pin "now" to NOW, so the window is always 2026-10-27..2026-11-26
    with SQLiteStore.open(db) as store:
        run_ingest(IngestionQuery(days=3650), Rows(rows), store)
    return db


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_real_insights_are_valid_and_follow_the_rules(filled):
    with SQLiteStore.open(filled, readonly=True) as store:
        response = skill_insights(store, location="Dallas, TX", role="backend", level="entry", top=5, now=NOW)
    validator("skill_insights_response").validate(response)
    assert response["title"] == "Top skills for entry-level backend jobs in Dallas, TX"
    assert response["window"] == {"days": 30, "from": "2026-10-28", "to": "2026-11-26"}  # exactly 30 calendar days
    total = response["totals"]["postings_count"]
    assert total > 0 and len(response["skills"]) == 5
    counts = [(-s["count"], s["name"].casefold()) for s in response["skills"]]
    assert counts == sorted(counts)
    for s in response["skills"]:
        assert s["pct"] == round(s["count"] / total * 100, 1)
    totals = response["totals"]
    assert totals["local_postings_count"] + totals["remote_postings_count"] == total
    assert response["schema_version"] == "1.1.0" and response["subtitle"].startswith("Posted in the last 30 days")
    assert "Dallas, TX" in response["subtitle"]


def test_no_location_says_united_states_only_for_us_only_data(filled):
    with SQLiteStore.open(filled, readonly=True) as store:
        assert skill_insights(store, now=NOW)["title"] == "Top skills for tech jobs in the United States"


def test_empty_result_is_still_valid(filled):
    with SQLiteStore.open(filled, readonly=True) as store:
        response = skill_insights(store, location="Berlin, Germany", role="ml", level="intern", now=NOW)
    validator("skill_insights_response").validate(response)
    assert response["totals"] == {"postings_count": 0, "unique_companies_count": 0, "postings_with_skills": 0,
                                  "local_postings_count": 0, "remote_postings_count": 0}
    assert response["skills"] == [] and response["sources"] == []
    assert response["title"] == "Top skills for machine learning internships in Berlin, Germany"


def test_cli_outputs_validate(filled):
    run = lambda *a: subprocess.run([sys.executable, "-m", "skillpulse_ingest", *a, "--db", str(filled)],
                                    capture_output=True, text=True, check=True).stdout
    validator("skill_insights_response").validate(json.loads(run("insights", "--role", "backend", "--days", "3650")))
    postings = json.loads(run("inspect", "--format", "json", "--limit", "5"))
    assert len(postings) == 5
    for posting in postings:
        validator("job_posting").validate(posting)
    for r in json.loads(run("runs", "--format", "json")):
        validator("ingest_query").validate(r["query"])  # an object, not JSON in a string


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.name)
def test_each_schema_validates_on_its_own(path):
    """A consumer that loads one file, with no registry, never meets an unresolvable $ref."""
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert "job_posting.schema.json#" not in path.read_text()
    shared = json.loads((SCHEMAS / "job_posting.schema.json").read_text())["$defs"]
    for name, definition in schema.get("$defs", {}).items():
        if name in shared:
            assert definition == shared[name], f"{path.name}: $defs/{name} differs from job_posting's"
    alone = Draft202012Validator(schema)  # no registry: a $ref out of the file would raise here
    examples = {"skill_insights_response": DOCS / "examples" / "skill_insights_response.json",
                "job_posting": DOCS / "examples" / "job_posting.json",
                "ingest_query": DOCS / "examples" / "ingest_query.json"}
    example = examples.get(path.name.replace(".schema.json", ""))
    if example is not None:
        alone.validate(json.loads(example.read_text()))
    if path.name == "health_response.schema.json":
        alone.validate({"status": "ok", "postings": 1, "schema_version": "1.0.0", "database_schema_version": 4,
                        "last_run_at": "2026-12-01T00:00:00Z"})
    if path.name == "locations_response.schema.json":
        alone.validate({"locations": ["United States"], "window": {"days": 30}, "generated_at": "2026-12-01T00:00:00Z"})
