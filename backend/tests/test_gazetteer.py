"""Metro areas and the gazetteer: the labeled suburb set, in Python and in SQL, and the data files."""

import gzip
import json
from importlib import resources
from pathlib import Path

import pytest

from skillpulse_ingest import gazetteer
from skillpulse_ingest.models import JobPosting
from skillpulse_ingest.places import parse_place
from skillpulse_ingest.role_match import matches_location
from skillpulse_ingest.storage_sqlite import PostingFilter, SQLiteStore

CASES = Path(__file__).parent / "data" / "metros_labeled.tsv"


def labeled():
    for line in CASES.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            query, where, expected = line.split("\t")
            yield query, where, expected == "1"


def posting_at(n: int, where: str) -> JobPosting:
    """A posting placed as a board gives it; "@lat,lon" adds the source's own coordinates."""
    text, _, at = where.partition(" @")
    place = parse_place(text)
    lat, lon = (float(v) for v in at.split(",")) if at else (None, None)
    return JobPosting(source="x", url=f"https://x.io/{n}", title="Software Engineer", country_code=place.country,
                      region_code=place.region, city=place.city, latitude=lat, longitude=lon,
                      role_bucket="backend", level_bucket="entry", date_posted="2026-11-20")


def test_labeled_suburbs_land_in_their_metros(tmp_path):
    cases = list(labeled())
    metros = {query for query, _, _ in cases if parse_place(query).metro}
    assert len(cases) >= 100 and len(metros) >= 15
    postings = [posting_at(n, where) for n, (_, where, _) in enumerate(cases)]
    misses = []
    with SQLiteStore.open(tmp_path / "m.db") as store:
        store.save_page(postings)
        for (query, where, expected), p in zip(cases, postings):
            in_python = matches_location(p, query, "exclude")
            stored = store.postings(PostingFilter(place=parse_place(query), remote="exclude"))
            in_sql = p.id in {row["id"] for row in stored}
            assert in_python == in_sql, (query, where)  # the two place tests never disagree
            if in_python != expected:
                misses.append(f"  {where!r} in {query!r}: expected {expected}")
    accuracy = 1 - len(misses) / len(cases)
    print(f"\nmetro cases: {accuracy:.1%} of {len(cases)} over {len(metros)} metros\n" + "\n".join(misses))
    assert accuracy >= 0.98, "\n".join(misses)


@pytest.mark.parametrize("text,metro", [
    ("San Francisco Bay Area", "San Francisco Bay Area"), ("bay area", "San Francisco Bay Area"),
    ("Greater Dallas", "Dallas-Fort Worth Metroplex"), ("DFW", "Dallas-Fort Worth Metroplex"),
    ("Dallas Metro Area", "Dallas-Fort Worth Metroplex"), ("Austin, Texas Metropolitan Area", "Austin, Texas Metropolitan Area"),
    ("Greater Seattle Area", "Greater Seattle Area"), ("Seattle Area", "Greater Seattle Area"),
    ("Washington DC-Baltimore Area", "Washington DC-Baltimore Area"), ("GTA", "Greater Toronto Area"),
    ("Dallas, TX", None), ("Seattle", None), ("Washington", None), ("Texas", None), ("Portland, OR", None),
])
def test_metro_names_and_cities_are_told_apart(text, metro):
    place = parse_place(text)
    assert place.metro == metro
    if metro:
        assert place.label == " ".join(text.split())  # the heading keeps the user's own name


def test_principal_city_stands_for_a_metro_a_posting_names():
    place = parse_place("San Francisco Bay Area")
    assert (place.country, place.region, place.city) == ("US", "CA", "San Francisco")
    assert gazetteer.metro_of(place.country, place.region, place.city) == "San Francisco Bay Area"


def test_coordinates_win_and_bad_ones_are_ignored():
    assert gazetteer.metro_of("US", "TX", "Unlisted", 32.95, -96.73) == "Dallas-Fort Worth Metroplex"
    assert gazetteer.metro_of("US", "TX", "Plano", 30.27, -97.74) == "Austin, Texas Metropolitan Area"
    for lat, lon in ((0, 0), (float("nan"), -96.7), (95, 10), ("x", "y"), (True, False)):
        assert gazetteer.metro_of("US", "TX", "Plano", lat, lon) == "Dallas-Fort Worth Metroplex"
    assert gazetteer.coordinate("47.61", 90) == 47.61 and gazetteer.coordinate(float("inf"), 90) is None


def test_known_cities_and_suggestions():
    assert gazetteer.known_city("US", "TX", "Plano") and gazetteer.known_city("US", "tx", "plano")
    assert not gazetteer.known_city("US", "TX", "Dallsa")
    assert gazetteer.similar_cities("US", "TX", "Dallsa") == [("Dallas", "US", "TX")]
    assert gazetteer.similar_metros("San Francisco Bay Aera") == ["San Francisco Bay Area"]
    assert gazetteer.known_city("IN", None, "Bangalore") and gazetteer.known_city(None, None, "São Paulo")
    assert gazetteer.city_key("Saint-Louis") == gazetteer.city_key("St. Louis") == "st louis"


def test_data_files_agree_with_the_code():
    """The build script wrote each row's key and metro with this code; an edit to metros.json or
    the aliases without rerunning it would make them disagree."""
    data = resources.files("skillpulse_ingest").joinpath("data")
    metros = {m["name"]: m for m in json.loads(data.joinpath("metros.json").read_text("utf-8"))["metros"]}
    rows = gzip.decompress(data.joinpath("gazetteer.tsv.gz").read_bytes()).decode("utf-8").splitlines()
    assert len(rows) > 50000
    seen = set()
    for line in rows:  # largest first, as the loaders read them
        key, name, country, region, lat, lon, _, metro = line.split("\t")
        if (country, region, key) in seen:
            continue
        seen.add((country, region, key))
        if len(seen) % 37 == 0:
            assert key == gazetteer.city_key(name)
            assert (metro or None) == gazetteer.metro_at(round(float(lat), 3), round(float(lon), 3), country), name
            assert gazetteer.metro_of(country, region or None, name) == (metro or None), name  # the small file agrees
    assert all(area["lat"] and area["km"] for m in metros.values() for area in m["areas"])
    assert len(metros) >= 40


def test_every_metro_name_and_alias_reads_back_as_its_metro():
    """What /api/locations lists must come back as the same metro from /api/skills."""
    data = resources.files("skillpulse_ingest").joinpath("data", "metros.json").read_text("utf-8")
    for entry in json.loads(data)["metros"]:
        for text in [entry["name"], *entry["aliases"], entry["name"].upper()]:
            assert parse_place(text).metro == entry["name"], text
