"""Split the questions a respondent sees into pages for modals and ephemeral views.

A field is one input: a question, or one row of a grid. A page holds at most `max_fields`
fields; a long grid continues on the next page; a question whose `when` depends on an
answer on the same page starts a new page (its visibility is only known after submit), and
does so while still hidden, so revealing it never moves answered questions to another page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from surveys.flow import Progress
from surveys.schema import Option, Question, QuestionType
from surveys.validation import field_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageField:
    question: Question
    row: Option | None = None

    @property
    def key(self) -> str:
        return field_key(self.question.id, self.row.id if self.row else "")


@dataclass(frozen=True)
class Page:
    index: int
    fields: tuple[PageField, ...]

    def questions(self) -> list[Question]:
        seen: dict[str, Question] = {}
        for f in self.fields:
            seen.setdefault(f.question.id, f.question)
        return list(seen.values())


def paginate(
    progress: Progress, max_fields: int = 5, *, weight: Callable[[PageField], int] | None = None,
    budget: int | None = None,
) -> list[Page]:
    """The pages for the questions currently visible to this respondent. With `weight` and
    `budget` a page also ends before its fields' weights (a platform's components) pass it."""
    pages: list[list[PageField]] = []
    current: list[PageField] = []

    def flush() -> None:
        nonlocal current
        if current:
            pages.append(current)
            current = []

    shown = {q.id for q in progress.visible()}
    for q in progress.questionnaire.questions:
        ids_on_page = {f.question.id for f in current}
        if q.when is not None and q.when.question in ids_on_page:
            flush()  # even while hidden: pages stay put when an answer reveals it
        if q.id not in shown:
            continue
        fields = (
            [PageField(q, row) for row in q.rows] if q.type is QuestionType.grid else [PageField(q)]
        )
        if q.type is QuestionType.grid and current and len(current) + len(fields) > max_fields:
            flush()
        for f in fields:
            heavy = weight is not None and budget is not None and current and \
                sum(weight(x) for x in current) + weight(f) > budget
            if len(current) >= max_fields or heavy:
                flush()
            current.append(f)
    flush()
    return [Page(i, tuple(fields)) for i, fields in enumerate(pages)]


def resume_page(progress: Progress, pages: list[Page]) -> int:
    """The first page with a field not yet answered or skipped (last page when all done)."""
    for page in pages:
        if any(f.key not in progress.answers for f in page.fields):
            return page.index
    return max(len(pages) - 1, 0)


COMPLETED_NOTICE = "You have completed this survey. You can change any answer until it closes."
RESUMED_NOTICE = "Welcome back: picking up where you left off."


def opening_page(progress: Progress, pages: list[Page]) -> tuple[int, str]:
    """Where a member lands when they (re)open the survey, and the line that says why:
    the first page after finishing (to review), else the first page not yet answered."""
    if progress.completed:
        return 0, COMPLETED_NOTICE
    return resume_page(progress, pages), RESUMED_NOTICE if progress.answers else ""
