"""Board specs, board and job URLs, and a job's identity across sources."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillpulse_ingest.boards import BoardSpec, BoardSpecError, job_key, parse_spec, parse_url, specs_from_text

UUID = "2f1c9e4a-1111-2222-3333-444455556666"
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=300)  # lone surrogates included


@pytest.mark.parametrize("text, spec", [
    ("greenhouse:stripe", BoardSpec("greenhouse", "stripe")),
    (" Greenhouse:Stripe ", BoardSpec("greenhouse", "stripe")),          # Greenhouse tokens are lower-case
    ("ashby:Ramp", BoardSpec("ashby", "Ramp")),                           # Ashby names keep their case
    ("smartrecruiters:AcmeInc", BoardSpec("smartrecruiters", "AcmeInc")),
    ("lever:eu/acme", BoardSpec("lever", "acme", "eu")),
    ("https://job-boards.greenhouse.io/stripe", BoardSpec("greenhouse", "stripe")),
    ("https://boards.greenhouse.io/stripe/jobs/4012345?gh_src=x", BoardSpec("greenhouse", "stripe")),
    ("https://boards.greenhouse.io/embed/job_board?for=figma", BoardSpec("greenhouse", "figma")),
    ("https://boards-api.greenhouse.io/v1/boards/discord/jobs", BoardSpec("greenhouse", "discord")),
    ("https://jobs.lever.co/spotify", BoardSpec("lever", "spotify")),
    (f"https://jobs.lever.co/spotify/{UUID}/apply", BoardSpec("lever", "spotify")),
    ("https://jobs.eu.lever.co/x", BoardSpec("lever", "x", "eu")),
    ("https://jobs.ashbyhq.com/ramp", BoardSpec("ashby", "ramp")),
    ("jobs.ashbyhq.com/Ramp", BoardSpec("ashby", "Ramp")),
    ("https://jobs.smartrecruiters.com/Acme", BoardSpec("smartrecruiters", "Acme")),
    ("https://careers.smartrecruiters.com/Acme/", BoardSpec("smartrecruiters", "Acme")),
    ("https://www.datadoghq.com/careers/detail/?gh_jid=4012345", BoardSpec("greenhouse", "datadoghq")),
])
def test_specs_by_hand(text, spec):
    assert parse_spec(text) == spec


@pytest.mark.parametrize("text, words", [
    ("workday:acme", "unknown ATS 'workday'"),
    ("stripe", "names no ATS"),
    ("https://acme.wd5.myworkdayjobs.com/careers", "not a board or job URL"),
    ("greenhouse:", "board token"),
    ("greenhouse:a b", "board token"),
    ("", "empty"),
])
def test_specs_that_name_no_board_say_why(text, words):
    with pytest.raises(BoardSpecError, match=words):
        parse_spec(text)


def test_a_file_of_specs_skips_and_counts_bad_lines():
    text = "# my boards\ngreenhouse:stripe\n\nhttps://jobs.lever.co/spotify\nworkday:acme\nnot a board\n"
    specs, bad = specs_from_text(text)
    assert specs == [BoardSpec("greenhouse", "stripe"), BoardSpec("lever", "spotify")]
    assert bad == ["workday:acme", "not a board"]


def test_a_csv_with_a_url_column():
    text = ("name,url,notes\nStripe,https://boards.greenhouse.io/stripe,\"big, hiring\"\n"
            "Acme,https://acme.example.com/jobs,\nRamp,https://jobs.ashbyhq.com/ramp,\n")
    specs, bad = specs_from_text(text)
    assert specs == [BoardSpec("greenhouse", "stripe"), BoardSpec("ashby", "ramp")]
    assert bad == ["https://acme.example.com/jobs"]


@pytest.mark.parametrize("source, source_id, url, key", [
    ("greenhouse", "4012345", "https://boards.greenhouse.io/stripe/jobs/4012345", "greenhouse:4012345"),
    ("lever", UUID.upper(), f"https://jobs.lever.co/x/{UUID}", f"lever:{UUID}"),
    ("theirstack", "9", "https://stripe.com/jobs/search?gh_jid=4012345", "greenhouse:4012345"),
    ("theirstack", "9", "https://job-boards.greenhouse.io/stripe/jobs/4012345", "greenhouse:4012345"),
    ("theirstack", "9", f"https://jobs.lever.co/x/{UUID}/apply", f"lever:{UUID}"),
    ("theirstack", "9", f"https://jobs.ashbyhq.com/Ramp/{UUID}", f"ashby:{UUID}"),
    ("theirstack", "9", "https://jobs.smartrecruiters.com/Acme/743999123-engineer", "smartrecruiters:743999123"),
    ("theirstack", "9", "https://jobs.lever.co/x", "https://jobs.lever.co/x"),   # a board, not a job
    ("remotive", "5", "https://remotive.com/remote-jobs/dev-5", "https://remotive.com/remote-jobs/dev-5"),
])
def test_job_key(source, source_id, url, key):
    assert job_key(source, source_id, url) == key


@given(ANY_TEXT)
def test_any_text_is_a_spec_or_a_spec_error(text):
    try:
        spec = parse_spec(text)
    except BoardSpecError:
        return
    assert spec.ats in ("greenhouse", "lever", "ashby", "smartrecruiters") and spec.token


@given(ANY_TEXT)
def test_any_url_parses_or_is_none_and_has_a_key(text):
    ref = parse_url(f"https://boards.greenhouse.io/{text}")
    assert ref is None or ref.board is None or ref.board.ats == "greenhouse"
    assert isinstance(job_key("theirstack", None, "https://x.io/?gh_jid=" + text), str)
