"""The Discord client: intents, endpoints, persistent components and the `/survey` tree.

`setup_hook` (run once at login, before the gateway connects) registers the dynamic items
(so buttons on old messages keep working after a restart) and syncs the command tree: to
`STATEOF_DISCORD_GUILD` when set (instant), globally otherwise (Discord may take a while to
show global changes).

Sharding: the client is an `AutoShardedClient`. With neither `DISCORD_SHARD_COUNT` nor
`DISCORD_SHARD_IDS` it runs as many shards as Discord recommends (`GET /gateway/bot`); with
a count it runs all of them; with a count and ids it runs exactly those shards, so several
processes can split one bot (shard ranges per process). Discord sends a guild's events,
interactions included, on shard `(guild_id >> 22) % count`; DMs go to shard 0.

Endpoints: `DISCORD_API_URL` replaces discord.py's REST base (`discord.http.Route.BASE`,
which interaction callbacks and webhooks use too) and `DISCORD_GATEWAY_URL` its gateway
(`DiscordWebSocket.DEFAULT_GATEWAY`; the URL `GET /gateway/bot` names and each shard's
resume URL are replaced by it as well). Both are process-wide in discord.py, so one Discord
client per process (running any number of shards).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot import metrics
from bot.discord.acks import acknowledged, time_interactions
from bot.discord.appcommands import SurveyGroup
from bot.discord.frontend import DiscordFrontend
from bot.discord.items import DYNAMIC_ITEMS
from bot.discord.render import NO_MENTIONS
from bot.services import Services
from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Seconds discord.py waits after the last GUILD_CREATE before `on_ready` (its default is 2).
GUILD_READY_TIMEOUT = 2.0
# Seconds between two shards' IDENTIFYs (Discord allows one per 5 s per concurrency bucket;
# discord.py's own pause). The first shard of the process identifies at once.
IDENTIFY_INTERVAL = 5.0
DEFAULT_API = Route.BASE
DEFAULT_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY


def intents(settings: Settings) -> discord.Intents:
    """Guilds only (channels, roles, the guild cache); members only when asked for.

    Interactions arrive without any intent. The privileged members intent is needed only
    to know who can see a channel (response rates, reminders to the invited) and is off
    unless `STATEOF_DISCORD_MEMBERS_INTENT` is set.
    """
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.members = settings.discord_members_intent
    return chosen


def configure_endpoints(settings: Settings) -> tuple[str, yarl.URL]:
    """Point discord.py at `DISCORD_API_URL` / `DISCORD_GATEWAY_URL`; returns the old ones."""
    previous = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    if settings.discord_api_url:
        Route.BASE = settings.discord_api_url.rstrip("/")
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    return previous


def restore_endpoints(previous: tuple[str, yarl.URL]) -> None:
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = previous


class SurveyTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("/survey failed", exc_info=error)
        if not interaction.response.is_done():
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.send_message(
                    "Something went wrong on our side; please try again.", ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
                acknowledged()


MAX_RATELIMIT_WAIT = 30.0


class StateofClient(discord.AutoShardedClient):
    """An AutoShardedClient with the `/survey` tree and our frontend at `client.stateof`.

    It runs the shards `DISCORD_SHARD_IDS` of `DISCORD_SHARD_COUNT` (unset: all shards of
    the count Discord recommends). Guilds, channels and users of all its shards share one
    cache, so everything guild-scoped works the same whichever shard a guild is on.
    """

    def __init__(self, services: Services, **options: Any):
        settings = services.settings
        options.setdefault("guild_ready_timeout", GUILD_READY_TIMEOUT)
        # a Retry-After longer than this raises RateLimited instead of blocking the caller (a
        # reminder fan-out stops and says so; discord.py's own minimum is 30 s)
        options.setdefault("max_ratelimit_timeout", MAX_RATELIMIT_WAIT)
        if settings.discord_shard_count is not None:
            options.setdefault("shard_count", settings.discord_shard_count)
            if settings.discord_shard_ids:
                options.setdefault("shard_ids", list(settings.discord_shard_ids))
        elif settings.discord_shard_ids:
            raise SettingsError("DISCORD_SHARD_IDS is invalid: needs DISCORD_SHARD_COUNT as well")
        super().__init__(
            intents=intents(settings), allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False, max_messages=None, **options,
        )
        self.services = services
        time_interactions(self._connection.parsers)  # the ack histogram, as for Slack
        self.stateof = DiscordFrontend(services)
        self.tree = SurveyTree(self)
        self.tree.add_command(SurveyGroup())
        self.synced: list[app_commands.AppCommand] = []
        gateway = settings.discord_gateway_url
        self.gateway_override = yarl.URL(gateway) if gateway else None
        if self.gateway_override is not None:
            # READY names a resume URL; keep resuming through the configured gateway too.
            ready = self._connection.parsers["READY"]

            def parse_ready(data: dict) -> None:
                ready(data)
                self._pin_gateway(int((data.get("shard") or [0])[0]))

            self._connection.parsers["READY"] = parse_ready

    def _pin_gateway(self, shard_id: int) -> None:
        try:
            ws = self._get_websocket(shard_id=shard_id)
        except KeyError:  # not registered yet; it resumes through DEFAULT_GATEWAY then
            return
        ws.gateway = self.gateway_override

    async def launch_shard(self, gateway: yarl.URL, shard_id: int, *, initial: bool = False) -> None:
        # `GET /gateway/bot` names Discord's own gateway; behind DISCORD_GATEWAY_URL use that.
        await super().launch_shard(self.gateway_override or gateway, shard_id, initial=initial)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial and IDENTIFY_INTERVAL > 0:
            await asyncio.sleep(IDENTIFY_INTERVAL)

    @property
    def running_shards(self) -> list[int]:
        """The shard ids this process runs (known once the gateway connection started)."""
        return sorted(self.shards)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        guild_id = self.services.settings.discord_guild
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            self.tree.clear_commands(guild=None)
            self.synced = await self.tree.sync(guild=guild)
            # a global /survey left by an earlier run without STATEOF_DISCORD_GUILD would show
            # twice in that server (and fail): remove it
            await self.tree.sync()
            log.info("synced /survey to guild %s (and cleared the global one)", guild_id)
        else:
            self.synced = await self.tree.sync()
            log.info("synced /survey globally (Discord may take up to an hour to show changes)")

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        metrics.INTERACTIONS.labels("discord", "received").inc()
        await self.stateof.on_interaction(interaction)

    async def on_shard_ready(self, shard_id: int) -> None:
        count = sum(1 for g in self.guilds if g.shard_id == shard_id)
        log.info("Discord shard %s of %s ready with %d server(s)", shard_id, self.shard_count, count)

    async def on_ready(self) -> None:
        log.info("Discord ready as %s in %d server(s) on shard(s) %s of %s", self.user,
                 len(self.guilds), ",".join(map(str, self.running_shards)), self.shard_count)
