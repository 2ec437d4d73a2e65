"""Small tidy pandas frames from the database: one aggregate query per need.

Every query GROUPs BY in the database; no answer row is pulled into Python (except the
values of number questions, one float per respondent, for the quartiles). The counts come
from `answer_choices` through its covering index `ix_answer_choices_count` (wave, question,
row, option, respondent): SQLite and PostgreSQL count them without touching the table.

A segment (`--where`, platform) is a set of respondents expressed as `respondent_id IN
(subquery)` conditions, so the same queries serve the whole wave and any segment.

An open wave is counted on its released snapshot (`WaveQuery.released`, see
analytics.releases): the same queries on copies of the same shape.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Text, and_, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from analytics.derived import DerivedCondition, DerivedSpec, members
from surveys.db import Database
from surveys.models import (
    Answer,
    AnswerChoice,
    Participation,
    ReleasedChoice,
    ReleasedMember,
    ReleasedValue,
    Response,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
CHOICES = AnswerChoice.__table__
ANSWERS = Answer.__table__
RESPONSES = Response.__table__
RELEASED_CHOICES = ReleasedChoice.__table__
RELEASED_MEMBERS = ReleasedMember.__table__
RELEASED_VALUES = ReleasedValue.__table__

COUNT_COLUMNS = ["question_id", "row_id", "option_id", "n"]
ANSWERED_COLUMNS = ["question_id", "row_id", "answered"]


@dataclass(frozen=True)
class Condition:
    """Respondents who chose one of `options` (ids as stored, former ids included)."""

    question_id: str
    row_ids: tuple[str, ...]  # ("",) outside grids
    options: tuple[str, ...]


@dataclass(frozen=True)
class Segment:
    """Respondents matching every condition (AND), and answering on `platform` if given."""

    conditions: tuple[Condition | DerivedCondition, ...] = ()
    platform: str | None = None

    def filters(
        self, wave_id: int, respondent: ColumnElement[Any], released: bool = False
    ) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        choices = RELEASED_CHOICES if released else CHOICES
        for cond in self.conditions:
            if isinstance(cond, DerivedCondition):
                out.append(cond.filter(wave_id, respondent, released))
                continue
            members = select(choices.c.respondent_id).where(
                choices.c.wave_id == wave_id,
                choices.c.question_id == cond.question_id,
                choices.c.row_id.in_(cond.row_ids),
                choices.c.option_id.in_(cond.options),
            )
            out.append(respondent.in_(members))
        if self.platform:
            people = RELEASED_MEMBERS if released else RESPONSES
            on_platform = select(people.c.respondent_id).where(
                people.c.wave_id == wave_id, people.c.platform == self.platform
            )
            out.append(respondent.in_(on_platform))
        return out


@dataclass(frozen=True)
class WaveQuery:
    """What to aggregate for one wave: the question ids it asked, by kind."""

    wave_id: int
    choice: tuple[str, ...]  # single, multi, country, grid
    multi: tuple[str, ...]  # answered = distinct respondents
    free: tuple[str, ...]  # text and number: answered = non-null answers
    number: tuple[str, ...]
    all_choice: bool = False  # every choice question of the wave: no IN list needed
    segment: Segment = field(default_factory=Segment)
    keepable: bool = False  # a closed wave, whole: its aggregates may be kept (analytics.cache)
    released: bool = False  # an open wave: count its released snapshot (analytics.releases)
    derived: tuple[DerivedSpec, ...] = ()  # derived fields to count (analytics.derived)

    def filters(self, respondent: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        return self.segment.filters(self.wave_id, respondent, self.released)

    @property
    def choices(self) -> Any:
        return RELEASED_CHOICES if self.released else CHOICES


@dataclass
class WaveFrames:
    """Aggregates of one wave (or of a segment of it)."""

    wave_id: int
    respondents: int
    completed: int
    invited: int
    counts: pd.DataFrame  # question_id, row_id, option_id, n
    answered: pd.DataFrame  # question_id, row_id, answered (multi, text, number)
    numbers: pd.DataFrame  # question_id, number


def not_null_value() -> ColumnElement[bool]:
    """A stored answer that is not a skip (a skip is JSON null, not SQL NULL)."""
    return and_(ANSWERS.c.value.is_not(None), cast(ANSWERS.c.value, Text) != "null")


def _frame(rows: Sequence[Any], columns: list[str], categorical: Sequence[str] = ()) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for col in categorical:
        frame[col] = frame[col].astype("category")
    return frame


async def count_choices(session: AsyncSession, q: WaveQuery) -> pd.DataFrame:
    """Respondents per (question, row, option): one index-only GROUP BY."""
    if not q.choice:
        return _frame([], COUNT_COLUMNS)
    c = q.choices.c
    stmt = (
        select(c.question_id, c.row_id, c.option_id, func.count().label("n"))
        .where(c.wave_id == q.wave_id, *q.filters(c.respondent_id))
        .group_by(c.question_id, c.row_id, c.option_id)
    )
    if not q.all_choice:
        stmt = stmt.where(c.question_id.in_(q.choice))
    rows = (await session.execute(stmt)).all()
    return _frame(rows, COUNT_COLUMNS, ["question_id", "row_id", "option_id"])


async def count_derived(session: AsyncSession, q: WaveQuery) -> pd.DataFrame:
    """Respondents per value of each derived field, counted like a single-choice question."""
    rows: list[tuple[str, str, str, int]] = []
    people = members(q.released).c
    for spec in q.derived:
        value = spec.value(q.wave_id, people.respondent_id, q.released).label("value")
        stmt = select(value, func.count()).where(people.wave_id == q.wave_id,
                                                 *q.filters(people.respondent_id))
        if not q.released:
            stmt = stmt.where(people.answered.is_(True))
        for option, n in (await session.execute(stmt.group_by(value))).all():
            if option is not None:
                rows.append((spec.question_id, "", str(option), int(n)))
    return _frame(rows, COUNT_COLUMNS)


async def multi_answered(session: AsyncSession, q: WaveQuery) -> pd.DataFrame:
    """Distinct respondents per multi question (a respondent picks several options)."""
    if not q.multi:
        return _frame([], ANSWERED_COLUMNS)
    c = q.choices.c
    stmt = (
        select(c.question_id, literal("").label("row_id"),
               func.count(c.respondent_id.distinct()).label("answered"))
        .where(c.wave_id == q.wave_id, c.question_id.in_(q.multi), *q.filters(c.respondent_id))
        .group_by(c.question_id)
    )
    return _frame((await session.execute(stmt)).all(), ANSWERED_COLUMNS)


async def free_answered(session: AsyncSession, q: WaveQuery) -> pd.DataFrame:
    """Non-skipped answers per text or number question."""
    if not q.free:
        return _frame([], ANSWERED_COLUMNS)
    if q.released:  # the snapshot holds non-skipped answers only
        v = RELEASED_VALUES.c
        stmt = (
            select(v.question_id, literal("").label("row_id"), func.count().label("answered"))
            .where(v.wave_id == q.wave_id, v.question_id.in_(q.free), *q.filters(v.respondent_id))
            .group_by(v.question_id)
        )
        return _frame((await session.execute(stmt)).all(), ANSWERED_COLUMNS)
    a = ANSWERS.c
    stmt = (
        select(a.question_id, literal("").label("row_id"), func.count().label("answered"))
        .where(a.wave_id == q.wave_id, a.question_id.in_(q.free), not_null_value(),
               *q.filters(a.respondent_id))
        .group_by(a.question_id)
    )
    return _frame((await session.execute(stmt)).all(), ANSWERED_COLUMNS)


async def number_values(session: AsyncSession, q: WaveQuery) -> pd.DataFrame:
    """The values of number questions (one float per respondent) for median and quartiles."""
    if not q.number:
        return _frame([], ["question_id", "number"])
    a = RELEASED_VALUES.c if q.released else ANSWERS.c
    stmt = select(a.question_id, a.number).where(
        a.wave_id == q.wave_id, a.question_id.in_(q.number), a.number.is_not(None),
        *q.filters(a.respondent_id),
    )
    return _frame((await session.execute(stmt)).all(), ["question_id", "number"])


async def respondents(session: AsyncSession, q: WaveQuery) -> tuple[int, int]:
    """(respondents, completed): those with at least one non-skipped answer in the wave (the
    flow and the importer keep `responses.answered`, so this reads one row per respondent)."""
    if q.released:
        m = RELEASED_MEMBERS.c
        stmt = select(func.count(), func.count().filter(m.completed.is_(True))).where(
            m.wave_id == q.wave_id, *q.filters(m.respondent_id))
        total, completed = (await session.execute(stmt)).one()
        return int(total), int(completed or 0)
    r = RESPONSES.c
    stmt = select(
        func.count(), func.count(r.completed_at)
    ).where(r.wave_id == q.wave_id, r.answered.is_(True), *q.filters(r.respondent_id))
    total, completed = (await session.execute(stmt)).one()
    return int(total), int(completed or 0)


async def invited(session: AsyncSession, wave_id: int) -> int:
    """Members on the participation ledger (invited or started) of the wave."""
    stmt = select(func.count()).select_from(Participation).where(Participation.wave_id == wave_id)
    return int((await session.execute(stmt)).scalar_one())


async def distinct_choosers(
    session: AsyncSession, wave_id: int, question_id: str, options: Sequence[str], segment: Segment,
    released: bool = False,
) -> int:
    """Respondents choosing any of `options` (a renamed option merged from several old ones)."""
    c = (RELEASED_CHOICES if released else CHOICES).c
    stmt = select(func.count(c.respondent_id.distinct())).where(
        c.wave_id == wave_id, c.question_id == question_id, c.option_id.in_(options),
        *segment.filters(wave_id, c.respondent_id, released),
    )
    return int((await session.execute(stmt)).scalar_one())


# PostgreSQL settings for one counting transaction (SET LOCAL: they end with it). The count
# queries read the covering index in order (index-only scan, streaming GROUP BY) instead of
# scanning the whole table once per wave, which the default random_page_cost of 4 prefers;
# the multi-choice `count(DISTINCT respondent)` sorts in memory instead of on disk.
PG_COUNTING = ("SET LOCAL work_mem = '64MB'", "SET LOCAL random_page_cost = 1.1")


async def tune_for_counting(session: AsyncSession, dialect: str) -> None:
    """Apply PG_COUNTING to the session's transaction (nothing on SQLite)."""
    if dialect != "postgresql":
        return
    for statement in PG_COUNTING:
        await session.execute(text(statement))


def parallelism() -> int:
    return max(2, min(8, os.cpu_count() or 2))


async def run_parallel(
    db: Database, jobs: Sequence[Callable[[AsyncSession], Awaitable[T]]], limit: int | None = None
) -> list[T]:
    """Run read-only queries concurrently, each on its own connection (SQLite reads in parallel
    under WAL; PostgreSQL runs them in separate backends)."""
    gate = asyncio.Semaphore(limit or parallelism())

    async def one(job: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with gate, db.sessions() as session:
            await tune_for_counting(session, db.dialect)
            return await job(session)

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def count_waves(db: Database, queries: Sequence[WaveQuery]) -> list[WaveFrames]:
    """Count the frames of several waves; all their queries run concurrently."""
    if not queries:
        return []
    kinds: list[Callable[[AsyncSession, WaveQuery], Awaitable[Any]]] = [
        count_choices, respondents, multi_answered, free_answered, number_values,
        lambda s, q: invited(s, q.wave_id), count_derived,
    ]
    jobs = [(lambda s, kind=kind, q=q: kind(s, q)) for kind in kinds for q in queries]
    results = await run_parallel(db, jobs)
    n = len(queries)
    out = []
    for i, q in enumerate(queries):
        counts, (total, completed), multi, free, numbers, invited_n, derived = results[i::n]
        if len(derived):
            counts = pd.concat([counts, derived], ignore_index=True)
            for col in ("question_id", "row_id", "option_id"):
                counts[col] = counts[col].astype(str).astype("category")
        answered = pd.concat([multi, free], ignore_index=True) if len(free) else multi
        out.append(WaveFrames(q.wave_id, total, completed, invited_n, counts, answered, numbers))
    return out
