"""Health probes and /metrics: readiness vs liveness, Prometheus exposition from prometheus_client."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot import health, metrics
from bot.web import make_web_app


async def _client(services) -> TestClient:
    client = TestClient(TestServer(make_web_app(services)))
    await client.start_server()
    return client


async def test_metrics_is_prometheus_exposition_with_process_and_survey_metrics(services):
    metrics.INTERACTIONS.labels("slack", "answered").inc()
    client = await _client(services)
    try:
        response = await client.get("/metrics")
        body = await response.text()
    finally:
        await client.close()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")  # not bare text/plain
    assert "charset=utf-8" in response.headers["Content-Type"]
    assert "process_resident_memory_bytes" in body  # process metrics (Linux)
    assert 'stateof_waves{status="open"} 0.0' in body
    for name in ("stateof_answers_stored_total", "stateof_interactions_total", "stateof_ack_seconds",
                 "stateof_messages_total", "stateof_rate_limited_total", "stateof_job_runs_total",
                 "stateof_rate_limiter_wait_seconds_total", "stateof_platform_connected"):
        assert f"# HELP {name} " in body, name
    assert 'stateof_interactions_total{outcome="answered",platform="slack"}' in body


async def test_readiness_needs_every_platform_liveness_only_a_stuck_one(services):
    now = [1000.0]
    services.health.clock = lambda: now[0]
    up = {"discord": True}

    async def discord_up() -> bool:
        return up["discord"]

    services.health.register("discord", discord_up)
    client = await _client(services)
    try:
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["platforms"] == ["discord"]

        up["discord"] = False
        not_ready = await client.get("/readyz")
        detail = await not_ready.json()
        assert not_ready.status == 503
        assert detail["database"] == "ok" and detail["disconnected"] == ["discord"]
        assert (await client.get("/livez")).status == 200  # a short drop is not a restart

        now[0] += health.STUCK_AFTER + 1
        stuck = await client.get("/livez")
        assert stuck.status == 503 and (await stuck.json())["stuck"] == ["discord"]

        up["discord"] = True
        assert (await client.get("/livez")).status == 200
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


async def test_database_down_is_not_ready_but_live(services):
    client = await _client(services)
    try:
        from surveys.db import DatabaseUnavailable

        async def down() -> None:
            raise DatabaseUnavailable("database unreachable (test)")

        services.db.check = down  # type: ignore[method-assign]
        health_response = await client.get("/healthz")
        detail = await health_response.json()
        assert health_response.status == 503
        assert detail["database"].startswith("unavailable") and detail["status"] == "unavailable"
        assert (await client.get("/livez")).status == 200
    finally:
        await client.close()


async def test_rate_limiters_count_429s_and_waiting():
    from prometheus_client import REGISTRY

    from bot.discord.pacing import FanoutLimiter
    from bot.slack.ratelimit import SlackRateLimiter

    def value(name: str, platform: str) -> float:
        return REGISTRY.get_sample_value(name, {"platform": platform}) or 0.0

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    before_429 = value("stateof_rate_limited_total", "slack")
    before_wait = value("stateof_rate_limiter_wait_seconds_total", "discord")
    SlackRateLimiter(sleep=sleep).penalize("team", "chat.postMessage", 3.0)
    fanout = FanoutLimiter(2.0, clock=lambda: 100.0, sleep=sleep)
    await fanout.acquire()
    await fanout.acquire()
    assert value("stateof_rate_limited_total", "slack") == before_429 + 1
    assert value("stateof_rate_limiter_wait_seconds_total", "discord") == before_wait + 0.5


async def test_answers_messages_and_job_runs_are_counted(services):
    from prometheus_client import REGISTRY

    from bot.answering.conversation import Conversation
    from bot.answering.memory import MemoryMember
    from bot.scheduling import runs
    from bot.scheduling.delivery import RetryingNotifier, RetryPolicy
    from surveys.identity import Member
    from surveys.models import WaveStatus
    from surveys.paging import paginate
    from surveys.ports import ChannelRef, Message
    from surveys.waves import create_wave

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    community = await services.community_for("memory", "space-1")
    async with services.db.session() as session:
        wave = await create_wave(session, community, services.catalog.get("state-of-mlops"), "2026",
                                 status=WaveStatus.open)
    ada = MemoryMember(Conversation(services, "memory", lambda p: paginate(p, 5)),
                       Member("memory", "space-1", "ada"), wave.id)
    stored = value("stateof_answers_stored_total", platform="memory")
    await ada.take()
    await ada.pick("title", "researcher")
    await ada.pick("title", "not-an-option")  # refused: not counted
    assert value("stateof_answers_stored_total", platform="memory") == stored + 1

    class Flaky:
        platform = "slack"
        calls = 0

        async def post(self, channel, message):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("reset")
            return "1.2"

        async def dm(self, member, message):
            return False  # the member does not take DMs

    async def no_sleep(_seconds: float) -> None:
        return None

    notifier = RetryingNotifier(Flaky(), RetryPolicy(attempts=3), no_sleep)  # type: ignore[arg-type]
    before = {o: value("stateof_messages_total", platform="slack", kind=k, outcome=o)
              for k, o in (("post", "sent"), ("post", "retried"), ("dm", "failed"))}
    await notifier.post(ChannelRef("slack", "T1", "C1"), Message(title="Hi", text="hello"))
    await notifier.dm(Member("slack", "T1", "U1"), Message(title="Hi", text="hello"))
    after = {o: value("stateof_messages_total", platform="slack", kind=k, outcome=o)
             for k, o in (("post", "sent"), ("post", "retried"), ("dm", "failed"))}
    assert after == {o: n + 1 for o, n in before.items()}

    done = value("stateof_job_runs_total", kind="close", outcome="done")
    await runs.finish(services.db, "close:wave:1", "done")
    assert value("stateof_job_runs_total", kind="close", outcome="done") == done + 1
