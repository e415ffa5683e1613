"""`ingest --load FILE`: a saved answer gives the same rows as the network path, offline."""

import json
import urllib.request

import pytest

from conftest import query, run_cli
from fakeapi import remotive_job, theirstack_job
from fakeboards import FakeBoards, ashby_job, greenhouse_job, lever_posting, smartrecruiters_posting

COLUMNS = ("id, source, source_id, url, title, company, location, remote, date_posted, role_bucket, level_bucket, "
           "country_code, region_code, city, remote_scope, job_key, feed, skills, description_raw")


def stored(db):
    return query(db, f"SELECT {COLUMNS} FROM postings ORDER BY id")


@pytest.fixture
def boards():
    server = FakeBoards().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("ats, token, path, jobs", [
    ("greenhouse", "acme", "/greenhouse/acme/jobs?content=true",
     [greenhouse_job(1, "Backend Engineer", "Austin, TX; Remote - US", double_escaped=True),
      greenhouse_job(2, "Data Analyst")]),
    ("lever", "acme", "/lever/acme?mode=json", [lever_posting("2f1c9e4a-1111-2222-3333-444455556666", "SRE")]),
    ("ashby", "Acme", "/ashby/Acme?includeCompensation=true",
     [ashby_job("aaaaaaaa-1111-2222-3333-444455556666", "ML Engineer"),
      ashby_job("bbbbbbbb-1111-2222-3333-444455556666", "Hidden", listed=False)]),
])
def test_a_saved_board_gives_the_rows_of_the_network_path(boards, tmp_path, ats, token, path, jobs):
    boards.boards[(ats, token)] = jobs
    fetched = tmp_path / "fetched.db"
    run_cli("boards", "add", f"{ats}:{token}", "--db", fetched)
    assert run_cli("ingest", "--source", ats, "--db", fetched, env=boards.env()).returncode == 0
    saved = tmp_path / "answer.json"
    saved.write_bytes(urllib.request.urlopen(boards.base_url + path).read())
    loaded = tmp_path / "loaded.db"
    result = run_cli("ingest", "--load", saved, "--db", loaded, "--json")  # no network settings at all
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == ats
    assert stored(loaded) == stored(fetched) and len(stored(loaded)) >= 1


def test_a_saved_smartrecruiters_list_and_theirstack_and_remotive_answers(api, tmp_path):
    listing = {"offset": 0, "limit": 100, "totalFound": 1,
               "content": [{k: v for k, v in smartrecruiters_posting("7439", "Java Developer").items()
                            if k not in ("jobAd", "postingUrl")}]}
    cases = {"smartrecruiters": listing,
             "theirstack": {"metadata": {"total_results": 2}, "data": [theirstack_job(1), theirstack_job(2)]},
             "remotive": {"job-count": 1, "jobs": [remotive_job(3)]}}
    for source, answer in cases.items():
        saved = tmp_path / f"{source}.json"
        saved.write_text(json.dumps(answer), encoding="utf-8")
        db = tmp_path / f"{source}.db"
        result = run_cli("ingest", "--load", saved, "--db", db, "--json")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["source"], summary["inserted"]) == (source, len(answer.get("data") or answer.get("jobs")
                                                                           or answer["content"]))
    # The TheirStack file and the TheirStack network path store the same rows.
    api.theirstack_jobs = cases["theirstack"]["data"]
    fetched = tmp_path / "fetched.db"
    assert run_cli("ingest", "--db", fetched, env=api.env()).returncode == 0
    assert stored(fetched) == stored(tmp_path / "theirstack.db")


def test_the_bundled_sample_is_recent_and_real(db):
    result = run_cli("ingest", "--load", "sample", "--db", db, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 40
    insights = json.loads(run_cli("insights", "--db", db).stdout)
    assert insights["totals"]["postings_count"] >= 30 and len(insights["skills"]) >= 10
    assert "python" in [s["id"] for s in insights["skills"]]


@pytest.mark.parametrize("content, words", [
    (None, "cannot read"),
    ("{not json", "is not JSON"),
    ('{"items": []}', "is not a saved answer of TheirStack, Remotive"),
])
def test_files_that_are_no_answer_fail_in_one_line(tmp_path, db, content, words):
    path = tmp_path / "answer.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli("ingest", "--load", path, "--db", db)
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not db.exists()
