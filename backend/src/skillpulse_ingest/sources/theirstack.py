"""TheirStack job search: POST with a Bearer key, offset paging, one credit per returned job."""

from __future__ import annotations

import re
from typing import Iterator, Mapping

from ..models import IngestionQuery, JobPosting
from ..gazetteer import common_name, coordinate, metro_cities
from ..places import encode_scope, parse_place, place_label, region_name
from .base import (
    AuthError,
    ConfigError,
    FetchState,
    HttpSettings,
    InvalidRow,
    SourceError,
    http_url,
    iso_utc,
    offset_pages,
    optional_text,
    parse_day,
    parse_timestamp,
    raw_json,
    required_text,
    source_id,
)
from .http import HttpClient, RetryPolicy, check_header_value, check_url, error_detail

NAME = "theirstack"
DEFAULT_URL = "https://api.theirstack.com/v1/jobs/search"
URL_VARIABLE = "SKILLPULSE_THEIRSTACK_URL"
KEY_VARIABLE = "THEIRSTACK_API_KEY"
PAGE_LIMIT = 500
# Every search costs credits, so an attempt that may have been served is never repeated blindly:
# offset_pages counts it against --max-results first.
POLICY = RetryPolicy(repeat_uncertain=False)

# Broad title stems per role: the server narrows, our classifier has the final word,
# so each list must keep every title the classifier would put in that bucket.
ROLE_TITLE_PATTERNS = {
    "backend": ["back.?end", "server", "api", "java", "golang", "python", "\\.net", "c#",
                "ruby", "rails", "php", "node", "scala", "elixir", "rust", "django", "spring",
                "c\\+\\+", "platform", "distributed", "software", "developer", "engineer",
                "entwickler", "desarrollador", "d.veloppeur", "desenvolvedor", "programmer"],
    "frontend": ["front.?end", "ui ", "react", "angular", "vue", "javascript", "typescript", "web",
                 "software", "developer", "engineer", "entwickler", "desarrollador", "d.veloppeur",
                 "desenvolvedor"],
    "fullstack": ["full.?stack", "software", "developer", "engineer"],
    "mobile": ["mobile", "ios", "android", "react native", "flutter", "swift", "kotlin",
               "software", "developer", "engineer"],
    "data": ["data", "analytics", "bi ", "business intelligence", "etl", "database", "sql",
             "tableau", "power ?bi", "software", "engineer"],
    "ml": ["machine.?learning", "ml ", "mlops", "ai ", "data scien", "scientist", "deep learning",
           "nlp", "vision", "llm", "software", "engineer"],
    "devops": ["dev.?ops", "sre", "reliability", "platform", "cloud", "infra", "dba", "database admin",
               "release", "build", "systems", "network", "kubernetes", "software", "engineer"],
    "qa": ["qa", "quality", "sdet", "test", "software", "engineer"],
    "security": ["secur", "appsec", "penetration", "pentest", "soc", "threat", "vulnerab", "software",
                 "engineer"],
    "embedded": ["embedded", "firmware", "fpga", "rtos", "kernel", "software", "engineer"],
}
LEVEL_SENIORITY = {"entry": ["junior"], "mid": ["mid_level"], "senior": ["senior"], "lead": ["staff"],
                   "manager": ["c_level"]}


class TheirStackSource:
    name = NAME
    default_min_interval = 0.25  # the documented 4 requests per second
    cooldown_hours = 0.0
    incremental = True           # the API filters on discovered_at_gte and excludes ids (job_id_not)

    def __init__(self, client: HttpClient, url: str, api_key: str):
        self.client = client
        self.url = url
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    @classmethod
    def from_env(cls, settings: HttpSettings, env: Mapping[str, str]) -> "TheirStackSource":
        key = (env.get(KEY_VARIABLE) or "").strip()
        if not key:
            raise ConfigError(f"{KEY_VARIABLE} is not set: export your TheirStack API key, "
                              f"or use --source remotive (no key needed)")
        check_header_value(key, KEY_VARIABLE)
        url = check_url(env.get(URL_VARIABLE) or DEFAULT_URL, URL_VARIABLE)
        return cls(HttpClient("TheirStack", settings, POLICY), url, key)

    def __repr__(self) -> str:  # never show the key
        return f"TheirStackSource(url={self.url!r})"

    def pages(self, query: IngestionQuery, state: FetchState) -> Iterator[list[dict]]:
        body = search_body(query, state)
        return offset_pages(lambda offset, limit: self._fetch(body, offset, limit),
                            max_results=query.max_results, page_limit=PAGE_LIMIT, state=state,
                            retries=self.client.retries, wait=self.client.wait_before_retry)

    def _fetch(self, body: dict, offset: int, limit: int) -> tuple[list[dict], int | None]:
        payload = self.client.request_json("POST", self.url, json={**body, "offset": offset, "limit": limit},
                                           headers=self._headers, explain=_explain)
        rows = payload.get("data")
        if not isinstance(rows, list):
            raise SourceError("TheirStack answered without a 'data' list; try again later")
        total = (payload.get("metadata") or {}).get("total_results")
        return rows, total if isinstance(total, int) else None

    def normalize(self, row: dict) -> JobPosting:
        return normalize(row)


def search_body(query: IngestionQuery, state: FetchState) -> dict:
    """The request body: every filter of the query the API can apply, so we pay for fewer rows."""
    body: dict = {"posted_at_max_age_days": query.days, "include_total_results": False}
    if query.role in ROLE_TITLE_PATTERNS:
        body["job_title_pattern_or"] = ROLE_TITLE_PATTERNS[query.role]
    if query.level in LEVEL_SENIORITY:
        body["job_seniority_or"] = LEVEL_SENIORITY[query.level]
    if query.remote != "include":
        body["remote"] = query.remote == "only"
    place = parse_place(query.location)
    if place and place.countries:
        body["job_country_code_or"] = sorted(place.countries)
    if place and (place.city or place.region) and query.remote != "only":
        if place.metro:  # a metro's largest towns: the API matches place names, not areas
            patterns = [re.escape(city) for city in metro_cities(place.metro)]
        elif place.city:
            patterns = [re.escape(place.city)]
        else:
            patterns = [f", {place.region}", re.escape(region_name(place.country, place.region))]
        if query.remote == "include":  # a city pattern would drop remote jobs listed by country only
            patterns.append("^(united states|usa|us|canada|remote)$" if place.countries & {"US", "CA"}
                            else "^remote$")
        body["job_location_pattern_or"] = patterns
    if state.since:
        body["discovered_at_gte"] = state.since
    if state.known_ids:
        body["job_id_not"] = [int(i) if i.isdigit() else i for i in state.known_ids]
    return body


def _explain(answer) -> SourceError | None:
    status = answer.status_code
    if status in (401, 403):
        return AuthError("TheirStack rejected the API key (HTTP %d): check THEIRSTACK_API_KEY" % status)
    if status == 402:
        return SourceError("TheirStack says the account is out of API credits (HTTP 402); "
                           "wait for the monthly reset or lower --max-results")
    if status in (400, 422):
        return SourceError(f"TheirStack refused the search (HTTP {status}): {error_detail(answer)}")
    if status == 429:
        return SourceError("TheirStack rate limit still exceeded after retries (HTTP 429); "
                           "run less often or raise --min-interval")
    return None


def normalize(row: dict) -> JobPosting:
    """One TheirStack job to a JobPosting."""
    if row.get("has_blurred_data") is True:
        raise InvalidRow("blurred preview row")
    url = http_url(row, "final_url", "url", "source_url")
    title = required_text(row, "job_title")
    company = optional_text(row, "company")
    if company is None and isinstance(row.get("company_object"), dict):
        company = optional_text(row["company_object"], "name")
    remote = row.get("remote") if isinstance(row.get("remote"), bool) else None
    country_code = (optional_text(row, "country_code") or "").upper() or None
    region_code = (optional_text(row, "state_code") or "").upper() or None
    city = _first_city(row)
    if city is None and not region_code:
        place = parse_place(optional_text(row, "short_location", "location"))
        if place:
            city, region_code = place.city, place.region
            country_code = country_code or place.country
    discovered = parse_timestamp(row.get("discovered_at"))
    return JobPosting(
        source=NAME,
        source_id=source_id(row),
        url=url,
        title=title,
        company=company,
        location=_location(row, remote, city, region_code, country_code),
        remote=remote,
        date_posted=parse_day(row.get("date_posted")) or (discovered.date().isoformat() if discovered else None),
        description_raw=optional_text(row, "description") or "",
        raw_json=raw_json(row),
        country_code=country_code,
        region_code=region_code,
        city=city,
        latitude=coordinate(row.get("latitude"), 90),
        longitude=coordinate(row.get("longitude"), 180),
        remote_scope=_scope(row, country_code) if remote else None,
        discovered_at=iso_utc(discovered),
    )


def _first_city(row: dict) -> str | None:
    cities = row.get("cities")
    if isinstance(cities, list) and cities and isinstance(cities[0], str) and cities[0].strip():
        return common_name(" ".join(cities[0].split()))
    return None


def _location(row: dict, remote, city, region, country_code) -> str | None:
    country = optional_text(row, "country")
    short = optional_text(row, "short_location", "location")
    if remote and (not city) and (country or country_code):
        return f"Remote ({country or country_code})"
    if short and country and not short.endswith(country):
        return f"{short}, {country}"
    return short or place_label(city, region, country_code)


def _scope(row: dict, country_code: str | None) -> str | None:
    codes = row.get("country_codes")
    codes = [c.upper() for c in codes if isinstance(c, str) and c] if isinstance(codes, list) else []
    if country_code:
        codes.append(country_code)
    return encode_scope(set(codes)) if codes else None
