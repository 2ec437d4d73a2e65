"""ISO 3166-1 alpha-2 countries, read from the tz database shipped with `tzdata`."""

from __future__ import annotations

import logging
from importlib import resources

log = logging.getLogger(__name__)


def _load() -> dict[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo/iso3166.tab").read_text("utf-8")
    countries: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t", 1)
            countries[code.strip()] = name.strip()
    return dict(sorted(countries.items(), key=lambda kv: kv[1]))


COUNTRIES: dict[str, str] = _load()
