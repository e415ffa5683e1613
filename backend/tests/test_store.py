"""The store's behaviour, the same assertions on both engines (SQLite and PostgreSQL)."""

from collections import Counter

import pytest

from conftest import posting
from skillpulse_ingest.boards import BoardSpec
from skillpulse_ingest.places import parse_place
from skillpulse_ingest.role_match import matches_location
from skillpulse_ingest.storage_sqlite import PostingFilter, StoreError
from skillpulse_ingest.store import open_store
from skillpulse_ingest.store.base import Tally


def test_upsert_many_inserts_once_and_skips_after(target):
    with open_store(target) as store:
        assert store.upsert_many([posting(1, skills=("python", "sql")), posting(2)]) == (2, 0)
        assert store.upsert_many([posting(1), posting(3)]) == (1, 1)
        assert store.count_postings() == 3
        skills = store.conn.execute("SELECT skill FROM posting_skills ORDER BY skill").fetchall()
        assert [tuple(r) for r in skills] == [("python",), ("sql",)]


def test_known_matches_on_source_id_when_the_url_changed(target):
    with open_store(target) as store:
        store.upsert_many([posting(1)])
        moved = posting(1, url="https://boards.greenhouse.io/x/1")
        assert store.known([moved]) == {moved.id: (posting(1).id, "backend", "entry", False)}


def test_skipped_postings_only_move_last_seen(target):
    with open_store(target) as store:
        store.upsert_many([posting(1)])
        store.conn.execute("UPDATE postings SET last_seen_at = '2000-01-01T00:00:00Z'")
        store.upsert_many([posting(1, title="changed")])
        title, retrieved, seen = store.conn.execute("SELECT title, retrieved_at, last_seen_at FROM postings").fetchone()
        assert title == "Job 1" and seen > "2000" and seen >= retrieved


def test_runs_and_markers_are_recorded(target):
    with open_store(target) as store:
        run = store.start_run("remotive", {"role": "backend"})
        store.finish_run(run, dict(fetched=3, invalid=1, matched=2, inserted=2, skipped=0), "ok",
                         marker=("theirstack", "q", "2026-11-20T00:00:00Z"))
        store.finish_run(run, dict(fetched=3, invalid=1, matched=2, inserted=2, skipped=0), "ok",
                         marker=("theirstack", "q", "2026-11-01T00:00:00Z"))  # a marker never moves back
        store.record_request("theirstack", "q", "2026-11-21T00:00:00Z")
        [row] = store.runs()
        assert row["status"] == "ok" and row["fetched"] == 3 and row["finished_at"] >= row["started_at"]
        assert store.marker("theirstack", "q") == "2026-11-20T00:00:00Z"
        assert store.last_request_at("theirstack") == "2026-11-21T00:00:00Z"
        assert [r["source"] for r in store.last_runs()] == ["remotive"]


PLACES = [
    dict(country_code="US", region_code="TX", city="Dallas", remote=False),
    dict(country_code="US", region_code="OR", city="Dallas", remote=False),
    dict(country_code="US", region_code="TX", city="Plano", remote=None),
    dict(country_code="US", region_code="TX", city="Austin", remote=None),
    dict(country_code="DE", region_code=None, city="Berlin", remote=False),
    dict(remote=True, remote_scope=",US,"),
    dict(remote=True, remote_scope="*"),
    dict(remote=True, remote_scope=",DE,FR,"),
    dict(remote=True, remote_scope=None),
    dict(country_code="US", region_code="TX", city="Dallas", remote=True, remote_scope=",US,"),
]


def test_the_place_filter_agrees_with_matches_location(target):
    postings = [posting(i, **kw) for i, kw in enumerate(PLACES)]
    with open_store(target) as store:
        store.upsert_many(postings)
        for location in (None, "Dallas, TX", "dallas", "Texas", "United States", "Europe", "Germany", "Remote",
                         "Remote (USA)", "Dallas-Fort Worth Metroplex"):
            for remote in ("include", "exclude", "only"):
                got = {r["id"] for r in store.postings(PostingFilter(place=parse_place(location), remote=remote))}
                assert got == {p.id for p in postings if matches_location(p, location, remote)}, (location, remote)
        assert store.place_labels(PostingFilter()) == ["Dallas-Fort Worth Metroplex", "Austin, Texas Metropolitan Area",
                                                       "Berlin Metropolitan Area", "Dallas, OR"]
        assert store.knows_city(parse_place("plano, tx")) and not store.knows_city(parse_place("Frisco, TX"))


COMPANIES = ["Acme", "ACME", "acme ", "Straße", "STRASSE", 'Quote "Co"', "Back\\slash", "Tab\tCo", "Unit\x1fSep",
             "Comma, Inc.", "Rocket 🚀", "Ünïcode", None, ""]


def reference_tally(postings):
    """What a Tally counts, in plain Python over the postings themselves."""
    return dict(postings=len(postings), with_skills=sum(1 for p in postings if p.skills),
                companies=len({p.company.casefold() for p in postings if p.company}),
                skills=Counter(s for p in postings for s in p.skills), sources=Counter(p.source for p in postings),
                remote=sum(1 for p in postings if p.remote),
                us_only=all(p.country_code == "US" or (p.country_code is None and p.remote_scope == ",US,")
                            for p in postings))


def test_the_tally_counts_what_an_answer_says(target):
    skills = [(), ("python",), ("python", "sql"), ("go", "sql", "c++", "c#")]
    postings = [posting(i, company=COMPANIES[i % len(COMPANIES)], skills=skills[i % len(skills)],
                        source=("remotive", "greenhouse", "theirstack")[i % 3], **PLACES[i % len(PLACES)])
                for i in range(40)]
    with open_store(target) as store:
        assert store.tally(PostingFilter()) == Tally()  # nothing stored: zeros, and vacuously US-only
        store.upsert_many(postings)
        for location in (None, "United States", "Dallas, TX", "Germany", "Remote (USA)", "Tulsa, OK"):
            for remote in ("include", "exclude", "only"):
                tally = store.tally(PostingFilter(place=parse_place(location), remote=remote))
                expected = reference_tally([p for p in postings if matches_location(p, location, remote)])
                assert {name: getattr(tally, name) for name in expected} == expected, (location, remote)


def test_skills_column_matches_posting_skills(target):
    with open_store(target) as store:
        store.upsert_many([posting(1, skills=("sql", "python")), posting(2)])
        store.replace_skills({posting(2).id: ["go", "aws"]})
        rows = dict(store.conn.execute("SELECT source_id, skills FROM postings").fetchall())
        assert rows == {"1": "python,sql", "2": "aws,go"}
        batches = list(store.iter_for_rebuild(batch=1))
        assert [[row[0] for row in batch] for batch in batches] == [[posting(1).id], [posting(2).id]]


def test_pages_saved_without_commit_are_invisible_until_committed_together(target):
    with open_store(target) as store, open_store(target) as other:
        store.save_page([posting(1, skills=("sql",))], commit=False)
        store.save_page([posting(2)], commit=False)
        assert store.count_postings() == 2 and other.count_postings() == 0
        store.commit()
        assert other.count_postings() == 2 and not store.in_transaction
        store.commit()  # nothing open: a no-op


def test_a_run_row_joins_and_commits_the_open_pages(target):
    with open_store(target) as store, open_store(target) as other:
        run_id = store.start_run("remotive", {})
        store.save_page([posting(1)], commit=False)
        store.finish_run(run_id, {"fetched": 1, "invalid": 0, "matched": 1, "inserted": 1, "skipped": 0}, "ok")
        assert other.count_postings() == 1 and other.runs()[0]["status"] == "ok"


def test_a_database_error_inside_a_with_block_is_a_store_error(target):
    with open_store(target) as store:
        store.upsert_many([posting(1)])
    with pytest.raises(StoreError):
        with open_store(target, readonly=True) as store:
            store.conn.execute("SELECT * FROM no_such_table")


def test_a_job_stored_from_two_sources_is_counted_once_and_kept_twice(target):
    board = posting(1, source="greenhouse", source_id="4012345", url="https://boards.greenhouse.io/acme/jobs/4012345",
                    skills=("python",), country_code="US", region_code="TX", city="Dallas")
    api = posting(2, source="theirstack", source_id="9", url="https://acme.com/careers?gh_jid=4012345",
                  skills=("python",), country_code="US", region_code="TX", city="Dallas")
    with open_store(target) as store:
        assert store.save_page([board]) == (1, 0, 0)
        assert store.save_page([api]) == (1, 0, 1)
        assert store.known([api])[api.id].duplicate is True
        everything = PostingFilter()
        assert store.tally(everything).postings == 1 and store.summary(everything)["postings"] == 1
        assert [c["source"] for c in store.posting(board.id)["copies"]] == ["greenhouse", "theirstack"]
        assert store.prune(posted_before="2026-12-01", dry_run=True) == 2
        assert store.prune(posted_before="2026-12-01") == 2 and store.count_postings() == 0


def test_more_places_and_metros(target):
    p = posting(1, country_code="US", region_code="TX", city="Austin", more_places=(("US", "CO", "Denver"),))
    unlisted = posting(2, country_code="US", region_code="TX", city="Tiny Office Park", latitude=33.08, longitude=-96.83)
    with open_store(target) as store:
        store.save_page([p, unlisted])
        for place, found in (("Denver, CO", {p.id}), ("Greater Denver", {p.id}), ("Colorado", {p.id}),
                             ("DFW", {unlisted.id}), ("Boston, MA", set())):
            assert {r["id"] for r in store.postings(PostingFilter(place=parse_place(place)))} == found, place
        assert store.posting(p.id)["more_places"] == [["US", "CO", "Denver"]]
        assert set(store.place_labels(PostingFilter())) == {"Austin, Texas Metropolitan Area", "Denver Metropolitan Area",
                                                           "Dallas-Fort Worth Metroplex"}


def test_boards_lifecycle(target):
    acme = BoardSpec("greenhouse", "acme")
    with open_store(target) as store:
        assert store.add_boards([acme, BoardSpec("lever", "globex")]) == (2, 0)
        assert store.add_boards([acme]) == (0, 1)
        [board] = store.boards(["greenhouse"])
        feed = "greenhouse:acme"
        jobs = [posting(i, source="greenhouse", source_id=str(i), url=f"https://boards.greenhouse.io/acme/jobs/{i}",
                        feed=feed) for i in (1, 2)]
        store.save_page(jobs)
        assert store.source_ids_of_feed(feed) == {"1", "2"}
        assert store.board_fetched(board["id"], feed, ["1"], company="Acme", validators={"etag": "x"},
                                   query_key="q", host=None) == (1, 0)
        store.commit()
        assert store.board_fetched(board["id"], feed, ["1", "2"], company=None, validators={}, query_key="q",
                                   host=None) == (0, 1)
        store.board_unchanged(board["id"], feed)
        for _ in range(3):
            store.board_failed(board["id"], "missing", "HTTP 404")
        store.commit()
        assert store.boards(["greenhouse"])[0]["misses"] == 3 and store.boards_to_fetch(["greenhouse"]) == []
        assert store.boards(["greenhouse"])[0]["company"] == "Acme"
        assert store.add_boards([acme]) == (0, 1) and store.boards(["greenhouse"])[0]["status"] == "new"
        assert store.remove_boards([acme, BoardSpec("ashby", "none")]) == 1
        assert [b["token"] for b in store.boards()] == ["globex"]


def test_a_readonly_store_of_a_new_database_creates_nothing(target):
    with pytest.raises(StoreError):
        open_store(target, readonly=True).close()


def test_an_error_rolls_back_every_page_of_the_open_transaction(target):
    with open_store(target) as store:
        store.save_page([posting(1)], commit=False)
        if str(target).startswith("postgresql"):
            store.conn.execute("CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE 'disk full'; END $$ "
                               "LANGUAGE plpgsql")
            store.conn.execute("CREATE TRIGGER boom BEFORE INSERT ON posting_skills FOR EACH ROW EXECUTE FUNCTION boom()")
        else:
            store.conn.execute("CREATE TEMP TRIGGER boom BEFORE INSERT ON posting_skills "
                               "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        with pytest.raises(StoreError, match="disk full"):
            store.save_page([posting(2, skills=("go",))], commit=False)
        assert not store.in_transaction and store.count_postings() == 0


def test_hostile_text_is_stored_on_both_engines(target):
    """PostgreSQL text cannot hold NUL, which real descriptions carry; the row is stored without it."""
    nul = posting(1, title="Dev\x00eloper", description_raw="<p>a\x00b</p>", company="Acme\x00")
    with open_store(target) as store:
        assert store.save_page([nul]) == (1, 0, 0)
        stored = store.posting(nul.id)
        assert stored["title"].replace("\x00", "") == "Developer" and store.count_postings() == 1


def test_posting_urls_are_api_postings_and_the_urls_in_their_answers(target):
    """What `boards discover` reads: every stored URL but board postings', and TheirStack's other links."""
    api = posting(1, source="theirstack", url="https://acme.com/jobs/1",
                  raw_json='{"final_url": "https://boards.greenhouse.io/acme/jobs/1", "url": null}')
    broken = posting(2, source="theirstack", url="https://globex.com/jobs/2", raw_json="not json")
    remote = posting(3, url="https://remotive.com/j/3", raw_json='{"final_url": "https://ignored.example"}')
    board = posting(4, source="greenhouse", url="https://boards.greenhouse.io/initech/jobs/4", feed="greenhouse:initech")
    with open_store(target) as store:
        store.upsert_many([api, broken, remote, board])
        assert sorted(store.posting_urls()) == ["https://acme.com/jobs/1", "https://boards.greenhouse.io/acme/jobs/1",
                                                "https://globex.com/jobs/2", "https://remotive.com/j/3"]
