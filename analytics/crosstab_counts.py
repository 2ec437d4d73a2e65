"""The counts behind a cross-tab: one GROUP BY per need, joining a question's choices with the
group (the `--by` question) each respondent is in.

Counts are keyed by the *stored* option ids of the group question (`NO_GROUP` for those who
did not answer it); the caller maps former ids and merges small groups. An open wave is
counted on its released snapshot (analytics.releases), like every other result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.frames import CHOICES, RELEASED_CHOICES, RELEASED_MEMBERS, RESPONSES, Segment

log = logging.getLogger(__name__)

NO_GROUP = "\0none"  # did not answer the group question (SQL gives "": no option id is empty)


@dataclass
class GroupCounts:
    """One wave (or segment) split by the groups of another question."""

    bases: dict[str, int]  # group → respondents (or those a conditional question was asked)
    cells: dict[tuple[str, str], int]  # (group, stored option id) → respondents choosing it
    answered: dict[str, int]  # group → respondents who answered the question


def _group_join(
    choices: Any, respondent: Any, wave_id: int, by: str, row: str
) -> tuple[Any, Any]:
    """An aliased choices table of the group question joined on the respondent."""
    b = choices.alias("grp")
    on = and_(b.c.wave_id == wave_id, b.c.question_id == by, b.c.row_id == row,
              b.c.respondent_id == respondent)
    return b, on


async def group_counts(
    session: AsyncSession, *, wave_id: int, question: str, by: str, segment: Segment,
    released: bool, condition: tuple[str, Sequence[str]] | None = None, by_row: str = "",
) -> GroupCounts:
    """Counts of `question` per group of `by` (single choice: at most one group a person).

    `condition`: (question, stored option ids) of a conditional question's `when`; the base of
    each group is then those it was shown to."""
    choices = RELEASED_CHOICES if released else CHOICES
    t = choices.alias("target")
    b, on = _group_join(choices, t.c.respondent_id, wave_id, by, by_row)
    group = func.coalesce(b.c.option_id, literal("")).label("grp")
    stmt = (
        select(group, t.c.option_id, func.count().label("n"))
        .select_from(t.outerjoin(b, on))
        .where(t.c.wave_id == wave_id, t.c.question_id == question,
               *segment.filters(wave_id, t.c.respondent_id, released))
        .group_by(group, t.c.option_id)
    )
    cells = {(str(g) or NO_GROUP, str(o)): int(n) for g, o, n in (await session.execute(stmt)).all()}
    answered_stmt = (
        select(group, func.count(t.c.respondent_id.distinct()))
        .select_from(t.outerjoin(b, on))
        .where(t.c.wave_id == wave_id, t.c.question_id == question,
               *segment.filters(wave_id, t.c.respondent_id, released))
        .group_by(group)
    )
    answered = {str(g) or NO_GROUP: int(n) for g, n in (await session.execute(answered_stmt)).all()}
    if condition is not None:
        c = choices.alias("cond")
        b2, on2 = _group_join(choices, c.c.respondent_id, wave_id, by, by_row)
        group2 = func.coalesce(b2.c.option_id, literal("")).label("grp")
        base_stmt = (
            select(group2, func.count(c.c.respondent_id.distinct()))
            .select_from(c.outerjoin(b2, on2))
            .where(c.c.wave_id == wave_id, c.c.question_id == condition[0],
                   c.c.option_id.in_(tuple(condition[1])),
                   *segment.filters(wave_id, c.c.respondent_id, released))
            .group_by(group2)
        )
    else:
        people = RELEASED_MEMBERS if released else RESPONSES
        p = people.alias("people")
        b2, on2 = _group_join(choices, p.c.respondent_id, wave_id, by, by_row)
        group2 = func.coalesce(b2.c.option_id, literal("")).label("grp")
        base_stmt = (
            select(group2, func.count())
            .select_from(p.outerjoin(b2, on2))
            .where(p.c.wave_id == wave_id, *([] if released else [p.c.answered.is_(True)]),
                   *segment.filters(wave_id, p.c.respondent_id, released))
            .group_by(group2)
        )
    bases = {str(g) or NO_GROUP: int(n) for g, n in (await session.execute(base_stmt)).all()}
    return GroupCounts(bases=bases, cells=cells, answered=answered)


__all__ = ["NO_GROUP", "GroupCounts", "group_counts"]
