"""Web API clients per workspace: one shared HTTP session, one rate limiter, one token each.

With a single-workspace token (`SLACK_BOT_TOKEN`) every workspace id maps to that token.
With OAuth, a workspace's bot token comes from the installation store (our database).
`SLACK_API_URL` replaces the Web API base (GovSlack, a proxy, a test fake).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.ratelimit import PacedWebClient, SlackRateLimiter

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = AsyncWebClient.BASE_URL


class NotInstalled(Exception):
    """No token for this workspace (the app is not installed there)."""


def api_base(url: str | None) -> str:
    """`SLACK_API_URL` as slack_sdk wants it: ending in a slash."""
    if not url:
        return DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


class SlackClients:
    """Paced clients by token, and the token of a workspace."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        installation_store: AsyncInstallationStore | None = None,
        limiter: SlackRateLimiter | None = None,
        timeout: int = 30,
    ):
        self.base_url = api_base(base_url)
        self.token = token
        self.installation_store = installation_store
        self.limiter = limiter or SlackRateLimiter()
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self._clients: dict[str, PacedWebClient] = {}
        self._identities: dict[str, tuple[float, dict[str, Any]]] = {}

    async def start(self) -> None:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
            self.session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
        self._clients.clear()

    def client(self, token: str | None) -> PacedWebClient:
        """The paced client for `token` (created once; shares the session and limiter)."""
        key = token or ""
        found = self._clients.get(key)
        if found is None:
            found = PacedWebClient(
                token=token, base_url=self.base_url, session=self.session,
                timeout=self.timeout, limiter=self.limiter, logger=log,
            )
            self._clients[key] = found
        return found

    async def token_for(self, team_id: str | None, enterprise_id: str | None = None) -> str:
        if self.installation_store is None:
            if not self.token:
                raise NotInstalled("SLACK_BOT_TOKEN is not set")
            return self.token
        bot = await self.installation_store.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id,
            is_enterprise_install=team_id is None and enterprise_id is not None,
        )
        if bot is None or not bot.bot_token:
            if self.token:
                return self.token
            raise NotInstalled(f"the Slack app is not installed in workspace {team_id}")
        return bot.bot_token

    async def for_team(self, team_id: str | None, enterprise_id: str | None = None) -> PacedWebClient:
        """The client acting in workspace `team_id`."""
        return self.client(await self.token_for(team_id, enterprise_id))

    async def identity(self, client: AsyncWebClient, ttl: float = 3600.0) -> dict[str, Any]:
        """auth.test of a client's token (the bot's user id, team), cached for `ttl`."""
        key = client.token or ""
        cached = self._identities.get(key)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        try:
            data = dict((await client.auth_test()).data)  # type: ignore[arg-type]  # JSON, never bytes
        except SlackApiError as exc:
            log.warning("auth.test failed: %s", exc.response.get("error") if exc.response else exc)
            data = {}
        self._identities[key] = (now + ttl, data)
        return data
