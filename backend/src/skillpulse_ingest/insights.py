"""Read-side views for the frontend: SkillInsightsResponse (backend/docs/JSON_CONTRACT.md) and the list of places."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone

from . import gazetteer
from .models import LEVEL_BUCKETS, MAX_DAYS, REMOTE_MODES, ROLE_BUCKETS, QueryError, check_choice, check_range
from .places import Place, parse_place, place_label
from .skills import catalog
from .storage_sqlite import PostingFilter
from .store import Store
from .store.base import Tally

SCHEMA_VERSION = "1.1.0"  # 1.1.0: totals.local_postings_count and remote_postings_count
MAX_TOP = 100

ROLE_WORDS = {"any": "tech", "backend": "backend", "frontend": "frontend", "fullstack": "full-stack",
              "mobile": "mobile", "data": "data", "ml": "machine learning", "devops": "DevOps", "qa": "QA",
              "security": "security", "embedded": "embedded", "general": "software engineering",
              "other": "non-engineering"}
LEVEL_WORDS = {"any": "", "intern": "", "entry": "entry-level", "mid": "mid-level", "senior": "senior",
               "lead": "lead and staff", "manager": "management", "unknown": ""}


def check_filters(role: str, level: str, remote: str, days: int, top: int) -> None:
    """Raise QueryError naming the first bad value (the HTTP API reports it as a 400)."""
    check_choice("role", role, ROLE_BUCKETS + ("any",))
    check_choice("level", level, LEVEL_BUCKETS + ("any",))
    check_choice("remote", remote, REMOTE_MODES)
    check_range("days", days, 1, MAX_DAYS)
    check_range("top", top, 1, MAX_TOP)


def resolve_place(store: Store, location: str | None) -> Place | None:
    """The place a query names. A city that neither the gazetteer nor any stored posting knows is
    a QueryError naming `location`, with the nearest known names: a typo must not get an answer
    built from remote jobs alone. Countries, states, metros and "Remote" are known by parsing."""
    place = parse_place(location)
    check_known(store, place)
    return place


def check_known(store: Store, place: Place | None) -> None:
    """QueryError (naming `location`, with the nearest names) for a city nobody knows."""
    if place is None or place.metro or not place.city:
        return
    if gazetteer.known_city(place.country, place.region, place.city) or store.knows_city(place):
        return
    named = gazetteer.similar_metros(place.text)
    if not named:
        named = [place_label(name, region, country) for name, country, region in
                 gazetteer.similar_cities(place.country, place.region, place.city)]
    if named:
        hint = "did you mean " + " or ".join(f'"{name}"' for name in named) + "?"
    else:
        hint = "not a city, state, country or metro area that skillpulse knows"
    raise QueryError(f'unknown place "{place.text}"; {hint}', "location")


def skill_insights(store: Store, *, location: str | None = None, role: str = "any", level: str = "any",
                   days: int = 30, remote: str = "include", top: int = 20,
                   today: date | None = None, now: datetime | None = None) -> dict:
    """The SkillInsightsResponse for a query: top skills with counts and shares, totals, sources."""
    check_filters(role, level, remote, days, top)
    now = now or datetime.now(timezone.utc)
    place = parse_place(location)
    where = PostingFilter(role=role, level=level, place=place, remote=remote, days=days,
                          today=today or now.date(), tech_only=True)
    tally = store.tally(where)
    count = tally.postings
    if count == tally.remote:  # nothing stored there: is it a place at all? (a rare, slower check)
        check_known(store, place)
    skills = catalog().skills
    start, end = where.window
    ranked = sorted(tally.skills.items(), key=lambda item: (-item[1], _display_name(item[0], skills)))[:top]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": title(role, level, remote, _place_phrase(place, tally)),
        "subtitle": subtitle(tally, days, _where_phrase(place)),
        "window": {"days": days, "from": start, "to": end},
        "filters": {"location": location.strip() if location and location.strip() else None,
                    "role": role, "level": level, "remote": remote},
        "totals": {"postings_count": count, "unique_companies_count": tally.companies,
                   "postings_with_skills": tally.with_skills, "local_postings_count": count - tally.remote,
                   "remote_postings_count": tally.remote},
        "skills": [{"id": sid, "name": skills[sid].name if sid in skills else sid,
                    "category": skills[sid].category if sid in skills else "tool",
                    "count": n, "pct": round(n * 100.0 / count, 1)} for sid, n in ranked],
        "sources": [{"source": s, "postings_count": n}
                    for s, n in sorted(tally.sources.items(), key=lambda item: (-item[1], item[0]))],
    }


def _display_name(skill_id: str, skills: dict) -> str:
    """What ties between skills are ordered by: the name people read, in any case."""
    return (skills[skill_id].name if skill_id in skills else skill_id).casefold()


def title(role: str, level: str, remote: str, place_phrase: str) -> str:
    """Natural English from the filters: "Top skills for entry-level backend jobs in Dallas, TX"."""
    words = ["remote"] if remote == "only" else []
    words += [LEVEL_WORDS[level], ROLE_WORDS[role]]
    noun = "internships" if level == "intern" else "jobs"
    if level == "unknown":
        noun += " with no stated level"
    return " ".join(w for w in ["Top skills for", *words, noun] if w) + place_phrase


def subtitle(tally: Tally, days: int, where: str | None) -> str:
    """How many postings are based in the place and how many are remote jobs open to it, in words
    read once ("Posted in the last 30 days: 1 based in Dallas, TX, 33 remote jobs open to it"). The
    frontend shows the counts of postings and companies in a line of its own; this does not repeat them."""
    window = "in the last day" if days == 1 else f"in the last {days} days"
    if tally.postings == 0:
        return f"No matching postings {window}"
    local = tally.postings - tally.remote
    if where is None:
        if tally.remote == 0:
            return f"Posted {window}; none of them remote"
        if local == 0:
            return f"Posted {window}; all of them remote"
        return f"Posted {window}; {tally.remote:,} of them remote"
    if tally.remote == 0:
        return f"Posted {window}; all based in {where}"
    if local == 0:
        return f"Posted {window}; all remote jobs open to {where}, none based there"
    return f"Posted {window}: {local:,} based in {where}, {tally.remote:,} remote jobs open to it"


def _where_phrase(place) -> str | None:
    """The place as the subtitle names it; None when the query has none."""
    if place is not None and (place.countries or place.region or place.city):
        return "the United States" if place.label == "United States" else place.label
    return None


def _place_phrase(place, tally: Tally) -> str:
    if place is not None and (place.countries or place.region or place.city):
        return " in the United States" if place.label == "United States" else f" in {place.label}"
    if place is not None and place.remote_only:
        return " (remote)"
    if tally.postings and tally.us_only:
        return " in the United States"
    return ""


def postings_summary(store: Store, where: PostingFilter) -> dict:
    """What `inspect --summary` shows: totals, date range, and counts by source, role, level and month."""
    raw = store.summary(where)
    months: Counter = Counter()
    for day, n in raw["by_day"]:
        months[day[:7] if day else None] += n
    roles: Counter = Counter()
    levels: Counter = Counter()
    for role, level, n in raw["by_role_level"]:  # one indexed pass gives both
        roles[role] += n
        levels[level] += n
    ordered = lambda pairs: sorted(pairs, key=lambda kv: (-kv[1], str(kv[0])))  # noqa: E731
    return {"total": raw["postings"], "companies": raw["companies"],
            "date_range": {"from": raw["first_date"], "to": raw["last_date"]},
            "by_source": ordered(raw["by_source"]), "by_role": ordered(roles.items()),
            "by_level": ordered(levels.items()), "by_month": ordered(months.items())}


def locations(store: Store, *, days: int = 30, limit: int = 100, role: str = "any", level: str = "any",
              remote: str = "include", min_postings: int = 1, today: date | None = None) -> list[str]:
    """Places with at least `min_postings` postings based there that answer the query, most first;
    United States first. Each is a place `skill_insights` accepts back."""
    check_filters(role, level, remote, days, 1)
    check_range("min_postings", min_postings, 1)
    where = PostingFilter(role=role, level=level, remote=remote, days=days, today=today, tech_only=True)
    found = [label for label in store.place_labels(where, min_postings) if label != "United States"]
    return ["United States", *found][:limit]
