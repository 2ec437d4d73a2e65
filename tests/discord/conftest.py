"""Discord test kit: the fake Discord, settings pointing at it, and the bot started through
`start_discord(services)` — the path `stateof run` takes."""

from __future__ import annotations

import pytest

import bot.discord.client as discord_client
from bot.discord.runtime import start_discord
from bot.services import build_services
from bot.settings import Settings
from tests.fakes.discord import FakeDiscord


@pytest.fixture
async def fake():
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def discord_settings(settings: Settings, fake: FakeDiscord) -> Settings:
    return settings.model_copy(update={
        "discord_token": fake.token, "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url, "discord_guild": fake.guild_id,
    })


@pytest.fixture
def dservices(discord_settings: Settings, db):
    return build_services(discord_settings, db)


@pytest.fixture(autouse=True)
def _fast_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord_client, "GUILD_READY_TIMEOUT", 0.05)
    monkeypatch.setattr(discord_client, "IDENTIFY_INTERVAL", 0.0)  # Discord's 5 s between shards


@pytest.fixture
async def runtime(dservices):
    started = await start_discord(dservices)
    yield started
    await started.stop()
