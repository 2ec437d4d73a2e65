"""Option lists as front ends show them: split into menus, labelled, picked back.

A platform's menu holds a limited number of options (Slack 100, Discord 25); a longer list
(countries, a community's long multi-choice) becomes several consecutive menus, each named
by its first and last option. A pick from one of a multi question's menus replaces only the
choices of that menu (`Merge`). The terminal lists options by number.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from surveys.countries import COUNTRIES, find_country, suggest_countries
from surveys.schema import Option, Question
from surveys.validation import find_option

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Merge:
    """A pick from one of several menus that split a long option list: the stored choices
    outside `part` stay, those inside are replaced by `chosen`."""

    part: frozenset[str]
    chosen: tuple[str, ...]

    def apply(self, stored: Any) -> list[str]:
        return [v for v in (stored or []) if v not in self.part] + list(self.chosen)


def split(options: list[Option], size: int, *, balanced: bool = True) -> list[list[Option]]:
    """`options` as consecutive menus of at most `size`, alike in length when `balanced`."""
    per = math.ceil(len(options) / math.ceil(len(options) / size)) if balanced and options else size
    return [options[i:i + per] for i in range(0, len(options), per)] or [options]


def range_label(group: list[Option]) -> str:
    """A menu of a split list by its first and last option: "Albania – Germany"."""
    first, last = group[0].label, group[-1].label
    return f"{first} – {last}" if first != last else first


def picked(groups: list[list[Option]], part: int | None, values: list[str]) -> list[str] | Merge:
    """What a multi question's menu gave: all of it, or (menu `part` of several) a merge."""
    if part is None:
        return values
    inside = {o.id for o in groups[part]} if 0 <= part < len(groups) else set()
    return Merge(frozenset(inside), tuple(values))


def by_number(options: list[Option], word: Any) -> Any:
    """The option id for its number as listed ("2" → the second), else the word as given."""
    if isinstance(word, str) and word.isdigit() and 1 <= int(word) <= len(options):
        return options[int(word) - 1].id
    return word


def typed_country(question: Question, word: str) -> tuple[Option | None, list[str]]:
    """A typed country (name, code or alias: UK, USA…) as the question's option; when nothing
    matches, the names it could mean (never a guess)."""
    opt = find_option(question.choices, word)
    code = opt.id if opt is not None else find_country(word)
    chosen = question.option(code) if code else None
    return chosen, [] if chosen else [COUNTRIES[c] for c in suggest_countries(word, limit=10)]


def kept_text(question: Question, value: Any, error: str) -> str:
    """A text refused for its length: what Enter keeps (its first `max_length` characters)."""
    limit = question.max_length
    too_long = bool(error and isinstance(value, str) and limit and len(value) > limit)
    return value[:limit] if too_long else ""
