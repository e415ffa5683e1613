"""Insights that mean what they say: `any` is every engineering role, ties read in order, N days are N days."""

from datetime import date, datetime, timezone

from skillpulse_ingest.insights import locations, skill_insights
from skillpulse_ingest.models import JobPosting
from skillpulse_ingest.storage_sqlite import SQLiteStore

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


def posting(n, role="backend", skills=("python",), day="2026-11-20", city="Dallas", region="TX", company=None):
    return JobPosting(source="remotive", url=f"https://x.io/{n}", title=f"Job {n}", source_id=str(n), date_posted=day,
                      role_bucket=role, level_bucket="entry", skills=skills, country_code="US", region_code=region,
                      city=city, company=company or f"Company {n}")


def test_role_any_means_every_engineering_role_not_other(tmp_path):
    with SQLiteStore.open(tmp_path / "d.db") as store:
        store.save_page([posting(1, "backend", ("python",)), posting(2, "data", ("sql",)),
                         posting(3, "other", ("excel", "word", "outlook"), city="Tulsa", region="OK")])
        response = skill_insights(store, role="any", level="any", days=30, now=NOW, today=TODAY)
        assert response["totals"]["postings_count"] == 2 and response["title"].startswith("Top skills for tech jobs")
        assert {s["id"] for s in response["skills"]} == {"python", "sql"}
        other = skill_insights(store, role="other", level="any", days=30, now=NOW, today=TODAY)
        assert other["totals"]["postings_count"] == 1  # asked for by name, it is there
        assert "Tulsa, OK" not in locations(store, days=30, today=TODAY)


def test_skills_tied_on_count_come_in_name_order(tmp_path):
    # Ids and names sort differently: by id, "gcp" (Google Cloud) would come before "git" (Git).
    with SQLiteStore.open(tmp_path / "d.db") as store:
        store.save_page([posting(1, skills=("gcp", "aws", "docker", "git"))])
        names = [s["name"] for s in skill_insights(store, days=30, now=NOW, today=TODAY)["skills"]]
    assert names == sorted(names, key=str.casefold)


def test_days_covers_exactly_that_many_calendar_days(tmp_path):
    with SQLiteStore.open(tmp_path / "d.db") as store:
        store.save_page([posting(1, day="2026-11-26"), posting(2, day="2026-10-28"), posting(3, day="2026-10-27")])
        response = skill_insights(store, days=30, now=NOW, today=TODAY)
        assert response["window"] == {"days": 30, "from": "2026-10-28", "to": "2026-11-26"}
        assert response["totals"]["postings_count"] == 2
        assert skill_insights(store, days=1, now=NOW, today=TODAY)["totals"]["postings_count"] == 1  # today only


def remote_posting(n, scope=",US,"):
    return JobPosting(source="remotive", url=f"https://x.io/r{n}", title=f"Remote {n}", source_id=f"r{n}",
                      date_posted="2026-11-20", role_bucket="backend", level_bucket="entry", skills=("go",),
                      remote=True, remote_scope=scope, company=f"Remote Co {n}")


def test_the_answer_says_how_much_of_it_is_local_and_how_much_remote(tmp_path):
    with SQLiteStore.open(tmp_path / "d.db") as store:
        store.save_page([posting(1), remote_posting(1), remote_posting(2), remote_posting(3, scope=",DE,")])

        def answer(**query):
            return skill_insights(store, **{"days": 30, **query}, now=NOW, today=TODAY)

        dallas = answer(location="Dallas, TX")
        assert dallas["totals"]["local_postings_count"] == 1 and dallas["totals"]["remote_postings_count"] == 2
        assert dallas["totals"]["postings_count"] == 3
        assert dallas["subtitle"] == "Posted in the last 30 days: 1 based in Dallas, TX, 2 remote jobs open to it"
        assert answer(location="Dallas, TX", remote="exclude")["subtitle"] == \
            "Posted in the last 30 days; all based in Dallas, TX"
        assert answer(location="Dallas, TX", remote="only")["subtitle"] == \
            "Posted in the last 30 days; all remote jobs open to Dallas, TX, none based there"
        everywhere = answer()
        assert (everywhere["totals"]["local_postings_count"], everywhere["totals"]["remote_postings_count"]) == (1, 3)
        assert everywhere["subtitle"] == "Posted in the last 30 days; 3 of them remote"
        assert answer(location="Boston, MA", remote="exclude")["subtitle"] == "No matching postings in the last 30 days"
        assert answer(days=1)["subtitle"] == "No matching postings in the last day"
