"""Reference waves: a report's published shares compared with a community's wave."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from analytics.report import to_markdown
from analytics.service import build_summary
from analytics.stats import two_proportion_test
from bot.demo import synthetic_answers
from surveys.catalog import Catalog
from surveys.errors import UnknownWave
from surveys.importer import import_csv
from surveys.reference import ReferenceError, check, read_csv, read_yaml, store_reference
from surveys.waves import ensure_community

SURVEY = "state-of-mlops"
PUBLISHED = Path(__file__).parents[2] / "surveys" / "catalog" / "published"


async def _community_wave(db, tmp_path, n: int = 300) -> int:
    qn = Catalog().get(SURVEY)
    rng = random.Random(5)
    columns = [c for q in qn.questions for c in
               ([f"{q.id}.{r.id}" for r in q.rows] if q.type.value == "grid" else [q.id])]
    path = tmp_path / "wave.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for _ in range(n):
            answers = synthetic_answers(qn, 2, rng)
            writer.writerow([";".join(v) if isinstance(v, list) else v
                             for v in (answers.get(c, "") for c in columns)])
    async with db.session() as session:
        community = (await ensure_community(session, "default")).id
    await import_csv(db, community_id=community, questionnaire=qn, wave_label="2026", path=path)
    return community


async def _reference(db, community: int, name: str, label: str) -> None:
    qn = Catalog().get(SURVEY)
    path = PUBLISHED / name
    figures = read_yaml(path.read_text(), str(path))
    shares = check(figures, qn, str(path))
    async with db.session() as session:
        await store_reference(session, community_id=community, qn=qn, label=label, figures=figures,
                              shares=shares)


async def test_a_reference_wave_is_compared_with_a_community_wave(db, tmp_path):
    community = await _community_wave(db, tmp_path)
    await _reference(db, community, "valohai-2021.yaml", "Valohai 2021")
    s = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026",
                            compare=["Valohai 2021"])
    assert s.compare == ["Valohai 2021"]
    info = s.waves["Valohai 2021"]
    assert info.published and info.respondents == 100
    focus = next(q for q in s.questions if q.id == "focus")
    published = focus.results["Valohai 2021"]
    assert published.shares == {"monitoring": 0.31, "retraining": 0.30}
    (change,) = [c for c in focus.changes["Valohai 2021"] if c.option == "monitoring"]
    mine = focus.results["2026"]
    _, p = two_proportion_test(31, 100, mine.counts["monitoring"], mine.base)
    assert math.isclose(change.p_value, p) and change.before == 0.31
    assert change.p_adjusted is not None  # inside the summary's Benjamini–Hochberg family
    assert s.significance.tests == sum(len(ch) for q in s.questions for ch in q.changes.values())
    tooling = next(q for q in s.questions if q.id == "tooling")
    assert tooling.results["Valohai 2021"].rows["model_monitoring"].shares == {"looking": 0.52}
    assert any(c.row == "model_monitoring" and c.option == "looking"
               for c in tooling.changes["Valohai 2021"])
    text = to_markdown(s)
    assert "Valohai 2021 (published)" in text and "published figures, n=100" in text
    assert s.to_dict()["published"]["Valohai 2021"]["tested"] is True


async def test_figures_without_a_base_are_shown_marked_and_untested(db, tmp_path):
    community = await _community_wave(db, tmp_path)
    await _reference(db, community, "valohai-2020.yaml", "Valohai 2020")
    s = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026",
                            compare=["Valohai 2020"])
    focus = next(q for q in s.questions if q.id == "focus")
    assert focus.results["Valohai 2020"].shares == {"monitoring": 0.13}
    assert "Valohai 2020" not in focus.changes
    assert not s.waves["Valohai 2020"].tested
    assert "base not published: not tested" in to_markdown(s)


async def test_an_unknown_label_is_still_an_unknown_wave(db, tmp_path):
    community = await _community_wave(db, tmp_path, n=20)
    with pytest.raises(UnknownWave, match="unknown wave 'Valohai 2019'"):
        await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026",
                            compare=["Valohai 2019"])


def test_a_bad_reference_file_lists_every_problem_and_nothing_else():
    qn = Catalog().get(SURVEY)
    text = """
survey: state-of-mlops
base: 0
figures:
  focus: {monitoring: 131%, kubeflow: 5%}
  title: {data_scientist: 70%, ml_engineer: 40%}
  nope: {a: 1%}
"""
    with pytest.raises(ReferenceError) as info:
        check(read_yaml(text, "bad.yaml"), qn, "bad.yaml")
    assert info.value.problems == [
        "base: the base is a whole number of respondents from 1 to 10,000,000 (leave it out when the "
        "report does not publish it)",
        "figures.focus.monitoring: '131%' is not a percentage from 0 to 100 (e.g. 31%)",
        "focus: 'kubeflow' is not an option of 'Focus for the next three months'",
        "nope: not a question of state-of-mlops",
        "title: the shares add up to 110%; a single answer cannot add up to more than 100%",
    ]


def test_a_csv_of_published_shares_reads_like_the_yaml():
    qn = Catalog().get(SURVEY)
    figures = read_csv("question,option,share\nfocus,monitoring,31%\ntooling.ml_pipeline,looking,33\n",
                       "f.csv", 100)
    assert check(figures, qn, "f.csv") == {("focus", "", "monitoring"): 0.31,
                                           ("tooling", "ml_pipeline", "looking"): 0.33}
