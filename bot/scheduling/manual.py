"""Manual reminder fan-outs (`/survey remind`) as durable jobs, one per wave at a time.

A moderator's remind claims the job-run row `remind:wave:<id>:manual` (an UPDATE or INSERT
that only one caller wins, whichever process it runs in), recording who asked and since
when members count as reminded; a second remind of the same wave while one runs is told
so and sends nothing. The fan-out DMs through retrying notifiers (5xx retried with jitter,
a long rate limit stops it at once) and claims each member before their DM
(`lifecycle.remind`), keeps its row fresh while it runs, records the result and DMs it to
the moderator who asked.

A process killed in the middle leaves the row `running`; the scheduler leader resumes it
(plan.py, `jobs.manual_remind`): at its start on SQLite, once the row is `STALE_AFTER` old
on PostgreSQL. The resumed run reaches only the members not yet claimed and then sends the
result DM the moderator was promised. A row whose process died can also be taken over by
the next `/survey remind` once it is stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot import lifecycle
from bot.scheduling import keys, runs
from bot.scheduling.delivery import RetryingNotifiers, RetryPolicy, Sleep
from bot.scheduling.keys import JobKey, JobKeyError
from bot.services import Services
from surveys.identity import Member
from surveys.models import JobRun, utcnow
from surveys.ports import Message, Notifier
from surveys.waves import wave_by_id

log = logging.getLogger(__name__)

SUFFIX = keys.MANUAL
HEARTBEAT = 20.0  # seconds between touches of a running fan-out's row
STALE_AFTER = timedelta(seconds=90)  # a running row untouched this long belongs to a dead process
# 0.5 s growing by 1.6× up to 30 s, ten tries (each pause shortened by up to half): a DM rides
# out about a minute of 5xx; a Retry-After above 30 s stops the fan-out instead of blocking it
RETRY = RetryPolicy(attempts=10, base=0.5, factor=1.6, cap=30.0, jitter=0.5)


def key_of(wave_id: int) -> str:
    return JobKey.wave(keys.REMIND, wave_id, SUFFIX).format()


def is_manual(key: str) -> bool:
    try:
        parsed = JobKey.parse(key)
    except JobKeyError:
        return False
    return parsed.kind == keys.REMIND and parsed.extra == SUFFIX


@dataclass(frozen=True)
class Request:
    """Who asked for a fan-out and since when members count as already reminded."""

    since: datetime
    moderator: Member | None

    def dump(self) -> str:
        who = [self.moderator.platform, self.moderator.space, self.moderator.user] if self.moderator else None
        return json.dumps({"since": self.since.isoformat(), "by": who})

    @classmethod
    def load(cls, text: str, default_since: datetime) -> Request:
        try:
            data = json.loads(text or "{}")
            since = datetime.fromisoformat(data["since"])
            who = data.get("by")
            return cls(since, Member(*who) if who else None)
        except (ValueError, KeyError, TypeError):
            return cls(default_since, None)


async def claim(services: Services, wave_id: int, request: Request, *, now: datetime | None = None) -> bool:
    """Start the wave's manual fan-out; False when one is already running (and alive)."""
    now = now or utcnow()
    key = key_of(wave_id)
    async with services.db.session() as session:
        finished = JobRun.outcome.in_([runs.DONE, runs.NOOP, runs.FAILED, runs.SKIPPED, runs.PENDING])
        stale = (JobRun.outcome == runs.RUNNING) & (JobRun.ran_at < now - STALE_AFTER)
        taken = await session.execute(
            update(JobRun).where(JobRun.job_key == key, finished | stale)
            .values(outcome=runs.RUNNING, ran_at=now, scheduled_for=now, detail=request.dump())
        )
        if taken.rowcount == 1:
            return True
        return await runs.insert_run(session, key, outcome=runs.RUNNING, now=now, scheduled_for=now,
                                     detail=request.dump())


async def running_since(services: Services, wave_id: int) -> datetime | None:
    """When the wave's running manual fan-out started (None when none runs)."""
    async with services.db.session() as session:
        row = (await session.execute(select(JobRun.scheduled_for, JobRun.ran_at).where(
            JobRun.job_key == key_of(wave_id), JobRun.outcome == runs.RUNNING))).first()
    return (row[0] or row[1]) if row else None


async def request_of(services: Services, wave_id: int, default_since: datetime) -> Request:
    async with services.db.session() as session:
        detail = (await session.execute(select(JobRun.detail).where(
            JobRun.job_key == key_of(wave_id)))).scalar_one_or_none()
    return Request.load(detail or "", default_since)


def retrying(notifiers: Mapping[str, Notifier], sleep: Sleep = asyncio.sleep) -> Mapping[str, Notifier]:
    """Notifiers that retry (idempotent wrapping: already retrying ones are kept)."""
    if isinstance(notifiers, RetryingNotifiers):
        return notifiers
    return RetryingNotifiers(notifiers, RETRY, sleep)


async def run(
    services: Services, wave_id: int, request: Request, *, notifiers: Mapping[str, Notifier] | None = None,
    now: datetime | None = None, tell: bool = True, heartbeat: float = HEARTBEAT,
) -> lifecycle.RemindResult | str:
    """Run a claimed fan-out to the end: DMs, the recorded outcome, the moderator's result DM
    (`tell`). Returns the result, or the reason nothing was sent (the wave closed)."""
    via = retrying(notifiers if notifiers is not None else services.notifiers)
    key = key_of(wave_id)
    beat = asyncio.create_task(_keep_fresh(services, key, heartbeat))
    try:
        try:
            result: lifecycle.RemindResult | str = await lifecycle.remind(
                services, wave_id, now=now, skip_reminded_since=request.since, notifiers=via)
        except lifecycle.LifecycleError as exc:
            result = str(exc)
    except BaseException:
        beat.cancel()
        raise  # a crash leaves the row running: the leader resumes it
    beat.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beat
    if isinstance(result, str):
        await runs.finish(services.db, key, runs.NOOP, result)
    else:
        outcome = runs.FAILED if result.failed and not result.sent else runs.DONE
        await runs.finish(services.db, key, outcome, summary(result))
    if tell and request.moderator is not None:
        await tell_moderator(services, via, wave_id, request.moderator, result)
    return result


def summary(result: lifecycle.RemindResult) -> str:
    text = f"sent {result.sent}, unreachable {result.unreachable}, failed {result.failed}"
    return text + (f"; {result.stopped}" if result.stopped else "")


def result_text(result: lifecycle.RemindResult | str) -> str:
    """What the moderator reads."""
    if isinstance(result, str):
        return result
    text = (f"Reminders sent: {result.sent}. Could not reach: {result.unreachable}. "
            f"Failed: {result.failed}. Those who opted out, completed, or were reminded in the "
            "last hour were skipped.")
    if result.stopped:
        text += (f" The platform asked us to wait longer than we do, so the rest were not sent "
                 f"({result.stopped.removeprefix('stopped: ')}); run /survey remind again later.")
    return text


async def tell_moderator(
    services: Services, notifiers: Mapping[str, Notifier], wave_id: int, moderator: Member,
    result: lifecycle.RemindResult | str,
) -> None:
    notifier = notifiers.get(moderator.platform)
    if notifier is None:
        log.warning("no %s connection: the result of reminders for wave %s is not DMed",
                    moderator.platform, wave_id)
        return
    async with services.db.session() as session:
        label = (await wave_by_id(session, wave_id)).label
    try:
        await notifier.dm(moderator, Message(title=f"Reminders for {label}", text=result_text(result)))
    except Exception as exc:
        log.error("could not DM the moderator the result of reminders for wave %s: %s", wave_id, exc)


async def _keep_fresh(services: Services, key: str, every: float) -> None:
    """Touch the running row, so no leader takes this live fan-out for a dead one."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            async with services.db.session() as session:
                await session.execute(update(JobRun).where(
                    JobRun.job_key == key, JobRun.outcome == runs.RUNNING).values(ran_at=utcnow()))
