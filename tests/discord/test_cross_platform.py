"""One community on Slack and Discord, in one `stateof run` process: one wave, one dataset.

The bot starts through `bot.runner.run_bot` (what `stateof run` calls) with both the Slack
fake (HTTP mode, signed requests) and the Discord fake configured, so both adapters share
one event loop, one database and one scheduler. Members answer through each platform's own
UI; both platforms' moderators see the same numbers, and the summary counts everyone.
"""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

import bot.runner as runner
from analytics.service import build_summary
from bot.settings import Settings
from surveys.db import Database
from tests.discord.kit import DiscordMember, texts
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlackAPI
from tests.slack.kit import MODERATOR, SECRET, SlackBot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def slack():
    async with FakeSlackAPI() as server:
        server.add_user(MODERATOR, is_admin=True)
        yield server


async def wait_healthy(url: str, platforms: list[str], task: asyncio.Task) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            if task.done():
                task.result()
            try:
                async with http.get(url) as response:
                    if response.status == 200 and (await response.json())["platforms"] == platforms:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never reported {platforms}")


async def test_stateof_run_serves_slack_and_discord_as_one_community(
    fake: FakeDiscord, slack: FakeSlackAPI, settings: Settings, database_url: str, monkeypatch,
):
    stop = asyncio.Event()
    monkeypatch.setattr(runner, "_wait_for_signal", stop.wait)
    port = free_port()
    both = settings.model_copy(update={
        "discord_token": fake.token, "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url, "discord_guild": fake.guild_id,
        "slack_bot_token": "xoxb-test", "slack_signing_secret": SECRET, "slack_api_url": slack.base_url,
    })
    task = asyncio.create_task(runner.run_bot(both, host="127.0.0.1", port=port, chat=False))
    db = Database(database_url)
    slack_bot = None
    try:
        await fake.wait_identified()
        await wait_healthy(f"http://127.0.0.1:{port}/healthz", ["discord", "slack"], task)
        mod = DiscordMember(fake, fake.moderator)
        reply = await mod.command("launch", {"survey": "state-of-mlops", "wave": "2026",
                                             "channel": fake.general})
        assert "is open" in texts(reply), texts(reply)
        announcement = fake.channel_messages(fake.general)[-1]
        wave_id = int(next(c for c in announcement["components"][0]["components"])["custom_id"]
                      .split(":")[2])
        for name in ("ada", "bo", "cy"):  # Discord members: selects, buttons, a modal
            member = DiscordMember(fake, fake.add_member(fake.guild_id, name))
            await member.take(announcement)
            assert "Thank you" in texts(await member.answer_all())
        slack_bot = SlackBot(slack, None, None, f"http://127.0.0.1:{port}/slack/events")
        for user in ("U1", "U2", "U3"):  # Slack members: the paged modal
            member = slack_bot.member(user)
            await member.take(wave_id)
            await member.answer_all()
        # both platforms' moderators see the same numbers
        assert "Respondents: 6 (completed: 6)" in texts(await mod.command("status"))
        assert "Respondents: 6 (completed: 6)" in await slack_bot.command("status", user=MODERATOR)
        closed = await mod.command("close")
        assert "is closed" in texts(closed)
        summary = fake.channel_messages(fake.general)[-1]
        assert "has closed" in texts(summary)
        (png,) = summary["attachments"]
        assert fake.attachment_data(png).startswith(b"\x89PNG")
        # one dataset: six respondents, split three and three by platform
        community = await db_community(db, both)
        split = {}
        for platform in (None, "slack", "discord"):
            built = await build_summary(db, community_id=community, survey_id="state-of-mlops",
                                        wave="2026", compare=[], min_group_size=2, platform=platform)
            split[platform] = built.to_dict()["respondents"]["2026"]
        assert split == {None: 6, "slack": 3, "discord": 3}
    finally:
        if slack_bot is not None:
            await slack_bot.close()
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
        await db.dispose()
    assert not fake.sessions  # the gateway connection was closed on shutdown


async def db_community(db: Database, settings: Settings) -> int:
    from sqlalchemy import select

    from surveys.models import Community

    async with db.session() as session:
        return (await session.execute(select(Community.id).where(
            Community.slug == settings.community))).scalar_one()
