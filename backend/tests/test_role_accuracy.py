"""Role and level accuracy on the labeled title set; prints a per-bucket report and every miss."""

from collections import Counter
from pathlib import Path

from skillpulse_ingest.models import LEVEL_BUCKETS, ROLE_BUCKETS
from skillpulse_ingest.role_match import classify, classify_level, classify_role

TITLES = Path(__file__).parent / "data" / "titles_labeled.tsv"


def labeled():
    """(title, role, level, company): the company, where a row gives it, is the posting's own."""
    rows = []
    for line in TITLES.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            title, role, level, *company = line.split("\t")
            rows.append((title, role, level, company[0] if company else None))
    return rows


def report(name, rows, classify, buckets):
    total, right, misses = Counter(), Counter(), []
    for title, company, want in rows:
        got = classify(title, company=company)
        total[want] += 1
        if got == want:
            right[want] += 1
        else:
            misses.append(f"  {title!r}: expected {want}, got {got}")
    accuracy = sum(right.values()) / len(rows)
    lines = [f"{name}: {accuracy:.1%} of {len(rows)}"]
    lines += [f"  {b:<10} {right[b]:>4}/{total[b]:<4} {right[b] / total[b]:.0%}" for b in buckets if total[b]]
    return accuracy, "\n".join(lines + misses)


def test_labeled_set_is_large_and_covers_every_cell():
    rows = labeled()
    assert len(rows) >= 1000
    assert sum(1 for row in rows if row[3]) >= 30  # titles that carry their company's name
    cells = {(role, level) for _, role, level, _ in rows}
    assert cells == {(r, lv) for r in ROLE_BUCKETS for lv in LEVEL_BUCKETS}


def test_role_accuracy():
    accuracy, text = report("role", [(t, c, r) for t, r, _, c in labeled()], classify_role, ROLE_BUCKETS)
    print("\n" + text)
    assert accuracy >= 0.97, text


def test_level_accuracy():
    accuracy, text = report("level", [(t, c, lv) for t, _, lv, c in labeled()], classify_level, LEVEL_BUCKETS)
    print("\n" + text)
    assert accuracy >= 0.97, text


def test_descriptions_refine_general_and_decide_levels():
    import json
    cases = [json.loads(line) for line in (TITLES.parent / "descriptions_labeled.jsonl").read_text("utf-8").splitlines()]
    assert len(cases) >= 30
    misses = [(c["title"], c["description"][:50], (c["role"], c["level"]), classify(c["title"], c["description"]))
              for c in cases if classify(c["title"], c["description"]) != (c["role"], c["level"])]
    assert not misses, "\n".join(map(str, misses))


def test_location_matching_set():
    import json
    from skillpulse_ingest.models import JobPosting
    from skillpulse_ingest.places import remote_scope
    from skillpulse_ingest.role_match import matches_location
    cases = json.loads((TITLES.parent / "locations_labeled.json").read_text("utf-8"))
    misses = []
    for case in cases:
        fields = dict(case["posting"])
        if "remote_scope_text" in fields:
            fields["remote_scope"] = remote_scope(fields.pop("remote_scope_text"))
        posting = JobPosting(source="x", url="https://x.io/1", title="t", **fields)
        if matches_location(posting, case["query"], case["remote"]) != case["match"]:
            misses.append(case)
    assert len(cases) >= 40 and not misses, "\n".join(map(str, misses))
