"""Derived fields in results: the ML maturity stage counted, charted and used in `--where`."""

from __future__ import annotations

import csv
import random

import pytest

from analytics.service import build_summary
from bot.demo import synthetic_answers
from surveys.catalog import Catalog
from surveys.importer import import_csv
from surveys.waves import ensure_community

SURVEY = "state-of-mlops"
MANY = {"2_5", "6_20", "more_than_20"}


def _stage(answers: dict) -> str | None:
    """The maturity stage by hand, from the paper's definition as the YAML writes it."""
    models, work = answers.get("models_in_production"), set(answers.get("recent_work") or [])
    if models in MANY and work & {"retrain", "manage_models"}:
        return "pipeline_centric"
    if models in MANY | {"1"} or work & {"train_models", "first_production", "deploy_updates"}:
        return "model_centric"
    if models == "none" or "explore_data" in work:
        return "data_centric"
    return None


async def _import(db, tmp_path, n: int = 300) -> tuple[int, list[dict]]:
    qn = Catalog().get(SURVEY)
    rng = random.Random(12)
    rows = [synthetic_answers(qn, 2, rng) for _ in range(n)]
    columns = [c for q in qn.questions for c in
               ([f"{q.id}.{r.id}" for r in q.rows] if q.type.value == "grid" else [q.id])]
    path = tmp_path / "wave.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for answers in rows:
            writer.writerow([";".join(v) if isinstance(v, list) else answers.get(c, "")
                             for c, v in ((c, answers.get(c, "")) for c in columns)])
    async with db.session() as session:
        community = (await ensure_community(session, "default")).id
    await import_csv(db, community_id=community, questionnaire=qn, wave_label="2026", path=path)
    return community, rows


async def test_a_derived_segment_filters_with_where(db, tmp_path):
    community, rows = await _import(db, tmp_path)
    expected = sum(1 for r in rows if _stage(r) == "pipeline_centric")
    assert 5 <= expected < len(rows)
    s = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026",
                            where={"ml_maturity": ["pipeline_centric"]})
    assert s.waves["2026"].respondents == expected
    assert s.where == {"ml_maturity": ["pipeline_centric"]}
    # inside the segment, everyone has many models in production
    models = next(q for q in s.questions if q.id == "models_in_production").results["2026"]
    assert set(models.counts) <= MANY
    by_label = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026",
                                   where={"ml_maturity": ["(iii) Managing many models in production, "
                                                          "with retraining"]})
    assert by_label.waves["2026"].respondents == expected


async def test_the_maturity_stage_is_summarised_like_a_single_choice_question(db, tmp_path):
    community, rows = await _import(db, tmp_path)
    s = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026")
    stage = next(q for q in s.questions if q.id == "ml_maturity")
    result = stage.results["2026"]
    for option in ("pipeline_centric", "model_centric", "data_centric"):
        assert result.counts[option] == sum(1 for r in rows if _stage(r) == option), option
    assert result.base == len(rows)
    assert stage.ordered


async def _small_pipeline_group(db, tmp_path) -> int:
    """40 respondents: 2 pipeline-centric, 20 model-centric, 18 data-centric."""
    path = tmp_path / "small.csv"
    rows = ([("6_20", "retrain;monitor")] * 2 + [("1", "train_models")] * 20
            + [("none", "explore_data")] * 18)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title", "models_in_production", "recent_work"])
        for i, (models, work) in enumerate(rows):
            writer.writerow(["data_scientist" if i % 2 else "ml_engineer", models, work])
    async with db.session() as session:
        community = (await ensure_community(session, "default")).id
    await import_csv(db, community_id=community, questionnaire=Catalog().get(SURVEY), wave_label="2026",
                     path=path)
    return community


async def test_a_derived_value_held_by_fewer_than_k_cannot_be_singled_out(db, tmp_path):
    from analytics.segments import SegmentRefused

    community = await _small_pipeline_group(db, tmp_path)
    with pytest.raises(SegmentRefused, match="count as one group for filtering"):
        await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026",
                            where={"ml_maturity": ["pipeline_centric"]})
    s = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026")
    stage = next(q for q in s.questions if q.id == "ml_maturity").results["2026"]
    assert "pipeline_centric" not in stage.shares or stage.counts.get("pipeline_centric", 0) >= 5
    assert stage.merged  # the 2 merged into a group of at least k, as for any single question


async def test_a_wave_without_the_questions_a_field_reads_has_no_entry_for_it(db, tmp_path):
    path = tmp_path / "few.csv"
    path.write_text("title,role\n" + "data_scientist,models\n" * 6 + "ml_engineer,infra\n" * 6)
    async with db.session() as session:
        community = (await ensure_community(session, "default")).id
    await import_csv(db, community_id=community, questionnaire=Catalog().get(SURVEY), wave_label="2026",
                     path=path)
    s = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026")
    assert s.waves["2026"].respondents == 12
    assert all(q.id != "ml_maturity" for q in s.questions)
