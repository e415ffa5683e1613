"""Talks to the real TheirStack API. Skips unless THEIRSTACK_API_KEY is set; costs at most 2 credits."""

import os

import pytest

from skillpulse_ingest.models import IngestionQuery
from skillpulse_ingest.sources import FetchState, HttpSettings, InvalidRow, get_source

pytestmark = pytest.mark.live


@pytest.mark.skipif(not os.environ.get("THEIRSTACK_API_KEY"), reason="THEIRSTACK_API_KEY is not set")
def test_live_search_returns_normalizable_rows():
    env = {k: v for k, v in os.environ.items() if k != "SKILLPULSE_THEIRSTACK_URL"}
    source = get_source("theirstack", HttpSettings(max_retries=1, timeout=60), env)
    state = FetchState()
    rows = [r for page in source.pages(IngestionQuery(days=7, max_results=2), state) for r in page]
    assert state.requests == 1 and len(rows) <= 2
    for row in rows:
        try:
            posting = source.normalize(row)
        except InvalidRow:
            continue
        assert posting.url.startswith("http") and posting.title and len(posting.id) == 32
