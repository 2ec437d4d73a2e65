"""Live results advance in steps: the released snapshot of an open wave.

Successive summaries of a live wave would otherwise give away one newcomer's answers by
subtraction (an option goes 5 → 6 between two Mondays). So results of an OPEN wave are
counted on a copy of its answers taken at a release (`released_members`, `released_choices`,
`released_values`), never on the live tables:

- a release copies every respondent of the wave as they are at that moment (their choices,
  and the numbers of number questions; free text only counts, so its text is not copied);
- the next release happens only when at least k (the minimum group size) respondents who are
  not in the snapshot have completed; until then every output shows the same numbers;
- an answer changed after a release is not shown until the next release, where it is mixed
  with at least k newcomers;
- a member who deletes their data (`/survey my-data`) is removed from the snapshot at once
  (the copy is deleted with their respondent row); because the smaller snapshot would show
  their answers by difference, the wave's live results are held back ("held") until the next
  release;
- nothing here records when or in which order anyone answered: each release copies the
  whole snapshot again, so no batch number or time sits next to an answer;
- a closed wave uses every answer; its snapshot is dropped (a reopened wave starts again
  from a release of everything, which the closed results already showed).

Releases happen when a summary asks for the live wave (weekly summary, `/survey results`,
`stateof summary`), in one transaction that locks the wave's release row, so two summaries
at once make one release.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import delete, exists, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement, Exists

from analytics.frames import not_null_value
from surveys.db import Database
from surveys.models import (
    Answer,
    AnswerChoice,
    Participation,
    ReleasedChoice,
    ReleasedMember,
    ReleasedValue,
    Response,
    WaveRelease,
    table_of,
)
from surveys.upsert import dialect_insert

log = logging.getLogger(__name__)

MEMBERS = table_of(ReleasedMember)
CHOICES = table_of(ReleasedChoice)
VALUES = table_of(ReleasedValue)
SNAPSHOT_TABLES = (VALUES, CHOICES, MEMBERS)


@dataclass(frozen=True)
class Release:
    """The snapshot a live wave's results are counted on."""

    number: int  # 0: nothing released yet
    covers: int  # respondents in the snapshot
    completed: int  # of them, those who had completed at the release
    invited: int  # members on the participation ledger at the release
    held: bool = False  # a member in the snapshot withdrew: results wait for the next release


def _in_snapshot(wave_id: int, respondent: ColumnElement[int]) -> Exists:
    m = MEMBERS.c
    return exists().where(m.wave_id == wave_id, m.respondent_id == respondent)


async def _pending(session: AsyncSession, wave_id: int) -> int:
    """Respondents who completed and are not in the snapshot."""
    r = Response.__table__.c
    stmt = select(func.count()).where(
        r.wave_id == wave_id, r.answered.is_(True), r.completed_at.is_not(None),
        ~_in_snapshot(wave_id, r.respondent_id),
    )
    return int((await session.execute(stmt)).scalar_one())


async def _state(session: AsyncSession, wave_id: int, lock: bool = False) -> tuple[Release, int]:
    """(the release as recorded, members in the snapshot now)."""
    stmt = select(WaveRelease.release, WaveRelease.covers, WaveRelease.completed, WaveRelease.invited).where(
        WaveRelease.wave_id == wave_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).one_or_none()
    members = int((await session.execute(
        select(func.count()).select_from(MEMBERS).where(MEMBERS.c.wave_id == wave_id))).scalar_one())
    if row is None:
        return Release(0, 0, 0, 0), members
    return Release(int(row.release), int(row.covers), int(row.completed), int(row.invited)), members


async def _purge_withdrawn(session: AsyncSession, wave_id: int) -> int:
    """Drop from the snapshot anyone whose response is gone (deleted without their respondent
    row); deleting the respondent row removes them through the foreign keys already."""
    r = Response.__table__.c
    gone = select(MEMBERS.c.respondent_id).where(
        MEMBERS.c.wave_id == wave_id,
        ~exists().where(r.wave_id == wave_id, r.respondent_id == MEMBERS.c.respondent_id),
    )
    ids = [rid for (rid,) in (await session.execute(gone)).all()]
    for table in SNAPSHOT_TABLES:
        if ids:
            await session.execute(delete(table).where(table.c.wave_id == wave_id,
                                                      table.c.respondent_id.in_(ids)))
    return len(ids)


async def _copy(session: AsyncSession, wave_id: int, free: Sequence[str]) -> tuple[int, int]:
    """Copy the wave's respondents as they are now; (respondents, completed)."""
    for table in SNAPSHOT_TABLES:
        await session.execute(delete(table).where(table.c.wave_id == wave_id))
    r = Response.__table__.c
    await session.execute(insert(MEMBERS).from_select(
        ["wave_id", "respondent_id", "platform", "completed"],
        select(r.wave_id, r.respondent_id, r.platform, r.completed_at.is_not(None))
        .where(r.wave_id == wave_id, r.answered.is_(True)),
    ))
    c = AnswerChoice.__table__.c
    await session.execute(insert(CHOICES).from_select(
        ["wave_id", "question_id", "row_id", "option_id", "respondent_id"],
        select(c.wave_id, c.question_id, c.row_id, c.option_id, c.respondent_id)
        .where(c.wave_id == wave_id, _in_snapshot(wave_id, c.respondent_id)),
    ))
    if free:
        a = Answer.__table__.c
        await session.execute(insert(VALUES).from_select(
            ["wave_id", "question_id", "respondent_id", "number"],
            select(a.wave_id, a.question_id, a.respondent_id, a.number)
            .where(a.wave_id == wave_id, a.question_id.in_(list(free)), a.row_id == literal(""),
                   not_null_value(), _in_snapshot(wave_id, a.respondent_id)),
        ))
    m = MEMBERS.c
    covers, completed = (await session.execute(
        select(func.count(), func.count().filter(m.completed.is_(True))).where(m.wave_id == wave_id)
    )).one()
    return int(covers), int(completed or 0)


async def live_release(db: Database, wave_id: int, k: int, free: Sequence[str]) -> Release:
    """The snapshot to count an open wave on, advanced first when at least k respondents not
    in it have completed (`free`: the wave's text and number question ids)."""
    k = max(1, k)
    async with db.session() as session:
        release, members = await _state(session, wave_id)
        pending = await _pending(session, wave_id)
    if pending < k and members == release.covers:
        return release
    async with db.session() as session:
        await session.execute(dialect_insert(session, WaveRelease).values(
            wave_id=wave_id, release=0, covers=0, completed=0, invited=0).on_conflict_do_nothing())
        release, members = await _state(session, wave_id, lock=True)
        members -= await _purge_withdrawn(session, wave_id)
        if await _pending(session, wave_id) >= k:
            covers, completed = await _copy(session, wave_id, free)
            invited = int((await session.execute(select(func.count()).select_from(Participation).where(
                Participation.wave_id == wave_id))).scalar_one())
            release = Release(release.number + 1, covers, completed, invited)
            await session.execute(table_of(WaveRelease).update().where(WaveRelease.wave_id == wave_id).values(
                release=release.number, covers=covers, completed=completed, invited=invited))
            log.info("wave %s: release %d covers %d respondents", wave_id, release.number, covers)
            return release
    if members != release.covers:
        log.info("wave %s: a member left release %d; live results held until the next", wave_id,
                 release.number)
        return replace(release, held=True)
    return release


async def forget(db: Database, wave_id: int) -> None:
    """Drop the snapshot of a wave that is no longer open (it uses every answer now)."""
    async with db.session() as session:
        found = (await session.execute(
            select(WaveRelease.wave_id).where(WaveRelease.wave_id == wave_id))).first()
        if found is None:
            return
        for table in SNAPSHOT_TABLES:
            await session.execute(delete(table).where(table.c.wave_id == wave_id))
        await session.execute(delete(WaveRelease).where(WaveRelease.wave_id == wave_id))


__all__ = ["Release", "live_release", "forget"]
