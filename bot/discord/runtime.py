"""`start_discord(services)`: how `stateof run` connects to Discord (tests use the same path).

It logs in (a rejected token is one clear error), syncs `/survey`, registers the Discord
notifier on `services`, connects the gateway in a task on the running event loop (shared
with Slack, the scheduler and the web server) and waits until the guilds of every shard it
runs (`DISCORD_SHARD_COUNT` / `DISCORD_SHARD_IDS`, see `bot.discord.client`) are loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.discord.client import StateofClient, configure_endpoints, restore_endpoints
from bot.discord.notifier import DiscordNotifier
from bot.services import Services
from bot.settings import SettingsError

log = logging.getLogger(__name__)

READY_TIMEOUT = 30.0  # seconds to wait for READY and the guilds before carrying on


@dataclass
class DiscordRuntime:
    """A running Discord connection; `stop()` closes it and unregisters the notifier."""

    services: Services
    client: StateofClient
    notifier: DiscordNotifier
    task: asyncio.Task
    _previous_endpoints: tuple = field(default=(), repr=False)

    @property
    def ready(self) -> bool:
        return self.client.is_ready()

    async def connected(self) -> bool:
        """Every shard's gateway connection is open (the readiness probe)."""
        shards = self.client.shards
        return (not self.client.is_closed() and self.client.is_ready() and bool(shards)
                and all(not shard.is_closed() for shard in shards.values()))

    async def stop(self) -> None:
        if self.services.unregister_notifier(self.notifier):
            self.services.health.unregister("discord")
        await self.client.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        if self._previous_endpoints:
            restore_endpoints(self._previous_endpoints)
        log.info("Discord disconnected")


async def log_in(client: discord.Client, token: str, previous: Any) -> None:
    """Log `client` in; on failure close it and restore the endpoints (a bad token is one line)."""
    try:
        await client.login(token.strip())
    except discord.LoginFailure:
        await client.close()
        restore_endpoints(previous)
        raise SettingsError("DISCORD_TOKEN is invalid: Discord rejected it") from None
    except BaseException:
        await client.close()
        restore_endpoints(previous)
        raise


async def start_discord(services: Services) -> DiscordRuntime:
    """Connect to Discord with `DISCORD_TOKEN`; returns once ready (or after READY_TIMEOUT)."""
    settings = services.settings
    if not settings.discord_token:
        raise SettingsError("DISCORD_TOKEN is missing")
    previous = configure_endpoints(settings)
    try:
        client = StateofClient(services)
    except BaseException:
        restore_endpoints(previous)
        raise
    await log_in(client, settings.discord_token, previous)
    notifier = DiscordNotifier(client)
    services.register_notifier(notifier)
    task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
    runtime = DiscordRuntime(services, client, notifier, task, previous)
    services.health.register("discord", runtime.connected)
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({ready, task}, timeout=READY_TIMEOUT,
                                 return_when=asyncio.FIRST_COMPLETED)
    if task in done:  # the gateway gave up (bad intents, closed by Discord…)
        ready.cancel()
        await runtime.stop()
        exc = task.exception() if not task.cancelled() else None
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            raise SettingsError(
                "STATEOF_DISCORD_MEMBERS_INTENT is set but the Server Members intent is not "
                "enabled for the application (Developer Portal → Bot → Privileged intents)"
            ) from None
        raise RuntimeError(f"Discord gateway closed: {exc}") from exc
    if ready not in done:
        ready.cancel()
        log.warning("Discord is not ready after %.0f s; carrying on while it connects", READY_TIMEOUT)
    return runtime
