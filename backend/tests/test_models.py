import pytest

from skillpulse_ingest.models import IngestionQuery, JobPosting, QueryError, canonical_url, posting_id


def test_query_defaults_match_the_cli_contract():
    q = IngestionQuery()
    assert (q.source, q.role, q.level, q.days, q.max_results, q.remote) == \
        ("theirstack", "any", "any", 30, 250, "include")


@pytest.mark.parametrize("field,value", [("days", 0), ("days", -3), ("max_results", 0), ("role", "wizard"),
                                         ("level", "junior"), ("remote", "sometimes"), ("days", True)])
def test_query_rejects_bad_values(field, value):
    with pytest.raises(QueryError):
        IngestionQuery(**{field: value})


def test_blank_location_means_anywhere():
    assert IngestionQuery(location="  ").location is None


def test_canonical_url_lowercases_scheme_and_host_and_drops_tracking():
    assert canonical_url("HTTPS://Boards.Greenhouse.IO/Acme/jobs/1?utm_source=x&gh_jid=7&UTM_medium=y#apply") == \
        "https://boards.greenhouse.io/Acme/jobs/1?gh_jid=7"
    assert canonical_url("https://x.io/a?q=a%20b&utm_campaign=z") == "https://x.io/a?q=a%20b"


def test_posting_id_is_sha256_prefix_of_source_and_canonical_url():
    import hashlib
    p = JobPosting(source="remotive", url="https://Remotive.com/remote-jobs/x-1#top", title="Dev")
    assert p.url == "https://remotive.com/remote-jobs/x-1"
    assert p.id == hashlib.sha256(b"remotive:https://remotive.com/remote-jobs/x-1").hexdigest()[:32]
    assert p.id == posting_id("remotive", p.url) and len(p.id) == 32


@pytest.mark.parametrize("raw,canonical", [
    ("https://x.io", "https://x.io"),
    ("https://X.io?utm_source=a", "https://x.io"),
    ("HTTP://User@Example.COM:8080/Path/A?b=1#frag", "http://user@example.com:8080/Path/A?b=1"),
    ("https://x.io/a?&&b=2&", "https://x.io/a?b=2"),
    ("  https://x.io/a  ", "https://x.io/a"),
])
def test_canonical_url_edge_cases(raw, canonical):
    assert canonical_url(raw) == canonical
