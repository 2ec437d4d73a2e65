"""The process's HTTP server: health probes and /metrics (Slack HTTP mode adds /slack/* routes).

- `/livez`: liveness. 200 while the event loop serves; 503 only when a platform connection has
  stayed down longer than `bot.health.STUCK_AFTER` (a restart may help; a database outage it
  cannot fix, so the database is not part of liveness).
- `/readyz`: readiness. 200 when the database answers and every configured platform is
  connected (Slack Socket Mode socket, Discord gateway); 503 otherwise.
- `/healthz`: the same verdict as readiness with the detail: `database` and each platform.
- `/metrics`: Prometheus exposition from prometheus_client (see `bot.metrics`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.services import Services
from surveys.db import DatabaseUnavailable
from surveys.models import Answer, Response, Wave, WaveStatus

log = logging.getLogger(__name__)


async def refresh_survey_gauges(services: Services) -> None:
    """Set the survey-state gauges from the database (one short read per scrape)."""
    async with services.db.session() as session:
        waves = dict((await session.execute(
            select(Wave.status, func.count()).group_by(Wave.status)
        )).all())
        responses = (await session.execute(select(func.count()).select_from(Response))).scalar_one()
        answers = (await session.execute(select(func.count()).select_from(Answer))).scalar_one()
    for status in WaveStatus:
        metrics.WAVES.labels(status.value).set(waves.get(status.value, 0))
    metrics.RESPONSES.set(responses)
    metrics.ANSWERS.set(answers)


async def health_report(services: Services) -> tuple[dict[str, Any], bool, bool]:
    """(detail, ready, live) for the probes."""
    try:
        await services.db.check()
        database = "ok"
    except DatabaseUnavailable as exc:
        database = f"unavailable: {exc}"
    states = await services.health.states()
    for platform in ("slack", "discord"):
        metrics.PLATFORM_CONNECTED.labels(platform).set(1 if states.get(platform) else 0)
    stuck = services.health.stuck(states)
    ready = database == "ok" and all(states.values())
    detail: dict[str, Any] = {
        "status": "ok" if ready else ("unavailable" if database != "ok" else "degraded"),
        "database": database,
        "platforms": sorted(p for p, up in states.items() if up),
        "disconnected": sorted(p for p, up in states.items() if not up),
    }
    if stuck:
        detail["stuck"] = stuck
    return detail, ready, not stuck


def make_web_app(services: Services) -> web.Application:
    """The aiohttp application with health and metrics routes."""
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        detail, ready, _live = await health_report(services)
        return web.json_response(detail, status=200 if ready else 503)

    async def readyz(_request: web.Request) -> web.Response:
        detail, ready, _live = await health_report(services)
        return web.json_response(detail, status=200 if ready else 503)

    async def livez(_request: web.Request) -> web.Response:
        states = await services.health.states()
        stuck = services.health.stuck(states)
        body = {"status": "stuck", "stuck": stuck} if stuck else {"status": "ok"}
        return web.json_response(body, status=503 if stuck else 200)

    async def metrics_route(_request: web.Request) -> web.Response:
        try:
            await refresh_survey_gauges(services)
        except (DatabaseUnavailable, SQLAlchemyError, OSError):
            log.warning("metrics: database unavailable; survey gauges keep their last values")
        await health_report(services)
        return web.Response(body=metrics.exposition(),
                            headers={"Content-Type": metrics.CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/metrics", metrics_route)
    return app
