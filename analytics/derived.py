"""Derived fields in results: a checked rule (surveys.expressions) turned into SQL conditions.

Every test of a rule becomes `respondent IN (SELECT respondent_id …)` on the wave's answer
choices (or number answers), so a derived value is counted, filtered on and checked for
privacy by the same queries as an asked question, on the live tables or the released
snapshot of an open wave. Option ids are expanded to every id a wave may have stored
(`previously`), so a rule written in current ids holds for older waves too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, case, cast, false, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from analytics.summaries import option_map, row_map
from surveys.derived import as_question, rules
from surveys.expressions import (
    And,
    Answered,
    Chose,
    Compare,
    Const,
    ExpressionError,
    Node,
    Not,
    Or,
    questions_used,
)
from surveys.models import Answer, AnswerChoice, ReleasedChoice, ReleasedMember, ReleasedValue, Response
from surveys.schema import Question, Questionnaire

log = logging.getLogger(__name__)

_CHOICES = AnswerChoice.__table__
_RELEASED_CHOICES = ReleasedChoice.__table__
_ANSWERS = Answer.__table__
_RELEASED_VALUES = ReleasedValue.__table__


@dataclass(frozen=True)
class DerivedSpec:
    """A derived field ready to count: (option id, rule in stored ids) in rule order."""

    question_id: str
    cases: tuple[tuple[str, Node], ...]

    def value(self, wave_id: int, respondent: ColumnElement[Any], released: bool) -> ColumnElement[Any]:
        """The respondent's value: the first option whose rule holds, else NULL."""
        return case(*((to_sql(rule, wave_id, respondent, released), option) for option, rule in self.cases),
                    else_=None)


@dataclass(frozen=True)
class DerivedCondition:
    """A `--where` on a derived field: respondents whose value is one of `options`."""

    spec: DerivedSpec
    options: tuple[str, ...]

    @property
    def question_id(self) -> str:
        return self.spec.question_id

    def filter(self, wave_id: int, respondent: ColumnElement[Any], released: bool) -> ColumnElement[bool]:
        return self.spec.value(wave_id, respondent, released).in_(self.options)


def derived_questions(qn: Questionnaire) -> list[Question]:
    """The questionnaire's derived fields as single-choice questions (for results only); a
    field that reads a question this questionnaire lacks (an imported wave keeps only the
    questions its file had) has no entry."""
    out = []
    for field in qn.derived:
        try:
            rules(field, qn)
        except ExpressionError:
            log.debug("derived field %s reads a question %s %s lacks", field.id, qn.id, qn.version)
            continue
        out.append(as_question(field))
    return out


def is_derived(qn: Questionnaire, question_id: str) -> bool:
    return any(field.id == question_id for field in qn.derived)


def spec_for(canonical: Questionnaire, wave_qn: Questionnaire, field_id: str) -> DerivedSpec | None:
    """The field of `canonical` as counted in a wave that ran `wave_qn`; None when that wave did
    not ask every question the field reads (it then has no entry, like an unasked question)."""
    field = next(f for f in canonical.derived if f.id == field_id)
    cases = rules(field, canonical)
    used = set().union(*(questions_used(rule) for _, rule in cases))
    if not all(wave_qn.has_question(qid) for qid in used):
        return None
    return DerivedSpec(field.id, tuple((option, _stored(rule, canonical)) for option, rule in cases))


def _stored(node: Node, qn: Questionnaire) -> Node:
    """The rule with every option (and grid row) widened to the ids older waves stored."""
    if isinstance(node, Not):
        return Not(_stored(node.item, qn))
    if isinstance(node, And):
        return And(tuple(_stored(item, qn) for item in node.items))
    if isinstance(node, Or):
        return Or(tuple(_stored(item, qn) for item in node.items))
    if isinstance(node, Chose):
        q = qn.question(node.question)
        mapping = option_map(q)
        former = (old for old, new in mapping.items() if new in node.options)
        options = tuple(sorted({*node.options, *former}))
        row = node.row
        if row:
            rows = sorted({row, *(old for old, new in row_map(q).items() if new == row)})
            return Or(tuple(Chose(node.question, r, options) for r in rows)) if len(rows) > 1 else \
                Chose(node.question, row, options)
        return Chose(node.question, row, options)
    return node


def to_sql(node: Node, wave_id: int, respondent: ColumnElement[Any], released: bool) -> ColumnElement[bool]:
    """The rule as a condition on `respondent` in wave `wave_id`."""
    if isinstance(node, Const):
        return true() if node.value else false()
    if isinstance(node, Not):
        return not_(to_sql(node.item, wave_id, respondent, released))
    if isinstance(node, And):
        return and_(*(to_sql(item, wave_id, respondent, released) for item in node.items))
    if isinstance(node, Or):
        return or_(*(to_sql(item, wave_id, respondent, released) for item in node.items))
    choices = (_RELEASED_CHOICES if released else _CHOICES).c
    if isinstance(node, Chose):
        return respondent.in_(select(choices.respondent_id).where(
            choices.wave_id == wave_id, choices.question_id == node.question,
            choices.row_id == (node.row or ""), choices.option_id.in_(node.options)))
    values = (_RELEASED_VALUES if released else _ANSWERS).c
    if isinstance(node, Compare):
        number = values.number
        test = {"<": number < node.value, "<=": number <= node.value, ">": number > node.value,
                ">=": number >= node.value, "=": number == node.value, "!=": number != node.value}[node.op]
        return respondent.in_(select(values.respondent_id).where(
            values.wave_id == wave_id, values.question_id == node.question, test))
    if isinstance(node, Answered):
        any_choice = select(choices.respondent_id).where(
            choices.wave_id == wave_id, choices.question_id == node.question,
            *([choices.row_id == node.row] if node.row else []))
        value_rows = select(values.respondent_id).where(
            values.wave_id == wave_id, values.question_id == node.question,
            *([] if released else [values.value.is_not(None), cast(values.value, Text) != "null"]))
        return or_(respondent.in_(any_choice), respondent.in_(value_rows))
    raise TypeError(f"not a rule node: {node!r}")  # pragma: no cover


def members(released: bool) -> Any:
    """The table of a wave's respondents (live, or the released snapshot)."""
    return ReleasedMember.__table__ if released else Response.__table__


def derived_values_query(spec: DerivedSpec, wave_id: int, released: bool) -> Any:
    """(respondent, value) for every respondent of the wave who has a value."""
    people = members(released).c
    value = spec.value(wave_id, people.respondent_id, released).label("value")
    stmt = select(people.respondent_id, value).where(people.wave_id == wave_id)
    if not released:
        stmt = stmt.where(people.answered.is_(True))
    return stmt


__all__ = ["DerivedCondition", "DerivedSpec", "derived_questions", "derived_values_query", "is_derived",
           "spec_for", "to_sql"]
