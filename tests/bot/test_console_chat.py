"""The terminal chat as a member meets it (issue 13): answers echoed, progress that adds up,
going back, an over-long text kept, `1e1` refused, the `[y/N]` prompt shown, the preview
said plainly, and no INFO log lines on the chat screen."""

from __future__ import annotations

import io
import logging
import re
import sys

import pytest
from rich.console import Console

from bot.console import ConsoleChat, _default_ask
from surveys.errors import PageInvalid
from surveys.flow import AnswerFlow
from surveys.schema import Questionnaire

SMALL = Questionnaire.model_validate({"id": "small", "title": "Small", "questions": [
    {"id": "role", "type": "single", "text": "Your role?", "required": True,
     "options": [{"id": "dev", "label": "Developer"}, {"id": "lead", "label": "Lead"}]},
    {"id": "team", "type": "number", "text": "How big is your team?",
     "when": {"question": "role", "in": ["lead"]}},
    {"id": "years", "type": "number", "text": "Years of experience?"},
    {"id": "where", "type": "country", "text": "Where do you live?"},
    {"id": "note", "type": "text", "text": "Anything else?", "max_length": 20},
]})


def _chat(services, answers: list[str]):
    script = iter(answers)
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(script)

    output = io.StringIO()
    console = Console(file=output, width=120, color_system=None)
    return ConsoleChat(services, console, ask, user="ada"), prompts, output


def _headings(text: str) -> list[tuple[int, int]]:
    return [(int(n), int(t)) for n, t in re.findall(r"^(\d+)/(\d+) ", text, re.M)]


async def test_each_answer_is_echoed_in_words(services):
    services.catalog.add(SMALL)
    chat, _, output = _chat(services, ["1", "12", "uk", "fine", "q"])
    outcome = await chat.run("small")
    assert outcome.completed
    text = output.getvalue()
    for said in ("✓ Developer", "✓ 12", "✓ United Kingdom", "✓ fine"):
        assert said in text, text


async def test_progress_adds_up_when_a_conditional_question_appears(services):
    """Regression (already right before issue 13's fixes): numbers go up by one, never past the
    total, and the total grows by the question the answer added."""
    services.catalog.add(SMALL)
    chat, _, output = _chat(services, ["2", "5", "3", "", ""])
    assert (await chat.run("small")).completed
    seen = _headings(output.getvalue())
    assert seen == [(1, 4), (2, 5), (3, 5), (4, 5), (5, 5)], seen
    chat, _, output = _chat(services, ["y", "1", "", "", ""])  # review: the role changed back
    assert (await chat.run("small")).completed
    review = _headings(output.getvalue())
    assert review == [(1, 5), (2, 4), (3, 4), (4, 4)], review


async def test_going_back_before_the_end(services):
    services.catalog.add(SMALL)
    chat, _, output = _chat(services, ["<", "1", "7", "<", "<", "2", "", "q"])
    await chat.run("small")
    text = output.getvalue()
    assert "This is the first question." in text
    wave = await chat.pick_wave("small")
    progress = await services.flow.progress(wave.id, chat.member)
    assert progress.value("role") == "lead" and progress.value("years") == 7
    assert "Your answer: 7 (Enter keeps it, - clears it)" in text and "Your answer: Developer" in text


async def test_an_over_long_text_is_kept_for_editing(services):
    services.catalog.add(SMALL)
    long = "a careful answer that is far too long"
    chat, _, output = _chat(services, ["1", "", "", long, ""])
    outcome = await chat.run("small")
    text = output.getvalue()
    assert "at most 20 characters" in text and long in text and "Enter keeps the first 20" in text
    assert outcome.completed
    wave = await chat.pick_wave("small")
    assert (await services.flow.progress(wave.id, chat.member)).value("note") == long[:20]


def test_an_exponent_is_not_a_whole_number():
    with pytest.raises(PageInvalid) as refused:
        AnswerFlow.validate(SMALL, {"years": "1e1"})
    assert "'1e1' is not a whole number" in str(refused.value)
    for typed in ("0x10", "1_000", "inf"):
        with pytest.raises(PageInvalid):
            AnswerFlow.validate(SMALL, {"years": typed})
    assert AnswerFlow.validate(SMALL, {"years": "1,000"}) == {"years": 1000}


def test_the_review_prompt_shows_its_choices(monkeypatch):
    output = io.StringIO()
    console = Console(file=output, width=120, color_system=None, force_terminal=False)
    monkeypatch.setattr("builtins.input", lambda *_: "n")
    assert _default_ask(console)("Change your answers? [y/N]> ") == "n"
    assert "Change your answers? [y/N]> " in output.getvalue()


async def test_a_preview_is_said_plainly_and_a_wave_can_be_given(services):
    services.catalog.add(SMALL)
    chat, _, output = _chat(services, ["q"])
    outcome = await chat.run("small")
    assert outcome.wave_label == "preview"
    assert "Preview:" in output.getvalue() and "count in no results" in output.getvalue()
    with pytest.raises(KeyError, match="no open wave '2026'"):
        await chat.run("small", "2026")


def test_info_logs_stay_off_the_chat_screen(monkeypatch):
    from bot.logs import quiet_terminal

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(sys, "stderr", stream)
    handler.stream = sys.stderr
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(root, "level", logging.INFO)
    with quiet_terminal():
        logging.getLogger("bot.scheduling").info("job ran")
        logging.getLogger("bot.scheduling").warning("job failed")
    logging.getLogger("bot.scheduling").info("after the chat")
    assert "job ran" not in stream.getvalue()
    assert "job failed" in stream.getvalue() and "after the chat" in stream.getvalue()
    assert handler.level == logging.NOTSET
