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


@pytest.mark.parametrize("title,company,role", [
    ("Scale AI - Director of Communications", "Scale AI", "other"),   # the company is no evidence
    ("Scale AI Director of Communications", "Scale AI", "other"),     # nor without a separator
    ("Mobile Premier League - Backend Engineer", None, "backend"),    # a segment before the job names
    ("Software Engineer, Payments Platform", None, "general"),       # a team, not a specialty
    ("Software Engineer, Data Platform", None, "data"),              # platform goes with its noun
    ("Software Engineer, Kubernetes Engine", None, "general"),       # a product with a specialty word
    ("Software Engineer - C++", None, "general"),                    # a language after a general title
    ("C++ Developer", None, "backend"),                              # a language that is the job
    ("Senior Embedded C++ Engineer", None, "embedded"),              # an area beats a language
    ("Cloud Backend Developer", None, "backend"),                    # the specialty nearest the noun
    ("Data Security Analyst", None, "security"),
    ("Embedded Systems Engineer", None, "embedded"),
    ("Penetration Tester", None, "security"),
    ("Backend Engineer, Security", None, "backend"),                 # the head decides
    ("Ingeniero de Datos", None, "data"),                            # Romance: the specialty follows
    ("Head of Security", None, "security"),
    ("VP, Data Engineering", None, "data"),                          # the domain comes next
    ("Director, Data Center Operations", None, "other"),
    ("Data Warehouse Engineer", None, "data"),                       # "warehouse" is inside a signal
])
def test_the_head_noun_phrase_decides(title, company, role):
    assert classify_role(title, company=company) == role


def test_a_product_name_does_not_make_a_manager():
    assert classify_level("Software Engineer - Cloud Security Posture Management") == "unknown"
    assert classify_level("Director, Data Center Operations") == "manager"


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
