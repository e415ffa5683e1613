import pytest

from skillpulse_ingest.places import parse_place, place_contains, place_label, remote_scope, scope_covers


@pytest.mark.parametrize("text,expected", [
    ("Dallas, TX", ({"US"}, "TX", "Dallas")),
    ("Dallas, Texas, United States", ({"US"}, "TX", "Dallas")),
    ("Dallas, TX 75201", ({"US"}, "TX", "Dallas")),
    ("Dallas-Fort Worth", ({"US"}, "TX", "Dallas")),
    ("Dallas-Fort Worth Metroplex", ({"US"}, "TX", "Dallas")),
    ("San Francisco Bay Area", ({"US"}, "CA", "San Francisco")),
    ("Greater Seattle Area", ({"US"}, "WA", "Seattle")),
    ("New York City Metropolitan Area", ({"US"}, "NY", "New York")),
    ("Toronto, ON", ({"CA"}, "ON", "Toronto")),
    ("Toronto, Ontario, Canada", ({"CA"}, "ON", "Toronto")),
    ("London, UK", ({"GB"}, None, "London")),
    ("United States", ({"US"}, None, None)),
    ("USA", ({"US"}, None, None)),
    ("US", ({"US"}, None, None)),
    ("Texas", ({"US"}, "TX", None)),
    ("Germany", ({"DE"}, None, None)),
])
def test_parse_place(text, expected):
    place = parse_place(text)
    assert (set(place.countries), place.region, place.city) == expected


def test_remote_and_regions():
    assert parse_place("Remote").remote_only
    assert "DE" in parse_place("Europe").countries and "US" not in parse_place("Europe").countries
    assert parse_place("") is None


@pytest.mark.parametrize("text,covers_us", [
    ("Worldwide", True), ("Anywhere", True), ("USA Only", True), ("USA, CST (UTC-6)", True),
    ("Americas", True), ("North America", True), ("US/Canada", True), ("Europe Only", False),
    ("LATAM, Europe", False), ("UK", False), ("Germany, Austria", False),
])
def test_remote_scope(text, covers_us):
    assert scope_covers(remote_scope(text), frozenset({"US"})) is covers_us


def test_unknown_scope_covers_nothing():
    assert remote_scope("UTC-5 to UTC-8") is None
    assert not scope_covers(None, frozenset({"US"}))


def test_place_contains_and_labels():
    dallas_tx = parse_place("Dallas, TX")
    assert place_contains(dallas_tx, "US", "TX", "dallas")
    assert not place_contains(dallas_tx, "US", "OR", "Dallas")
    assert place_contains(parse_place("United States"), "US", "OR", "Dallas")
    assert place_label("Dallas", "TX", "US") == "Dallas, TX"
    assert place_label("Berlin", None, "DE") == "Berlin, Germany"
    assert place_label(None, None, "US") == "United States"
