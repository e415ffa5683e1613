import pytest

from skillpulse_ingest.models import IngestionQuery, JobPosting
from skillpulse_ingest.role_match import classify_level, classify_role, matches_query, required_years


@pytest.mark.parametrize("title,role", [
    ("Senior Backend Engineer (Python)", "backend"), ("Frontend Developer (React)", "frontend"),
    ("Full-Stack Engineer (React/Node)", "fullstack"), ("React Native Developer", "mobile"),
    ("Data Engineer", "data"), ("Data Scientist", "ml"), ("Site Reliability Engineer", "devops"),
    ("SDET", "qa"), ("Penetration Tester", "security"), ("Firmware Engineer", "embedded"),
    ("Software Engineer", "general"), ("Engineering Manager", "general"), ("Product Manager", "other"),
    ("Sales Engineer", "other"), ("Technical Writer", "other"), ("Engineering Manager, Data Platform", "data"),
    ("ML Platform Engineer", "ml"), ("Platform Engineer", "devops"),
])
def test_title_decides_the_role(title, role):
    assert classify_role(title) == role


@pytest.mark.parametrize("title,level", [
    ("Software Engineering Intern", "intern"), ("Junior Developer", "entry"), ("Software Engineer II", "mid"),
    ("Senior Engineer", "senior"), ("Senior Staff Engineer", "lead"), ("Senior Manager, Engineering", "manager"),
    ("Member of Technical Staff", "unknown"), ("Principal Architect", "lead"), ("Software Engineer", "unknown"),
])
def test_title_decides_the_level(title, level):
    assert classify_level(title) == level


def test_description_refines_general_only():
    react = "<p>Build React components with TypeScript and CSS for the browser.</p>"
    assert classify_role("Software Engineer", react) == "frontend"
    assert classify_role("Data Engineer", react) == "data"


@pytest.mark.parametrize("text,years,level", [
    ("You have 0-2 years of experience", 0, "entry"), ("3+ years of professional experience", 3, "mid"),
    ("At least 5 years of hands-on experience with Go", 5, "senior"), ("No experience needed", None, "unknown"),
])
def test_years_of_experience_decide_when_the_title_is_silent(text, years, level):
    assert required_years(text) == years
    assert classify_level("Software Engineer", text) == level
    assert classify_level("Senior Software Engineer", text) == "senior"


def posting(**kw):
    base = dict(source="theirstack", url="https://x.io/1", title="t", role_bucket="backend", level_bucket="entry",
                country_code="US", region_code="TX", city="Dallas", remote=False)
    base.update(kw)
    return JobPosting(**base)


def test_matches_query_role_level_and_place():
    q = IngestionQuery(role="backend", level="entry", location="Dallas, TX")
    assert matches_query(posting(), q)
    assert not matches_query(posting(level_bucket="intern"), q)
    assert not matches_query(posting(region_code="OR"), q)
    assert matches_query(posting(city=None, region_code=None, remote=True, remote_scope=",US,"), q)
    assert not matches_query(posting(city=None, region_code=None, remote=True, remote_scope=",DE,"), q)
    assert not matches_query(posting(remote=True, remote_scope=",US,"),
                             IngestionQuery(location="Dallas, TX", remote="exclude"))
    assert not matches_query(posting(), IngestionQuery(remote="only"))
    assert matches_query(posting(level_bucket="intern"), IngestionQuery(level="any"))


def test_matches_query_keeps_the_date_window():
    from datetime import date
    q = IngestionQuery(days=7)
    today = date(2026, 11, 26)
    assert matches_query(posting(date_posted="2026-11-20"), q, today)   # 7 calendar days: the 20th to the 26th
    assert not matches_query(posting(date_posted="2026-11-19"), q, today)
    assert matches_query(posting(date_posted=None), q, today)
