"""Questionnaire schema and catalog: the built-in survey and every bad-input case."""

from __future__ import annotations

import textwrap

import pytest

from surveys.catalog import Catalog, QuestionnaireError, builtin_entries, parse_questionnaire
from surveys.schema import PREFER_NOT_TO_SAY, QuestionType

DESIGN_IDS = {
    "title": ("single", ["data_scientist", "ml_engineer", "data_science_leader", "data_engineer",
                         "software_engineer", "researcher", "other"]),
    "role": ("single", ["models_and_infra", "models", "infra", "lead", "none"]),
    "company_size": ("single", ["1_10", "11_50", "51_200", "201_1000", "1000_plus"]),
    "ml_headcount": ("single", ["1", "2_10", "11_30", "31_100", "100_plus"]),
    "team_outlook": ("single", ["grow", "same", "shrink"]),
    "focus": ("multi", ["prove_potential", "first_model", "deploy", "monitoring", "retraining",
                        "optimize", "other"]),
    "industry": ("single", ["technology", "financial_services", "consulting", "healthcare", "retail",
                            "manufacturing", "public_sector", "other"]),
    "region": ("single", ["europe", "north_america", "latin_america", "india", "china", "rest_of_asia",
                          "africa", "oceania"]),
    "data_types": ("multi", ["relational", "time_series", "images", "text", "audio", "other"]),
}


def test_every_catalog_file_validates():
    entries = builtin_entries()
    assert [e.questionnaire.id for e in entries] == ["state-of-mlops"]


def test_builtin_questionnaire_has_exactly_the_design_ids():
    qn = Catalog().get("state-of-mlops", version=1)
    assert [q.id for q in qn.questions] == [
        "title", "role", "company_size", "ml_headcount", "team_outlook", "focus", "tooling",
        "industry", "region", "data_types", "biggest_challenge",
    ]
    for qid, (qtype, options) in DESIGN_IDS.items():
        q = qn.question(qid)
        assert q.type.value == qtype, qid
        assert [o.id for o in q.choices] == options, qid
    assert qn.question("focus").max_choices == 3
    assert "up to 3 choices" in qn.question("focus").text
    grid = qn.question("tooling")
    assert grid.type is QuestionType.grid
    assert [r.id for r in grid.rows] == [
        "data_analysis", "experimentation", "feature_store", "code_repository", "ml_pipeline",
        "metadata_store", "model_registry", "model_serving", "model_monitoring",
    ]
    assert [(s.id, s.label) for s in grid.scale] == [
        ("established", "Established tooling today"),
        ("looking", "Looking for a solution in the next 3 months"),
        ("not_relevant", "Not relevant at the moment"),
    ]
    assert qn.question("biggest_challenge").type is QuestionType.text


def test_unknown_survey_names_known_ones():
    with pytest.raises(KeyError, match="state-of-mlops"):
        Catalog().get("nope")


GOOD = """
id: pets
title: State of Pets
questions:
  - {id: kind, type: single, text: Which pet, options: [{id: cat, label: Cat}, {id: dog, label: Dog}]}
  - id: food
    type: multi
    text: Food
    max_choices: 2
    prefer_not_to_say: true
    options:
      - {id: dry, label: Dry}
      - {id: wet, label: Wet}
      - {id: raw, label: Raw, previously: [meat]}
      - {id: none, label: None of the above, exclusive: true}
  - {id: age, type: number, text: Age, min: 0, max: 40}
  - {id: home, type: country, text: Where, when: {question: kind, in: [dog]}}
  - id: care
    type: grid
    text: Care
    rows: [{id: vet, label: Vet}]
    scale: [{id: yes, label: "Yes"}, {id: no, label: "No"}]
"""


def test_full_type_set_parses():
    qn = parse_questionnaire(GOOD)
    food = qn.question("food")
    assert food.choices[-1].id == PREFER_NOT_TO_SAY and food.choices[-1].exclusive
    assert food.option("meat").id == "raw"
    assert len(qn.question("home").choices) > 200


def _problems(text: str) -> list[str]:
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(textwrap.dedent(text))
    return info.value.problems


def test_malformed_yaml_is_one_problem_with_line():
    problems = _problems("id: x\nquestions: [\n")
    assert len(problems) == 1 and "malformed YAML" in problems[0] and "line" in problems[0]


def test_unknown_question_type_has_path():
    problems = _problems(GOOD.replace("type: number", "type: slider"))
    assert any(p.startswith("questions[2].type: unknown question type 'slider'") for p in problems)


def test_duplicate_option_id_reports_path():
    problems = _problems(GOOD.replace("{id: wet, label: Wet}", "{id: dry, label: Wet}"))
    assert "questions[1].options[1].id: duplicate id 'dry'" in problems


def test_duplicate_question_id():
    problems = _problems(GOOD.replace("id: age,", "id: kind,"))
    assert "questions[2].id: duplicate id 'kind'" in problems


def test_when_pointing_forward_or_unknown():
    forward = _problems(GOOD.replace(
        "{id: kind, type: single, text: Which pet,",
        "{id: kind, type: single, text: Which pet, when: {question: age, in: [x]},",
    ))
    assert any(p.startswith("questions[0].when.question: 'age' is a later or unknown question")
               for p in forward)
    unknown_opt = _problems(GOOD.replace("in: [dog]", "in: [fish]"))
    assert "questions[3].when.in[0]: 'fish' is not an option of 'kind'" in unknown_opt


def test_max_choices_larger_than_options():
    problems = _problems(GOOD.replace("max_choices: 2", "max_choices: 9"))
    assert "questions[1].max_choices: 9 is more than the 4 options" in problems


def test_every_problem_reported_at_once():
    bad = GOOD.replace("max_choices: 2", "max_choices: 9").replace("in: [dog]", "in: [fish]")
    assert len(_problems(bad)) == 2


def test_unknown_field_and_missing_title():
    problems = _problems("id: x\nquestions:\n  - {id: a, type: text, text: A, colour: red}\n")
    assert "title: Field required" in problems
    assert "questions[0].colour: unknown field" in problems


def test_find_option_by_id_former_id_or_label_any_case():
    from surveys.validation import find_option

    food = parse_questionnaire(GOOD).question("food")
    assert find_option(food.choices, "MEAT").id == "raw"
    assert find_option(food.choices, " wet ").id == "wet"
    assert find_option(food.choices, "none of the above").id == "none"
    assert find_option(food.choices, "fish") is None


def test_one_broken_question_does_not_hide_the_others_problems():
    problems = _problems("""
        id: pets
        title: Pets
        questions:
          - {id: kind, type: weird, text: Which}
          - id: food
            type: multi
            text: Food
            max_choices: 5
            options: [{id: dry, label: Dry}, {id: dry, label: Wet}]
          - {id: food, type: number, text: Age, min: 5, max: 1}
          - {id: home, type: country, text: Where, when: {question: kind, in: [dog]}}
    """)
    assert problems[0].startswith("questions[0].type: unknown question type 'weird'")
    assert "questions[1].options[1].id: duplicate id 'dry'" in problems
    assert "questions[1].max_choices: 5 is more than the 2 options" in problems
    assert "questions[2].id: duplicate id 'food'" in problems
    assert any(p.startswith("questions[2].min") for p in problems)
    assert not any(p.startswith("questions[3]") for p in problems)  # its condition waits for 'kind'


def test_lists_chat_menus_cannot_show_are_refused():
    options = "".join(f"      - {{id: o{i}, label: O{i}}}\n" for i in range(101))
    scale = "".join(f"      - {{id: s{i}, label: S{i}}}\n" for i in range(26))
    problems = _problems(
        "id: big\ntitle: Big\nquestions:\n"
        f"  - id: many\n    type: multi\n    text: Many\n    options:\n{options}"
        f"  - id: grid\n    type: grid\n    text: Grid\n    rows: [{{id: r, label: R}}]\n    scale:\n{scale}"
        f"  - id: t\n    type: text\n    text: T\n    help: {'h' * 301}\n"
    )
    assert "questions[0].options: at most 100 options for a multi question (101 given); chat menus " \
           "cannot show more" in problems
    assert "questions[1].scale: at most 25 scale points (26 given)" in problems
    assert any(p.startswith("questions[2].help") for p in problems)
