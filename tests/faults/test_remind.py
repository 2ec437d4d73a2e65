"""Manual reminders under faults (issue 10, items 3 and 5): two moderators at once, 5xx
storms, and a rate limit longer than we wait.

Before: two `/survey remind` at once DMed members twice (a member counted as reminded only
after the DM); the manual remind used the plain notifiers, so every 5xx lost a member; and a
long Retry-After blocked the command for minutes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiohttp import web

from bot import lifecycle
from bot.scheduling import manual
from bot.slack.ratelimit import SlackRateLimiter
from surveys.identity import Member
from surveys.models import Participation, utcnow
from surveys.ports import Message
from tests.slack.conftest import serve
from tests.slack.kit import GENERAL, MODERATOR, SlackBot, count

MOD2 = "UMOD2"


@pytest.fixture
async def paced_bot(fake, sservices):
    """The bot with Slack's published limits scaled 60× (a fan-out runs in seconds)."""
    fake.add_user(MOD2, is_admin=True)
    runtime, runner, root = await serve(sservices, limiter=SlackRateLimiter(scale=60))
    bot = SlackBot(fake, sservices, runtime, root + "/slack/events")
    try:
        yield bot
    finally:
        await bot.close()
        await runtime.stop()
        await runner.cleanup()


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    # the production policy (manual.RETRY) with its pauses ten times shorter
    monkeypatch.setattr(manual, "RETRY", dataclasses.replace(manual.RETRY, base=manual.RETRY.base / 10))


def reminders_by_user(fake, users: list[str]) -> Counter:
    """Reminder DMs that reached each member (successful chat.postMessage in their DM)."""
    channel_user = {fake.dm_channel(u): u for u in users}
    got: Counter = Counter()
    for call in fake.calls_to("chat.postMessage", ok=True):
        user = channel_user.get(call.params.get("channel"))
        if user and "Reminder:" in str(call.params.get("text")) + str(call.params.get("blocks")):
            got[user] += 1
    return got


async def test_two_moderators_remind_at_once_dm_each_member_once(paced_bot, fake, sservices):
    users = [f"UREM{i:02d}" for i in range(30)]
    fake.set_members(GENERAL, [MODERATOR, MOD2, *users])
    await paced_bot.launch()
    replies = await asyncio.gather(paced_bot.command("remind", user=MODERATOR),
                                   paced_bot.command("remind", user=MOD2))
    got = reminders_by_user(fake, users)
    assert set(got) == set(users) and max(got.values()) == 1, got  # everyone, nobody twice
    assert sum(f"Reminders sent: {len(users) + 2}." in r for r in replies) == 1, replies  # + both mods
    assert sum("already being sent" in r for r in replies) == 1, replies


@dataclass
class SlowNotifier:
    """DMs take a moment (so two fan-outs overlap); records who got what."""

    platform: str = "slack"
    sent: list[str] = field(default_factory=list)

    async def dm(self, member: Member, message: Message) -> bool:
        await asyncio.sleep(0.01)
        self.sent.append(member.user)
        return True

    async def post(self, channel, message):  # pragma: no cover - not used by reminders
        return None

    async def channel_members(self, channel):
        return None


async def test_two_fan_outs_of_one_wave_at_once_claim_each_member(services):
    from surveys.catalog import Catalog
    from surveys.models import WaveStatus
    from surveys.waves import create_wave, ensure_community

    users = [f"U{i:03d}" for i in range(60)]
    async with services.db.session() as session:
        community = await ensure_community(session, "default")
        wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2026",
                                 opens_at=utcnow(), closes_at=utcnow() + timedelta(days=3),
                                 channels=[], status=WaveStatus.open)
        session.add_all(Participation(wave_id=wave.id, platform="slack", space_id="T1", user_id=u)
                        for u in users)
        wave_id = wave.id
    notifier = SlowNotifier()
    services.register_notifier(notifier)
    since = utcnow() - timedelta(hours=1)
    first, second = await asyncio.gather(
        lifecycle.remind(services, wave_id, skip_reminded_since=since),
        lifecycle.remind(services, wave_id, skip_reminded_since=since))
    assert sorted(notifier.sent) == sorted(users)  # each member once
    assert first.sent + second.sent == len(users) and first.failed == second.failed == 0
    assert await count(services, Participation, Participation.reminders_sent == 1) == len(users)


async def test_slack_5xx_storm_loses_no_reminder(paced_bot, fake):
    users = [f"U5XX{i:02d}" for i in range(40)]
    fake.set_members(GENERAL, [MODERATOR, *users])
    await paced_bot.launch()
    storm = {"until": 0.0, "refused": 0}

    def flaky(params):
        if time.monotonic() < storm["until"] or storm["refused"] == 0:
            storm["refused"] += 1
            storm["until"] = storm["until"] or time.monotonic() + 1.0  # 503s for a second
            raise web.HTTPServiceUnavailable(text="upstream unavailable")
        return fake._m_chat_postMessage(params, "xoxb-test")

    fake.handle("chat.postMessage", flaky)
    reply = await paced_bot.command("remind", user=MODERATOR)
    assert storm["refused"] >= 3  # the storm happened (each refused DM would have failed before)
    assert "Reminders sent: 41. Could not reach: 0. Failed: 0." in reply, reply  # + the moderator
    got = reminders_by_user(fake, users)
    assert set(got) == set(users) and max(got.values()) == 1


async def test_slack_rate_limit_longer_than_the_cap_stops_at_once(paced_bot, fake, sservices):
    users = [f"U429{i:02d}" for i in range(10)]
    fake.set_members(GENERAL, [MODERATOR, *users])
    await paced_bot.launch()
    fake.rate_limit_next("conversations.open", retry_after=300)
    started = time.monotonic()
    reply = await paced_bot.command("remind", user=MODERATOR)
    assert time.monotonic() - started < 10
    assert "Reminders sent: 0" in reply and "run /survey remind again later" in reply, reply
    # nobody was marked reminded: the next remind reaches them all
    assert await count(sservices, Participation, Participation.reminders_sent > 0) == 0
