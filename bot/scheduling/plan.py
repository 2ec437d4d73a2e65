"""What should run, and when: computed from the database alone (the source of truth).

`build_plan` reads schedules, waves, communities and job runs and returns one planned job per
thing that will happen next (APScheduler job ids derive from row ids), plus the occurrences
that were missed for longer than their grace time (to be skipped and logged). The scheduler
applies the plan to APScheduler at start-up and after every change; `/survey status` lists it.

Missed runs: an occurrence in the past that has no job-run row runs at once when within its
grace time (open: half the wave's duration; reminder: 12 h and before the close; weekly
summary: 1 day; close and announcement: always; final summary: 7 days), else it is skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lifecycle import parse_duration
from bot.scheduling import keys, runs
from bot.scheduling.keys import JobKey, JobKeyError
from bot.scheduling.labels import wave_label
from bot.scheduling.schedules import (
    ScheduleError,
    cron_trigger,
    last_fire,
    next_fire,
    reminder_fraction,
    reminder_points,
)
from surveys.catalog import Catalog
from surveys.models import Community, JobRun, Schedule, Wave, WaveStatus
from surveys.waves import questionnaire_of

log = logging.getLogger(__name__)

OPEN, OPEN_WAVE, ANNOUNCE, REMIND, CLOSE, FINAL_SUMMARY, WEEKLY = (
    "open", "open-wave", "announce", "remind", "close", "final-summary", "summary",
)
MANUAL_REMIND = "manual-remind"  # a moderator's `/survey remind` resumed (bot.scheduling.manual)


@dataclass(frozen=True)
class Grace:
    """How late each kind of job may still run (None: always)."""

    open_fraction: float = 0.5  # of the wave's duration
    remind: timedelta = timedelta(hours=12)
    summary: timedelta = timedelta(days=1)
    final_summary: timedelta = timedelta(days=7)
    schedule_lookback: timedelta = timedelta(days=400)
    summary_lookback: timedelta = timedelta(days=8)
    retry_after: timedelta = timedelta(minutes=10)  # a failed occurrence is tried again then


@dataclass(frozen=True)
class PlannedJob:
    job_id: str  # APScheduler id, derived from the row id (stable across syncs)
    kind: str
    key: str  # job-run key of this occurrence
    run_at: datetime
    grace: timedelta | None
    community_id: int
    ref_id: int  # schedule, wave or community id
    what: str  # for people: "close of State of MLOps 2026"
    extra: str = ""  # label, reminder point or week
    due: datetime | None = None  # when to run, if not `run_at` (a retry after a failure)
    resume_before: datetime | None = None  # resuming an interrupted run (see runs.claim_in)

    @property
    def when(self) -> datetime:
        return self.due or self.run_at


@dataclass(frozen=True)
class Skip:
    key: str
    run_at: datetime
    community_id: int
    reason: str


@dataclass(frozen=True)
class Abandon:
    """An interrupted run not to resume: (key, outcome to record, why)."""

    key: str
    outcome: str
    reason: str


@dataclass
class Plan:
    jobs: list[PlannedJob] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    abandoned: list[Abandon] = field(default_factory=list)


def week_key(when: datetime, tz: str) -> str:
    """ISO week of `when` in time zone `tz`, e.g. `2026-W48`."""
    iso = when.astimezone(ZoneInfo(tz)).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def open_key(schedule_id: int, label: str) -> str:
    return JobKey.schedule(keys.OPEN, schedule_id, label).format()


def reminder_times(wave: Wave) -> list[tuple[str, datetime]]:
    """(point, time) of a wave's reminders: inside its open window, at least an hour apart."""
    start = wave.opened_at or wave.opens_at
    end = wave.closes_at
    if start is None or end is None or end <= start:
        return []
    chosen: list[tuple[str, datetime]] = []
    for point in reminder_points(wave.reminders):
        fraction = 0.5 if point == "halfway" else reminder_fraction(point)
        if fraction is not None:
            at = start + (end - start) * fraction
        else:
            try:
                at = end - parse_duration(point)
            except Exception:
                log.warning("wave %s: ignoring unreadable reminder point %r", wave.id, point)
                continue
        if not start < at < end:
            continue
        if any(abs(at - other) < timedelta(hours=1) for _, other in chosen):
            continue
        chosen.append((point, at))
    return sorted(chosen, key=lambda pa: pa[1])


def decide(
    done: dict[str, tuple[str, datetime]], key: str, run_at: datetime, window: timedelta | None,
    now: datetime, grace: Grace,
) -> tuple[str, datetime | None]:
    """("plan", due), ("skip", None) or ("done", None) for one occurrence.

    No row yet: plan it (due at `run_at`), or skip it when later than `window`. A failed
    row: plan a retry `grace.retry_after` after that attempt while within `window`.
    """
    late = window is not None and now - run_at > window
    state = done.get(key)
    if state is None:
        return ("skip", None) if late else ("plan", None)
    outcome, ran_at = state
    if outcome == runs.FAILED and not late:
        return "plan", max(run_at, ran_at + grace.retry_after)
    return "done", None


def _point_words(point: str) -> str:
    if point == "halfway":
        return "halfway"
    return f"{point} of the way" if point.endswith("%") else f"{point} before close"


def _title(catalog: Catalog | None, survey_id: str) -> str:
    """The questionnaire's title, or its id when the catalog no longer has it."""
    if catalog is not None and survey_id in catalog.ids():
        return catalog.get(survey_id).title
    return survey_id


async def build_plan(
    session: AsyncSession, now: datetime, *, grace: Grace = Grace(), community_id: int | None = None,
    catalog: Catalog | None = None, interrupted_before: datetime | None = None,
    manual_before: datetime | None = None,
) -> Plan:
    """The next occurrence of every job (and the missed ones to skip), from the database.

    With `interrupted_before`, runs left `running` and untouched since then (their process
    died) are resumed, or abandoned when too late; moderators' fan-outs, which any process
    may run, once untouched since `manual_before`.
    """
    plan = Plan()
    await _plan_schedules(session, now, grace, community_id, catalog, plan)
    await _plan_waves(session, now, grace, community_id, plan)
    await _plan_pending(session, now, grace, community_id, plan)
    await _plan_weekly(session, now, grace, community_id, plan)
    if interrupted_before is not None:
        await _plan_interrupted(session, now, grace, community_id, interrupted_before, plan,
                                manual_before or interrupted_before)
    plan.jobs.sort(key=lambda j: (j.when, j.job_id))
    return plan


async def _plan_schedules(
    session: AsyncSession, now: datetime, grace: Grace, community_id: int | None,
    catalog: Catalog | None, plan: Plan,
) -> None:
    stmt = select(Schedule).where(Schedule.enabled.is_(True)).order_by(Schedule.id)
    if community_id is not None:
        stmt = stmt.where(Schedule.community_id == community_id)
    schedules = list((await session.execute(stmt)).scalars())
    candidates: list[tuple[Schedule, datetime | None, datetime | None]] = []
    for s in schedules:
        try:
            trigger = cron_trigger(s.cron, s.timezone)
        except ScheduleError as exc:
            log.warning("schedule %s is not usable and is ignored: %s", s.id, exc)
            continue
        last = last_fire(trigger, now, grace.schedule_lookback)
        if last is not None and last < s.created_at:
            last = None
        after = last + timedelta(microseconds=1) if last is not None else now
        nxt = next_fire(trigger, max(after, now))
        if nxt is not None and nxt <= now:  # a fire exactly now is `last`
            nxt = trigger.get_next_fire_time(nxt, nxt + timedelta(microseconds=1))
        candidates.append((s, last, nxt))
    opens = [open_key(s.id, wave_label(s.label_pattern, last, s.timezone))
            for s, last, _ in candidates if last is not None]
    done = await runs.outcomes(session, opens)
    for s, last, nxt in candidates:
        title = _title(catalog, s.survey_id)
        window = timedelta(seconds=s.duration_seconds) * grace.open_fraction
        job_id = JobKey.schedule(keys.OPEN, s.id).format()
        if last is not None:
            label = wave_label(s.label_pattern, last, s.timezone)
            key = open_key(s.id, label)
            verdict, due = decide(done, key, last, window, now, grace)
            if verdict != "done" and await _label_taken(session, s, label):
                verdict = "done"
            if verdict == "plan":
                plan.jobs.append(PlannedJob(job_id, OPEN, key, last, window, s.community_id, s.id,
                                            f"open of {title} {label}", label, due))
                continue
            if verdict == "skip":
                plan.skips.append(Skip(key, last, s.community_id,
                                       f"wave {label} of schedule {s.id} was due {last.isoformat()} and "
                                       f"is more than {window} late"))
        if nxt is not None:
            label = wave_label(s.label_pattern, nxt, s.timezone)
            plan.jobs.append(PlannedJob(job_id, OPEN, open_key(s.id, label), nxt, window,
                                        s.community_id, s.id, f"open of {title} {label}", label))


async def _label_taken(session: AsyncSession, s: Schedule, label: str) -> bool:
    """A wave with this label already opened (a moderator may have launched it by hand)."""
    stmt = select(Wave.status).where(
        Wave.community_id == s.community_id, Wave.survey_id == s.survey_id, Wave.label == label
    )
    status = (await session.execute(stmt)).scalars().first()
    return status is not None and status != WaveStatus.scheduled.value


async def _plan_waves(
    session: AsyncSession, now: datetime, grace: Grace, community_id: int | None, plan: Plan
) -> None:
    stmt = select(Wave).where(
        Wave.status.in_([WaveStatus.open.value, WaveStatus.scheduled.value])
    ).order_by(Wave.id)
    if community_id is not None:
        stmt = stmt.where(Wave.community_id == community_id)
    waves = list((await session.execute(stmt)).scalars())
    wanted: list[str] = []
    for w in waves:
        wanted += [JobKey.wave(keys.CLOSE, w.id).format(), JobKey.wave(keys.OPEN, w.id).format()]
        wanted += [JobKey.wave(keys.REMIND, w.id, p).format() for p, _ in reminder_times(w)]
    done = await runs.outcomes(session, wanted)
    for w in waves:
        name = f"{questionnaire_of(w).title} {w.label}"
        if w.status == WaveStatus.scheduled.value:
            if w.opens_at is None:
                continue
            key = JobKey.wave(keys.OPEN, w.id).format()
            window = (w.closes_at - w.opens_at) * grace.open_fraction if w.closes_at else timedelta(days=1)
            verdict, due = decide(done, key, w.opens_at, window, now, grace)
            if verdict == "skip":
                plan.skips.append(Skip(key, w.opens_at, w.community_id,
                                       f"wave {w.label} was due to open {w.opens_at.isoformat()} and is "
                                       f"more than {window} late"))
            elif verdict == "plan":
                plan.jobs.append(PlannedJob(key, OPEN_WAVE, key, w.opens_at, window, w.community_id, w.id,
                                            f"open of {name}", w.label, due))
            continue
        if w.closes_at is None:
            continue
        key = JobKey.wave(keys.CLOSE, w.id).format()
        verdict, due = decide(done, key, w.closes_at, None, now, grace)
        if verdict == "plan":
            plan.jobs.append(PlannedJob(key, CLOSE, key, w.closes_at, None, w.community_id, w.id,
                                        f"close of {name}", "", due))
        for point, at in reminder_times(w):
            key = JobKey.wave(keys.REMIND, w.id, point).format()
            verdict, due = decide(done, key, at, grace.remind, now, grace)
            if verdict == "plan" and (due or at) >= w.closes_at:
                verdict = "skip" if key not in done else "done"
            if verdict == "skip":
                plan.skips.append(Skip(key, at, w.community_id,
                                       f"reminder ({_point_words(point)}) of wave {w.label} was due "
                                       f"{at.isoformat()} and is more than {grace.remind} late or past "
                                       "the close"))
            elif verdict == "plan":
                plan.jobs.append(PlannedJob(key, REMIND, key, at, grace.remind, w.community_id, w.id,
                                            f"reminder ({_point_words(point)}) for {name}", point, due))


async def _plan_pending(
    session: AsyncSession, now: datetime, grace: Grace, community_id: int | None, plan: Plan
) -> None:
    """Work queued by a job that did not get to it (the process stopped in between), or failed."""
    rows = (await session.execute(
        select(JobRun.job_key, JobRun.outcome, JobRun.scheduled_for, JobRun.ran_at).where(
            JobRun.outcome.in_([runs.PENDING, runs.FAILED]),
            JobRun.job_key.like(keys.like(keys.ANNOUNCE, keys.WAVE))
            | JobRun.job_key.like(keys.like(keys.SUMMARY, keys.WAVE)),
        )
    )).all()
    for key, outcome, scheduled_for, ran_at in rows:
        job_key = _readable(key)
        if job_key is None or job_key.reference.table != keys.WAVE:
            continue
        kind = job_key.kind
        wave = await session.get(Wave, job_key.id)
        if wave is None or (community_id is not None and wave.community_id != community_id):
            continue
        when = scheduled_for or ran_at
        state = {key: (outcome, ran_at)} if outcome == runs.FAILED else {}
        name = f"{questionnaire_of(wave).title} {wave.label}"
        if kind == "announce":
            if wave.status != WaveStatus.open.value:
                continue
            _, due = decide(state, key, when, None, now, grace)
            plan.jobs.append(PlannedJob(key, ANNOUNCE, key, when, None, wave.community_id, wave.id,
                                        f"announcement of {name}", "", due))
        elif kind == "summary":
            verdict, due = decide(state, key, when, grace.final_summary, now, grace)
            if verdict == "plan":
                plan.jobs.append(PlannedJob(key, FINAL_SUMMARY, key, when, grace.final_summary,
                                            wave.community_id, wave.id, f"final summary of {name}", "", due))
            elif verdict == "skip":
                plan.skips.append(Skip(key, when, wave.community_id,
                                       f"final summary of wave {wave.label} is more than "
                                       f"{grace.final_summary} late"))


async def _plan_weekly(
    session: AsyncSession, now: datetime, grace: Grace, community_id: int | None, plan: Plan
) -> None:
    stmt = select(Community).where(Community.weekly_summary_cron.is_not(None)).order_by(Community.id)
    if community_id is not None:
        stmt = stmt.where(Community.id == community_id)
    communities = list((await session.execute(stmt)).scalars())
    found: list[tuple[Community, datetime | None, datetime | None]] = []
    for c in communities:
        try:
            trigger = cron_trigger(c.weekly_summary_cron or "", c.timezone)
        except ScheduleError as exc:
            log.warning("community %s: weekly summary cron is not usable: %s", c.slug, exc)
            continue
        last = last_fire(trigger, now, grace.summary_lookback)
        if last is not None and last < c.created_at:
            last = None
        nxt = next_fire(trigger, now)
        if nxt is not None and nxt <= now:
            nxt = trigger.get_next_fire_time(nxt, nxt + timedelta(microseconds=1))
        found.append((c, last, nxt))
    weeks = [JobKey.community(keys.SUMMARY, c.id, week_key(last, c.timezone)).format()
             for c, last, _ in found if last]
    done = await runs.outcomes(session, weeks)
    for c, last, nxt in found:
        job = JobKey.community(keys.SUMMARY, c.id)
        job_id = job.format()
        if last is not None:
            week = week_key(last, c.timezone)
            key = job.occurrence(week).format()
            verdict, due = decide(done, key, last, grace.summary, now, grace)
            if verdict == "plan":
                plan.jobs.append(PlannedJob(job_id, WEEKLY, key, last, grace.summary, c.id, c.id,
                                            "weekly summary", week, due))
                continue
            if verdict == "skip":
                plan.skips.append(Skip(key, last, c.id,
                                       f"weekly summary {week} of community {c.slug} was due "
                                       f"{last.isoformat()} and is more than {grace.summary} late"))
        if nxt is not None:
            week = week_key(nxt, c.timezone)
            key = job.occurrence(week).format()
            if key in done:  # this week's summary already went out (e.g. the cron changed)
                continue
            plan.jobs.append(PlannedJob(job_id, WEEKLY, key, nxt, grace.summary, c.id, c.id,
                                        "weekly summary", week))


def _readable(key: str) -> JobKey | None:
    """The stored key `key` parsed; None (logged once) when no version of this scheduler wrote it."""
    try:
        return JobKey.parse(key)
    except JobKeyError as exc:
        if key not in _unreadable:
            _unreadable.add(key)
            log.warning("job run %r is left alone: %s", key, exc)
        return None


_unreadable: set[str] = set()


async def _plan_interrupted(
    session: AsyncSession, now: datetime, grace: Grace, community_id: int | None, before: datetime,
    plan: Plan, manual_before: datetime,
) -> None:
    """Resume runs a dead process left `running` (announcements, reminders, summaries).

    Each resumed job repeats nothing already done (see runs.py); one past its grace time or
    whose wave is no longer open is recorded instead.
    """
    for key, scheduled_for, ran_at in await runs.interrupted(session, before, manual_before):
        when = scheduled_for or ran_at
        job_key = _readable(key)
        if job_key is None:
            continue
        kind, table, extra = job_key.kind, job_key.reference.table, job_key.extra
        resume_id = job_key.resume_id()
        if (kind, table) == (keys.SUMMARY, keys.COMMUNITY) and extra:
            community = await session.get(Community, job_key.id)
            if community is None or (community_id is not None and community.id != community_id):
                continue
            if now - when > grace.summary:
                plan.abandoned.append(Abandon(key, runs.SKIPPED, f"interrupted; more than {grace.summary} "
                                              "late to resume (no stale summary is posted)"))
                continue
            plan.jobs.append(PlannedJob(resume_id, WEEKLY, key, when, None, community.id, community.id,
                                        "weekly summary (resumed)", extra, now, before))
            continue
        if table != keys.WAVE or kind in (keys.OPEN, keys.CLOSE):
            continue  # opens and closes commit with their row: never left running
        wave = await session.get(Wave, job_key.id)
        if wave is None or (community_id is not None and wave.community_id != community_id):
            continue
        name = f"{questionnaire_of(wave).title} {wave.label}"
        if kind == keys.SUMMARY:
            if now - when > grace.final_summary:
                plan.abandoned.append(Abandon(key, runs.SKIPPED, "interrupted; too late to resume"))
                continue
            plan.jobs.append(PlannedJob(resume_id, FINAL_SUMMARY, key, when, None, wave.community_id,
                                        wave.id, f"final summary of {name} (resumed)", "", now, before))
        elif wave.status != WaveStatus.open.value or (wave.closes_at is not None and now >= wave.closes_at):
            plan.abandoned.append(Abandon(key, runs.NOOP, "interrupted; the wave is no longer open"))
        elif kind == keys.ANNOUNCE:
            plan.jobs.append(PlannedJob(resume_id, ANNOUNCE, key, when, None, wave.community_id,
                                        wave.id, f"announcement of {name} (resumed)", "", now, before))
        elif now - when > grace.remind:  # a reminder
            plan.abandoned.append(Abandon(key, runs.SKIPPED,
                                          f"interrupted; more than {grace.remind} late to resume"))
        elif extra == keys.MANUAL:
            plan.jobs.append(PlannedJob(
                resume_id, MANUAL_REMIND, key, when, None, wave.community_id, wave.id,
                f"reminders a moderator asked for, for {name} (resumed)", extra, now, manual_before))
        else:
            plan.jobs.append(PlannedJob(resume_id, REMIND, key, when, None, wave.community_id, wave.id,
                                        f"reminder ({_point_words(extra)}) for {name} (resumed)", extra, now,
                                        before))
