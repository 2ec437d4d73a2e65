"""The rule language of derived fields: what it reads, and that nothing else gets through."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.catalog import Catalog
from surveys.expressions import (
    And,
    Answered,
    Chose,
    Compare,
    ExpressionError,
    Not,
    Or,
    compile_rule,
    parse,
)
from surveys.schema import Questionnaire

QN = Catalog().get("state-of-mlops")
WITH_NUMBER = Questionnaire.model_validate({
    "id": "pets", "title": "Pets", "questions": [
        {"id": "kind", "type": "single", "text": "Kind", "options": [{"id": "cat", "label": "Cat"},
                                                                    {"id": "dog", "label": "Dog"}]},
        {"id": "age", "type": "number", "text": "Age"},
        {"id": "story", "type": "text", "text": "Story"},
    ]})


def test_every_test_of_the_language():
    assert compile_rule("role = lead", QN) == Chose("role", "", ("lead",))
    assert compile_rule("role != lead", QN) == Not(Chose("role", "", ("lead",)))
    assert compile_rule("role not in (lead, none)", QN) == Not(Chose("role", "", ("lead", "none")))
    assert compile_rule("focus has all (monitoring, retraining)", QN) == And(
        (Chose("focus", "", ("monitoring",)), Chose("focus", "", ("retraining",))))
    assert compile_rule("tooling.model_monitoring in (established, looking)", QN) == Chose(
        "tooling", "model_monitoring", ("established", "looking"))
    assert compile_rule("title = software_engineer", QN) == Chose("title", "", ("other",))  # former id
    assert compile_rule("biggest_challenge is not answered or false", QN) == Or(
        (Not(Answered("biggest_challenge", "")), compile_rule("false", QN)))
    assert compile_rule("age >= 2.5 and age != 7", WITH_NUMBER) == And(
        (Compare("age", ">=", 2.5), Not(Compare("age", "=", 7.0))))


@pytest.mark.parametrize("rule, message", [
    ("focus = monitoring", "'focus' is a multi-choice question; use 'has'"),
    ("role has lead", "'role' is a single question; 'has' is for multi-choice"),
    ("tooling = established", "'tooling' is a grid: name a row"),
    ("tooling.nope = established", "'nope' is not a row of 'tooling'"),
    ("role.x = lead", "only grid questions have rows"),
    ("role < 3", "'role' is a single question; < compares numbers"),
    ("unknown = x", "'unknown' is not a question of state-of-mlops"),
    ("role = lead and", "expected a question id"),
    ("role in lead", "expected '(' and a list of option ids"),
    ("(role = lead", "expected ')'"),
    ("role = lead role = none", "expected and, or, or the end of the rule"),
    ("role = 'lead'", "column 8: \"'\" cannot appear in a rule"),
    ("role = lead # comment", "'#' cannot appear"),
    ("role = lead\u200b", "\\u200b cannot appear"),
    ("not " * 13 + "role = lead", "nests at most 12 levels"),
    ("role in (" + ", ".join(["lead"] * 51) + ")", "a list has at most 50 values"),
    ("role = lead or " * 60 + "true", "at most 200 words and symbols"),
])
def test_rules_outside_the_language_or_the_questionnaire_are_one_line(rule, message):
    with pytest.raises(ExpressionError) as info:
        compile_rule(rule, QN)
    assert message in str(info.value) and "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120) | st.text(alphabet="roleadfcus_.=!<>()  ,andornotinhasy", max_size=80))
def test_any_text_parses_or_is_refused_with_an_expression_error(text):
    try:
        node = parse(text)
    except ExpressionError as exc:
        assert "\n" not in str(exc)
        return
    assert node is not None
    assert not any(ch in text for ch in "'\";:[]{}#@$\\`")  # nothing outside the whitelist
    assert not re.search(r"(^|[^A-Za-z0-9_\-])_", text)  # no name starts with "_"


def test_a_rule_longer_than_the_limit_is_refused_before_it_is_read():
    with pytest.raises(ExpressionError, match="at most 1000 characters"):
        parse("x" * 5000)
