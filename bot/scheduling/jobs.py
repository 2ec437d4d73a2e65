"""The scheduled jobs. Each is idempotent through its job-run key (see runs.py).

State changes and their job-run rows are written in one transaction (opening a wave and
recording `open:schedule:3:2027`; closing a wave and recording `close:wave:12`), and the
posts that follow are queued as `pending` rows in that same transaction, so a process that
stops in between leaves work the next leader picks up, never a half-done state.

Jobs that post or DM work item by item, so one interrupted halfway is resumed by the next
leader without repeating what went out: every post is claimed and recorded on its own
(`_post_once`), and a reminder run skips members already reminded since it was due.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot import lifecycle
from bot.scheduling import keys, manual, runs
from bot.scheduling.clock import Clock
from bot.scheduling.keys import JobKey
from bot.scheduling.plan import (
    ANNOUNCE,
    CLOSE,
    FINAL_SUMMARY,
    MANUAL_REMIND,
    OPEN,
    OPEN_WAVE,
    REMIND,
    WEEKLY,
    PlannedJob,
)
from bot.scheduling.weekly import weekly_posts
from bot.services import Services
from surveys.models import Community, JobRun, Schedule, Wave, WaveStatus
from surveys.ports import ChannelRef, Message
from surveys.waves import close_wave, create_wave, find_wave, open_wave, questionnaire_of

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What jobs run with: services whose notifiers retry (or write a dry-run file), a clock."""

    services: Services
    clock: Clock


async def run_job(ctx: JobContext, job: PlannedJob) -> str:
    """Run one planned job; returns the outcome. Exceptions are the caller's to log."""
    handler = {
        OPEN: open_from_schedule, OPEN_WAVE: open_scheduled_wave, ANNOUNCE: announce,
        REMIND: remind, CLOSE: close, FINAL_SUMMARY: final_summary, WEEKLY: weekly_summary,
        MANUAL_REMIND: manual_remind,
    }[job.kind]
    try:
        return await handler(ctx, job)
    except Exception as exc:
        # Recorded so the plan does not hand the same failing occurrence back at once.
        await runs.mark_failed(ctx.services.db, job.key, f"{type(exc).__name__}: {exc}", now=ctx.clock.now(),
                               scheduled_for=job.run_at)
        raise


async def _then(ctx: JobContext, job: PlannedJob) -> None:
    """Run a follow-up job (announce after open, summary after close); its failure is its own."""
    try:
        await run_job(ctx, job)
    except Exception:
        log.exception("%s failed", job.key)


async def _set_outcome(session, key: str, outcome: str, detail: str) -> None:
    await session.execute(update(JobRun).where(JobRun.job_key == key).values(outcome=outcome, detail=detail))


async def open_from_schedule(ctx: JobContext, job: PlannedJob) -> str:
    """Open the wave a schedule makes at `job.run_at` (labelled from that time), then announce it."""
    now = ctx.clock.now()
    services = ctx.services
    async with services.db.session() as session:
        schedule = await session.get(Schedule, job.ref_id)
        if schedule is None or not schedule.enabled:
            log.info("schedule %s is gone or disabled: nothing to open", job.ref_id)
            return runs.NOOP
        community = await session.get(Community, schedule.community_id)
        assert community is not None
        if not await runs.claim_in(session, job.key, outcome=runs.DONE, now=now, scheduled_for=job.run_at):
            log.info("%s already ran", job.key)
            return runs.NOOP
        qn = services.catalog.get(schedule.survey_id)
        label = job.extra
        # The duration counts in local time: a wave opening at 09:00 closes at 09:00 across DST.
        local_open = job.run_at.astimezone(ZoneInfo(schedule.timezone))
        closes_at = (local_open + timedelta(seconds=schedule.duration_seconds)).astimezone(UTC)
        wave = await find_wave(session, community.id, qn.id, label)
        if wave is None:
            wave = await create_wave(
                session, community, qn, label, opens_at=job.run_at.astimezone(UTC), closes_at=closes_at,
                channels=list(schedule.channels), status=WaveStatus.open, schedule_id=schedule.id,
            )
            wave.opened_at = now
            wave.reminders = list(schedule.reminders)
        elif wave.status == WaveStatus.scheduled.value:
            open_wave(wave, now)
            wave.closes_at = wave.closes_at or closes_at
            wave.channels = wave.channels or list(schedule.channels)
            wave.schedule_id = wave.schedule_id or schedule.id
        else:
            detail = f"wave {label} is already {wave.status}"
            log.warning("schedule %s: not opening %s: %s", schedule.id, label, detail)
            await _set_outcome(session, job.key, runs.NOOP, detail)
            return runs.NOOP
        await session.flush()
        wave_id = wave.id
        late = now - job.run_at
        detail = f"opened wave {wave_id}" + (f" ({late} late)" if late > timedelta(minutes=1) else "")
        await _set_outcome(session, job.key, runs.DONE, detail)
        await runs.insert_run(session, JobKey.wave(keys.ANNOUNCE, wave_id).format(), outcome=runs.PENDING,
                              now=now, scheduled_for=now)
    log.info("opened wave %s of %s (schedule %s)", label, qn.id, job.ref_id)
    await _then(ctx, _announce_job(job, wave_id))
    return runs.DONE


async def open_scheduled_wave(ctx: JobContext, job: PlannedJob) -> str:
    """Open a wave created in advance with an `opens_at` time, then announce it."""
    now = ctx.clock.now()
    async with ctx.services.db.session() as session:
        wave = await session.get(Wave, job.ref_id)
        if wave is None:
            return runs.NOOP
        if not await runs.claim_in(session, job.key, outcome=runs.DONE, now=now, scheduled_for=job.run_at):
            return runs.NOOP
        if wave.status != WaveStatus.scheduled.value:
            await _set_outcome(session, job.key, runs.NOOP, f"wave is already {wave.status}")
            return runs.NOOP
        open_wave(wave, now)
        await runs.insert_run(session, JobKey.wave(keys.ANNOUNCE, wave.id).format(), outcome=runs.PENDING,
                              now=now, scheduled_for=now)
    log.info("opened scheduled wave %s", job.extra)
    await _then(ctx, _announce_job(job, job.ref_id))
    return runs.DONE


def _announce_job(job: PlannedJob, wave_id: int) -> PlannedJob:
    key = JobKey.wave(keys.ANNOUNCE, wave_id).format()
    return PlannedJob(key, ANNOUNCE, key, job.run_at, None, job.community_id, wave_id, "announcement")


async def _claim(ctx: JobContext, job: PlannedJob) -> bool:
    """Claim the job's occurrence (taking over an interrupted run when resuming)."""
    claimed = await runs.claim(ctx.services.db, job.key, now=ctx.clock.now(), scheduled_for=job.run_at,
                               resume_before=job.resume_before)
    if claimed and job.resume_before is not None:
        log.warning("resuming %s: a process stopped while running it; what it did is not repeated", job.key)
    return claimed


async def announce(ctx: JobContext, job: PlannedJob) -> str:
    """Post the announcement in each of the wave's channels once, and invite their members."""
    if not await _claim(ctx, job):
        return runs.NOOP
    async with ctx.services.db.session() as session:
        wave = await session.get(Wave, job.ref_id)
        community = await session.get(Community, wave.community_id) if wave else None
    if wave is None or community is None or wave.status != WaveStatus.open.value:
        await runs.finish(ctx.services.db, job.key, runs.NOOP, "wave is not open")
        return runs.NOOP
    message = lifecycle.announcement(wave, community.timezone, ctx.services.settings.min_group_size)
    posted = 0
    for raw in wave.channels:
        channel = ChannelRef.from_dict(raw)
        try:
            if await _post_once(ctx, job.key, channel, message) != runs.FAILED:
                posted += 1
            await lifecycle.invite_channel(ctx.services, wave, channel)
        except Exception:  # a platform failure must not undo the opened wave
            log.exception("could not announce wave %s in %s", wave.label, channel)
    channels = len(wave.channels)
    outcome = runs.FAILED if channels and not posted else runs.DONE
    await runs.finish(ctx.services.db, job.key, outcome, f"announced in {posted} of {channels} channel(s)")
    return outcome


async def remind(ctx: JobContext, job: PlannedJob) -> str:
    """DM those who have not completed; members reminded since the reminder was due are skipped,
    so a run resumed after an interruption only reaches the rest."""
    now = ctx.clock.now()
    if not await _claim(ctx, job):
        return runs.NOOP
    async with ctx.services.db.session() as session:
        wave = await session.get(Wave, job.ref_id)
        status = wave.status if wave else None
    if status != WaveStatus.open.value:
        await runs.finish(ctx.services.db, job.key, runs.NOOP, "wave is not open")
        return runs.NOOP
    result = await lifecycle.remind(ctx.services, job.ref_id, now=now, skip_reminded_since=job.run_at)
    detail = f"sent {result.sent}, unreachable {result.unreachable}, failed {result.failed}"
    outcome = runs.FAILED if result.failed and not result.sent else runs.DONE
    await runs.finish(ctx.services.db, job.key, outcome, detail)
    return outcome


async def manual_remind(ctx: JobContext, job: PlannedJob) -> str:
    """Resume a moderator's fan-out a dead process left running: the members it did not claim
    yet are reminded, and the moderator gets the result DM they were promised."""
    if not await _claim(ctx, job):
        return runs.NOOP
    request = await manual.request_of(ctx.services, job.ref_id, default_since=job.run_at)
    result = await manual.run(ctx.services, job.ref_id, request, notifiers=ctx.services.notifiers,
                              now=ctx.clock.now())
    if isinstance(result, str):
        return runs.NOOP
    return runs.FAILED if result.failed and not result.sent else runs.DONE


async def close(ctx: JobContext, job: PlannedJob) -> str:
    """Close a wave at its close time; a close that was missed closes now, recording that time."""
    now = ctx.clock.now()
    async with ctx.services.db.session() as session:
        wave = await session.get(Wave, job.ref_id)
        if wave is None:
            return runs.NOOP
        if not await runs.claim_in(session, job.key, outcome=runs.DONE, now=now,
                                   scheduled_for=wave.closes_at):
            return runs.NOOP
        if wave.status != WaveStatus.open.value:
            await _set_outcome(session, job.key, runs.NOOP, f"wave was already {wave.status}")
            return runs.NOOP
        when = wave.closes_at or job.run_at
        close_wave(wave, when)
        late = now - when
        detail = f"closed at {when.isoformat()}" + (f", {late} late" if late > timedelta(0) else "")
        await _set_outcome(session, job.key, runs.DONE, detail)
        await runs.insert_run(session, JobKey.wave(keys.SUMMARY, wave.id).format(), outcome=runs.PENDING,
                              now=now, scheduled_for=when)
        label = wave.label
    log.info("closed wave %s (close time %s)", label, when.isoformat())
    key = JobKey.wave(keys.SUMMARY, job.ref_id).format()
    await _then(ctx, PlannedJob(key, FINAL_SUMMARY, key, when, None, job.community_id, job.ref_id,
                                        "final summary"))
    return runs.DONE


async def final_summary(ctx: JobContext, job: PlannedJob) -> str:
    """Post the results of a closed wave (summary channels, else the wave's channels)."""
    services = ctx.services
    if not await _claim(ctx, job):
        return runs.NOOP
    async with services.db.session() as session:
        wave = await session.get(Wave, job.ref_id)
        assert wave is not None
        community = await session.get(Community, wave.community_id)
        assert community is not None
    title = f"{questionnaire_of(wave).title} {wave.label} has closed: the results"
    try:
        message = await lifecycle.summary_message(services, wave, title=title)
    except Exception:
        log.exception("final summary of wave %s: the analytics part failed", wave.label)
        message = Message(title=title, text="The results could not be computed; see the logs.")
    targets = list(community.summary_channels or wave.channels)
    return await _post_all(ctx, job.key, targets, message)


async def weekly_summary(ctx: JobContext, job: PlannedJob) -> str:
    services = ctx.services
    now = ctx.clock.now()
    if not await _claim(ctx, job):
        return runs.NOOP
    async with services.db.session() as session:
        community = await session.get(Community, job.ref_id)
    if community is None or community.weekly_summary_cron is None:
        await runs.finish(services.db, job.key, runs.NOOP, "weekly summary is off")
        return runs.NOOP
    posts = await weekly_posts(services, community, job.run_at, now)
    if not posts:
        await runs.finish(services.db, job.key, runs.NOOP,
                          "nothing to post (no summary channel, or the wave just opened)")
        return runs.NOOP
    # Each message is its own item (by title: one per open wave), so a resumed run posts the rest.
    outcomes = [await _post_all(ctx, job.key, targets, message, finish=False,
                                part=hashlib.sha256(message.title.encode()).hexdigest()[:10])
                for targets, message in posts]
    outcome = runs.DONE if runs.DONE in outcomes else outcomes[0]
    await runs.finish(services.db, job.key, outcome, f"{len(posts)} message(s)")
    return outcome


async def _post_once(ctx: JobContext, key: str, channel: ChannelRef, message: Message, part: str = "") -> str:
    """Post `message` to `channel` for job `key` unless that already happened: the post is an
    item claimed first and recorded `done` with the message id after, so a job run again
    (resumed, or by two leaders at once) never posts twice. DONE when posted now or before,
    SKIPPED when an earlier run was interrupted in the middle of this very post (not
    repeated: it may have gone out), FAILED when there is no connection; raises when the
    platform keeps failing (the item can then be tried again)."""
    db = ctx.services.db
    item = keys.post_item(key, channel.platform, channel.space, channel.channel, part)
    if not await runs.claim(db, item, now=ctx.clock.now()):
        found = await runs.get_run(db, item)
        if found is not None and found.outcome == runs.RUNNING:
            detail = "interrupted while posting; not repeated (it may have gone out)"
            await runs.finish(db, item, runs.SKIPPED, detail)
            log.warning("%s: %s in %s:%s", key, detail, channel.platform, channel.channel)
            return runs.SKIPPED
        return runs.DONE
    try:
        ref = await ctx.services.post(channel, message)
    except Exception as exc:
        await runs.mark_failed(db, item, f"{type(exc).__name__}: {exc}", now=ctx.clock.now())
        raise
    if ref is None:
        await runs.mark_failed(db, item, "no connection", now=ctx.clock.now())
        return runs.FAILED
    await runs.finish(db, item, runs.DONE, f"message {ref}")
    return runs.DONE


async def _post_all(ctx: JobContext, key: str, targets: list[dict], message: Message,
                    finish: bool = True, part: str = "") -> str:
    """Post to every target once; platform errors (after retries) are logged and recorded."""
    posted, problems = 0, []
    for raw in targets:
        channel = ChannelRef.from_dict(raw)
        try:
            if await _post_once(ctx, key, channel, message, part) != runs.FAILED:
                posted += 1
            else:
                problems.append(f"{channel.platform}:{channel.channel}: no connection")
        except Exception as exc:
            log.error("%s: could not post to %s %s: %s", key, channel.platform, channel.channel, exc)
            problems.append(f"{channel.platform}:{channel.channel}: {type(exc).__name__}: {exc}")
    if not targets:
        outcome, detail = runs.NOOP, "no channel to post to"
    else:
        outcome = runs.DONE if posted else runs.FAILED
        detail = f"posted to {posted} of {len(targets)} channel(s)" + (
            "; " + "; ".join(problems) if problems else "")
    if finish:
        await runs.finish(ctx.services.db, key, outcome, detail)
    if outcome == runs.FAILED:
        log.error("%s: %s", key, detail)
    return outcome
