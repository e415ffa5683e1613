"""Company boards as a user runs them: `skillpulse boards ...` and `ingest --source boards` in a
subprocess against a local stand-in of Greenhouse, Lever, Ashby and SmartRecruiters."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import clean_env, query, run_cli
from fakeapi import theirstack_job
from fakeboards import FakeBoards, ashby_job, greenhouse_job, lever_posting, smartrecruiters_posting
from skillpulse_ingest.insights import locations
from skillpulse_ingest.storage_sqlite import SQLiteStore

U1, U2, U3 = ("2f1c9e4a-1111-2222-3333-44445555666" + str(i) for i in range(3))
A1, A2, A3 = ("aaaaaaaa-1111-2222-3333-44445555666" + str(i) for i in range(3))


@pytest.fixture
def fake():
    server = FakeBoards().start()
    try:
        yield server
    finally:
        server.stop()


def stock(fake: FakeBoards) -> None:
    """A few boards of each ATS, shaped as the real APIs answer."""
    fake.boards[("greenhouse", "acme")] = [
        greenhouse_job(101, "Senior Backend Engineer", "New York City, NY; San Francisco, CA", double_escaped=True),
        greenhouse_job(102, "Junior Frontend Developer", "Remote - US",
                       content="<p>React&nbsp;and TypeScript &amp; CSS</p>"),
    ]
    fake.boards[("lever-eu", "euco")] = [
        lever_posting(U1, "Site Reliability Engineer", "Berlin, Germany", site="euco", eu=True, country="DE",
                      requirements="<li>Kubernetes and Terraform at scale</li>"),
    ]
    fake.boards[("lever", "globex")] = [
        lever_posting(U2, "Data Engineer", "Austin, TX", site="globex", all_locations=["Austin, TX", "Dallas, TX"],
                      requirements="<li>Experience with Spark and Airflow</li>"),
    ]
    fake.boards[("ashby", "Initech")] = [
        ashby_job(A1, "Machine Learning Engineer", "Remote (United States)", board="Initech",
                  description="<p>PyTorch and Python.</p>"),
        ashby_job(A2, "Unlisted Role", board="Initech", listed=False),
    ]
    fake.boards[("smartrecruiters", "AcmeInc")] = [
        smartrecruiters_posting("743999000001", "Software Engineer I"),
        smartrecruiters_posting("743999000002", "QA Engineer", city="Seattle", region="WA"),
    ]


def add_all(fake, db, *extra):
    result = run_cli("boards", "add", "greenhouse:acme", "https://jobs.eu.lever.co/euco", "lever:globex",
                     "https://jobs.ashbyhq.com/Initech", "smartrecruiters:AcmeInc", *extra, "--db", db,
                     env=fake.env())
    assert result.returncode == 0, result.stderr
    return result


def ingest(fake, db, *extra):
    return run_cli("ingest", "--source", "boards", "--db", db, "--json", "--max-retries", "1",
                   "--backoff-factor", "0", *extra, env=fake.env())


def summary_of(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def postings(db):
    return {r["source_id"]: r for r in query(db, "SELECT * FROM postings", as_dicts=True)}


def skills_of(db, source_id):
    return {r[0] for r in query(db, f"SELECT s.skill FROM posting_skills s JOIN postings p ON p.id = s.posting_id "
                                    f"WHERE p.source_id = '{source_id}'")}


def test_a_new_user_adds_boards_of_each_ats_and_stores_exactly_the_listed_jobs(fake, db):
    stock(fake)
    assert "added 5 boards" in add_all(fake, db).stderr
    summary = summary_of(ingest(fake, db))
    assert summary["source"] == "boards"
    assert (summary["fetched"], summary["invalid"], summary["matched"], summary["inserted"]) == (7, 0, 7, 7)
    assert (summary["boards_ok"], summary["boards_failed"], summary["boards_missing"]) == (5, 0, 0)

    stored = postings(db)
    assert set(stored) == {"101", "102", U1, U2, A1, "743999000001", "743999000002"}  # not the unlisted job
    gh = stored["101"]
    assert (gh["title"], gh["company"], gh["source"], gh["feed"]) == ("Senior Backend Engineer", "Acme Corp",
                                                                     "greenhouse", "greenhouse:acme")
    assert (gh["city"], gh["region_code"], gh["role_bucket"], gh["level_bucket"]) == ("New York", "NY", "backend", "senior")
    assert gh["description_raw"].startswith("<p>We are hiring.</p>")   # unescaped twice, once stored
    assert gh["job_key"] == "greenhouse:101" and gh["closed_at"] is None
    assert {"python", "postgresql", "aws", "docker"} <= skills_of(db, "101")
    assert query(db, "SELECT p.city FROM posting_places p JOIN postings q ON q.id = p.posting_id "
                     "WHERE q.source_id = '101'") == [("San Francisco",)]
    assert stored["102"]["remote"] == 1 and {"react", "typescript", "css"} <= skills_of(db, "102")
    eu = stored[U1]
    assert (eu["url"], eu["city"], eu["country_code"]) == (f"https://jobs.eu.lever.co/euco/{U1}", "Berlin", "DE")
    assert {"kubernetes", "terraform"} <= skills_of(db, U1)   # only in Lever's lists
    assert "What you bring" in eu["description_raw"]
    assert {"spark", "airflow"} <= skills_of(db, U2)
    assert stored[A1]["remote"] == 1 and {"pytorch", "python"} <= skills_of(db, A1)
    sr = stored["743999000001"]
    assert (sr["url"], sr["city"], sr["level_bucket"]) == ("https://jobs.smartrecruiters.com/AcmeInc/743999000001",
                                                           "Austin", "entry")
    assert "Qualifications" in sr["description_raw"] and {"java", "spring boot"} <= skills_of(db, "743999000001")
    for row in stored.values():
        assert row["date_posted"] and row["date_posted"] <= time.strftime("%Y-%m-%d", time.gmtime())

    listing = json.loads(run_cli("boards", "list", "--format", "json", "--db", db).stdout)
    assert {(b["ats"], b["token"], b["status"], b["open_jobs"]) for b in listing} == {
        ("greenhouse", "acme", "ok", 2), ("lever", "euco", "ok", 1), ("lever", "globex", "ok", 1),
        ("ashby", "Initech", "ok", 1), ("smartrecruiters", "AcmeInc", "ok", 2)}
    assert next(b for b in listing if b["token"] == "euco")["host"] == "eu"
    table = run_cli("boards", "list", "--db", db).stdout
    assert "Acme Corp" in table and "last_fetched_at" in table

    # What is stored is what was analyzed: a rebuild finds the same skills.
    before = query(db, "SELECT posting_id, skill FROM posting_skills ORDER BY 1, 2")
    assert run_cli("skills", "rebuild", "--db", db).returncode == 0
    assert query(db, "SELECT posting_id, skill FROM posting_skills ORDER BY 1, 2") == before


def test_a_second_fetch_closes_dropped_jobs_inserts_new_ones_and_skips_the_rest(fake, db):
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(i, f"Backend Engineer {i}") for i in (1, 2, 3)]
    run_cli("boards", "add", "greenhouse:acme", "--db", db)
    summary_of(ingest(fake, db))
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(i, f"Backend Engineer {i}") for i in (2, 3, 4)]
    second = summary_of(ingest(fake, db))
    assert (second["fetched"], second["inserted"], second["skipped"]) == (3, 1, 2)
    closed = {r[0]: r[1] for r in query(db, "SELECT source_id, closed_at FROM postings")}
    assert closed["1"] is not None and closed["2"] is None and closed["4"] is None
    open_ids = {r["source_id"] for r in json.loads(run_cli("inspect", "--open", "--format", "json", "--db", db).stdout)}
    assert open_ids == {"2", "3", "4"}
    # Job 1 is listed again: open again.
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(i, f"Backend Engineer {i}") for i in (1, 2, 3, 4)]
    summary_of(ingest(fake, db))
    assert query(db, "SELECT count(*) FROM postings WHERE closed_at IS NOT NULL") == [(0,)]


def test_a_failed_board_closes_nothing_fails_alone_and_recovers(fake, db):
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(1, "Backend Engineer")]
    fake.boards[("ashby", "Initech")] = [ashby_job(A1, "Data Engineer", board="Initech")]
    run_cli("boards", "add", "greenhouse:acme", "ashby:Initech", "--db", db)
    summary_of(ingest(fake, db))
    fake.boards[("greenhouse", "acme")] = []            # would close job 1, if the fetch counted
    fake.fail("greenhouse", "acme", 503, 503)            # --max-retries 1: two answers, both 503
    fake.boards[("ashby", "Initech")].append(ashby_job(A2, "Backend Engineer", board="Initech"))
    result = ingest(fake, db)
    summary = summary_of(result)
    assert (summary["boards_ok"], summary["boards_failed"], summary["inserted"]) == (1, 1, 1)
    assert "greenhouse:acme failed: Greenhouse answered HTTP 503" in result.stderr
    assert query(db, "SELECT count(*) FROM postings WHERE closed_at IS NOT NULL") == [(0,)]
    board = next(b for b in json.loads(run_cli("boards", "list", "--format", "json", "--db", db).stdout)
                 if b["ats"] == "greenhouse")
    assert board["status"] == "failed" and "HTTP 503" in board["last_error"]
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(1, "Backend Engineer")]
    assert summary_of(ingest(fake, db))["boards_failed"] == 0
    assert run_cli("boards", "list", "--format", "json", "--db", db).stdout.count('"ok"') == 2


def test_every_board_failing_fails_the_run(fake, db):
    fake.fail("greenhouse", "acme", 500, 500)
    run_cli("boards", "add", "greenhouse:acme", "lever:ghost", "--db", db)
    result = ingest(fake, db)
    assert result.returncode == 1 and result.stdout == ""
    assert "none of the 2 boards could be fetched (1 missing, 1 failed)" in result.stderr.splitlines()[-1]
    [run] = query(db, "SELECT status, error FROM ingest_runs", as_dicts=True)
    assert run["status"] == "failed" and "none of the 2 boards" in run["error"]


def test_an_unchanged_board_is_one_conditional_request_and_no_analysis(fake, db):
    stock(fake)
    add_all(fake, db)
    summary_of(ingest(fake, db))
    fake.requests.clear()
    second = summary_of(ingest(fake, db))
    assert (second["boards_unchanged"], second["boards_ok"], second["fetched"], second["inserted"]) == (5, 0, 0, 0)
    greenhouse = [headers for _, path, headers in fake.requests if path.startswith("/greenhouse/")]
    assert len(greenhouse) == 1 and greenhouse[0].get("If-None-Match", "").startswith('"')
    assert not [p for p in fake.paths("/smartrecruiters/") if "/postings/" in p]  # no details for stored ones
    seen = query(db, "SELECT count(DISTINCT last_seen_at) FROM postings WHERE source = 'greenhouse'")
    assert seen == [(1,)]


def test_a_board_missing_three_runs_in_a_row_is_skipped_until_added_again(fake, db):
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(1, "Backend Engineer")]
    run_cli("boards", "add", "greenhouse:acme", "greenhouse:gone", "--db", db)
    for _ in range(3):
        assert summary_of(ingest(fake, db))["boards_missing"] == 1
    fourth = summary_of(ingest(fake, db))
    assert fourth["boards_missing"] == 0 and not [p for p in fake.paths() if "/gone/" in p[:20]][3:]
    assert "added 0 boards (1 already registered)" in run_cli("boards", "add", "greenhouse:gone", "--db", db).stderr
    assert summary_of(ingest(fake, db))["boards_missing"] == 1


def test_a_filtered_run_does_not_make_the_board_unchanged_for_other_filters(fake, db):
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(1, "Backend Engineer"),
                                           greenhouse_job(2, "Frontend Developer")]
    run_cli("boards", "add", "greenhouse:acme", "--db", db)
    first = summary_of(ingest(fake, db, "--role", "backend"))
    assert (first["fetched"], first["matched"], first["inserted"]) == (2, 1, 1)
    second = summary_of(ingest(fake, db))
    assert (second["boards_unchanged"], second["inserted"], second["skipped"]) == (0, 1, 1)
    assert summary_of(ingest(fake, db))["boards_unchanged"] == 1


def test_a_theirstack_row_of_a_board_job_is_counted_once(api, fake, db):
    job = theirstack_job(5, title="Backend Engineer")  # final_url: boards.greenhouse.io/company5/jobs/7400005
    api.theirstack_jobs = [job]
    assert run_cli("ingest", "--db", db, env=api.env()).returncode == 0
    discovered = run_cli("boards", "discover", "--db", db)
    assert discovered.returncode == 0 and "added 1 new" in discovered.stderr
    assert [(b["ats"], b["token"]) for b in json.loads(run_cli("boards", "list", "--format", "json",
                                                               "--db", db).stdout)] == [("greenhouse", "company5")]
    assert "added 0 new" in run_cli("boards", "discover", "--db", db).stderr
    fake.boards[("greenhouse", "company5")] = [greenhouse_job(7400005, "Backend Engineer", "Dallas, TX",
                                                              token="company5", company="Company 5")]
    summary = summary_of(ingest(fake, db))
    assert summary["inserted"] == 1 and summary["duplicates"] == 1
    assert query(db, "SELECT count(*), count(DISTINCT job_key) FROM postings") == [(2, 1)]
    insights = json.loads(run_cli("insights", "--db", db).stdout)
    assert insights["totals"]["postings_count"] == 1
    summary_view = json.loads(run_cli("inspect", "--summary", "--format", "json", "--db", db).stdout)
    assert summary_view["total"] == 1


def test_a_posting_with_several_places_counts_in_each(fake, db):
    fake.boards[("lever", "globex")] = [lever_posting(U2, "Data Engineer", "Austin, TX", site="globex",
                                                      all_locations=["Austin, TX", "Denver, CO"])]
    run_cli("boards", "add", "lever:globex", "--db", db)
    summary_of(ingest(fake, db))
    with SQLiteStore.open(db, readonly=True) as store:
        assert {"Austin, Texas Metropolitan Area", "Denver Metropolitan Area"} <= set(locations(store))
    for place in ("Denver, CO", "Austin, TX", "Denver Metropolitan Area", "Greater Austin"):
        answer = json.loads(run_cli("insights", "--location", place, "--db", db).stdout)
        assert answer["totals"]["postings_count"] == 1, place
    assert json.loads(run_cli("insights", "--location", "Boston, MA", "--remote", "exclude",
                              "--db", db).stdout)["totals"]["postings_count"] == 0


def test_board_flag_and_spec_errors(fake, db):
    fake.boards[("greenhouse", "acme")] = [greenhouse_job(1, "Backend Engineer")]
    fake.boards[("greenhouse", "other")] = [greenhouse_job(2, "Backend Engineer")]
    run_cli("boards", "add", "greenhouse:other", "--db", db)
    only = run_cli("ingest", "--source", "greenhouse", "--board", "acme", "--db", db, "--json", env=fake.env())
    assert summary_of(only)["inserted"] == 1 and "registered 1 new board" in only.stderr
    assert not [p for p in fake.paths() if p.startswith("/greenhouse/other")]
    wrong = run_cli("ingest", "--source", "lever", "--board", "greenhouse:acme", "--db", db, env=fake.env())
    assert wrong.returncode == 2 and "is a greenhouse board, but --source is lever" in wrong.stderr
    not_boards = run_cli("ingest", "--source", "remotive", "--board", "acme", "--db", db)
    assert not_boards.returncode == 2 and "--board applies to board sources" in not_boards.stderr
    bad = run_cli("boards", "add", "workday:acme", "--db", db)
    assert bad.returncode == 2 and "unknown ATS 'workday'" in bad.stderr
    empty = run_cli("ingest", "--source", "ashby", "--db", db)
    assert empty.returncode == 2 and "no ashby boards registered" in empty.stderr
    removed = run_cli("boards", "remove", "greenhouse:acme", "https://boards.greenhouse.io/nope", "--db", db)
    assert removed.returncode == 0 and "removed 1 board (1 were not registered)" in removed.stderr
    assert query(db, "SELECT count(*) FROM postings WHERE feed = 'greenhouse:acme'") == [(1,)]  # postings stay


def test_boards_from_a_file_skip_and_count_bad_lines(tmp_path, db):
    listing = tmp_path / "boards.csv"
    listing.write_text("name,url\nStripe,https://boards.greenhouse.io/stripe\nAcme,https://acme.example/jobs\n"
                       "Ramp,https://jobs.ashbyhq.com/ramp\n", encoding="utf-8")
    result = run_cli("boards", "add", "--from-file", listing, "--db", db)
    assert result.returncode == 0
    assert "added 2 boards (0 already registered); skipped 1 line that names no board" in result.stderr
    missing = run_cli("boards", "add", "--from-file", tmp_path / "nope.txt", "--db", db)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_a_dry_run_writes_nothing(fake, db):
    stock(fake)
    add_all(fake, db)
    result = ingest(fake, db, "--dry-run")
    summary = summary_of(result)
    assert summary["dry_run"] and summary["inserted"] == 7
    assert query(db, "SELECT count(*) FROM postings") == [(0,)]
    assert query(db, "SELECT DISTINCT status FROM boards") == [("new",)]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")
def test_ctrl_c_mid_board_run_ends_it_at_once(fake, db):
    fake.delay = 1.0
    for i in range(40):
        fake.boards[("greenhouse", f"co{i}")] = [greenhouse_job(1000 + i, "Backend Engineer", token=f"co{i}")]
    specs = [f"greenhouse:co{i}" for i in range(40)]
    run_cli("boards", "add", *specs, "--db", db)
    proc = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "ingest", "--source", "boards",
                             "--concurrency", "2", "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=clean_env(**fake.env()), stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(fake.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        started = time.monotonic()
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - started < 5   # no wait for the 36 boards still to fetch
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "skillpulse: error: interrupted"
    [run] = query(db, "SELECT status, error FROM ingest_runs", as_dicts=True)
    assert (run["status"], run["error"]) == ("failed", "interrupted")
