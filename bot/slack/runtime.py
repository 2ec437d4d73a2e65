"""`start_slack(services, web_app)`: how `stateof run` connects to Slack (tests use it too).

- Socket Mode when `SLACK_APP_TOKEN` is set (no public URL): the Bolt app connects with
  `apps.connections.open` and receives commands, clicks and events over a WebSocket.
- Otherwise HTTP: the process's aiohttp server gets `POST /slack/events` (signatures
  verified by Bolt: a bad or stale signature is answered 401 and changes nothing).
- With `SLACK_CLIENT_ID` + `SLACK_CLIENT_SECRET`, the OAuth install flow is served at
  `/slack/install` and `/slack/oauth_redirect`, installations are kept in our database
  and every workspace gets its own bot token; a single `SLACK_BOT_TOKEN` also works.
- `SLACK_API_URL` replaces the Web API base for every client (GovSlack, a proxy, a fake).

It registers the Slack notifier on `services`, so the scheduler and lifecycle can post.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.settings import SettingsError
from bot.slack.app import (
    BOT_SCOPES,
    EVENTS_PATH,
    INSTALL_PATH,
    REDIRECT_PATH,
    bolt_logger,
    build_app,
    web_client,
)
from bot.slack.clients import SlackClients, api_base
from bot.slack.frontend import SlackFrontend
from bot.slack.installations import SQLInstallationStore, SQLOAuthStateStore
from bot.slack.moderators import ModeratorCheck
from bot.slack.notifier import SlackNotifier
from bot.slack.ratelimit import SlackRateLimiter

log = logging.getLogger(__name__)


@dataclass
class SlackRuntime:
    """A running Slack connection; `stop()` disconnects and unregisters the notifier."""

    services: Services
    app: AsyncApp
    clients: SlackClients
    notifier: SlackNotifier
    frontend: SlackFrontend
    socket: AsyncSocketModeHandler | None = None

    @property
    def mode(self) -> str:
        return "socket" if self.socket is not None else "http"

    async def connected(self) -> bool:
        """Socket Mode: the socket is open. HTTP mode has no standing connection: Slack
        reaches us, so the process being up is all there is to check."""
        if self.socket is None:
            return True
        return bool(await self.socket.client.is_connected())

    async def stop(self) -> None:
        if self.services.unregister_notifier(self.notifier):
            self.services.health.unregister("slack")
        if self.socket is not None:
            await self.socket.close_async()
        await self.clients.close()
        log.info("Slack disconnected")


def mount_http(app: AsyncApp, web_app: web.Application) -> None:
    """Serve the Bolt app on the process's aiohttp server (events + OAuth routes)."""

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app.router.add_post(EVENTS_PATH, events)
    flow = app.oauth_flow
    if flow is not None:
        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

        async def redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, redirect)


async def _check_token(clients: SlackClients, token: str) -> dict[str, Any]:
    try:
        return dict((await clients.client(token).auth_test()).data)  # type: ignore[arg-type]  # JSON, never bytes
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else str(exc)
        raise SettingsError(f"SLACK_BOT_TOKEN is invalid: Slack rejected it ({error})") from None


async def start_slack(
    services: Services, web_app: web.Application | None = None, *,
    limiter: SlackRateLimiter | None = None,
) -> SlackRuntime:
    """Connect to Slack; in HTTP mode `web_app` (not yet started) gets the Slack routes."""
    settings = services.settings
    base_url = api_base(settings.slack_api_url)
    oauth = bool(settings.slack_client_id and settings.slack_client_secret)
    store = (SQLInstallationStore(services.db, settings.slack_client_id or "", secret=services.secret)
             if oauth else None)
    clients = SlackClients(base_url=base_url, token=settings.slack_bot_token,
                           installation_store=store, limiter=limiter)
    await clients.start()
    try:
        if settings.slack_bot_token:
            identity = await _check_token(clients, settings.slack_bot_token)
            log.info("Slack bot token works for workspace %s", identity.get("team_id"))
            if identity.get("team_id"):  # the operator's own workspace: part of the community
                services.link_space("slack", str(identity["team_id"]), "workspace of SLACK_BOT_TOKEN")
        oauth_settings = None
        if oauth and store is not None:
            oauth_settings = AsyncOAuthSettings(
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                scopes=BOT_SCOPES, installation_store=store,
                state_store=SQLOAuthStateStore(services.db), install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH, logger=bolt_logger(),
            )
        notifier = SlackNotifier(clients)
        frontend = SlackFrontend(services, clients, notifier,
                                 ModeratorCheck(settings.slack_moderator_group))
        app = build_app(
            frontend, client=web_client(base_url, None if oauth else settings.slack_bot_token,
                                        clients.session),
            signing_secret=settings.slack_signing_secret, oauth_settings=oauth_settings,
        )
        runtime = SlackRuntime(services, app, clients, notifier, frontend)
        if settings.slack_app_token:
            runtime.socket = AsyncSocketModeHandler(app, settings.slack_app_token, logger=bolt_logger())
            await runtime.socket.connect_async()
            if web_app is not None and app.oauth_flow is not None:
                mount_http(app, web_app)
        else:
            if web_app is None:
                raise SettingsError("Slack HTTP mode needs the web server (or set SLACK_APP_TOKEN)")
            mount_http(app, web_app)
    except BaseException:
        await clients.close()
        raise
    services.register_notifier(notifier)
    services.health.register("slack", runtime.connected)
    return runtime
