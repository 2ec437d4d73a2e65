"""The terminal chat, driven through its prompt function: resume, limits, replace."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from sqlalchemy import func, select

from bot.console import ConsoleChat
from surveys.models import Answer
from tests.conftest import use_version_1


@pytest.fixture(autouse=True)
def _questionnaire_version_1(services):
    """These tests follow version 1 of the built-in questionnaire (tests/conftest.py)."""
    use_version_1(services.catalog)

GRID_ROWS = 9


def _chat(services, answers: list[str]):
    script = iter(answers)
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(script)

    output = io.StringIO()
    console = Console(file=output, width=120, color_system=None)
    return ConsoleChat(services, console, ask, user="ada"), prompts, output


async def _answers(services) -> int:
    async with services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Answer))).scalar_one()


async def test_quit_and_resume_where_stopped(services):
    chat, _, _ = _chat(services, ["2", "models", "q"])
    outcome = await chat.run("state-of-mlops")
    assert not outcome.completed and outcome.answered == 2
    assert await _answers(services) == 2

    full = [
        "1_10",          # company_size by id
        "2",             # ml_headcount by number
        "grow",          # team_outlook shown because role=models
        "1,2,3,4",       # focus: too many -> error, asked again
        "4, 5",          # focus
        *(["1"] * GRID_ROWS),  # tooling rows one by one
        "technology",
        "",              # region skipped
        "text;audio",    # data_types unknown format -> error, asked again
        "4",             # data_types
        "Nothing ships",  # biggest_challenge
    ]
    chat, prompts, output = _chat(services, full)
    outcome = await chat.run("state-of-mlops")
    text = output.getvalue()
    assert "Welcome back" in text and "resuming at question 3" in text
    assert "choose up to 3" in text
    assert outcome.completed
    assert await _answers(services) == 6 + GRID_ROWS + 4  # the skipped region counts as answered-as-skipped


async def test_answering_again_replaces(services):
    chat, _, _ = _chat(services, ["1", "none", "q"])
    await chat.run("state-of-mlops")
    before = await _answers(services)
    progress_wave = await chat.pick_wave("state-of-mlops")
    await services.flow.submit(progress_wave.id, chat.member, {"title": "researcher"})
    assert await _answers(services) == before
    progress = await services.flow.progress(progress_wave.id, chat.member)
    assert progress.value("title") == "researcher"


async def test_uses_the_open_wave_of_the_community(services):
    from surveys.models import WaveStatus
    from surveys.waves import create_wave

    community = await services.default_community()
    async with services.db.session() as session:
        wave = await create_wave(session, community, services.catalog.get("state-of-mlops"), "2026",
                                 status=WaveStatus.open)
    chat, _, _ = _chat(services, ["q"])
    assert (await chat.pick_wave("state-of-mlops")).id == wave.id


FULL = ["2", "models", "1_10", "2", "grow", "4, 5", *(["1"] * GRID_ROWS), "technology", "", "4",
        "Nothing ships"]


async def test_finished_chat_offers_to_change_answers_and_enter_keeps_them(services):
    chat, _, _ = _chat(services, FULL)
    assert (await chat.run("state-of-mlops")).completed
    before = await _answers(services)
    # title kept, role changed to "lead" (4); team_outlook stays visible; everything else kept
    keep_rest = [""] * (1 + 1 + 1 + 1 + GRID_ROWS + 4)
    chat, prompts, output = _chat(services, ["y", "", "4", "", "", *keep_rest])
    outcome = await chat.run("state-of-mlops")
    text = output.getvalue()
    assert outcome.completed and "Welcome back" not in text
    assert "Your answer: Machine Learning Engineer (Enter keeps it)" in text
    assert "Your answer: Nothing ships (Enter keeps it, - clears it)" in text
    wave = await chat.pick_wave("state-of-mlops")
    progress = await services.flow.progress(wave.id, chat.member)
    assert progress.value("role") == "lead" and progress.value("title") == "ml_engineer"
    assert progress.value("focus") == ["monitoring", "retraining"]
    assert await _answers(services) == before  # replaced, never duplicated

    chat, _, output = _chat(services, ["n"])
    await chat.run("state-of-mlops")
    assert "Your answers stay as they are" in output.getvalue()


async def test_a_wave_closing_mid_chat_is_a_clear_message(services, monkeypatch):
    from surveys.errors import WaveNotOpen

    async def closed(*args, **kwargs):
        raise WaveNotOpen("this survey has closed")

    monkeypatch.setattr(services.flow, "submit", closed)
    chat, _, output = _chat(services, ["2"])
    outcome = await chat.run("state-of-mlops")
    assert "this survey has closed" in output.getvalue() and "earlier answers are kept" in output.getvalue()
    assert not outcome.completed
