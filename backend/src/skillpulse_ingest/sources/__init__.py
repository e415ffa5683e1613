"""Source registry: adding a source is one module here plus one line in SOURCES (an ATS family of
company job boards: one line in ATS_FAMILIES, and its URL shapes in boards.py).

Adapters are imported when a source is used, so commands that only read the database
start without loading the HTTP stack.
"""

from __future__ import annotations

import importlib
import os
from typing import Mapping

from .base import (
    AuthError,
    ConfigError,
    FetchState,
    HttpSettings,
    InvalidRow,
    Source,
    SourceError,
)

SOURCES = {
    "theirstack": "theirstack:TheirStackSource",
    "remotive": "remotive:RemotiveSource",
}

# Company job boards, fetched board by board (sources/ats.py); `--source boards` takes them all.
ATS_FAMILIES = {
    "greenhouse": "greenhouse:ATS",
    "lever": "lever:ATS",
    "ashby": "ashby:ATS",
    "smartrecruiters": "smartrecruiters:ATS",
}
ALL_BOARDS = "boards"

__all__ = ["ALL_BOARDS", "ATS_FAMILIES", "AuthError", "ConfigError", "FetchState", "HttpSettings", "InvalidRow", "Source",
           "SourceError", "SOURCES", "ats_families", "get_source", "source_class"]


def ats_families(name: str) -> dict:
    """The ATS families a `--source` name fetches: one, or all of them for `boards`."""
    names = list(ATS_FAMILIES) if name == ALL_BOARDS else [name]
    families = {}
    for ats in names:
        module, attribute = ATS_FAMILIES[ats].split(":")
        families[ats] = getattr(importlib.import_module(f".{module}", __name__), attribute)
    return families


def source_class(name: str) -> type:
    """The adapter class of a source name; ConfigError listing the valid names if unknown."""
    if name not in SOURCES:
        raise ConfigError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")
    module, cls = SOURCES[name].split(":")
    return getattr(importlib.import_module(f".{module}", __name__), cls)


def get_source(name: str, settings: HttpSettings = HttpSettings(), env: Mapping[str, str] | None = None) -> Source:
    """The adapter for a source name, configured from the environment."""
    return source_class(name).from_env(settings, os.environ if env is None else env)
