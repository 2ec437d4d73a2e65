"""`stateof run`: the bot process. One event loop runs Slack, Discord, the scheduler and
the HTTP server (/healthz, /metrics, Slack's /slack/events in HTTP mode). With no platform
configured and a terminal attached, it opens the terminal chat instead of idling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

import aiohttp
from aiohttp import web

from bot.logs import KEEP_SPACE_IDS, quiet_terminal
from bot.services import Services, build_services
from bot.settings import Settings
from bot.web import make_web_app
from surveys.db import sync_url
from surveys.migrate import upgrade

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The process cannot start (a platform unreachable, the port taken); one line."""


async def _start_platforms(
    services: Services, web_app: web.Application, runtimes: list[Any]
) -> None:
    """Start each configured platform, appending its runtime as soon as it runs."""
    settings = services.settings
    if settings.slack_enabled:
        from bot.slack.runtime import start_slack

        where = settings.slack_api_url or "https://slack.com/api/"
        try:
            runtimes.append(await start_slack(services, web_app))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise StartupError(f"cannot reach Slack at {where}: {exc or type(exc).__name__}") from None
        log.info("Slack connected (%s)", "Socket Mode" if settings.slack_app_token else "HTTP")
    if settings.discord_enabled:
        from bot.discord.runtime import start_discord

        where = settings.discord_api_url or "https://discord.com/api"
        try:
            runtimes.append(await start_discord(services))
        except (aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as exc:
            raise StartupError(f"cannot reach Discord at {where}: {exc or type(exc).__name__}") from None
        log.info("Discord connected")


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


async def run_bot(
    settings: Settings, *, host: str = "0.0.0.0", port: int = 3000, chat: bool | None = None,
    survey: str = "state-of-mlops",
) -> int:
    """Run until SIGINT/SIGTERM (or until the terminal chat ends). Returns an exit code.

    Raises StartupError, SettingsError or DatabaseUnavailable (one line each) when it cannot
    start; whatever did start is stopped again.
    """
    settings.check_platforms()
    await asyncio.to_thread(upgrade, sync_url(settings.database_url))
    services = build_services(settings)
    services.flow  # noqa: B018 - resolve the pseudonym key now: a bad one stops start-up here
    runtimes: list[Any] = []
    scheduler = None
    runner = web.AppRunner(make_web_app(services), access_log=None)
    try:
        await services.db.check()
        await _start_platforms(services, runner.app, runtimes)
        for line in await services.community_report():  # workspace/server ids only, never user ids
            log.info("%s", line, extra={KEEP_SPACE_IDS: True})
        from bot.scheduling import start_scheduler

        scheduler = await start_scheduler(services)
        await runner.setup()
        await _listen(runner, host, port)
        log.info("stateof is running: http://%s:%d/healthz", host, port)
        use_chat = chat if chat is not None else (not runtimes and sys.stdin.isatty())
        if use_chat:
            from bot.console import ConsoleChat

            log.info("no Slack or Discord configured: opening the terminal chat")
            with quiet_terminal():  # INFO lines stay off the chat screen (warnings still show)
                await ConsoleChat(services).run(survey)
        else:
            await _wait_for_signal()
    finally:
        log.info("shutting down")
        if scheduler is not None:
            await scheduler.stop()
        for runtime in reversed(runtimes):
            with contextlib.suppress(Exception):
                await runtime.stop()
        await runner.cleanup()
        await services.close()
    return 0


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sys.platform == "win32":  # no loop signal handlers there: a plain handler wakes the loop
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        else:
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
