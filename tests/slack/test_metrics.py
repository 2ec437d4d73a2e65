"""Every Slack request is counted and its acknowledgement timed (/metrics), through the real Bolt app."""

from __future__ import annotations

from prometheus_client import REGISTRY


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_slack_requests_are_counted_and_their_ack_timed(bot, fake, sservices):
    acks = _value("stateof_ack_seconds_count", platform="slack")
    ok = _value("stateof_interactions_total", platform="slack", outcome="ok")
    await bot.command("help")
    wave_id = await bot.launch("2026")
    await bot.member().take(wave_id)
    assert _value("stateof_ack_seconds_count", platform="slack") >= acks + 3
    assert _value("stateof_interactions_total", platform="slack", outcome="ok") >= ok + 3
