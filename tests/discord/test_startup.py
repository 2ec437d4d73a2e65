"""Start-up through `start_discord(services)`: endpoints, token, intents, notifier."""

from __future__ import annotations

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from sqlalchemy import select

from bot.discord.runtime import start_discord
from bot.settings import SettingsError
from surveys.models import Participation
from tests.discord.kit import DiscordMember, texts
from tests.discord.test_answering import launch


async def test_start_registers_notifier_and_stop_restores(fake, dservices):
    before = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    runtime = await start_discord(dservices)
    assert runtime.ready and fake.api_url == Route.BASE
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    assert dservices.notifiers["discord"] is runtime.notifier
    assert fake.identifies[0]["intents"] == 1  # guilds only: nothing privileged
    await runtime.stop()
    assert "discord" not in dservices.notifiers
    assert before == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_rejected_token_is_one_clear_error(fake, dservices):
    dservices.settings.discord_token = "not-the-token"
    with pytest.raises(SettingsError, match="DISCORD_TOKEN is invalid"):
        await start_discord(dservices)
    assert "discord" not in dservices.notifiers


async def test_members_intent_needs_the_portal_switch(fake, dservices):
    dservices.settings.discord_members_intent = True
    with pytest.raises(SettingsError, match="Server Members intent"):
        await start_discord(dservices)


async def test_members_intent_invites_channel_members(fake, dservices):
    dservices.settings.discord_members_intent = True
    fake.members_intent_enabled = True
    runtime = await start_discord(dservices)
    try:
        await launch(fake)
        async with dservices.db.session() as session:
            invited = set((await session.execute(select(Participation.user_id))).scalars())
        assert invited == {str(fake.owner), str(fake.moderator), str(fake.member)}  # not the bot
        status = await DiscordMember(fake, fake.moderator).command("status")
        assert "Response rate: 0% of 3 invited" in texts(status)
    finally:
        await runtime.stop()
