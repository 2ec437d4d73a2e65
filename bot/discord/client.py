"""The Discord client: intents, endpoints, persistent components and the `/survey` tree.

`setup_hook` (run once at login, before the gateway connects) registers the dynamic items
(so buttons on old messages keep working after a restart) and syncs the command tree: to
`STATEOF_DISCORD_GUILD` when set (instant), globally otherwise (Discord may take a while to
show global changes).

Endpoints: `DISCORD_API_URL` replaces discord.py's REST base (`discord.http.Route.BASE`,
which interaction callbacks and webhooks use too) and `DISCORD_GATEWAY_URL` its gateway
(`DiscordWebSocket.DEFAULT_GATEWAY`; a session's resume URL is pinned to it as well).
Both are process-wide in discord.py, so one Discord connection per process.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord.appcommands import SurveyGroup
from bot.discord.frontend import DiscordFrontend
from bot.discord.items import DYNAMIC_ITEMS
from bot.discord.render import NO_MENTIONS
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

# Seconds discord.py waits after the last GUILD_CREATE before `on_ready` (its default is 2).
GUILD_READY_TIMEOUT = 2.0
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


class StateofClient(discord.Client):
    """discord.Client with the `/survey` tree and our frontend at `client.stateof`."""

    def __init__(self, services: Services, **options: Any):
        settings = services.settings
        options.setdefault("guild_ready_timeout", GUILD_READY_TIMEOUT)
        super().__init__(
            intents=intents(settings), allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False, max_messages=None, **options,
        )
        self.services = services
        self.stateof = DiscordFrontend(services)
        self.tree = SurveyTree(self)
        self.tree.add_command(SurveyGroup())
        self.synced: list[app_commands.AppCommand] = []
        gateway = settings.discord_gateway_url
        if gateway:
            # READY names a resume URL; keep resuming through the configured gateway too.
            ready = self._connection.parsers["READY"]

            def parse_ready(data: dict) -> None:
                ready(data)
                ws = self.ws
                if ws is not None:
                    ws.gateway = yarl.URL(gateway)

            self._connection.parsers["READY"] = parse_ready

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        guild_id = self.services.settings.discord_guild
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            self.tree.clear_commands(guild=None)
            self.synced = await self.tree.sync(guild=guild)
            log.info("synced /survey to guild %s", guild_id)
        else:
            self.synced = await self.tree.sync()
            log.info("synced /survey globally (Discord may take up to an hour to show changes)")

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.stateof.on_interaction(interaction)

    async def on_ready(self) -> None:
        log.info("Discord ready as %s in %d server(s)", self.user, len(self.guilds))
