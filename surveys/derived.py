"""Derived fields of a questionnaire: values computed from answers by rules (surveys.expressions).

A derived field is never asked. Each respondent gets the first option whose rule holds, or no
value (counted like a skipped question) when none does. Results treat it as a single-choice
question: it can be summarised, charted, filtered on (`--where ml_maturity=pipeline_centric`)
and crossed, with every privacy rule of a single-choice question.
"""

from __future__ import annotations

import logging

from surveys.expressions import ExpressionError, Node, compile_rule
from surveys.schema import DerivedField, Option, Question, Questionnaire, QuestionType

log = logging.getLogger(__name__)


def derived_problems(qn: Questionnaire) -> list[str]:
    """Every problem of the questionnaire's derived fields, each one line with its path: ids that
    clash, and rules outside the language or naming what the questionnaire does not have."""
    problems: list[str] = []
    taken = {q.id for q in qn.questions}
    for i, field in enumerate(qn.derived):
        p = f"derived[{i}]"
        if field.id in taken:
            problems.append(f"{p}.id: duplicate id '{field.id}' (a question or derived field has it)")
        taken.add(field.id)
        seen: set[str] = set()
        for j, option in enumerate(field.options):
            for key in (option.id, *option.previously):
                if key in seen:
                    problems.append(f"{p}.options[{j}].id: duplicate id '{key}'")
                seen.add(key)
            try:
                compile_rule(option.rule, qn)
            except ExpressionError as exc:
                problems.append(f"{p}.options[{j}].rule: {exc}")
    return problems


def usable_fields(qn: Questionnaire) -> list[DerivedField]:
    """The derived fields whose rules hold up against `qn`'s questions: a copy that leaves out
    questions (a wave imported without some columns) keeps only the fields it can compute."""
    out = []
    for field in qn.derived:
        try:
            rules(field, qn)
        except ExpressionError:
            log.info("derived field %s left out: %s does not ask what it reads", field.id, qn.id)
            continue
        out.append(field)
    return out


def without_questions(qn: Questionnaire, kept: list[Question]) -> Questionnaire:
    """`qn` asking only `kept`, with the derived fields that can still be computed from them."""
    reduced = qn.model_copy(update={"questions": kept})
    return reduced.model_copy(update={"derived": usable_fields(reduced)})


def rules(field: DerivedField, qn: Questionnaire) -> list[tuple[str, Node]]:
    """(option id, checked rule) in order; the first that holds gives a respondent's value."""
    return [(option.id, compile_rule(option.rule, qn)) for option in field.options]


def as_question(field: DerivedField) -> Question:
    """The derived field in the shape results use: a single-choice question nobody is asked."""
    return Question(
        id=field.id, type=QuestionType.single, text=field.text, short=field.short,
        options=[Option(id=o.id, label=o.label, previously=o.previously) for o in field.options],
        ordered=field.ordered,
    )


def derived_field(qn: Questionnaire, field_id: str) -> DerivedField | None:
    return next((f for f in qn.derived if f.id == field_id), None)


__all__ = ["as_question", "derived_field", "derived_problems", "rules", "usable_fields",
           "without_questions"]
