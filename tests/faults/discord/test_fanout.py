"""Discord reminder fan-outs under faults (issue 10, items 4 and 5; "a process kill during a
Discord fan-out").

Before: a manual remind was an in-memory task: killed in the middle, the rest of the members
were never reminded and the moderator's result DM never came; a 5xx storm lost members; a
long Retry-After blocked the fan-out for its full time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

import bot.commands as commands
from bot.scheduling import manual, start_scheduler
from bot.scheduling.leader import SingleProcess
from surveys.models import JobRun
from tests.discord.kit import DiscordMember, starters_on_ledger, texts
from tests.discord.test_answering import launch
from tests.slack.kit import count

STARTERS = 12


class Killed(BaseException):
    """The process dies here (nothing after it runs, nothing catches it)."""


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    monkeypatch.setattr(manual, "RETRY", dataclasses.replace(manual.RETRY, base=manual.RETRY.base / 10))


async def _starters(fake, services, announcement) -> list[int]:
    users = [fake.add_member(fake.guild_id, f"starter{i}") for i in range(STARTERS)]
    await asyncio.gather(*(DiscordMember(fake, u).take(announcement) for u in users))
    await starters_on_ledger(services)  # the remind comes a day later (the ledger's daily batch)
    return users


def _reminders(fake, user: int) -> int:
    return sum("Reminder:" in texts(m) for m in fake.dms(user))


async def test_fan_out_killed_midway_is_resumed_with_its_result_dm(fake, runtime, dservices, monkeypatch):
    monkeypatch.setattr(commands, "INLINE_REMINDERS", 3)  # this one runs after the reply
    users = await _starters(fake, dservices, await launch(fake))
    notifier = runtime.notifier
    real_dm, sent = notifier.dm, []

    async def dying(member, message):
        if len(sent) == 5:
            raise Killed()  # the process is killed during the sixth DM
        sent.append(member.user)
        return await real_dm(member, message)

    notifier.dm = dying
    reply = await DiscordMember(fake, fake.moderator).command("remind")
    assert f"Sending {STARTERS} reminders" in texts(reply)
    while dservices.background:
        await asyncio.sleep(0.05)
    assert sum(_reminders(fake, u) for u in users) == 5
    assert await count(dservices, JobRun, JobRun.job_key.like("remind:wave:%:manual"),
                       JobRun.outcome == "running") == 1  # left behind by the dead process
    del notifier.dm  # the "restarted" process: the platform works, the scheduler resumes the job

    scheduler = await start_scheduler(dservices, leadership=SingleProcess(), resync_interval=0)
    try:
        await scheduler.run_until_idle()
    finally:
        await scheduler.stop(wait=1)
    per_user = [_reminders(fake, u) for u in users]
    assert max(per_user) == 1  # nobody twice
    assert sum(per_user) == STARTERS - 1  # everyone but the one in flight at the kill
    result = [texts(m) for m in fake.dms(fake.moderator) if "Reminders for 2026" in texts(m)]
    assert len(result) == 1 and "Reminders sent: 6." in result[0], result
    assert await count(dservices, JobRun, JobRun.job_key.like("remind:wave:%:manual"),
                       JobRun.outcome == "done") == 1


async def test_5xx_and_429_storm_loses_no_reminder(fake, runtime, dservices):
    users = await _starters(fake, dservices, await launch(fake))
    fake.inject("POST", r"^/channels/\d+/messages$", status=503, times=8)
    fake.inject("POST", r"^/channels/\d+/messages$", status=429, times=6, retry_after=0.05)
    reply = await DiscordMember(fake, fake.moderator, timeout=60).command("remind")
    assert f"Reminders sent: {STARTERS}. Could not reach: 0. Failed: 0." in texts(reply), texts(reply)
    assert [_reminders(fake, u) for u in users] == [1] * STARTERS


async def test_rate_limit_longer_than_the_cap_stops_at_once(fake, runtime, dservices):
    users = await _starters(fake, dservices, await launch(fake))
    fake.inject("POST", r"^/channels/\d+/messages$", status=429, retry_after=300)
    started = time.monotonic()
    reply = await DiscordMember(fake, fake.moderator, timeout=20).command("remind")
    assert time.monotonic() - started < 10
    assert "run /survey remind again later" in texts(reply), texts(reply)
    assert sum(_reminders(fake, u) for u in users) == 0
