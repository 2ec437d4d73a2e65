"""The answer flow: conditions, limits, exclusive options, resume, replace, duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from surveys.catalog import Catalog, parse_questionnaire
from surveys.errors import PageInvalid, WaveNotOpen
from surveys.flow import AnswerFlow
from surveys.identity import Member, pseudonym
from surveys.models import Answer, AnswerChoice, Participation, Respondent, WaveStatus
from surveys.paging import paginate, resume_page
from surveys.waves import close_wave, create_wave, ensure_community, wave_by_id

from .test_schema import GOOD

ALICE = Member("slack", "T1", "U_ALICE")


async def _wave(db, qn=None, status=WaveStatus.open, label="2026"):
    qn = qn or Catalog().get("state-of-mlops", version=1)
    async with db.session() as session:
        community = await ensure_community(session, "default")
        wave = await create_wave(session, community, qn, label, status=status)
        return wave.id


async def _count(db, model, *where):
    async with db.session() as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


@pytest.fixture
def flow(db):
    return AnswerFlow(db, b"k" * 32)


async def test_first_question_and_condition(db, flow):
    wave = await _wave(db)
    progress = await flow.start(wave, ALICE)
    assert progress.next_question().id == "title"
    result = await flow.submit(wave, ALICE, {"title": "ml_engineer", "role": "none"})
    assert result.progress.next_question().id == "company_size"
    await flow.submit(wave, ALICE, {"company_size": "1_10", "ml_headcount": "1"})
    progress = await flow.progress(wave, ALICE)
    assert progress.next_question().id == "focus"  # team_outlook hidden for role=none
    await flow.submit(wave, ALICE, {"role": "lead"})
    assert (await flow.progress(wave, ALICE)).next_question().id == "team_outlook"


async def test_changing_an_answer_drops_now_hidden_answers(db, flow):
    wave = await _wave(db)
    await flow.submit(wave, ALICE, {"title": "other", "role": "lead", "team_outlook": "grow"})
    await flow.submit(wave, ALICE, {"role": "none"})
    assert "team_outlook" not in (await flow.progress(wave, ALICE)).answers


async def test_limits_are_typed_errors_and_change_nothing(db, flow):
    wave = await _wave(db)
    with pytest.raises(PageInvalid) as info:
        await flow.submit(wave, ALICE, {
            "title": "data_scientist",
            "focus": ["deploy", "monitoring", "retraining", "optimize"],
            "company_size": "huge",
            "biggest_challenge": "x" * 1001,
        })
    assert set(info.value.errors) == {"focus", "company_size", "biggest_challenge"}
    assert "choose up to 3" in info.value.errors["focus"]
    assert "not an option" in info.value.errors["company_size"]
    assert "at most 1000 characters" in info.value.errors["biggest_challenge"]
    assert await _count(db, Answer) == 0


async def test_required_question_cannot_be_skipped_optional_can(db, flow):
    wave = await _wave(db)
    with pytest.raises(PageInvalid) as info:
        await flow.submit(wave, ALICE, {"title": ""})
    assert "needs an answer" in info.value.errors["title"]
    await flow.submit(wave, ALICE, {"title": "other", "role": "none", "company_size": ""})
    progress = await flow.progress(wave, ALICE)
    assert progress.has("company_size") and progress.value("company_size") is None
    assert progress.next_question().id == "ml_headcount"


async def test_exclusive_option_and_number_range(db, flow):
    wave = await _wave(db, parse_questionnaire(GOOD))
    with pytest.raises(PageInvalid) as info:
        await flow.submit(wave, ALICE, {"food": ["dry", "none"], "age": 41})
    assert "cannot be combined" in info.value.errors["food"]
    assert "out of range" in info.value.errors["age"]
    with pytest.raises(PageInvalid) as info:
        await flow.submit(wave, ALICE, {"age": "two"})
    assert "not a number" in info.value.errors["age"]
    result = await flow.submit(wave, ALICE, {"food": "meat;wet", "age": "7"})
    assert result.progress.value("food") == ["wet", "raw"]  # former id maps to the current one
    assert result.progress.value("age") == 7


async def test_duplicate_delivery_is_stored_once_and_change_replaces(db, flow):
    wave = await _wave(db)
    page = {"title": "ml_engineer", "focus": ["deploy", "monitoring"],
            "tooling": {"ml_pipeline": "established"}}
    first = await flow.submit(wave, ALICE, page)
    again = await flow.submit(wave, ALICE, page)
    assert set(first.changed) == {"title", "focus", "tooling.ml_pipeline"}
    assert again.changed == []
    assert await _count(db, Answer) == 3
    assert await _count(db, AnswerChoice) == 4
    await flow.submit(wave, ALICE, {"focus": ["retraining"]})
    assert await _count(db, Answer) == 3
    async with db.session() as session:
        chosen = (await session.execute(
            select(AnswerChoice.option_id).where(AnswerChoice.question_id == "focus"))).scalars().all()
    assert chosen == ["retraining"]


async def test_concurrent_double_click_stores_once(db, flow):
    import asyncio

    wave = await _wave(db)
    await flow.start(wave, ALICE)
    page = {"title": "researcher", "role": "models"}
    results = await asyncio.gather(*(flow.submit(wave, ALICE, page) for _ in range(4)),
                                   return_exceptions=True)
    assert not [r for r in results if isinstance(r, Exception)]
    assert await _count(db, Answer) == 2


async def test_resume_and_completion(db, flow):
    wave = await _wave(db)
    await flow.submit(wave, ALICE, {"title": "other", "role": "none", "company_size": "1_10"})
    progress = await flow.progress(wave, ALICE)
    pages = paginate(progress, max_fields=5)
    assert resume_page(progress, pages) == 0
    assert progress.next_question().id == "ml_headcount"
    everything = {"ml_headcount": "1", "focus": ["deploy"], "industry": "retail", "region": "europe",
                  "data_types": ["text"], "biggest_challenge": "",
                  "tooling": {r: "looking" for r in [
                      "data_analysis", "experimentation", "feature_store", "code_repository",
                      "ml_pipeline", "metadata_store", "model_registry", "model_serving",
                      "model_monitoring"]}}
    result = await flow.submit(wave, ALICE, everything)
    assert result.completed_now and result.progress.completed
    assert result.progress.next_question() is None
    # the completion is a sealed mark for the ledger, not a ledger row written beside the answers
    assert await _count(db, Participation) == 0
    assert await flow.ledger.pending_completed(db, wave) == {("slack", "T1", "U_ALICE")}


async def test_closed_or_scheduled_wave_refuses_answers(db, flow):
    wave = await _wave(db)
    async with db.session() as session:
        close_wave(await wave_by_id(session, wave))
    with pytest.raises(WaveNotOpen, match="has closed"):
        await flow.submit(wave, ALICE, {"title": "other"})
    later = await _wave(db, status=WaveStatus.scheduled, label="2027")
    with pytest.raises(WaveNotOpen, match="not open yet"):
        await flow.start(later, ALICE)
    assert await _count(db, Answer) == 0


async def test_answers_are_stored_under_a_pseudonym_only(db, flow):
    wave = await _wave(db)
    await flow.submit(wave, ALICE, {"title": "other"})
    async with db.session() as session:
        names = (await session.execute(select(Respondent.pseudonym))).scalars().all()
    assert names == [pseudonym(b"k" * 32, ALICE)]
    assert ALICE.user not in names[0]


async def test_my_data_and_delete(db, flow):
    wave = await _wave(db)
    await flow.submit(wave, ALICE, {"title": "other", "focus": ["deploy"]})
    community = (await _community_id(db))
    mine = await flow.my_answers(community, ALICE)
    assert [w.label for w, _ in mine] == ["2026"]
    assert mine[0][1].value("focus") == ["deploy"]
    assert await flow.delete_my_answers(community, ALICE) == 2
    assert await _count(db, Answer) == 0 and await _count(db, AnswerChoice) == 0
    assert await flow.my_answers(community, ALICE) == []


async def _community_id(db):
    async with db.session() as session:
        return (await ensure_community(session, "default")).id
