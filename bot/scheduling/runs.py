"""The job-run table (`job_runs`) makes every scheduled job idempotent.

Each occurrence of a job has a key (`open:schedule:3:2027`, `close:wave:12`,
`remind:wave:12:halfway`, `summary:community:1:2026-W48`, `summary:wave:12`,
`announce:wave:12`). A job first *claims* its key (an INSERT that only one process can win);
running it again, from this process or another, finds the key taken and does nothing.

Outcomes: `pending` (queued by another job in the same transaction, e.g. the final summary
queued when a wave closes), `running` (claimed), `done`, `noop` (nothing to do), `skipped`
(too late, see the grace times), `failed` (the platform kept failing after retries).
A `failed` occurrence is tried again after a pause (`Grace.retry_after`) while still within
its grace.

A process killed in the middle of a job leaves its row `running`. The next leader resumes
it (`claim(..., resume_before=...)` takes over a `running` row last touched before that
time: the leader's own start on SQLite, or a stale heartbeat on PostgreSQL, where a live
leader touches its running rows every few seconds). Resuming repeats nothing that was done:
each post is an item of its own, `post:<job key>:<platform>:<space>:<channel>` (keys.py), claimed before
and marked `done` with the message id after posting; a reminder run skips members already
reminded since the reminder was due. A post interrupted between its claim and its record is
not repeated (a duplicate post is worse than a missing one; the log names it).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.scheduling import keys
from surveys.db import Database
from surveys.models import JobRun
from surveys.upsert import insert_ignore

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, NOOP, SKIPPED, FAILED = "pending", "running", "done", "noop", "skipped", "failed"


async def insert_run(
    session: AsyncSession, key: str, *, outcome: str, now: datetime,
    scheduled_for: datetime | None = None, detail: str = "",
) -> bool:
    """Insert a run row unless the key exists; True when this call inserted it."""
    # RETURNING, not rowcount: drivers disagree on rowcount for INSERT ... ON CONFLICT.
    result = await session.execute(
        insert_ignore(session, JobRun, ["job_key"]).values(
            job_key=key, ran_at=now, scheduled_for=scheduled_for, outcome=outcome, detail=detail[:2000],
        ).returning(JobRun.id)
    )
    return result.scalar_one_or_none() is not None


async def claim_in(
    session: AsyncSession, key: str, *, now: datetime, scheduled_for: datetime | None = None,
    outcome: str = RUNNING, resume_before: datetime | None = None,
) -> bool:
    """Claim an occurrence inside `session`'s transaction: True for exactly one caller.

    A `pending` row (queued work) or a `failed` one (retried later) may be claimed again;
    with `resume_before`, so may a `running` row last touched before then (interrupted).
    """
    claimable = JobRun.outcome.in_([PENDING, FAILED])
    if resume_before is not None:
        claimable = or_(claimable, (JobRun.outcome == RUNNING) & (JobRun.ran_at < resume_before))
    taken = await session.execute(
        update(JobRun).where(JobRun.job_key == key, claimable).values(outcome=outcome, ran_at=now)
    )
    if taken.rowcount == 1:
        return True
    return await insert_run(session, key, outcome=outcome, now=now, scheduled_for=scheduled_for)


async def claim(
    db: Database, key: str, *, now: datetime, scheduled_for: datetime | None = None,
    resume_before: datetime | None = None,
) -> bool:
    """Claim an occurrence in its own transaction (see `claim_in`)."""
    async with db.session() as session:
        return await claim_in(session, key, now=now, scheduled_for=scheduled_for, resume_before=resume_before)


# moderators' fan-outs (bot.scheduling.manual) keep their own rows fresh
MANUAL_LIKE = keys.like(keys.REMIND, keys.WAVE, keys.MANUAL)


async def heartbeat(db: Database, *, claimed_since: datetime, now: datetime) -> int:
    """Touch the `running` rows this leader claimed (since it became leader): still alive.
    Manual fan-outs are left to the process running them (it may be another one)."""
    async with db.session() as session:
        touched = await session.execute(
            update(JobRun).where(JobRun.outcome == RUNNING, JobRun.ran_at >= claimed_since,
                                 ~JobRun.job_key.like(MANUAL_LIKE))
            .values(ran_at=now)
        )
        return touched.rowcount or 0


async def interrupted(
    session: AsyncSession, before: datetime, manual_before: datetime | None = None
) -> list[tuple[str, datetime | None, datetime]]:
    """(key, scheduled_for, ran_at) of job rows left `running` and untouched since `before`
    (a manual fan-out: since `manual_before`, as it may run in any process)."""
    manual = JobRun.job_key.like(MANUAL_LIKE)
    stale = (~manual & (JobRun.ran_at < before)) | (manual & (JobRun.ran_at < (manual_before or before)))
    rows = await session.execute(
        select(JobRun.job_key, JobRun.scheduled_for, JobRun.ran_at)
        .where(JobRun.outcome == RUNNING, stale, ~JobRun.job_key.like(f"{keys.POST}:%"))
        .order_by(JobRun.id)
    )
    return [(key, scheduled_for, ran_at) for key, scheduled_for, ran_at in rows]


async def abandon(db: Database, key: str, outcome: str, detail: str, *, before: datetime) -> bool:
    """Give up an interrupted run (too late to resume, or nothing left to do)."""
    async with db.session() as session:
        changed = await session.execute(
            update(JobRun).where(JobRun.job_key == key, JobRun.outcome == RUNNING, JobRun.ran_at < before)
            .values(outcome=outcome, detail=detail[:2000])
        )
        return changed.rowcount == 1


async def finish(db: Database, key: str, outcome: str, detail: str = "") -> None:
    metrics.JOB_RUNS.labels(keys.kind_of(key), outcome).inc()
    async with db.session() as session:
        await session.execute(
            update(JobRun).where(JobRun.job_key == key).values(outcome=outcome, detail=detail[:2000])
        )


async def mark_failed(
    db: Database, key: str, detail: str, *, now: datetime, scheduled_for: datetime | None = None
) -> None:
    """A job raised: mark its pending or running row failed (or add one); final rows stay."""
    metrics.JOB_RUNS.labels(keys.kind_of(key), FAILED).inc()
    async with db.session() as session:
        changed = await session.execute(
            update(JobRun).where(JobRun.job_key == key, JobRun.outcome.in_([PENDING, RUNNING]))
            .values(outcome=FAILED, detail=detail[:2000])
        )
        if changed.rowcount == 0:
            await insert_run(session, key, outcome=FAILED, now=now, scheduled_for=scheduled_for,
                             detail=detail)


async def record(
    db: Database, key: str, outcome: str, detail: str, *, now: datetime,
    scheduled_for: datetime | None = None,
) -> bool:
    """Record a final outcome for an occurrence that did not run (e.g. skipped)."""
    async with db.session() as session:
        return await insert_run(session, key, outcome=outcome, now=now, scheduled_for=scheduled_for,
                                detail=detail)


async def outcomes(session: AsyncSession, keys: list[str]) -> dict[str, tuple[str, datetime]]:
    """(outcome, ran_at) per key, for the keys that have a row."""
    found: dict[str, tuple[str, datetime]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        rows = await session.execute(
            select(JobRun.job_key, JobRun.outcome, JobRun.ran_at).where(JobRun.job_key.in_(chunk))
        )
        found.update({key: (outcome, ran_at) for key, outcome, ran_at in rows})
    return found


async def get_run(db: Database, key: str) -> JobRun | None:
    async with db.session() as session:
        return (await session.execute(select(JobRun).where(JobRun.job_key == key))).scalar_one_or_none()
