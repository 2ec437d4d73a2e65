"""Discord interactions are timed from the gateway event to their acknowledgement (/metrics),
as Slack's are, through the real discord.py client."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.discord.kit import DiscordMember
from tests.discord.test_answering import launch


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_discord_acks_are_timed(fake, runtime, dservices):
    acks = _value("stateof_ack_seconds_count", platform="discord")
    announcement = await launch(fake)  # a command, deferred at once
    member = DiscordMember(fake, fake.member)
    await member.take(announcement)  # a button, answered with the first page
    assert _value("stateof_ack_seconds_count", platform="discord") >= acks + 2
    assert _value("stateof_ack_seconds_bucket", platform="discord", le="3.0") >= acks + 2
