"""Property-based: no source row, however broken, crashes a normalizer."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeapi import remotive_job, theirstack_job
from skillpulse_ingest.models import JobPosting
from skillpulse_ingest.sources import InvalidRow
from skillpulse_ingest.sources import remotive, theirstack

weird_text = st.one_of(
    st.text(),
    st.sampled_from(["", " ", "\x00\x07\x1b[31m", "🚀 Senior Backend Engineer 🔥", "مهندس برمجيات أول",
                     "מהנדס תוכנה", "\u202eevil\u202c", "Dev\r\nOps", "x" * 10_000]),
)
timestamps = st.one_of(
    st.none(), weird_text, st.integers(),
    st.sampled_from(["2026-11-24", "2026-11-24T16:02:41", "2026-11-24T16:02:41Z", "2026-11-24T16:02:41+05:30",
                     "2026-11-24T16:02:41.123456-08:00", "2026-02-30", "24/11/2026", "yesterday", "9999-99-99"]),
)
anything = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), weird_text),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=6)


def mutate(base: dict, keys, values):
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys)).map(lambda d: {**base, **d})


THEIRSTACK_KEYS = ["id", "job_title", "url", "final_url", "source_url", "date_posted", "discovered_at", "company",
                   "company_object", "location", "short_location", "country", "country_code", "state_code",
                   "cities", "country_codes", "remote", "description", "has_blurred_data"]
REMOTIVE_KEYS = ["id", "url", "title", "company_name", "publication_date", "candidate_required_location",
                 "description", "tags", "job_type"]


def check(normalize, row):
    try:
        posting = normalize(row)
    except InvalidRow:
        return
    assert isinstance(posting, JobPosting)
    assert posting.title.strip() and posting.url.lower().startswith(("http://", "https://"))
    assert len(posting.id) == 32
    assert posting.date_posted is None or len(posting.date_posted) == 10
    json.loads(posting.raw_json)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutate(theirstack_job(1), THEIRSTACK_KEYS, st.one_of(anything, timestamps)))
def test_theirstack_normalizer_never_crashes(row):
    check(theirstack.normalize, row)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutate(remotive_job(1), REMOTIVE_KEYS, st.one_of(anything, timestamps)))
def test_remotive_normalizer_never_crashes(row):
    check(remotive.normalize, row)


@pytest.mark.parametrize("normalize,row", [
    (theirstack.normalize, {**theirstack_job(1), "description": "<p>" + "Python and Go. 🚀 " * 400_000 + "</p>"}),
    (remotive.normalize, {**remotive_job(1), "description": "x" * 5_000_000}),
])
def test_huge_descriptions_are_kept(normalize, row):
    posting = normalize(row)
    assert len(posting.description_raw) >= 5_000_000


@pytest.mark.parametrize("stamp,day", [("2026-11-24T16:02:41", "2026-11-24"), ("2026-11-24T23:30:00-05:00", "2026-11-25"),
                                       ("2026-11-24T01:00:00+05:30", "2026-11-23"), ("2026-11-24T16:02:41Z", "2026-11-24")])
def test_naive_and_offset_timestamps_become_utc_dates(stamp, day):
    assert remotive.normalize({**remotive_job(1), "publication_date": stamp}).date_posted == day
    row = {**theirstack_job(1), "date_posted": None, "discovered_at": stamp}
    assert theirstack.normalize(row).date_posted == day
