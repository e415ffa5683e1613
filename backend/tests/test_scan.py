"""The optional C accelerator (_scan.c) must find exactly what the pure-Python pattern finds."""

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakeapi import many_theirstack_jobs
from skillpulse_ingest import skills

CATALOG = skills.catalog()
SCANNER = CATALOG.scanner
if SCANNER is None and os.environ.get("SKILLPULSE_REQUIRE_ACCELERATOR"):
    raise RuntimeError("the C accelerator was not built, and SKILLPULSE_REQUIRE_ACCELERATOR is set")
pytestmark = pytest.mark.skipif(SCANNER is None, reason="C accelerator not built here (no compiler); "
                                                        "the pure-Python path is what every other test runs")
KEYS = sorted(CATALOG.aliases)
PIECES = KEYS + list(skills._PROPER_NAMES) + [" ", "  ", "\n", "\t", ".", ",", "-", "+", "#", "@", "$", "_", "/",
                                              "(", ")", "x", "A", "1", ":", ". ", "\n- "]


def regex_spans(lowered: str) -> list[tuple[int, int]]:
    return [m.span(1) for m in CATALOG.ascii_pattern.finditer(lowered)]


@settings(max_examples=1500)
@given(st.lists(st.sampled_from(PIECES), max_size=25))
def test_same_spans_as_the_pattern_on_any_mix_of_aliases_and_separators(pieces):
    text = "\n" + "".join(pieces)
    assert SCANNER.spans(text) == regex_spans(text)


def test_same_spans_on_every_alias_in_every_context():
    for key in KEYS:
        for before, after in [(" ", " "), ("(", ")"), ("x", " "), (" ", "x"), ("a.", " "), ("..", "."),
                              (" ", ".js"), (" ", "+"), ("#", " "), (" ", " Ventures"), (" ", "  park!"),
                              ("\n", "\n"), (" ", "-"), (" ", ".")]:
            text = f"\n{before}{key}{after}"
            assert SCANNER.spans(text) == regex_spans(text), text


def test_same_skills_on_generated_and_labeled_postings_with_and_without_it(monkeypatch):
    jobs = many_theirstack_jobs(300, seed=11)
    labeled = [json.loads(line) for line in (Path(__file__).parent / "data" / "skills_labeled.jsonl").open()]
    postings = [(j["job_title"], j["description"]) for j in jobs] + [(d["title"], d["description"]) for d in labeled]
    fast = [skills.extract_skills(title, text) for title, text in postings]
    monkeypatch.setattr(CATALOG, "scanner", None)
    assert fast == [skills.extract_skills(title, text) for title, text in postings]


def test_it_refuses_what_it_cannot_scan():
    with pytest.raises(ValueError):
        SCANNER.spans("\nnaïve python")
    with pytest.raises(ValueError):
        skills.Scanner(["two\twords"], [])
    with pytest.raises(ValueError):
        skills.Scanner([""], [])
