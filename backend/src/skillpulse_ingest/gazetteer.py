"""Where cities are, and which metro area each lies in.

The gazetteer is the GeoNames cities table cut to what a job search needs (every city of
15,000 people, every US and Canadian town of 1,000, every place of 500 near a metro), built
by `scripts/build_places.py`. A metro is a set of circles around its centres: a place is in
it when its coordinates (a source's own, else the gazetteer's) fall inside one of them.
Ingest reads only the places inside metros (metro_places.tsv.gz, a few milliseconds); the
whole gazetteer is read when a query names a city nobody has stored.
"""

from __future__ import annotations

import difflib
import gzip
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

EARTH_KM = 6371.0


@dataclass(frozen=True)
class Metro:
    name: str
    country: str
    city: str                                      # the principal city, whose name stands for it
    region: str | None
    areas: tuple[tuple[float, float, float], ...]  # (latitude, longitude, radius km)


@dataclass(frozen=True)
class _City:
    name: str
    lat: float
    lon: float
    population: int
    metro: str | None


@dataclass(frozen=True)
class _Metros:
    by_name: dict[str, Metro]
    aliases: dict[str, str]   # lower alias -> metro name
    cores: dict[str, str]     # lower city core -> metro name


_SAINT = re.compile(r"^(?:saint|st)\.?\s+")


def city_key(name: str) -> str:
    """Compare city names the way people mean them: case, accents, "St."/"Saint" and dots aside."""
    folded = name.casefold()
    if not folded.isascii():
        folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    folded = _SAINT.sub("st ", folded.replace("-", " "))
    return " ".join(folded.replace(".", " ").split())


def _data(name: str):
    return resources.files(__package__).joinpath("data", name)


@lru_cache(maxsize=1)
def _city_aliases() -> dict[str, str]:
    """city_key -> the name people search for ("new york city" -> "New York")."""
    aliases = json.loads(_data("places.json").read_text("utf-8"))["city_aliases"]
    return {city_key(alias): name for alias, name in aliases.items()}


@lru_cache(maxsize=1)
def _metros() -> _Metros:
    by_name, aliases, cores = {}, {}, {}
    for entry in json.loads(_data("metros.json").read_text("utf-8"))["metros"]:
        name, country = entry["name"], entry["country"]
        city, _, region = entry["areas"][0]["near"].rpartition(", ")
        areas = tuple((a["lat"], a["lon"], a["km"]) for a in entry["areas"])
        by_name[name] = Metro(name, country, common_name(city), region if country in ("US", "CA") else None, areas)
        for alias in [name, *entry["aliases"]]:
            aliases[alias.lower()] = name
        for core in entry["cores"]:
            cores[core] = name
    return _Metros(by_name, aliases, cores)


@lru_cache(maxsize=1)
def _rows() -> dict[tuple[str, str | None, str], str]:
    """(country, region or None, city_key) -> the gazetteer row of the largest such city.

    The build script wrote each row's city_key and metro and put the largest places first, so
    loading only splits lines; a row is parsed when it is asked for."""
    rows: dict[tuple[str, str | None, str], str] = {}
    text = gzip.decompress(_data("gazetteer.tsv.gz").read_bytes()).decode("utf-8")
    for line in text.splitlines():
        key, _, country, region, _ = line.split("\t", 4)
        rows.setdefault((country, region or None, key), line)
        rows.setdefault((country, None, key), line)
    return rows


@lru_cache(maxsize=65536)
def _city(country: str, region: str | None, key: str) -> _City | None:
    line = _rows().get((country, region, key))
    if line is None:
        return None
    _, name, _, _, lat, lon, population, metro_name = line.split("\t")
    return _City(name, float(lat), float(lon), int(population), metro_name or None)


@lru_cache(maxsize=1)
def _metro_places() -> dict[tuple[str, str | None, str], str]:
    """(country, region, or None, or "*" for "any state", city_key) -> metro name."""
    places = {}
    text = gzip.decompress(_data("metro_places.tsv.gz").read_bytes()).decode("utf-8")
    for line in text.splitlines():
        key, country, region, metro_name = line.split("\t")
        places[(country, region or None, key)] = metro_name
    return places


@lru_cache(maxsize=1)
def _all_keys() -> frozenset[str]:
    return frozenset(key for _, _, key in _rows())


@lru_cache(maxsize=256)
def _names_in(country: str | None, region: str | None) -> list[str]:
    return list(dict.fromkeys(line.split("\t", 2)[1] for (k_country, k_region, _), line in _rows().items()
                              if (country is None or k_country == country) and k_region == region))


def common_name(city: str) -> str:
    """The name people search a city by: "New York" for "New York City" or "Manhattan"."""
    return _city_aliases().get(city_key(city), city)


def metro(name: str) -> Metro | None:
    return _metros().by_name.get(name)


def metro_named(lowered: str, core: str | None = None) -> Metro | None:
    """The metro a name means: its name or an alias ("dfw"), or a principal city's name that
    came with Greater/Area/Metro around it (`core`: "greater dallas" -> "dallas")."""
    metros = _metros()
    name = metros.aliases.get(lowered) or (metros.cores.get(core) if core else None)
    return metros.by_name.get(name) if name else None


def coordinates(country: str | None, region: str | None, city: str | None) -> tuple[float, float] | None:
    """A city's latitude and longitude, or None when the gazetteer does not know it."""
    if not (country and city):
        return None
    found = _city(country, region.upper() if region else None, city_key(common_name(city)))
    return (found.lat, found.lon) if found else None


def known_city(country: str | None, region: str | None, city: str) -> bool:
    """True when the gazetteer knows a city of this name there (anywhere, without a country)."""
    key = city_key(common_name(city))
    if country:
        return (country, region.upper() if region else None, key) in _rows()
    return key in _all_keys()


def similar_cities(country: str | None, region: str | None, city: str,
                   limit: int = 3) -> list[tuple[str, str, str | None]]:
    """Known cities whose names are close to a misspelt one, in the same state or country when
    given, as (name, country, region) of the largest city of each name."""
    region = region.upper() if region else None
    found = []
    for name in difflib.get_close_matches(city, _names_in(country, region), n=limit, cutoff=0.75):
        line = _largest(country, region, city_key(name))
        if line:
            _, name, k_country, k_region, _ = line.split("\t", 4)
            found.append((name, k_country, k_region or None))
    return found


def similar_metros(text: str, limit: int = 2) -> list[str]:
    """Metro names close to a misspelt metro name or alias."""
    aliases = _metros().aliases
    close = difflib.get_close_matches(" ".join(text.lower().split()), list(aliases), n=limit * 3, cutoff=0.8)
    return list(dict.fromkeys(aliases[alias] for alias in close))[:limit]


def _largest(country: str | None, region: str | None, key: str) -> str | None:
    if country:
        return _rows().get((country, region, key))
    return next((line for (_, k_region, k), line in _rows().items() if k == key and k_region is None), None)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, a)))


@lru_cache(maxsize=65536)
def metro_at(lat: float, lon: float, country: str | None = None) -> str | None:
    """The metro whose circles hold the point; where two overlap, the one with the nearer centre
    relative to its radius."""
    best, best_share = None, 1.0
    for candidate in _metros().by_name.values():
        if country and candidate.country != country:
            continue
        for area_lat, area_lon, radius in candidate.areas:
            share = distance_km(lat, lon, area_lat, area_lon) / radius
            if share <= best_share:
                best, best_share = candidate.name, share
    return best


def coordinate(value, limit: float) -> float | None:
    """A latitude (limit 90) or longitude (limit 180) from a source, or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


def metro_of(country: str | None, region: str | None, city: str | None,
             lat: float | None = None, lon: float | None = None) -> str | None:
    """The metro a posting's place lies in: by the source's coordinates, else the city's."""
    lat = coordinate(lat, 90)
    lon = coordinate(lon, 180)
    if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):  # 0,0: a source's "unknown"
        return metro_at(round(lat, 3), round(lon, 3), country)
    if not (country and city):
        return None
    key = city_key(common_name(city))
    places = _metro_places()
    if region:
        return places.get((country, region.upper(), key))
    return places.get((country, "*", key)) or places.get((country, None, key))


def metro_cities(name: str, limit: int = 25) -> list[str]:
    """The largest cities inside a metro, for sources that search by place name."""
    inside = {}
    for (country, region, key), line in _rows().items():
        if region is None and line.endswith("\t" + name):  # each name once, its largest place
            city = _city(country, region, key)
            inside[city.name] = city.population
    return sorted(inside, key=lambda n: -inside[n])[:limit]
