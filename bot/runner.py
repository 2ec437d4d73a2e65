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

from aiohttp import web

from bot.services import Services, build_services
from bot.settings import Settings
from bot.web import make_web_app
from surveys.db import sync_url
from surveys.migrate import upgrade

log = logging.getLogger(__name__)


async def _start_platforms(services: Services, web_app: web.Application) -> list[Any]:
    runtimes: list[Any] = []
    settings = services.settings
    if settings.slack_enabled:
        from bot.slack.runtime import start_slack

        runtimes.append(await start_slack(services, web_app))
        log.info("Slack connected (%s)", "Socket Mode" if settings.slack_app_token else "HTTP")
    if settings.discord_enabled:
        from bot.discord.runtime import start_discord

        runtimes.append(await start_discord(services))
        log.info("Discord connected")
    return runtimes


async def run_bot(
    settings: Settings, *, host: str = "0.0.0.0", port: int = 3000, chat: bool | None = None,
    survey: str = "state-of-mlops",
) -> int:
    """Run until SIGINT/SIGTERM (or until the terminal chat ends). Returns an exit code."""
    settings.check_platforms()
    await asyncio.to_thread(upgrade, sync_url(settings.database_url))
    services = build_services(settings)
    await services.db.check()
    web_app = make_web_app(services)
    runtimes = await _start_platforms(services, web_app)
    from bot.scheduling import start_scheduler

    scheduler = await start_scheduler(services)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("stateof is running: http://%s:%d/healthz", host, port)
    use_chat = chat if chat is not None else (not runtimes and sys.stdin.isatty())
    try:
        if use_chat:
            from bot.console import ConsoleChat

            log.info("no Slack or Discord configured: opening the terminal chat")
            await ConsoleChat(services).run(survey)
        else:
            await _wait_for_signal()
    finally:
        log.info("shutting down")
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
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
