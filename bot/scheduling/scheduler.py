"""The scheduler runtime: APScheduler jobs derived from the database, run by one leader.

`start_scheduler(services)` starts it for `stateof run`. The process that wins the leader
election (see leader.py) runs an `AsyncIOScheduler` with a `MemoryJobStore`; its jobs are
rebuilt from the database (plan.py) at start-up, after every job, on every change (commands,
the CLI, PostgreSQL notifications from other processes) and every `resync_interval` seconds.
Job ids derive from row ids (`close:wave:12`) and are replaced in place. Other processes
stand by and retry the election every few seconds.

A job a dead process left `running` is resumed (runs.py): on SQLite at once when this process
starts leading (it is the only one), on PostgreSQL once the row's heartbeat is `stale_after`
old (a live leader touches its running rows every `heartbeat` seconds). At start-up the
default community also takes a changed `STATEOF_TIMEZONE` before the jobs are planned.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select

from bot.scheduling import keys, manual, runs
from bot.scheduling.clock import Clock, SystemClock
from bot.scheduling.delivery import DryRunNotifiers, RetryingNotifiers, RetryPolicy
from bot.scheduling.jobs import JobContext, run_job
from bot.scheduling.keys import Ref
from bot.scheduling.leader import Leadership, SingleProcess, leadership_for
from bot.scheduling.plan import Grace, Plan, PlannedJob, build_plan
from bot.scheduling.schedules import create_schedule, notify_change, schedule_info
from bot.services import Services
from surveys.models import Community
from surveys.ports import ChannelRef
from surveys.waves import ensure_community

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


class SchedulerRuntime:
    """The scheduler of one process; implements `bot.commands.Scheduling`."""

    def __init__(
        self, services: Services, *, clock: Clock | None = None, leadership: Leadership | None = None,
        grace: Grace = Grace(), retry: RetryPolicy = RetryPolicy(jitter=0.5),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        standby_retry: float = 5.0, check_interval: float = 5.0, resync_interval: float = 60.0,
        heartbeat: float = 20.0, stale_after: timedelta = timedelta(seconds=90), name: str = "this process",
    ):
        self.services = services
        self.clock = clock or SystemClock()
        self.leadership = leadership or leadership_for(services.settings.database_url)
        self.grace = grace
        self.standby_retry = standby_retry
        self.check_interval = check_interval
        self.resync_interval = resync_interval
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.name = name
        dry_run = getattr(services.settings, "dry_run_posts", None)
        notifiers = DryRunNotifiers(dry_run) if dry_run else services.notifiers
        if dry_run:
            log.warning("dry run: scheduled posts and DMs are written to %s, not sent", dry_run)
        job_services = dataclasses.replace(services, notifiers=RetryingNotifiers(notifiers, retry, sleep))
        self.context = JobContext(job_services, self.clock)
        self.apscheduler: AsyncIOScheduler | None = None
        self.is_leader = False
        self.became_leader = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._resync_task: asyncio.Task | None = None
        self._heartbeat_task: asyncio.Task | None = None
        self._led_since: datetime | None = None
        self._sync_lock = asyncio.Lock()
        self._sync_requested: asyncio.Task | None = None
        self._inflight: dict[str, asyncio.Task] = {}  # job-run key → task running it
        self._running: set[asyncio.Task] = set()  # job tasks, including their closing sync
        self._first_attempt = asyncio.Event()
        # APScheduler job ids submitted to its executor and not reported back yet (run_until_idle)
        self._handed_over: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self, wait: float = 5.0) -> SchedulerRuntime:
        """Start the election loop; waits (up to `wait` s) for the first attempt."""
        self._task = asyncio.create_task(self._leadership_loop(), name=f"{self.name}-leadership")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), wait)
        return self

    async def stop(self, wait: float = 10.0) -> None:
        """Step down (letting running jobs finish for up to `wait` s) and release the lock."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._step_down(wait)
        with contextlib.suppress(Exception):
            await self.leadership.release()
        if getattr(self.services, "scheduling", None) is self:
            self.services.scheduling = None
        log.info("scheduler stopped (%s)", self.name)

    async def _leadership_loop(self) -> None:
        while not self._stopping:
            try:
                acquired = await self.leadership.acquire()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: leader election failed (%s); retrying in %.0f s",
                            self.name, exc, self.standby_retry)
                acquired = False
            if acquired:
                try:
                    try:
                        await self._become_leader()
                    finally:
                        self._first_attempt.set()
                    await self.leadership.hold(self._on_change, self.check_interval)
                    log.warning("%s: lost leadership", self.name)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("%s: lost leadership: %s", self.name, exc)
                finally:
                    if not self._stopping:
                        # Jobs already running finish (their job-run claims keep them single).
                        await self._step_down(wait=30)
                        with contextlib.suppress(Exception):
                            await self.leadership.release()
            else:
                if not self._first_attempt.is_set():
                    log.info("%s: another process leads (%s); standing by",
                             self.name, self.leadership.description)
                self._first_attempt.set()
            await asyncio.sleep(self.standby_retry)

    async def _become_leader(self) -> None:
        scheduler = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, job_defaults=JOB_DEFAULTS,
                                     timezone=UTC)
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.add_listener(self._on_handed_over, EVENT_JOB_SUBMITTED)
        scheduler.add_listener(self._on_handed_back, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self._handed_over.clear()
        scheduler.start()
        self.apscheduler = scheduler
        self.is_leader = True
        self._led_since = self.clock.now()
        log.info("%s is the scheduler leader (%s)", self.name, self.leadership.description)
        await self._follow_configured_timezone()
        await self.sync()
        if self.resync_interval:
            self._resync_task = asyncio.create_task(self._resync_loop(), name=f"{self.name}-resync")
        if self.heartbeat and not self._exclusive:
            self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(), name=f"{self.name}-heartbeat")
        self.became_leader.set()

    async def _step_down(self, wait: float) -> None:
        for task in (self._resync_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
        self._resync_task = self._heartbeat_task = None
        scheduler, self.apscheduler = self.apscheduler, None
        was_leader, self.is_leader = self.is_leader, False
        self._led_since = None
        self.became_leader.clear()
        if scheduler is None:
            return
        try:
            scheduler.remove_all_jobs()
            running = [t for t in self._running if not t.done()]
            if running and wait:
                await asyncio.wait(running, timeout=wait)
        finally:
            with contextlib.suppress(Exception):
                scheduler.shutdown(wait=False)
            if was_leader:
                log.info("%s is no longer the scheduler leader", self.name)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_interval)
            with contextlib.suppress(Exception):
                await self.sync()

    def _on_handed_over(self, event: JobEvent) -> None:
        self._handed_over.add(event.job_id)

    def _on_handed_back(self, event: JobEvent) -> None:
        self._handed_over.discard(event.job_id)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        log.warning("%s: job %s missed its time %s by more than its grace time", self.name, event.job_id,
                    event.scheduled_run_time)
        self.request_sync()  # records the occurrence as skipped and plans the next one

    def _on_change(self, payload: str) -> None:
        log.debug("%s: change notified: %s", self.name, payload)
        self.request_sync()

    def request_sync(self) -> None:
        """Sync soon (coalescing bursts of changes)."""
        if self._sync_requested is None or self._sync_requested.done():
            self._sync_requested = asyncio.create_task(self.sync())

    @property
    def _exclusive(self) -> bool:
        """No other process can be running jobs (SQLite: one process)."""
        return isinstance(self.leadership, SingleProcess)

    async def _heartbeat_loop(self) -> None:
        """Keep this leader's running job rows fresh, so no other leader resumes them."""
        while True:
            await asyncio.sleep(self.heartbeat)
            if self._led_since is not None:
                with contextlib.suppress(Exception):
                    await runs.heartbeat(self.services.db, claimed_since=self._led_since,
                                         now=self.clock.now())

    def interrupted_before(self) -> datetime | None:
        """Running rows last touched before this time belong to a process that died."""
        if self._led_since is None:
            return None
        if self._exclusive:
            return self._led_since
        return min(self._led_since, self.clock.now() - self.stale_after)

    def manual_interrupted_before(self) -> datetime | None:
        """Moderators' fan-outs (any process may run one, touching its row) are stale then."""
        if self._led_since is None:
            return None
        if self._exclusive:
            return self._led_since
        return self.clock.now() - manual.STALE_AFTER

    async def _follow_configured_timezone(self) -> None:
        """The default community takes a changed STATEOF_TIMEZONE (other communities keep theirs)."""
        settings = self.services.settings
        if "timezone" not in getattr(settings, "model_fields_set", ()):
            return
        try:
            async with self.services.db.session() as session:
                found = (await session.execute(
                    select(Community).where(Community.slug == settings.community)
                )).scalar_one_or_none()
                if found is not None and found.timezone != settings.timezone:
                    await ensure_community(session, settings.community, timezone=settings.timezone,
                                           follow_timezone=True)
        except Exception:
            log.exception("could not apply STATEOF_TIMEZONE=%s to community %s", settings.timezone,
                          settings.community)

    # -- the plan ----------------------------------------------------------------------
    async def plan(self, community_id: int | None = None) -> Plan:
        async with self.services.db.session() as session:
            return await build_plan(session, self.clock.now(), grace=self.grace, community_id=community_id,
                                    catalog=self.services.catalog,
                                    interrupted_before=self.interrupted_before(),
                                    manual_before=self.manual_interrupted_before())

    async def sync(self) -> None:
        """Make APScheduler's jobs match the database (leader only)."""
        async with self._sync_lock:
            if self.apscheduler is None:
                return
            plan = await self.plan()
            now = self.clock.now()
            for skip in plan.skips:
                if await runs.record(self.services.db, skip.key, runs.SKIPPED, skip.reason, now=now,
                                     scheduled_for=skip.run_at):
                    log.warning("skipped: %s", skip.reason)
            for gone in plan.abandoned:
                cutoff = (self.manual_interrupted_before() if manual.is_manual(gone.key)
                          else self.interrupted_before())
                if cutoff is not None and gone.key not in self._inflight and await runs.abandon(
                        self.services.db, gone.key, gone.outcome, gone.reason, before=cutoff):
                    log.warning("%s was interrupted (a process stopped while running it) and is not "
                                "resumed: %s", gone.key, gone.reason)
            scheduler = self.apscheduler
            if scheduler is None:
                return
            wanted = {job.job_id: job for job in plan.jobs if job.key not in self._inflight}
            for existing in scheduler.get_jobs():
                if existing.id not in wanted:
                    scheduler.remove_job(existing.id)
            for job_id, job in wanted.items():
                current = scheduler.get_job(job_id)
                if current is not None and current.args and current.args[0] == job:
                    continue
                grace = int(job.grace.total_seconds()) if job.grace is not None else None
                scheduler.add_job(
                    self._execute, DateTrigger(run_date=job.when, timezone=UTC), args=[job], id=job_id,
                    name=job.what, replace_existing=True, misfire_grace_time=max(grace, 1) if grace else None,
                )
            log.debug("%s: %d job(s) scheduled", self.name, len(wanted))

    async def _execute(self, job: PlannedJob) -> None:
        """Run a planned job; never raises (a failure is logged and recorded)."""
        if not self.is_leader:
            log.info("not the leader any more: %s not run", job.key)
            return
        task = asyncio.current_task()
        assert task is not None
        self._inflight[job.key] = task
        self._running.add(task)
        try:
            try:
                outcome = await run_job(self.context, job)
                log.info("%s: %s", job.key, outcome)
            except Exception:
                log.exception("job %s failed; it is retried in %s while within its grace time",
                              job.key, self.grace.retry_after)
            finally:
                self._inflight.pop(job.key, None)
            with contextlib.suppress(Exception):
                await self.sync()
        finally:
            self._running.discard(task)

    # -- tests and introspection -------------------------------------------------------
    def scheduled_jobs(self) -> list[tuple[str, datetime | None]]:
        """(APScheduler job id, next run time) of the jobs this leader holds."""
        if self.apscheduler is None:
            return []
        return [(j.id, j.next_run_time) for j in self.apscheduler.get_jobs()]

    async def run_until_idle(self, rounds: int = 100) -> None:
        """Run every job due at the clock's time, and what they lead to, then return (tests)."""
        for _ in range(rounds):
            scheduler = self.apscheduler
            if scheduler is None:
                return
            scheduler.wakeup()
            for _ in range(3):
                await asyncio.sleep(0)
            busy = [t for t in self._running if not t.done()]
            if self._sync_requested is not None and not self._sync_requested.done():
                busy.append(self._sync_requested)
            if busy:
                await asyncio.gather(*busy, return_exceptions=True)
                continue
            if self._handed_over:  # submitted, not started (or not reported back) yet
                await asyncio.sleep(0)
                continue
            now = self.clock.now()
            if not any(j.next_run_time is not None and j.next_run_time <= now for j in scheduler.get_jobs()):
                return
        raise RuntimeError("the scheduler did not settle")

    # -- bot.commands.Scheduling ---------------------------------------------------------
    async def add_schedule(
        self, community_id: int, survey_id: str, cron: str, *, duration: timedelta,
        label_pattern: str, channels: list[ChannelRef], reminders: list[str] | None = None,
    ) -> str:
        """Store a recurring wave; returns e.g. `every year on 1 March at 09:00 (...); next: ...`."""
        async with self.services.db.session() as session:
            community = await session.get(Community, community_id)
            if community is None:
                raise KeyError(f"community {community_id} does not exist")
            schedule = await create_schedule(
                session, community, survey_id, cron, duration=duration, label_pattern=label_pattern,
                channels=channels, reminders=reminders, now=self.clock.now(),
            )
            await notify_change(session, Ref(keys.SCHEDULE, schedule.id))
            info = schedule_info(schedule, self.clock.now())
        await self.sync()
        return info.describe()

    async def upcoming(self, community_id: int) -> list[tuple[str, object]]:
        """(what, when) of the community's next open, reminders, close and summary."""
        plan = await self.plan(community_id)
        return [(job.what, job.when) for job in plan.jobs]

    async def wave_changed(self, wave_id: int) -> None:
        await self._changed(Ref(keys.WAVE, wave_id))

    async def community_changed(self, community_id: int) -> None:
        await self._changed(Ref(keys.COMMUNITY, community_id))

    async def _changed(self, what: Ref) -> None:
        if self.is_leader:
            await self.sync()
        else:
            async with self.services.db.session() as session:
                await notify_change(session, what)


async def start_scheduler(services: Services, **options) -> SchedulerRuntime:
    """Start the scheduler of this process and register it as `services.scheduling`.

    Options (tests): clock, leadership, grace, retry, sleep, standby_retry, check_interval,
    resync_interval, name. Returns once this process is the leader or stands by.
    """
    runtime = SchedulerRuntime(services, **options)
    services.scheduling = runtime
    await runtime.start()
    return runtime
