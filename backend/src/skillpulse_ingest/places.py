"""Places: parse "Dallas, TX" or "Remote (USA)" into codes, and decide whether two places match.

A place is a set of ISO country codes plus an optional state/province code and city.
Remote postings carry a *scope*: the countries they are open to, encoded for SQL as
",US,CA," or "*" for worldwide.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from . import gazetteer

WORLDWIDE = "*"
HOME_REGIONS = {"US": "us_states", "CA": "ca_provinces"}


@dataclass(frozen=True)
class Place:
    countries: frozenset[str] = frozenset()
    region: str | None = None
    city: str | None = None
    remote_only: bool = False
    text: str = ""
    metro: str | None = None  # a metro area's name: the place is the whole area, not its city

    @property
    def country(self) -> str | None:
        return next(iter(self.countries)) if len(self.countries) == 1 else None

    @property
    def label(self) -> str:
        """How to name the place to people: "Dallas, TX"; a metro, or a place that is not one
        country, as typed."""
        if self.country and not self.metro:
            return place_label(self.city, self.region, self.country)
        return " ".join(self.text.split()) or "anywhere"


@dataclass(frozen=True)
class _Tables:
    country_names: dict[str, str]                # code -> display name
    countries: dict[str, str]                    # lower alias -> code
    regions: dict[str, frozenset[str] | None]    # lower alias -> codes (None: worldwide)
    subdivisions: dict[str, dict[str, str]]      # country -> lower name or code -> code


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    raw = json.loads(resources.files(__package__).joinpath("data/places.json").read_text("utf-8"))
    names, aliases, members = {}, {}, {}
    for entry in raw["countries"]:
        code = entry["code"]
        names[code] = entry["name"]
        for alias in [code, entry["name"], *entry["aliases"]]:
            aliases[alias.lower()] = code
        for region in entry["regions"]:
            members.setdefault(region, set()).add(code)
    regions = {}
    for region, region_aliases in raw["regions"].items():
        codes = None if region == "worldwide" else frozenset(members.get(region, ()))
        for alias in region_aliases:
            regions[alias] = codes
    subdivisions = {}
    for country, key in HOME_REGIONS.items():
        table = {}
        for code, name in raw[key].items():
            table[code.lower()] = code
            table[name.lower()] = code
        subdivisions[country] = table
    return _Tables(names, aliases, regions, subdivisions)


_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b|\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b")
# (?<!\s): a suffix starts at the first space of a run, else each space of a long run rescans it.
_METRO_NOISE = re.compile(r"^greater\s+|^metro\s+|(?<!\s)\s+(?:(?:metropolitan|metro)(?:\s+(?:area|region))?|area|region|metroplex)$", re.I)
MAX_PLACE = 200  # characters of a place name that are parsed; real ones are far shorter
_REMOTE_WORD = re.compile(r"\b(?:remote|hybrid|on-?site|anywhere in)\b", re.I)


def parse_place(text: str | None) -> Place | None:
    """Parse a place the way people write it; None when there is nothing to parse."""
    if not text or not text.strip():
        return None
    text = " ".join(text[:MAX_PLACE].split())
    place = _parse(text)
    return Place(place.countries, place.region, place.city, place.remote_only, text, place.metro)


def _parse(text: str) -> Place:
    t = _tables()
    cleaned = _ZIP.sub("", text).strip()
    remote_only = bool(_REMOTE_WORD.search(cleaned))
    cleaned = _REMOTE_WORD.sub("", cleaned)
    cleaned = re.sub(r"[()]", ",", cleaned)
    parts = [p.strip(" .-") for p in cleaned.split(",")]
    parts = [p for p in parts if p]
    if not parts:
        return Place(remote_only=remote_only)
    lowered = [p.lower() for p in parts]
    metro = _metro(", ".join(lowered)) or _metro(lowered[0])
    if metro:
        # The principal city stands for the metro where a posting names one ("Bay Area").
        return Place(frozenset([metro.country]), metro.region, metro.city, remote_only, metro=metro.name)

    countries: frozenset[str] = frozenset()
    if len(parts) == 2 and len(lowered[-1]) == 2 and any(lowered[-1] in t.subdivisions[c] for c in HOME_REGIONS):
        pass  # "San Francisco, CA", "Dover, DE": after a city, two letters are a state or province
    elif lowered[-1] in t.countries and (len(parts) > 1 or len(parts[-1]) > 1):
        countries = frozenset([t.countries[lowered.pop()]])
    elif lowered[-1] in t.regions:
        codes = t.regions[lowered.pop()]
        countries = codes if codes is not None else frozenset()
    region = None
    if lowered:
        candidates = [countries and next(iter(countries))] if len(countries) == 1 else list(HOME_REGIONS)
        for country in candidates:
            code = t.subdivisions.get(country, {}).get(lowered[-1])
            if code:
                region, countries = code, frozenset([country])
                lowered.pop()
                break
    city = None
    if lowered:
        city = parts[0].strip()
        city = _METRO_NOISE.sub("", city).strip() or city
        city = city if not city.islower() and not city.isupper() else city.title()
        city = gazetteer.common_name(city)
    return Place(countries, region, city, remote_only)


def _metro(lowered: str) -> gazetteer.Metro | None:
    """A metro by its name or an alias, or a principal city with Greater/Area/Metro around it."""
    core = _METRO_NOISE.sub("", lowered).strip()
    return gazetteer.metro_named(lowered, core if core != lowered else None)


def place_label(city: str | None, region: str | None, country: str | None) -> str | None:
    """Human-readable place: "Dallas, TX", "Toronto, ON", "Berlin, Germany", "United States"."""
    names = _tables().country_names
    country_name = names.get(country or "", country)
    if country not in HOME_REGIONS and country is not None:
        region = None  # outside the US and Canada, region codes are not what people write
    if city and region:
        return f"{city}, {region}"
    if city:
        return f"{city}, {country_name}" if country_name else city
    if region:
        return region_name(country, region)
    return country_name


def region_name(country: str | None, region: str) -> str:
    """Full name of a state or province code ("TX" -> "Texas"); the code when unknown."""
    table = _tables().subdivisions.get(country or "", {})
    return next((name.title() for name, code in table.items() if code == region and len(name) > 2), region)


def remote_scope(text: str | None) -> str | None:
    """Countries a remote posting is open to: "*" worldwide, ",US,CA," a list, None unknown."""
    if text is None or not text.strip():
        return WORLDWIDE
    text = text[:MAX_PLACE]
    t = _tables()
    codes: set[str] = set()
    for token in re.split(r"[,/;|&()+]|\bor\b|\band\b", text.lower()):
        token = re.sub(r"\b(?:only|timezones?|time zones?|based|residents?|citizens?|remote|"
                       r"preferred|[a-z]{2,4}\s*[+-]\s*\d+|utc|gmt|[a-z]st)\b", " ", token)
        token = " ".join(token.split()).strip(" .-")
        if not token:
            continue
        if token in t.regions:
            region = t.regions[token]
            if region is None:
                return WORLDWIDE
            codes |= region
        elif token in t.countries:
            codes.add(t.countries[token])
        elif token in t.subdivisions["US"] and len(token) > 2:
            codes.add("US")
    return encode_scope(codes) if codes else None


def encode_scope(codes) -> str:
    return "," + ",".join(sorted(codes)) + ","


def scope_covers(scope: str | None, countries: frozenset[str]) -> bool:
    """True when a remote posting with this scope is open to any of the countries."""
    if scope is None:
        return False
    if scope == WORLDWIDE:
        return True
    return any(f",{code}," in scope for code in countries)


def same_city(a: str | None, b: str | None) -> bool:
    return bool(a and b) and a.casefold() == b.casefold()


def place_contains(query: Place, country: str | None, region: str | None, city: str | None,
                   lat: float | None = None, lon: float | None = None) -> bool:
    """True when the place (country, region, city; coordinates if known) lies inside the query place."""
    if query.metro:
        return gazetteer.metro_of(country, region, city, lat, lon) == query.metro
    if query.countries and country not in query.countries:
        return False
    if query.region and (region or "").upper() != query.region:
        return False
    if query.city and not same_city(city, query.city):
        return False
    return True


def structured_place(city: str | None, region: str | None, country: str | None) -> Place:
    """A place from a source's separate fields ("Austin", "Texas", "United States" or "US"),
    as parse_place would read "Austin, TX, United States"."""
    t = _tables()
    code = t.countries.get((country or "").strip().lower()) if country else None
    region_code = None
    if region and region.strip():
        for candidate in ([code] if code else list(HOME_REGIONS)):
            region_code = t.subdivisions.get(candidate, {}).get(region.strip().lower())
            if region_code:
                code = candidate
                break
    city = gazetteer.common_name(" ".join(city.split())[:MAX_PLACE]) if city and city.strip() else None
    return Place(frozenset([code]) if code else frozenset(), region_code, city,
                 text=", ".join(p for p in (city, region, country) if p))
