"""The answering conversation through the in-memory front end: no platform fake at all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.answering.conversation import Conversation, Merge, one_at_a_time
from bot.answering.memory import MemoryMember, render
from bot.answering.screens import (
    COMPLETED_NOTICE,
    MARKED_BELOW,
    NOT_SAVED_ANSWER,
    NOT_SAVED_PAGE,
    OTHER_COMMUNITY,
    RESUMED_NOTICE,
    STILL_OPEN,
    Notice,
    PageScreen,
    Stopped,
    Thanks,
    hint,
    number_hint,
)
from bot.saving import SavePolicy
from surveys.identity import Member
from surveys.models import Answer, WaveStatus
from surveys.paging import paginate
from surveys.schema import Question, Questionnaire
from surveys.waves import create_wave, ensure_community
from tests.conftest import use_version_1


@pytest.fixture(autouse=True)
def _questionnaire_version_1(services):
    """These tests follow version 1 of the built-in questionnaire (tests/conftest.py)."""
    use_version_1(services.catalog)

ROWS = ["data_analysis", "experimentation", "feature_store", "code_repository", "ml_pipeline",
        "metadata_store", "model_registry", "model_serving", "model_monitoring"]
ANSWERS = {
    "title": "data_scientist", "role": "models", "company_size": "1_10", "ml_headcount": "2_10",
    "team_outlook": "grow", "focus": ["deploy", "monitoring"],
    **{f"tooling.{row}": "established" for row in ROWS},
    "industry": "technology", "region": None, "data_types": ["text"],
    "biggest_challenge": "Nothing ships",
}
ADA = Member("memory", "space-1", "ada")


def five_a_page(progress):
    return paginate(progress, 5)


async def _wave(services, qn: Questionnaire | None = None, *, community=None, label: str = "2026",
                status: WaveStatus = WaveStatus.open) -> int:
    community = community or await services.community_for("memory", ADA.space)
    async with services.db.session() as session:
        wave = await create_wave(session, community, qn or services.catalog.get("state-of-mlops"),
                                 label, status=status)
        return wave.id


async def _stored(services) -> int:
    async with services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Answer))).scalar_one()


def _member(services, wave_id: int, layout=five_a_page, **kw) -> MemoryMember:
    return MemoryMember(Conversation(services, "memory", layout, **kw), ADA, wave_id)


async def test_the_whole_builtin_questionnaire_page_by_page(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id)
    first = await ada.take()
    assert isinstance(first, PageScreen) and first.first and not first.notice
    assert "Page 1 of 5 · 0 of 10 questions answered" in ada.text
    while isinstance(ada.screen, PageScreen):
        values = {key: ANSWERS[key] for key in ada.page.keys}
        await (ada.finish(values) if ada.page.last else ada.next(values))
    assert isinstance(ada.screen, Thanks) and not ada.screen.again
    progress = await services.flow.progress(wave_id, ADA)
    assert progress.completed and progress.value("focus") == ["deploy", "monitoring"]
    assert progress.has("region") and progress.value("region") is None  # blank: skipped
    assert await _stored(services) == len(ANSWERS)


async def test_one_question_at_a_time_counts_conditional_questions(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id, one_at_a_time)
    await ada.take()
    assert [f.number for f in ada.page.fields] == [1] and ada.page.total == 10  # team_outlook hidden
    await ada.pick("title", "data_scientist")
    await ada.pick("role", "models")  # reveals team_outlook: 11 questions now
    assert ada.page.keys == ("company_size",) and ada.page.fields[0].number == 3
    assert ada.page.total == 11 and ada.page.position == (2, 11)
    while isinstance(ada.screen, PageScreen):
        key = ada.page.keys[0]
        await ada.pick(key, ANSWERS[key])
    assert isinstance(ada.screen, Thanks)
    progress = await services.flow.progress(wave_id, ADA)
    assert progress.completed and progress.position == (11, 11)
    # a grid is asked row by row, each row showing where it stands
    tooling = [s for s in ada.transcript if isinstance(s, PageScreen) and s.keys[0].startswith("tooling.")]
    assert [s.fields[0].row_position for s in tooling[:2]] == [(1, 9), (2, 9)]
    assert all(s.fields[0].number == 7 for s in tooling)


async def test_resume_review_and_already_finished(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id)
    await ada.take()
    await ada.next({key: ANSWERS[key] for key in ada.page.keys})
    again = _member(services, wave_id)
    resumed = await again.take()
    assert isinstance(resumed, PageScreen) and resumed.notice == RESUMED_NOTICE
    assert resumed.index == 1 and "team_outlook" in resumed.keys
    while isinstance(again.screen, PageScreen):
        values = {key: ANSWERS[key] for key in again.page.keys}
        await (again.finish(values) if again.page.last else again.next(values))
    review = await _member(services, wave_id).take()
    assert isinstance(review, PageScreen) and review.notice == COMPLETED_NOTICE and review.index == 0
    assert review.fields[0].value == "data_scientist"  # shown with the stored answer
    dm = await _member(services, wave_id, one_at_a_time, review_on_open=False).take()
    assert isinstance(dm, Thanks) and dm.again


async def test_back_keeps_what_is_valid_and_shows_the_previous_page(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id)
    await ada.take()
    await ada.next({key: ANSWERS[key] for key in ada.page.keys})
    assert ada.page.index == 1
    await ada.back({"team_outlook": "grow", "focus": ["nope"]})  # focus not valid: not kept
    assert ada.page.index == 0 and ada.page.fields[0].value == "data_scientist"
    progress = await services.flow.progress(wave_id, ADA)
    assert progress.value("team_outlook") == "grow" and not progress.has("focus")
    await ada.back()  # on the first page already: stays there
    assert ada.page.index == 0


async def test_every_validation_error_of_the_builtin_questionnaire(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id)
    await ada.take()
    before = await _stored(services)
    await ada.next({"title": None, "role": "astronaut", "company_size": "1_10", "ml_headcount": None})
    page = ada.page
    assert page.index == 0 and page.notice == MARKED_BELOW
    errors = {f.key: f.error for f in page.fields}
    assert "needs an answer" in errors["title"] and "'astronaut' is not an option" in errors["role"]
    assert page.fields[1].value == "astronaut"  # what the member gave comes back
    assert await _stored(services) == before  # a page with a problem stores nothing
    await ada.next({key: ANSWERS[key] for key in ada.page.keys})
    await ada.next({"team_outlook": "grow", "focus": ["deploy", "monitoring", "retraining", "other"]})
    assert "choose up to 3" in ada.page.fields[1].error and "(Choose up to 3.)" in ada.text
    one = _member(services, wave_id, one_at_a_time)
    await one.show("biggest_challenge")
    await one.write("biggest_challenge", "x" * 1001)
    assert "at most 1000 characters" in one.page.fields[0].error
    assert one.page.fields[0].value == "x" * 1001
    await one.pick("data_types", [])  # an optional multi left empty: skipped
    assert (await services.flow.progress(wave_id, ADA)).has("data_types")


NUMBERS = Questionnaire.model_validate({
    "id": "numbers", "title": "Numbers", "questions": [
        {"id": "both", "type": "number", "text": "Both?", "min": 0, "max": 10, "required": True},
        {"id": "low", "type": "number", "text": "Low?", "min": 0},
        {"id": "high", "type": "number", "text": "High?", "max": 10, "integer": False},
        {"id": "free", "type": "number", "text": "Free?", "integer": False},
        {"id": "langs", "type": "multi", "text": "Languages?", "prefer_not_to_say": True,
         "options": [{"id": "py", "label": "Python"}, {"id": "r", "label": "R"}]},
        {"id": "where", "type": "country", "text": "Country?"},
    ]})


async def test_number_hints_in_one_wording_for_all_four_cases():
    qs = {q.id: q for q in NUMBERS.questions}
    assert number_hint(qs["both"]) == "A whole number from 0 to 10."
    assert number_hint(qs["low"]) == "A whole number of at least 0."
    assert number_hint(qs["high"]) == "A number up to 10."
    assert number_hint(qs["free"]) == "A number."
    assert "any" not in " ".join(hint(q) for q in NUMBERS.questions)
    assert hint(qs["where"]) == "" and "two-letter code" in hint(qs["where"], typed=True)
    assert hint(Question(id="m", type="multi", text="M?", options=[{"id": "a", "label": "A"}])) == \
        "Choose all that apply."


async def test_number_exclusive_and_country_errors(services):
    wave_id = await _wave(services, NUMBERS)
    ada = _member(services, wave_id, one_at_a_time)
    await ada.take()
    await ada.write("both", "ten")
    assert "'ten' is not a number" in ada.page.fields[0].error
    await ada.write("both", "11")
    assert "out of range" in ada.page.fields[0].error and "0 to 10" in ada.page.fields[0].error
    await ada.write("both", "2.5")
    assert "not a whole number" in ada.page.fields[0].error
    await ada.write("both", "")
    assert "needs an answer" in ada.page.fields[0].error
    await ada.write("both", "7")
    assert ada.page.keys == ("low",) and ada.page.fields[0].hint == "A whole number of at least 0."
    await ada.write("low", "-1")
    assert "at least 0" in ada.page.fields[0].error
    await ada.pick("low", None)
    await ada.write("high", "9.5")
    await ada.pick("free", None)
    await ada.pick("langs", ["py", "prefer_not_to_say"])
    assert "cannot be combined" in ada.page.fields[0].error
    await ada.pick("langs", ["py"])
    await ada.write("where", "Atlantis")
    assert "'Atlantis' is not an option" in ada.page.fields[0].error
    await ada.write("where", "de")
    assert isinstance(ada.screen, Thanks)
    assert (await services.flow.progress(wave_id, ADA)).value("where") == "DE"


async def test_a_double_click_on_take_is_dropped_until_an_answer_or_a_stop(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id, one_at_a_time)
    assert isinstance(await ada.take(), PageScreen)
    assert await ada.take() is None  # the second click of a double click
    assert isinstance(await ada.stop(), Stopped)
    assert isinstance(await ada.take(), PageScreen)  # after a stop, a new press is meant
    await ada.pick("title", "researcher")
    assert isinstance(await ada.take(), PageScreen)  # after an answer too
    no_window = _member(services, wave_id, double_click=0)
    assert await no_window.take() is not None and await no_window.take() is not None


async def test_a_repeated_pick_changes_nothing_and_does_not_move(services):
    wave_id = await _wave(services)
    conversation = Conversation(services, "memory", one_at_a_time)
    first = await conversation.pick(ADA, wave_id, "title", "researcher")
    repeat = await conversation.pick(ADA, wave_id, "title", "researcher")
    assert first.moved and not repeat.moved and repeat.ok
    assert await _stored(services) == 1


async def test_finish_with_required_questions_open_goes_to_them(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id)
    await ada.take()
    await ada.next({"title": "researcher", "role": "none", "company_size": None, "ml_headcount": None})
    while not ada.page.last:
        await ada.next()  # Next without a form: blanks count as skipped
    await ada.finish()
    assert isinstance(ada.screen, Thanks)  # only title and role are required
    other = Member("memory", ADA.space, "bob")
    bob = MemoryMember(ada.conversation, other, wave_id)
    await bob.take()
    await bob.pick("title", "researcher")
    await bob.show("biggest_challenge")
    await bob.finish()
    assert bob.page.notice == STILL_OPEN and bob.page.keys[:2] == ("title", "role")
    assert not (await services.flow.progress(wave_id, other)).completed


async def test_a_long_list_split_in_parts_keeps_the_other_parts(services):
    wave_id = await _wave(services)
    ada = _member(services, wave_id)
    await ada.pick("focus", ["deploy"])
    await ada.pick("focus", Merge(frozenset({"monitoring", "retraining", "other"}), ("monitoring",)))
    assert (await services.flow.progress(wave_id, ADA)).value("focus") == ["deploy", "monitoring"]


async def test_another_communitys_wave_and_a_closed_wave_are_clear_notices(services):
    async with services.db.session() as session:
        elsewhere = await ensure_community(session, "elsewhere", "Elsewhere")
    wave_id = await _wave(services, community=elsewhere)
    ada = _member(services, wave_id)
    shown = await ada.take()
    assert isinstance(shown, Notice) and shown.text == OTHER_COMMUNITY
    assert isinstance(await ada.pick("title", "researcher"), Notice)
    assert await _stored(services) == 0
    closed = await _wave(services, label="2025", status=WaveStatus.closed)
    shown = await _member(services, closed).take()
    assert isinstance(shown, Notice) and "has closed" in shown.text


async def test_a_passing_database_failure_is_retried_then_reported_keeping_the_input(services, monkeypatch):
    wave_id = await _wave(services)
    ada = _member(services, wave_id, one_at_a_time)
    ada.conversation.save_policy = SavePolicy(deadline=1.5, attempt_timeout=1.0, first_delay=0.01)
    real = services.flow.submit
    failures = {"left": 1}

    async def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(services.flow, "submit", flaky)
    await ada.pick("title", "researcher")
    assert ada.page.keys == ("role",)  # stored on the second attempt
    failures["left"] = 10_000
    await ada.pick("role", "models")
    assert ada.page.notice == NOT_SAVED_ANSWER and ada.page.fields[0].value == "models"
    assert not ada.page.saved
    assert not (await services.flow.progress(wave_id, ADA)).has("role")
    assert "could not save your answer" in render(ada.screen)
    await ada.next({"role": "models"})  # a whole page: the page again, its input kept
    assert ada.page.notice == NOT_SAVED_PAGE and ada.page.fields[0].value == "models"
    failures["left"] = 0
    await ada.pick("role", "models")  # the database is back: the same answer saves
    assert (await services.flow.progress(wave_id, ADA)).value("role") == "models"


@pytest.mark.parametrize("event_value", [None, "", []])
async def test_a_required_question_cannot_be_skipped(services, event_value):
    wave_id = await _wave(services)
    ada = _member(services, wave_id, one_at_a_time)
    await ada.pick("title", event_value)
    assert "needs an answer" in ada.page.fields[0].error
    assert await _stored(services) == 0


async def test_the_terminal_says_when_an_answer_could_not_be_saved(services, monkeypatch):
    import io

    from rich.console import Console

    from bot.console import ConsoleChat

    async def down(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    out = io.StringIO()
    chat = ConsoleChat(services, Console(file=out, width=200, color_system=None),
                       lambda _prompt: next(script), user="ada")
    chat.conversation.save_policy = SavePolicy(deadline=0.3, attempt_timeout=0.2, first_delay=0.01)
    script = iter(["2", "q"])
    monkeypatch.setattr(services.flow, "submit", down)
    outcome = await chat.run("state-of-mlops")
    assert "could not save your answer" in out.getvalue()
    assert outcome.answered == 0  # nothing was stored, and the chat does not claim so


@pytest.mark.parametrize("wave_id", [0, -1, 2**31, 10**12, 2**63])
async def test_a_wave_id_no_wave_can_have_is_a_notice_on_every_event(services, wave_id):
    """Ids out of the database's integer range (a forged payload) are an unknown survey, not a
    database error (PostgreSQL: NumericValueOutOfRange), whatever the event."""
    from bot.answering.events import Back, Finish, Next, Pick, Show, Stop, Take, Write

    await _wave(services)
    conversation = Conversation(services, "memory", five_a_page)
    for event in (Take(wave_id), Pick(wave_id, "title", "researcher"),
                  Write(wave_id, "biggest_challenge", "x"), Next(wave_id, "title", {"title": "researcher"}),
                  Back(wave_id, "title", None),
                  Finish(wave_id, "title", None), Stop(wave_id, None), Show(wave_id, None)):
        shown = await conversation.handle(ADA, event)
        assert shown is None or isinstance(shown, Notice), (event, shown)
    assert await _stored(services) == 0


@pytest.mark.parametrize("failing", ["start", "progress"])
async def test_a_failover_while_reading_costs_a_wait_not_an_error(services, monkeypatch, failing):
    """Before: a read (opening the survey, showing a page) during a database failover raised,
    and the member was told "Something went wrong" (bench/soak.py: Discord members left
    stranded). Reads are retried like saves; past the deadline the member gets a clear notice."""
    from bot.answering.screens import NOT_LOADED

    wave_id = await _wave(services)
    ada = _member(services, wave_id, one_at_a_time, double_click=0)  # every take is answered
    ada.conversation.save_policy = SavePolicy(deadline=1.5, attempt_timeout=1.0, first_delay=0.01)
    await ada.take()
    real = getattr(services.flow, failing)
    failures = {"left": 2}

    async def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(services.flow, failing, flaky)
    shown = await (ada.take() if failing == "start" else ada.conversation.show(ADA, wave_id, "title"))
    assert isinstance(shown, PageScreen), shown  # read on the third attempt
    failures["left"] = 10_000
    shown = await (ada.take() if failing == "start" else ada.conversation.show(ADA, wave_id, "title"))
    assert isinstance(shown, Notice) and shown.text == NOT_LOADED
