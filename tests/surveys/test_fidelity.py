"""Version 2 of the built-in questionnaire follows the published report's wording (fidelity), keeps
version 1 readable, and the demo answers it."""

from __future__ import annotations

import random

import pytest

from bot.demo import synthetic_answers
from surveys.catalog import Catalog
from surveys.errors import UnknownSurvey
from surveys.flow import AnswerFlow

SURVEY = "state-of-mlops"


def test_team_outlook_is_asked_of_everyone_about_the_next_3_months():
    qn = Catalog().get(SURVEY)
    assert qn.version == 2
    q = qn.question("team_outlook_3m")
    assert q.text == "How are you expecting your team to change in the next 3 months?"
    assert q.when is None
    assert not qn.has_question("team_outlook")  # the 12-month question is a different one


def test_regions_name_the_united_states_and_titles_are_the_reports():
    qn = Catalog().get(SURVEY)
    region = [o.id for o in qn.question("region").options]
    assert "united_states" in region and "north_america" not in region
    title = qn.question("title")
    assert [o.id for o in title.options] == ["data_scientist", "ml_engineer", "data_science_leader",
                                             "data_engineer", "other"]
    assert title.option("software_engineer").id == "other"  # version 1's extra titles count as other
    assert qn.question("role").text == "Which describes your role the best?"


def test_the_maturity_questions_of_makinen_et_al_are_asked():
    qn = Catalog().get(SURVEY)
    problems = [o.id for o in qn.question("problem_types").options]
    assert {"predictive_analysis", "time_series", "computer_vision", "nlp"} <= set(problems)
    assert "last three months" in qn.question("recent_work").text
    assert qn.question("models_in_production").is_ordered


def test_version_1_stays_readable_and_an_unknown_version_is_one_line():
    v1 = Catalog().get(SURVEY, version=1)
    assert v1.version == 1 and v1.question("team_outlook").when is not None
    with pytest.raises(UnknownSurvey, match="has no version 7 \\(known: 1, 2\\)"):
        Catalog().get(SURVEY, version=7)
    assert [e.questionnaire.version for e in Catalog().entries()] == [2]  # the list shows the current one


@pytest.mark.parametrize("version", [1, 2])
def test_the_demo_answers_every_version_with_valid_answers(version):
    qn = Catalog().get(SURVEY, version=version)
    rng = random.Random(7)
    for t in range(3):
        for _ in range(50):
            answers = synthetic_answers(qn, t, rng)
            assert set(answers) <= {q.id for q in qn.questions} | {
                f"tooling.{r.id}" for r in qn.question("tooling").rows}
            assert AnswerFlow.validate(qn, answers)
    if version == 2:
        assert "team_outlook_3m" in answers and "models_in_production" in answers
