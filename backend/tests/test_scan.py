"""The optional C accelerator (_scan.c) must give exactly what the pure-Python code gives."""

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakeapi import many_theirstack_jobs
from skillpulse_ingest import accelerator, skills, text
from skillpulse_ingest.store.base import tally_from

CATALOG = skills.catalog()
SCANNER = CATALOG.scanner
FAST = accelerator.scan
if FAST is None and os.environ.get("SKILLPULSE_REQUIRE_ACCELERATOR"):
    raise RuntimeError("the C accelerator was not built, and SKILLPULSE_REQUIRE_ACCELERATOR is set")
pytestmark = pytest.mark.skipif(FAST is None, reason="no C accelerator (not built here, or SKILLPULSE_PURE_PYTHON "
                                                        "set): nothing to compare the pure-Python path with")
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


def test_same_skills_and_plain_text_on_generated_and_labeled_postings_with_and_without_it(monkeypatch):
    jobs = many_theirstack_jobs(300, seed=11)
    labeled = [json.loads(line) for line in (Path(__file__).parent / "data" / "skills_labeled.jsonl").open()]
    postings = [(j["job_title"], j["description"]) for j in jobs] + [(d["title"], d["description"]) for d in labeled]
    fast = [(skills.extract_skills(title, body), text.to_plain_text(body)) for title, body in postings]
    monkeypatch.setattr(CATALOG, "scanner", None)
    monkeypatch.setattr(accelerator, "scan", None)
    assert fast == [(skills.extract_skills(title, body), text.to_plain_text(body)) for title, body in postings]


WHITESPACE = [" ", "  ", "\n", "\n\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1f", " \n ", "\r\n"]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(WHITESPACE + ["a", "bc", "-", "."]), max_size=30))
def test_squeeze_lines_is_the_python_line_cleanup(pieces):
    raw = "".join(pieces)
    assert FAST.squeeze_lines(raw) == "\n".join(line for line in (" ".join(x.split()) for x in raw.split("\n")) if line)


@settings(max_examples=1000)
@given(st.text(alphabet="apysendlik ofc\u00e9", max_size=40))
def test_contains_any_is_any_substring(raw):
    if raw.isascii():
        needles = skills._NOT_AN_ASK_TRIGGERS
        assert FAST.contains_any(raw, needles) == any(n in raw for n in needles)


@settings(max_examples=1500)
@given(st.lists(st.sampled_from(["", "python", "sql", "c++", "c#", ".net", "go", "a", "ab", "ba", ","]), max_size=300),
       st.sampled_from([",", ";", "\x1f"]))
def test_count_tokens_is_a_counter_of_the_split(pieces, sep):
    """Many distinct tokens too: the table grows from 64 slots while it counts."""
    joined = sep.join(pieces + [f"skill{i % 97}" for i in range(len(pieces))])
    assert FAST.count_tokens(joined, sep) == Counter(joined.split(sep))


def test_the_tally_counts_the_same_with_and_without_it(monkeypatch):
    row = (3, 3, 0, True, "python,sql,python,c++,c#,python", '["Acme", "ACME", null]', "remotive,greenhouse,remotive")
    fast = tally_from(row)
    monkeypatch.setattr(accelerator, "scan", None)
    assert fast == tally_from(row) and fast.skills == {"python": 3, "sql": 1, "c++": 1, "c#": 1}
    monkeypatch.setattr(accelerator, "scan", FAST)
    assert tally_from((1, 1, 0, True, "köln-tech,go", '["A"]', "x")).skills == {"köln-tech": 1, "go": 1}  # not ASCII


def test_it_refuses_what_it_cannot_handle():
    for call in (lambda: SCANNER.spans("\nnaïve python"), lambda: FAST.squeeze_lines("naïve"),
                 lambda: FAST.contains_any("naïve", ("a",)), lambda: FAST.contains_any("a", ("a",)),
                 lambda: FAST.Scanner(["two\twords"], []), lambda: FAST.Scanner([""], []),
                 lambda: FAST.count_tokens("naïve,go", ","), lambda: FAST.count_tokens("a,b", "é")):
        with pytest.raises(ValueError):
            call()
