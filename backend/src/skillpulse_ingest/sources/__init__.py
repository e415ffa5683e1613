"""Source registry: adding a source is one module here plus one line in SOURCES."""

from __future__ import annotations

import os
from typing import Mapping

from .base import AuthError, ConfigError, FetchState, InvalidRow, Source, SourceError
from .http import HttpSettings
from .remotive import RemotiveSource
from .theirstack import TheirStackSource

SOURCES = {cls.name: cls for cls in (TheirStackSource, RemotiveSource)}

__all__ = ["AuthError", "ConfigError", "FetchState", "HttpSettings", "InvalidRow", "Source",
           "SourceError", "SOURCES", "get_source"]


def get_source(name: str, settings: HttpSettings = HttpSettings(), env: Mapping[str, str] | None = None) -> Source:
    """The adapter for a source name, configured from the environment."""
    if name not in SOURCES:
        raise ConfigError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")
    return SOURCES[name].from_env(settings, os.environ if env is None else env)
