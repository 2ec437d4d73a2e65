"""The process's HTTP server: /healthz and /metrics (Slack HTTP mode adds /slack/* routes)."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from sqlalchemy import func, select

from bot.services import Services
from surveys.db import DatabaseUnavailable
from surveys.models import Answer, Response, Wave, WaveStatus

log = logging.getLogger(__name__)

STARTED = time.monotonic()


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def metrics_text(services: Services) -> str:
    """Prometheus text exposition of the process and the survey state."""
    async with services.db.session() as session:
        waves = dict((await session.execute(
            select(Wave.status, func.count()).group_by(Wave.status)
        )).all())
        responses = (await session.execute(select(func.count()).select_from(Response))).scalar_one()
        answers = (await session.execute(select(func.count()).select_from(Answer))).scalar_one()
    lines = [
        "# HELP stateof_up 1 when the process serves requests.",
        "# TYPE stateof_up gauge",
        "stateof_up 1",
        "# HELP stateof_uptime_seconds Seconds since the process started.",
        "# TYPE stateof_uptime_seconds gauge",
        f"stateof_uptime_seconds {time.monotonic() - STARTED:.1f}",
        "# HELP stateof_waves Waves by status.",
        "# TYPE stateof_waves gauge",
    ]
    for status in WaveStatus:
        lines.append(f'stateof_waves{{status="{status.value}"}} {waves.get(status.value, 0)}')
    lines += [
        "# HELP stateof_responses Responses (started surveys) stored.",
        "# TYPE stateof_responses gauge",
        f"stateof_responses {responses}",
        "# HELP stateof_answers Answer rows stored.",
        "# TYPE stateof_answers gauge",
        f"stateof_answers {answers}",
        "# HELP stateof_platform_connected 1 when a platform notifier is registered.",
        "# TYPE stateof_platform_connected gauge",
    ]
    for platform in ("slack", "discord"):
        connected = 1 if platform in services.notifiers else 0
        lines.append(f'stateof_platform_connected{{platform="{_escape_label(platform)}"}} {connected}')
    return "\n".join(lines) + "\n"


def make_web_app(services: Services) -> web.Application:
    """The aiohttp application with health and metrics routes."""
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        try:
            await services.db.check()
        except DatabaseUnavailable as exc:
            return web.json_response({"status": "unavailable", "reason": str(exc)}, status=503)
        return web.json_response({"status": "ok", "platforms": sorted(services.notifiers)})

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(text=await metrics_text(services), content_type="text/plain")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
