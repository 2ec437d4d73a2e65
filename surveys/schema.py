"""Questionnaire schema: pydantic models for a YAML questionnaire and its cross-field checks.

A questionnaire is parsed in two steps so that every problem is reported at once with its
path: pydantic checks the shape (`questions[3].type: ...`), then `semantic_problems` checks
what pydantic cannot see (duplicate ids, `when` pointing forward, too large `max_choices`).
"""

from __future__ import annotations

import logging
import math
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from surveys.countries import COUNTRIES
from surveys.invisible import escape_char, invisible_in

log = logging.getLogger(__name__)

def _number_as_text(value: Any) -> Any:
    """YAML reads `id: 1` as a number; an id is always text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Identifier = Annotated[
    str,
    BeforeValidator(_number_as_text),
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", min_length=1, max_length=64),
]
PREFER_NOT_TO_SAY = "prefer_not_to_say"
PREFER_NOT_TO_SAY_LABEL = "Prefer not to say"
# "1-10", "51–200", "More than 1,000", "Under $50k", "< 1 year": a numeric range label.
_RANGE_LABEL = re.compile(
    r"^\s*(?:(?:under|below|less than|fewer than|more than|over|up to|at least|<|>|≤|≥)\s*)?[$€£]?\d",
    re.IGNORECASE,
)


class QuestionType(StrEnum):
    """The kinds of question a questionnaire can ask."""

    single = "single"
    multi = "multi"
    grid = "grid"
    number = "number"
    text = "text"
    country = "country"


MAX_INT = 2**31 - 1  # stored in integer columns (PostgreSQL `integer`)
MAX_NUMBER = 1e15  # min/max of a number question: exact as a float, far beyond any answer
MULTILINE_FIELDS = frozenset({"text", "help", "description"})  # may hold line breaks and tabs


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Option(_Strict):
    """One answer option (or a grid row / scale point); `id` is stable across years."""

    id: Identifier
    label: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    exclusive: bool = False
    previously: list[Identifier] = Field(default_factory=list)


class Condition(_Strict):
    """Show a question only if an earlier single/multi/country answer is one of `in_`."""

    question: Identifier
    in_: list[Identifier] = Field(alias="in", min_length=1)


class Question(_Strict):
    """One question of a questionnaire."""

    id: Identifier
    type: QuestionType
    text: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    help: Annotated[str, StringConstraints(max_length=300)] | None = None
    short: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    required: bool = False
    options: list[Option] = Field(default_factory=list)
    max_choices: int | None = Field(default=None, ge=1)
    rows: list[Option] = Field(default_factory=list)
    scale: list[Option] = Field(default_factory=list)
    min: float | None = Field(default=None, ge=-MAX_NUMBER, le=MAX_NUMBER)
    max: float | None = Field(default=None, ge=-MAX_NUMBER, le=MAX_NUMBER)
    integer: bool = True
    max_length: int = Field(default=2000, ge=1, le=10000)
    when: Condition | None = None
    prefer_not_to_say: bool = False
    ordered: bool | None = None

    @property
    def is_ordered(self) -> bool:
        """Whether the options are a scale (sizes, ranges) shown in their listed order rather than
        by share: `ordered: true/false` when given, else true when every option except
        "other" is a numeric range ("1-10", "More than 1,000")."""
        if self.ordered is not None:
            return self.ordered
        if self.type not in (QuestionType.single, QuestionType.multi):
            return False
        labels = [o.label for o in self.options if o.id != "other"]
        return len(labels) >= 2 and all(_RANGE_LABEL.match(label) for label in labels)

    @property
    def title(self) -> str:
        """A short name for charts and tables."""
        return self.short or self.text

    @property
    def choices(self) -> list[Option]:
        """The options a member can pick, with 'Prefer not to say' when enabled."""
        if self.type is QuestionType.country:
            opts = [Option(id=code, label=name) for code, name in COUNTRIES.items()]
        else:
            opts = list(self.options)
        if self.prefer_not_to_say:
            opts.append(Option(id=PREFER_NOT_TO_SAY, label=PREFER_NOT_TO_SAY_LABEL, exclusive=True))
        return opts

    def option(self, option_id: str) -> Option | None:
        """The option with this id (or a former id via `previously`), if any."""
        for opt in self.choices:
            if opt.id == option_id or option_id in opt.previously:
                return opt
        return None

    def row(self, row_id: str) -> Option | None:
        """The grid row with this id (or a former id), if any."""
        for row in self.rows:
            if row.id == row_id or row_id in row.previously:
                return row
        return None

    @property
    def is_choice(self) -> bool:
        return self.type in (QuestionType.single, QuestionType.multi, QuestionType.country)


class DerivedOption(_Strict):
    """One value of a derived field: respondents whose answers meet `rule` (surveys.expressions)."""

    id: Identifier
    label: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    rule: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    previously: list[Identifier] = Field(default_factory=list)


class DerivedField(_Strict):
    """A field computed from answers (never asked): each respondent gets the first option whose
    rule holds, or no value (like a skipped question) when none does. See surveys.derived."""

    id: Identifier
    text: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    short: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    help: Annotated[str, StringConstraints(max_length=1000)] | None = None
    ordered: bool | None = None
    options: list[DerivedOption] = Field(min_length=2, max_length=25)


MAX_DERIVED = 20


class Questionnaire(_Strict):
    """A versioned questionnaire, e.g. the State of MLOps survey."""

    id: Identifier
    version: int = Field(default=1, ge=1, le=MAX_INT)
    title: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    description: str = ""
    minutes: int = Field(default=5, ge=1, le=120)
    questions: list[Question] = Field(min_length=1)
    derived: list[DerivedField] = Field(default_factory=list, max_length=MAX_DERIVED)

    def question(self, question_id: str) -> Question:
        """The question with this id; KeyError when unknown."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def has_question(self, question_id: str) -> bool:
        return any(q.id == question_id for q in self.questions)


def _duplicates(items: list[Option], path: str) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for i, item in enumerate(items):
        for key in (item.id, *item.previously):
            if key in seen:
                problems.append(f"{path}[{i}].id: duplicate id '{key}'")
            seen[key] = i
    return problems


# What chat menus can show (Slack: 100 options per multi-select; Discord: 25 per select and
# 25 letter groups; both: 25 buttons or options for a grid's scale).
LIMITS = {QuestionType.single: 500, QuestionType.multi: 100}
MAX_ROWS = 50
MAX_SCALE = 25


def question_problems(q: Question, i: int, earlier: dict[str, Question]) -> list[str]:
    p = f"questions[{i}]"
    problems: list[str] = []
    t = q.type
    if t in (QuestionType.single, QuestionType.multi):
        if len(q.options) < 2:
            problems.append(f"{p}.options: a {t.value} question needs at least 2 options")
        problems += _duplicates(q.options, f"{p}.options")
        if q.prefer_not_to_say and any(o.id == PREFER_NOT_TO_SAY for o in q.options):
            problems.append(f"{p}.options: '{PREFER_NOT_TO_SAY}' is added by prefer_not_to_say")
    elif q.options:
        problems.append(f"{p}.options: only single and multi questions have options")
    if q.max_choices is not None:
        if t is not QuestionType.multi:
            problems.append(f"{p}.max_choices: only multi questions have max_choices")
        elif q.max_choices > len(q.options):
            problems.append(
                f"{p}.max_choices: {q.max_choices} is more than the {len(q.options)} options"
            )
    if q.ordered is not None and t not in (QuestionType.single, QuestionType.multi):
        problems.append(f"{p}.ordered: only single and multi questions have an option order"
                        + (" (a grid's scale is always shown in order)" if t is QuestionType.grid else ""))
    if t is QuestionType.single and any(o.exclusive for o in q.options):
        problems.append(f"{p}.options: exclusive only makes sense in a multi question")
    if t is QuestionType.grid:
        if not q.rows:
            problems.append(f"{p}.rows: a grid question needs rows")
        if len(q.scale) < 2:
            problems.append(f"{p}.scale: a grid question needs at least 2 scale points")
        problems += _duplicates(q.rows, f"{p}.rows") + _duplicates(q.scale, f"{p}.scale")
    elif q.rows or q.scale:
        problems.append(f"{p}.rows: only grid questions have rows and scale")
    if t is QuestionType.number:
        if q.min is not None and q.max is not None and q.min > q.max:
            problems.append(f"{p}.min: min {q.min:g} is greater than max {q.max:g}")
    elif q.min is not None or q.max is not None:
        problems.append(f"{p}.min: only number questions have min and max")
    if q.prefer_not_to_say and t not in (
        QuestionType.single, QuestionType.multi, QuestionType.country
    ):
        problems.append(f"{p}.prefer_not_to_say: only choice questions can offer it")
    limit = LIMITS.get(t)
    if limit is not None and len(q.options) > limit:
        problems.append(f"{p}.options: at most {limit} options for a {t.value} question "
                        f"({len(q.options)} given); chat menus cannot show more")
    if len(q.rows) > MAX_ROWS:
        problems.append(f"{p}.rows: at most {MAX_ROWS} rows ({len(q.rows)} given)")
    if len(q.scale) > MAX_SCALE:
        problems.append(f"{p}.scale: at most {MAX_SCALE} scale points ({len(q.scale)} given)")
    if q.when is not None:
        problems += _condition_problems(q.when, p, q.id, earlier)
    return problems


def _condition_problems(
    when: Condition, p: str, own_id: str, earlier: dict[str, Question]
) -> list[str]:
    target = earlier.get(when.question)
    if target is None:
        where = "itself" if when.question == own_id else "a later or unknown question"
        return [f"{p}.when.question: '{when.question}' is {where}; conditions look back only"]
    if not target.is_choice:
        return [f"{p}.when.question: '{when.question}' is a {target.type.value} question"]
    return [
        f"{p}.when.in[{j}]: '{opt}' is not an option of '{target.id}'"
        for j, opt in enumerate(when.in_)
        if target.option(opt) is None
    ]


def semantic_problems(qn: Questionnaire) -> list[str]:
    """Every cross-field problem of a parsed questionnaire, each prefixed with its path."""
    problems: list[str] = []
    earlier: dict[str, Question] = {}
    for i, q in enumerate(qn.questions):
        if q.id in earlier:
            problems.append(f"questions[{i}].id: duplicate id '{q.id}'")
        problems += question_problems(q, i, earlier)
        earlier.setdefault(q.id, q)
    return problems


def raw_value_problems(data: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """What no field may hold, whatever its type: numbers that are not finite or too large to
    store, and invisible characters (control characters; line breaks and tabs only in text,
    help and description). Checked on the loaded YAML before the models, each with its path
    (quoted numbers such as `version: "99999999999"` are bounded by the models as well)."""
    problems: list[str] = []
    where = format_location(path)
    if isinstance(data, dict):
        for key, value in data.items():
            problems += raw_value_problems(key, path) if isinstance(key, str) else []
            problems += raw_value_problems(value, (*path, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            problems += raw_value_problems(value, (*path, i))
    elif isinstance(data, bool):
        pass
    elif isinstance(data, float) and not math.isfinite(data):
        problems.append(f"{where}: {data} is not a finite number")
    elif isinstance(data, int | float) and path and path[-1] in ("min", "max"):
        if abs(data) > MAX_NUMBER:
            problems.append(f"{where}: {data:.3g} is out of range (at most {MAX_NUMBER:.0e} either way)")
    elif isinstance(data, int) and abs(data) > MAX_INT:
        shown = str(data) if abs(data) < 10**20 else f"{data:.3g}"
        problems.append(f"{where}: {shown} is too large (at most {MAX_INT:,})")
    elif isinstance(data, str):
        allowed = "\n\t" if path and path[-1] in MULTILINE_FIELDS else ""
        bad = invisible_in(data, allowed)
        if bad:
            listed = ", ".join(escape_char(ch) for ch in bad)
            problems.append(f"{where}: contains invisible or control characters ({listed})")
    return problems


def format_location(loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into `questions[3].options[1].id`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"
