"""A post-only Discord connection for the CLI (`stateof launch`, `close`, `remind`…): a REST
login (no gateway), so posts and DMs go out but channel members are not known (invitations
of Discord members are recorded by the running bot, not by the CLI)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from bot.discord.client import configure_endpoints, restore_endpoints
from bot.discord.notifier import DiscordNotifier
from bot.discord.runtime import log_in
from bot.services import Services

log = logging.getLogger(__name__)


async def connect(services: Services) -> Callable[[], Awaitable[None]] | None:
    """Register a Discord notifier when `DISCORD_TOKEN` is set; returns what closes it."""
    settings = services.settings
    if not settings.discord_token:
        return None
    previous = configure_endpoints(settings)
    quiet = logging.getLogger("discord.client")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "voice will NOT be supported": noise for a posting CLI
    try:
        client = discord.Client(intents=discord.Intents.default())
    finally:
        quiet.setLevel(level)
    await log_in(client, settings.discord_token, previous)
    services.register_notifier(DiscordNotifier(client))

    async def close() -> None:
        await client.close()
        restore_endpoints(previous)

    return close
