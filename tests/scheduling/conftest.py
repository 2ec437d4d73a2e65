"""Scheduler test kit: a fake notifier that records exactly what was posted, a manual clock,
and a factory for scheduler runtimes that never sleep for real."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduling import Grace, ManualClock, RetryPolicy, start_scheduler
from bot.scheduling.leader import SingleProcess
from bot.scheduling.scheduler import SchedulerRuntime
from surveys.identity import Member
from surveys.models import Community
from surveys.ports import ChannelRef, Message
from surveys.waves import ensure_community
from tests.scheduling.apclock import apscheduler_reads

ANNOUNCE = ChannelRef("slack", "T1", "C_GENERAL")
SUMMARY = ChannelRef("slack", "T1", "C_SUMMARY")


@dataclass
class Sent:
    kind: str  # post | dm
    target: str  # channel id or user id
    title: str
    at: datetime
    message: Message


@dataclass
class FakeNotifier:
    """Implements surveys.ports.Notifier; records every delivery with the clock's time."""

    clock: ManualClock
    platform: str = "slack"
    members: dict[str, list[str]] = field(default_factory=dict)
    fail_next: int = 0  # this many calls raise before deliveries work again
    always_fail: bool = False
    sent: list[Sent] = field(default_factory=list)
    attempts: int = 0

    def _maybe_fail(self) -> None:
        self.attempts += 1
        if self.always_fail or self.fail_next > 0:
            self.fail_next = max(self.fail_next - 1, 0)
            raise ConnectionError("platform unavailable (HTTP 503)")

    async def post(self, channel: ChannelRef, message: Message) -> str | None:
        self._maybe_fail()
        self.sent.append(Sent("post", channel.channel, message.title, self.clock.now(), message))
        return f"msg-{len(self.sent)}"

    async def dm(self, member: Member, message: Message) -> bool:
        self._maybe_fail()
        self.sent.append(Sent("dm", member.user, message.title, self.clock.now(), message))
        return True

    async def channel_members(self, channel: ChannelRef) -> list[str] | None:
        return self.members.get(channel.channel)

    def posts(self, channel: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.kind == "post" and (channel is None or s.target == channel)]

    def dms(self) -> list[Sent]:
        return [s for s in self.sent if s.kind == "dm"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(utc(2027, 2, 20, 12, 0))


@pytest.fixture
def notifier(clock, services) -> FakeNotifier:
    fake = FakeNotifier(clock)
    services.register_notifier(fake)
    return fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def make_runtime(services, clock, sleeps):
    """Start scheduler runtimes (stopped at the end of the test); APScheduler reads their
    manual clock meanwhile (tests/scheduling/apclock.py)."""
    started: list[SchedulerRuntime] = []
    clocks = ExitStack()

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    async def make(svc=None, **options) -> SchedulerRuntime:
        svc = svc or services
        options.setdefault("clock", clock)
        options.setdefault("leadership", SingleProcess())
        options.setdefault("retry", RetryPolicy(attempts=3, base=2.0, factor=2.0))
        options.setdefault("sleep", fake_sleep)
        options.setdefault("resync_interval", 0)
        options.setdefault("grace", Grace())
        if isinstance(options["clock"], ManualClock):
            clocks.enter_context(apscheduler_reads(options["clock"]))
        runtime = await start_scheduler(svc, **options)
        started.append(runtime)
        return runtime

    with clocks:
        yield make
        for runtime in started:
            await runtime.stop(wait=1)


async def make_community(services, tz: str = "Europe/Helsinki", summary: bool = True,
                         created: datetime | None = None) -> Community:
    async with services.db.session() as session:
        community = await ensure_community(session, "default", timezone=tz)
        community.created_at = created or utc(2020, 1, 1)
        community.summary_channels = [SUMMARY.to_dict()] if summary else []
        return community


async def step_until(runtime: SchedulerRuntime, clock: ManualClock, until: datetime) -> None:
    """Move the clock from job to job up to `until`, running what is due (as a live process would)."""
    await runtime.run_until_idle()
    while True:
        upcoming = [when for _, when in runtime.scheduled_jobs() if when is not None]
        nxt = min(upcoming, default=None)
        if nxt is None or nxt > until:
            clock.set(max(until, clock.now()))
            await runtime.run_until_idle()
            return
        clock.set(max(nxt, clock.now()))
        await runtime.run_until_idle()


def days(n: float) -> timedelta:
    return timedelta(days=n)
