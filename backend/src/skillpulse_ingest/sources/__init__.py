"""Source registry: adding a source is one module here plus one line in SOURCES.

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

__all__ = ["AuthError", "ConfigError", "FetchState", "HttpSettings", "InvalidRow", "Source",
           "SourceError", "SOURCES", "get_source", "source_class"]


def source_class(name: str) -> type:
    """The adapter class of a source name; ConfigError listing the valid names if unknown."""
    if name not in SOURCES:
        raise ConfigError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")
    module, cls = SOURCES[name].split(":")
    return getattr(importlib.import_module(f".{module}", __name__), cls)


def get_source(name: str, settings: HttpSettings = HttpSettings(), env: Mapping[str, str] | None = None) -> Source:
    """The adapter for a source name, configured from the environment."""
    return source_class(name).from_env(settings, os.environ if env is None else env)
