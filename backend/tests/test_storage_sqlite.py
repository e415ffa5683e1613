import sqlite3

import pytest

from conftest import posting, write_sqlite
from skillpulse_ingest.places import parse_place
from skillpulse_ingest.role_match import matches_location
from skillpulse_ingest.storage_sqlite import (PAGE_SIZE, SCHEMA_VERSION, PostingFilter, SQLiteStore, StoreError,
                                              StoreOpenError,
                                              default_db_path)


def test_new_database_has_schema_wal_and_version(db):
    with SQLiteStore.open(db) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"postings", "posting_skills", "ingest_runs", "sync_state"} <= tables


def test_new_database_gets_large_pages_and_an_old_one_keeps_its_own(tmp_path):
    with SQLiteStore.open(tmp_path / "new.db") as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 32768
    old = tmp_path / "old.db"
    write_sqlite(old, "CREATE TABLE t (x)")  # an existing file, made with SQLite's default page size
    with SQLiteStore.open(old) as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert store.upsert_many([posting(1, skills=("python",))]) == (1, 0)






def test_a_posting_seen_again_under_a_new_url_moves_its_last_seen(db):
    with SQLiteStore.open(db) as store:
        store.upsert_many([posting(1)])
        store.conn.execute("UPDATE postings SET last_seen_at = '2000-01-01T00:00:00Z'")
        assert store.upsert_many([posting(1, url="https://boards.greenhouse.io/x/1")]) == (0, 1)
        assert store.conn.execute("SELECT last_seen_at > '2000' FROM postings").fetchone() == (1,)




def test_not_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"my precious notes\n" * 10)
    before = path.read_bytes()
    with pytest.raises(StoreOpenError, match="not a SQLite database"):
        SQLiteStore.open(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused_untouched(db):
    write_sqlite(db, "CREATE TABLE future (x)", f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = db.read_bytes()
    with pytest.raises(StoreOpenError, match="newer"):
        SQLiteStore.open(db)
    assert db.read_bytes() == before


def test_empty_older_database_is_migrated(db):
    sqlite3.connect(db).close()
    with SQLiteStore.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_readonly_open_of_missing_file_creates_nothing(tmp_path):
    with pytest.raises(StoreOpenError, match="no database"):
        SQLiteStore.open(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_folder_as_path_is_refused(tmp_path):
    with pytest.raises(StoreOpenError, match="folder"):
        SQLiteStore.open(tmp_path)




def test_default_db_path():
    assert str(default_db_path({"SKILLPULSE_DB": "/x/y.db"})) == "/x/y.db"
    assert default_db_path({}).parts[-3:] == ("backend", "data", "skillpulse.db")


def test_version_1_database_is_migrated_forward_with_skills_backfilled(db):
    from skillpulse_ingest.storage_sqlite import MIGRATIONS
    conn = sqlite3.connect(db)
    for statement in MIGRATIONS[1].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO postings (id, source, url, title, role_bucket, level_bucket, retrieved_at, last_seen_at, "
                 "raw_json, date_posted) VALUES ('a', 'remotive', 'https://x.io/1', 'Dev', 'backend', 'entry', "
                 "'2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', '{}', '2026-11-01')")
    conn.executemany("INSERT INTO posting_skills VALUES ('a', ?)", [("sql",), ("python",)])
    conn.commit()
    conn.close()
    with SQLiteStore.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
        assert store.conn.execute("SELECT skills FROM postings").fetchone()[0] == "python,sql"
        indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "postings_insights" in indexes and "postings_date" not in indexes
        assert store.tally(PostingFilter()).skills == {"python": 1, "sql": 1}










def test_a_full_database_is_one_store_error_and_keeps_what_was_committed(db):
    with SQLiteStore.open(db) as store:
        store.upsert_many([posting(1)])
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # as good as a full disk
        big = [posting(i, title="x" * 50_000) for i in range(2, 40)]
        with pytest.raises(StoreError, match="database or disk is full"):
            store.upsert_many(big)
        assert not store.in_transaction and store.count_postings() == 1
        store.conn.execute("PRAGMA max_page_count = 1073741823")  # room again
        assert store.upsert_many(big) == (38, 0)




def test_a_job_stored_from_two_sources_is_counted_once_and_kept_twice(tmp_path):
    board = posting(1, source="greenhouse", source_id="4012345", url="https://boards.greenhouse.io/acme/jobs/4012345",
                    skills=("python",), country_code="US", region_code="TX", city="Dallas")
    api = posting(2, source="theirstack", source_id="9", url="https://acme.com/careers?gh_jid=4012345",
                  skills=("python",), country_code="US", region_code="TX", city="Dallas")
    same_page = posting(3, source="theirstack", source_id="10", url="https://boards.greenhouse.io/acme/jobs/4012345?x=1")
    assert board.job_key == api.job_key == same_page.job_key == "greenhouse:4012345"
    with SQLiteStore.open(tmp_path / "d.db") as store:
        assert store.save_page([board]) == (1, 0, 0)
        assert store.save_page([api, same_page]) == (2, 0, 2)
        assert [r[0] for r in store.conn.execute("SELECT duplicate FROM postings ORDER BY source_id")] == [1, 0, 1]
        assert store.known([api])[api.id].duplicate is True
        everything = PostingFilter()
        assert store.tally(everything).postings == 1 and store.summary(everything)["postings"] == 1
        assert store.place_labels(everything) == ["Dallas-Fort Worth Metroplex"]
        assert store.summary(PostingFilter(source="theirstack"))["postings"] == 2  # one source: its own rows


def test_more_places_match_and_are_listed(tmp_path):
    p = posting(1, country_code="US", region_code="TX", city="Austin", more_places=(("US", "CO", "Denver"),))
    with SQLiteStore.open(tmp_path / "d.db") as store:
        store.save_page([p])
        for place, found in (("Denver, CO", 1), ("Austin, TX", 1), ("Colorado", 1), ("Boston, MA", 0)):
            where = PostingFilter(place=parse_place(place))
            assert store.tally(where).postings == found, place
            assert matches_location(p, place) == bool(found), place
        assert store.place_labels(PostingFilter()) == ["Austin, Texas Metropolitan Area", "Denver Metropolitan Area"]
        for metro in ("Denver Metropolitan Area", "Greater Denver", "Austin, Texas Metropolitan Area"):
            assert store.tally(PostingFilter(place=parse_place(metro))).postings == 1, metro
            assert matches_location(p, metro), metro
        assert store.tally(PostingFilter(place=parse_place("Greater Boston"))).postings == 0


def test_metros_come_from_coordinates_when_the_source_gives_them(tmp_path):
    """A suburb no gazetteer lists lands in its metro by the source's latitude and longitude; a
    city the gazetteer knows lands there without them; labels list the metro once."""
    unlisted = posting(1, country_code="US", region_code="TX", city="Tiny Office Park", latitude=33.08, longitude=-96.83)
    listed = posting(2, country_code="US", region_code="TX", city="Plano")
    unknown = posting(3, country_code="US", region_code="TX", city="Tiny Office Park")
    bogus = posting(4, country_code="US", region_code="TX", city="Nowhere", latitude=float("nan"), longitude=500)
    with SQLiteStore.open(tmp_path / "d.db") as store:
        store.save_page([unlisted, listed, unknown, bogus])
        metros = dict(store.conn.execute("SELECT source_id, metro FROM postings"))
        assert metros == {"1": "Dallas-Fort Worth Metroplex", "2": "Dallas-Fort Worth Metroplex", "3": None, "4": None}
        dfw = PostingFilter(place=parse_place("Dallas-Fort Worth Metroplex"))
        assert sorted(r["source_id"] for r in store.postings(dfw)) == ["1", "2"]
        assert store.place_labels(PostingFilter()) == ["Dallas-Fort Worth Metroplex", "Nowhere, TX", "Tiny Office Park, TX"]
        assert store.place_labels(PostingFilter(), min_postings=2) == ["Dallas-Fort Worth Metroplex"]
        assert store.place_labels(PostingFilter(), min_postings=3) == []
    assert matches_location(unlisted, "DFW") and not matches_location(unknown, "DFW")


def test_version_4_database_gets_metros_from_places_and_theirstack_coordinates(db):
    from skillpulse_ingest.storage_sqlite import MIGRATIONS
    conn = sqlite3.connect(db)
    for version in (1, 2, 3, 4):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement.replace("skillpulse_job_key(source, source_id, url)", "url"))
    conn.execute("PRAGMA user_version = 4")
    rows = [("a", "remotive", "Oakland", "CA", "{}"), ("b", "theirstack", "Unlisted", "WA", '{"latitude": 47.6, "longitude": -122.2}'),
            ("c", "theirstack", "Sacramento", "CA", '{"latitude": "x"}'), ("d", "theirstack", "Austin", "TX", "not json")]
    for pid, source, city, region, raw in rows:
        conn.execute("INSERT INTO postings (id, source, url, title, role_bucket, level_bucket, retrieved_at, last_seen_at, "
                     "raw_json, country_code, region_code, city) VALUES (?, ?, ?, 'Dev', 'backend', 'entry', "
                     "'2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', ?, 'US', ?, ?)", (pid, source, "https://x.io/" + pid, raw, region, city))
    conn.commit()
    conn.close()
    with SQLiteStore.open(db) as store:
        got = {r[0]: r[1:] for r in store.conn.execute("SELECT id, metro, latitude FROM postings")}
    assert got == {"a": ("San Francisco Bay Area", None), "b": ("Greater Seattle Area", 47.6),
                   "c": ("Sacramento Metropolitan Area", None), "d": ("Austin, Texas Metropolitan Area", None)}
