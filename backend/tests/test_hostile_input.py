"""Real-world text is hostile: every text pass is linear, and no character stops a row's analysis.

The size tests feed each cleaner and parser 1 MB of the input that used to make it quadratic; the
bound (5 s) is generous enough never to flake and far below what the quadratic code took (minutes).
"""

import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillpulse_ingest.models import IngestionQuery, JobPosting
from skillpulse_ingest.pipeline import RunSummary, _normalize
from skillpulse_ingest.places import parse_place, remote_scope
from skillpulse_ingest.role_match import classify
from skillpulse_ingest.skills import extract_skills
from skillpulse_ingest.sources.theirstack import TheirStackSource
from skillpulse_ingest.text import to_plain_text, valid_unicode
from skillpulse_ingest.workers import analyze, prefetched
from fakeapi import theirstack_job

MB = 1_000_000
WORST = {
    "open brackets then a link": "[" * MB + "](x)",
    "links without an end": "[a](" * (MB // 4),
    "images without an end": "![" * (MB // 2) + "](",
    "unclosed style tags": "<style>" * (MB // 7),
    "unclosed script tags": "<script " * (MB // 8),
    "unclosed comments": "<!--" * (MB // 4),
    "comments before a script": "<!---->" * (MB // 7) + "<script>x",
    "break tags without an end": "<br" * (MB // 3),
    "list items without an end": "<li" * (MB // 3),
    "a long local part before @": "a." * (MB // 2) + "@",
    "many @": "a@" * (MB // 2),
    "a long path": "a/" * (MB // 2) + ".png",
    "a list of go": "go, " * (MB // 4),
    "applying, again and again": "apply now " * (MB // 10),
    "escaped tags": "&lt;p" * (MB // 5),
    "a run of spaces": "x" + " " * MB + "y",
    "a run of non-breaking spaces": "x" + "\u00a0" * MB + " area",
    "open angles": "<" * MB,
    "years": "5 years " * (MB // 8),
    "parentheses": "(" * MB,
    "non-ASCII then brackets": "é" * (MB // 2) + "[" * (MB // 2),
}


@pytest.mark.parametrize("name", WORST)
def test_every_text_pass_is_linear_on_its_worst_input(name):
    text = WORST[name]
    start = time.monotonic()
    to_plain_text(text)
    extract_skills(text, text)
    classify(text, text)
    parse_place(text)
    remote_scope(text)
    assert time.monotonic() - start < 5, name


@pytest.mark.parametrize("space", [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()])
def test_a_multi_word_skill_across_any_unicode_space_is_found(space):
    posting = JobPosting(source="t", url="https://x/1", title=f"Spring{space}Boot Developer",
                         description_raw=f"We use Node{space}JS and Spring{space}Boot.")
    [verdict] = analyze([posting], IngestionQuery())
    assert verdict.error is None
    assert "spring boot" in verdict.skills


@pytest.mark.parametrize("title,skill", [("C&#43;&#43; Developer", "c++"), ("Senior <b>Go</b> Engineer", "go")])
def test_ingest_and_rebuild_analyze_a_title_the_same_way(title, skill):
    posting = JobPosting(source="t", url="https://x/1", title=title, description_raw="")
    [verdict] = analyze([posting], IngestionQuery())
    assert skill in verdict.skills
    assert list(verdict.skills) == extract_skills(title, "")  # what `skills rebuild` computes


# Every code point, lone surrogates included (st.text() leaves those out).
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=300)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_cleaning_and_analysis_take_any_text(text):
    plain = to_plain_text(text)
    assert isinstance(plain, str)
    extract_skills(text, text)
    classify(text, text)
    parse_place(text)
    remote_scope(text)
    valid_unicode(text).encode("utf-8")  # what SQLite stores


@settings(max_examples=300, deadline=None)
@given(title=ANY_TEXT, company=ANY_TEXT, location=ANY_TEXT, description=ANY_TEXT, url_tail=ANY_TEXT)
def test_a_row_of_any_text_is_a_storable_posting_or_one_invalid_row(title, company, location, description, url_tail):
    row = theirstack_job(1)
    row.update(job_title=title, company=company, short_location=location, location=location,
               description=description, final_url="https://example.com/" + url_tail, cities=[location])
    summary = RunSummary("theirstack", None)
    postings = _normalize(TheirStackSource(None, "https://x", "k"), [row], summary)
    assert len(postings) + summary.invalid == 1
    for posting in postings:
        for value in vars(posting).values():
            if isinstance(value, str):
                value.encode("utf-8")
        [verdict] = analyze(postings, IngestionQuery()) or [None]
        assert verdict is None or verdict.error is None


def test_prefetch_stops_at_once_when_the_consumer_fails_after_the_last_page():
    import threading

    def pages():
        yield [1]
        yield [2]

    start = time.monotonic()
    with pytest.raises(RuntimeError):
        for _ in prefetched(pages()):
            time.sleep(0.3)  # the producer has queued the last page and its end marker meanwhile
            raise RuntimeError("consumer failed")
    assert time.monotonic() - start < 0.9
    time.sleep(0.3)
    assert not [t for t in threading.enumerate() if t.name == "prefetch"]


def test_blocks_are_removed_at_the_right_place_after_letters_that_lower_to_two():
    # "İ" lower-cases to two characters: positions found in a lower-cased copy would be off.
    assert to_plain_text("İİİİ keep <!-- drop --> this <SCRIPT>drop</script > too") == "İİİİ keep this too"
