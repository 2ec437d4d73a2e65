"""A post-only Slack connection for the CLI (`stateof launch`, `close`, `remind`…): the Web
API client and notifier of `stateof run`, without Bolt, Socket Mode or the HTTP server."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.services import Services
from bot.slack.clients import SlackClients, api_base
from bot.slack.installations import SQLInstallationStore
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


async def connect(services: Services) -> Callable[[], Awaitable[None]] | None:
    """Register a Slack notifier when a bot token (or an OAuth app) is configured; returns
    what closes it, or None when Slack is not configured."""
    settings = services.settings
    oauth = bool(settings.slack_client_id and settings.slack_client_secret)
    if not settings.slack_bot_token and not oauth:
        return None
    store = (SQLInstallationStore(services.db, settings.slack_client_id or "", secret=services.secret)
             if oauth else None)
    clients = SlackClients(base_url=api_base(settings.slack_api_url), token=settings.slack_bot_token,
                           installation_store=store)
    await clients.start()
    services.register_notifier(SlackNotifier(clients))
    return clients.close
