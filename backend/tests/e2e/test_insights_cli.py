"""insights, skills list and skills rebuild as a user runs them, after a real ingest."""

import json
import sqlite3

from conftest import run_cli
from fakeapi import theirstack_job


def ingest(api, db):
    api.theirstack_jobs = [theirstack_job(i) for i in range(120)]
    result = run_cli("ingest", "--max-results", 200, "--db", db, env=api.env())
    assert result.returncode == 0, result.stderr


def test_insights_after_a_real_ingest(api, db):
    ingest(api, db)
    result = run_cli("insights", "--role", "backend", "--level", "entry", "--location", "Dallas, TX",
                     "--days", 30, "--top", 3, "--db", db)
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["title"] == "Top skills for entry-level backend jobs in Dallas, TX"
    # entry-level backend titles are jobs 1 and 10 of every 12; Dallas, TX is city 0 of every 5
    expected = sum(1 for i in range(120) if i % 12 in (1, 10) and i % 5 == 0)
    assert response["totals"]["postings_count"] == expected == 4 and len(response["skills"]) == 3
    table = run_cli("insights", "--role", "backend", "--format", "table", "--top", 3, "--db", db)
    lines = table.stdout.splitlines()
    assert lines[0] == "Top skills for backend jobs in the United States"
    assert lines[3].split() == ["rank", "skill", "count", "%"] and len(lines) == 8


def test_insights_rejects_bad_values_with_exit_2(db):
    for args in (["--top", "0"], ["--days", "-1"], ["--role", "chef"]):
        result = run_cli("insights", "--db", db, *args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_a_place_nobody_knows_is_exit_2_with_the_nearest_name(api, db):
    ingest(api, db)
    for command in ("insights", "inspect"):
        result = run_cli(command, "--location", "Dallsa, TX", "--db", db)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr == 'skillpulse: error: unknown place "Dallsa, TX"; did you mean "Dallas, TX"?\n'
    known = run_cli("insights", "--location", "Tulsa, OK", "--remote", "exclude", "--db", db)
    assert known.returncode == 0 and json.loads(known.stdout)["totals"]["postings_count"] == 0
    metro = json.loads(run_cli("insights", "--location", "Greater Dallas", "--db", db).stdout)
    assert metro["title"] == "Top skills for tech jobs in Greater Dallas"  # the user's own name
    assert metro["totals"]["local_postings_count"] >= 1


def test_skills_list_and_rebuild(api, db):
    listing = json.loads(run_cli("skills", "list", "--category", "cloud", "--format", "json").stdout)
    assert {"id": "aws", "name": "AWS", "category": "cloud"} in listing
    assert all(s["category"] == "cloud" for s in listing)

    ingest(api, db)
    conn = sqlite3.connect(db)
    before = conn.execute("SELECT count(*) FROM posting_skills").fetchone()[0]
    conn.execute("DELETE FROM posting_skills")
    conn.commit()
    result = run_cli("skills", "rebuild", "--db", db)
    assert result.returncode == 0 and "re-extracted skills of 120 postings" in result.stderr
    assert conn.execute("SELECT count(*) FROM posting_skills").fetchone()[0] == before > 0
    conn.close()
