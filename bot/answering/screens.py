"""What the member sees, before any platform renders it: a page, a thank-you, a notice.

Every renderer (Block Kit modal and DM messages, discord.py layout views, Rich) draws
these; hints, answer read-back and progress ("question 3 of 11", counting only the
questions this member is shown) are worded here once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.saving import UNSAVED
from surveys.flow import Progress
from surveys.paging import Page
from surveys.schema import Option, Question, QuestionType

log = logging.getLogger(__name__)

T = TypeVar("T")

COMPLETED_NOTICE = "You have completed this survey. You can change any answer until it closes."
RESUMED_NOTICE = "Welcome back: picking up where you left off."
STILL_OPEN = "A few required questions are still open."
MARKED_BELOW = "Please answer the required questions marked below."
OTHER_COMMUNITY = "This survey belongs to another community."
GONE_QUESTION = "This question is no longer part of the survey."
NO_QUESTIONS = "There are no questions for you in this survey."
ALREADY_OPEN = "The survey is already open."
NOT_SAVED_PAGE = UNSAVED
NOT_LOADED = ("We could not load your answers: our database is not answering right now. Your "
              "answers so far are saved; please try again in a minute.")
NOT_SAVED_ANSWER = ("We could not save your answer: our database is not answering right now. It is "
                    "still shown below; please give it again in a minute.")


def thanks_text(title: str, *, again: bool = False, command: str = "/survey my-data") -> str:
    """The thank-you, with what the member can still do (`title` already escaped)."""
    lead = "You have already answered" if again else "Thank you! You answered"
    return (f"{lead} every question of {title}. Your answers are saved under a pseudonym. You can "
            f"review or change them until the survey closes, and see or delete them with {command}.")


def stopped_text(title: str) -> str:
    return f"Stopped for now. Your answers to {title} so far are saved."


def number_text(value: Any) -> str:
    """A number as people write it: 3, not 3.0."""
    number = float(value)
    return str(int(number)) if number == int(number) else f"{number:g}"


def number_hint(q: Question) -> str:
    """The range of a number question, in words."""
    kind = "A whole number" if q.integer else "A number"
    if q.min is not None and q.max is not None:
        return f"{kind} from {q.min:g} to {q.max:g}."
    if q.min is not None:
        return f"{kind} of at least {q.min:g}."
    if q.max is not None:
        return f"{kind} up to {q.max:g}."
    return f"{kind}."


def hint(q: Question, *, typed: bool = False, with_help: bool = True) -> str:
    """What to give: the limit of a multi question, a number's range, the question's help.
    `typed` front ends (the member types a country) also say how to write a country."""
    parts: list[str] = []
    if q.type is QuestionType.multi:
        parts.append(f"Choose up to {q.max_choices}." if q.max_choices else "Choose all that apply.")
    if q.type is QuestionType.number:
        parts.append(number_hint(q))
    if q.type is QuestionType.country and typed:
        parts.append("Type the country's name or its two-letter code (for example Germany, DE or UK).")
    if q.help and with_help:
        parts.append(q.help)
    return " ".join(parts)


def typed_text(q: Question, value: Any) -> str | None:
    """A stored answer as the member would type it again: 3, not 3.0; a country by its name."""
    if value is None:
        return None
    if q.type is QuestionType.number:
        return number_text(value)
    if q.type is QuestionType.country:
        opt = q.option(str(value))
        return opt.label if opt else None
    return str(value)


def answer_text(q: Question, value: Any, row: Option | None = None) -> str:
    """How a stored value reads back to the member who gave it: labels, not ids."""
    if value is None or value == "" or value == []:
        return "Skipped"
    if row is not None or q.type is QuestionType.grid:
        return next((o.label for o in q.scale if o.id == str(value)), str(value))
    labels = {o.id: o.label for o in q.choices}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    if q.type is QuestionType.number:
        return number_text(value)
    return labels.get(str(value), str(value))


@dataclass(frozen=True)
class Field:
    """One input on a page: a question, or one row of a grid, with what it holds now."""

    key: str
    question: Question
    row: Option | None
    number: int  # the question's place among the questions this member is shown
    value: Any  # the draft the member gave back, else the stored answer (None: none/skipped)
    stored: bool  # answered or skipped already
    error: str = ""
    first_of_question: bool = True  # a grid's first row on this page carries the question

    @property
    def hint(self) -> str:
        return hint(self.question)

    @property
    def heading(self) -> str:
        """"3. How large is your team?" (the number among the questions this member is shown)."""
        return f"{self.number}. {self.question.text}" if self.number else self.question.text

    @property
    def options(self) -> list[Option]:
        """What the member chooses from: a grid row's scale, else the question's choices."""
        return self.question.scale if self.row is not None else self.question.choices

    @property
    def row_position(self) -> tuple[int, int]:
        """(this row, rows of the grid); (0, 0) for a question without rows."""
        if self.row is None:
            return 0, 0
        rows = self.question.rows
        return next(i + 1 for i, r in enumerate(rows) if r.id == self.row.id), len(rows)


@dataclass(frozen=True)
class PageScreen:
    """A page of questions with their hints and current values, and where it stands."""

    wave_id: int
    title: str
    progress: Progress
    pages: list[Page]
    index: int = 0
    notice: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    draft: dict[str, Any] = field(default_factory=dict)
    saved: bool = True  # False: the database did not take the write; `progress` is what was given

    @property
    def page(self) -> Page | None:
        return self.pages[self.index] if self.pages else None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.page.fields) if self.page else ()

    @property
    def first(self) -> bool:
        return self.index == 0

    @property
    def last(self) -> bool:
        return self.index >= len(self.pages) - 1

    @property
    def completed(self) -> bool:
        return self.progress.completed

    @property
    def position(self) -> tuple[int, int]:
        """(questions answered or skipped, questions shown)."""
        return self.progress.position

    @property
    def total(self) -> int:
        return len(self.progress.visible())

    @property
    def where(self) -> str:
        """Progress in words: "Page 2 of 4 · 5 of 11 questions answered"."""
        done, total = self.position
        return f"Page {self.index + 1} of {max(len(self.pages), 1)} · {done} of {total} questions answered"

    def asking(self, f: Field) -> str:
        """Where one field stands: "question 7 of 11 · row 2 of 9" (grid rows)."""
        said = f"question {f.number} of {self.total}" if f.number else ""
        row, rows = f.row_position
        return f"{said} · row {row} of {rows}" if rows else said

    @property
    def fields(self) -> list[Field]:
        if self.page is None:
            return []
        numbers = {q.id: i + 1 for i, q in enumerate(self.progress.visible())}
        out: list[Field] = []
        seen: set[str] = set()
        for pf in self.page.fields:
            q = pf.question
            answers = self.progress.answers
            value = self.draft[pf.key] if pf.key in self.draft else answers.get(pf.key)
            out.append(Field(pf.key, q, pf.row, numbers.get(q.id, 0), value, pf.key in answers,
                             self.errors.get(pf.key, ""), q.id not in seen))
            seen.add(q.id)
        return out

    @property
    def stray_errors(self) -> list[str]:
        """Problems with fields not on this page (a changed wave, a stale form)."""
        return [message for key, message in self.errors.items() if key not in self.keys]


@dataclass(frozen=True)
class Thanks:
    """Every question answered; `again` when the member had finished before."""

    wave_id: int
    title: str
    progress: Progress
    again: bool = False


@dataclass(frozen=True)
class Stopped:
    """Stopped for now: what is answered stays saved."""

    wave_id: int
    title: str


@dataclass(frozen=True)
class Notice:
    """Only a message (a closed wave, another community's survey, a save that failed)."""

    text: str
    title: str = "Survey"


Screen = PageScreen | Thanks | Stopped | Notice


def draw(
    screen: Screen, *, page: Callable[[PageScreen], T], thanks: Callable[[Thanks], T],
    notice: Callable[[str, str], T], stopped: Callable[[Stopped], T] | None = None,
) -> T:
    """A screen through a renderer's functions (`notice(text, title)`; a front end without
    its own "stopped" says so as a notice)."""
    match screen:
        case PageScreen():
            return page(screen)
        case Thanks():
            return thanks(screen)
        case Stopped():
            return stopped(screen) if stopped else notice(stopped_text(screen.title), screen.title)
        case Notice():
            return notice(screen.text, screen.title)
    raise TypeError(f"not a screen: {screen!r}")
