"""Answer validation: turn what a member gave into a canonical value, or a typed error.

Canonical values: single/country → option id; multi → list of option ids in questionnaire
order; grid row → scale id; number → int or float; text → stripped string. `None` means
"skipped" and is only allowed for optional questions.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from surveys.countries import COUNTRIES, find_country, suggest_countries
from surveys.errors import (
    InvalidAnswer,
    MissingAnswer,
    OutOfRange,
    TextTooLong,
    TooManyChoices,
    UnknownOption,
)
from surveys.schema import Option, Question, QuestionType

log = logging.getLogger(__name__)


def field_key(question_id: str, row_id: str = "") -> str:
    """The key of an answer field: `focus`, or `tooling.ml_pipeline` for a grid row."""
    return f"{question_id}.{row_id}" if row_id else question_id


def split_field(key: str) -> tuple[str, str]:
    question_id, _, row_id = key.partition(".")
    return question_id, row_id


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | set | frozenset) and len(value) == 0


def find_option(options: Iterable[Option], given: str) -> Option | None:
    """Match an option by id, former id, or label: exact first, then case-insensitive."""
    wanted = str(given).strip()
    folded = wanted.casefold()
    opts = list(options)
    for opt in opts:
        if opt.id == wanted or wanted in opt.previously:
            return opt
    for opt in opts:
        if folded in (opt.id.casefold(), opt.label.casefold(), *(old.casefold() for old in opt.previously)):
            return opt
    return None


def _choice(q: Question, options: list[Option], given: Any, field: str) -> str:
    opt = find_option(options, str(given))
    if opt is None:
        raise UnknownOption(field, f"'{given}' is not an option of '{q.title}'")
    return opt.id


def _country(q: Question, given: Any, field: str) -> str:
    """A code, a name or an alias (UK, USA…) → the country's code; never a guess."""
    opt = find_option(q.choices, str(given))
    code = opt.id if opt is not None else find_country(str(given))
    if code is not None and q.option(code) is not None:
        return code
    close = [COUNTRIES[c] for c in suggest_countries(str(given))]
    more = (f"did you mean {', '.join(close)}?" if close
            else "no country is called that (type its name or its two-letter code, e.g. DE)")
    raise UnknownOption(field, f"'{given}' is not an option of '{q.title}': {more}")


def _multi(q: Question, given: Any, field: str) -> list[str]:
    if not isinstance(given, str | list | tuple | set | frozenset):
        raise InvalidAnswer(field, f"'{given}' is not a list of options of '{q.title}'")
    items = given.split(";") if isinstance(given, str) else list(given)
    chosen = {_choice(q, q.choices, item, field) for item in items if str(item).strip()}
    order = [o.id for o in q.choices]
    picked = [oid for oid in order if oid in chosen]
    if q.max_choices is not None and len(picked) > q.max_choices:
        raise TooManyChoices(
            field, f"choose up to {q.max_choices} for '{q.title}' ({len(picked)} chosen)"
        )
    exclusive = [o for o in q.choices if o.exclusive and o.id in chosen]
    if exclusive and len(picked) > 1:
        raise InvalidAnswer(field, f"'{exclusive[0].label}' cannot be combined with other choices")
    return picked


_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_NOTATION = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+|[+-]?0[xXoObB][0-9a-fA-F_]+|.*\d_\d.*")


def _number(q: Question, given: Any, field: str) -> int | float:
    """Numbers as people write them (digits, a decimal point, thousands commas); a typed
    exponent (1e1), hex or Python's 1_000 is refused, not read as some other number."""
    if isinstance(given, str):
        text = given.strip().replace(",", "")
        if not _DECIMAL.fullmatch(text):
            kind = "a whole number" if q.integer and _NOTATION.fullmatch(text) else "a number"
            example = " (write it with digits only, e.g. 10)" if _NOTATION.fullmatch(text) else ""
            raise InvalidAnswer(field, f"'{given}' is not {kind}{example}")
    try:
        number = float(str(given).strip().replace(",", "")) if isinstance(given, str) else float(given)
    except (TypeError, ValueError):
        raise InvalidAnswer(field, f"'{given}' is not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise InvalidAnswer(field, f"'{given}' is not a number")
    if q.integer and number != int(number):
        raise InvalidAnswer(field, f"'{given}' is not a whole number")
    low = q.min if q.min is not None else -math.inf
    high = q.max if q.max is not None else math.inf
    if not low <= number <= high:
        raise OutOfRange(field, f"{number:g} is out of range for '{q.title}' ({_range(q)})")
    return int(number) if q.integer else number


def _range(q: Question) -> str:
    if q.min is not None and q.max is not None:
        return f"{q.min:g} to {q.max:g}"
    if q.min is not None:
        return f"at least {q.min:g}"
    return f"at most {q.max:g}"


def normalize(q: Question, given: Any, row_id: str = "") -> Any:
    """The canonical value of one answer field, or None for a skip of an optional question."""
    field = field_key(q.id, row_id)
    if _is_blank(given):
        if q.required:
            raise MissingAnswer(field, f"'{q.title}' needs an answer")
        return None
    match q.type:
        case QuestionType.single:
            return _choice(q, q.choices, given, field)
        case QuestionType.country:
            return _country(q, given, field)
        case QuestionType.multi:
            picked = _multi(q, given, field)
            if not picked and q.required:
                raise MissingAnswer(field, f"'{q.title}' needs an answer")
            return picked or None
        case QuestionType.grid:
            if q.row(row_id) is None:
                raise UnknownOption(field, f"'{row_id}' is not a row of '{q.title}'")
            return _choice(q, q.scale, given, field)
        case QuestionType.number:
            return _number(q, given, field)
        case QuestionType.text:
            text = str(given).strip()
            if len(text) > q.max_length:
                raise TextTooLong(
                    field, f"'{q.title}' takes at most {q.max_length} characters ({len(text)} given)"
                )
            return text
    raise InvalidAnswer(field, f"unsupported question type {q.type}")


def chosen_options(q: Question, value: Any) -> list[str]:
    """The option ids a canonical value selects (what analytics counts)."""
    if value is None:
        return []
    if q.type is QuestionType.multi:
        return list(value)
    if q.type in (QuestionType.single, QuestionType.country, QuestionType.grid):
        return [value]
    return []


def condition_met(q: Question, answers: Mapping[str, Any]) -> bool:
    """Whether `q` is shown given earlier canonical answers keyed by question id."""
    if q.when is None:
        return True
    given = answers.get(q.when.question)
    if given is None:
        return False
    values = set(given) if isinstance(given, list) else {given}
    return bool(values & set(q.when.in_))
