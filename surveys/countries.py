"""ISO 3166-1 countries (pycountry) with the names people use, and typed text → a country.

`COUNTRIES` maps the alpha-2 code (what is stored) to the name every front end shows, in the
Slack and Discord menus and the terminal alike: pycountry's common name where it has one
("Iran", not "Iran, Islamic Republic of"), a few everyday names where ISO's reads like a
register entry ("Russia", "Vatican City"), else its name ("United Kingdom").

`find_country` accepts a code (GB, GBR), any of those names, the official name, and common
aliases (UK, USA, Britain, England, Holland…), ignoring case, accents and punctuation; it
never guesses from a prefix, so "uk" is the United Kingdom and never Ukraine. A front end
echoes the name back to the member, and offers `suggest_countries` when nothing matched.
"""

from __future__ import annotations

import logging
import re
import unicodedata

import pycountry

log = logging.getLogger(__name__)

# ISO short names that read like a register entry, and pycountry gives no common name for.
EVERYDAY_NAMES = {
    "BN": "Brunei", "CD": "Congo (Democratic Republic)", "CG": "Congo (Republic)", "FM": "Micronesia",
    "PS": "Palestine", "RU": "Russia", "VA": "Vatican City", "VG": "British Virgin Islands",
    "VI": "US Virgin Islands", "KR": "South Korea", "KP": "North Korea",
}

# What people type for a country that none of its ISO names say.
ALIASES = {
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "England", "Scotland", "Wales", "Northern Ireland"),
    "US": ("USA", "U.S.", "U.S.A.", "America", "United States of America"),
    "AE": ("UAE", "Emirates"),
    "NL": ("Holland", "The Netherlands"),
    "CZ": ("Czech Republic",),
    "TR": ("Turkey",),
    "CI": ("Ivory Coast",),
    "MK": ("Macedonia",),
    "SZ": ("Swaziland",),
    "MM": ("Burma",),
    "CV": ("Cape Verde",),
    "TL": ("East Timor",),
    "CD": ("DRC", "DR Congo", "Democratic Republic of the Congo"),
    "KR": ("Korea",),
    "VN": ("Vietnam",),
    "DE": ("Deutschland",),
}


def _fold(text: str) -> str:
    """Lower case, no accents or apostrophes, other punctuation as spaces:
    'Côte d’Ivoire' → 'cote divoire'."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", str(text)) if not unicodedata.combining(ch))
    plain = re.sub(r"['’ʼ`]", "", plain.casefold())
    return " ".join(re.sub(r"[^\w]+|_", " ", plain).split())


def _names() -> dict[str, str]:
    names = {}
    for c in pycountry.countries:
        names[c.alpha_2] = EVERYDAY_NAMES.get(c.alpha_2) or getattr(c, "common_name", None) or c.name
    return dict(sorted(names.items(), key=lambda kv: _fold(kv[1])))


COUNTRIES: dict[str, str] = _names()


def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for c in pycountry.countries:
        code = c.alpha_2
        spelled = [c.alpha_2, c.alpha_3, c.name, COUNTRIES[code], *ALIASES.get(code, ())]
        spelled += [getattr(c, "common_name", ""), getattr(c, "official_name", "")]
        for text in spelled:
            if text:
                index.setdefault(_fold(text), code)
    return index


_INDEX = _index()


def find_country(text: str) -> str | None:
    """The alpha-2 code of what was typed (code, name or alias), or None."""
    return _INDEX.get(_fold(text)) if text else None


def suggest_countries(text: str, limit: int = 8) -> list[str]:
    """Codes of the countries one of whose names has a word starting with `text` (for
    "Did you mean …?"), in name order."""
    wanted = _fold(text)
    if not wanted:
        return []
    found = {code for name, code in _INDEX.items()
             if name.startswith(wanted) or f" {wanted}" in f" {name}"}
    return [code for code in COUNTRIES if code in found][:limit]
