"""Sharding: one process running several shards, and a process running a range of them.

The fake sends each guild's GUILD_CREATE and interactions only on the shard Discord would,
`(guild_id >> 22) % count`, so a guild-scoped feature that worked only on one shard fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import lifecycle
from bot.discord.runtime import start_discord
from surveys.ports import ChannelRef, Message
from tests.discord.kit import DiscordMember, texts
from tests.discord.test_answering import launch
from tests.fakes.discord import MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord


class OtherGuild:
    """A second server, on the other shard of two from the fake's first guild."""

    def __init__(self, fake: FakeDiscord):
        first = fake.guild_id >> 22
        self.id = ((first + 1) << 22) | 7  # the next millisecond: the other parity
        assert fake.shard_of(self.id, 2) != fake.shard_of(fake.guild_id, 2)
        fake.add_guild(self.id, "Second Guild")
        self.general = fake.add_channel(self.id, "lobby")
        self.role = fake.add_role(self.id, "Survey team")
        self.moderator = fake.add_member(self.id, "mod-b", permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
        self.helper = fake.add_member(self.id, "helper-b", roles=[self.role])
        self.member = fake.add_member(self.id, "member-b")


@pytest.fixture
def other(fake: FakeDiscord) -> OtherGuild:
    return OtherGuild(fake)


def sharded(dservices, **update):
    for key, value in {"discord_guild": None, **update}.items():  # global commands: many servers
        setattr(dservices.settings, key, value)
    return dservices


async def test_two_shards_in_one_process_serve_both_guilds(fake, other, dservices):
    fake.shards = 2  # neither setting: discord.py asks GET /gateway/bot how many
    # Discord names its own gateway and resume hosts; behind DISCORD_GATEWAY_URL neither is used
    fake.bot_gateway_url = fake.resume_gateway_url = "ws://127.0.0.1:9/not-the-proxy"
    # both servers belong to the community (an unlinked one would get a community of its own)
    services = sharded(dservices, discord_moderator_role="Survey team",
                       community_spaces=f"discord:{fake.guild_id},discord:{other.id}")
    runtime = await start_discord(services)
    try:
        client = runtime.client
        assert runtime.ready and client.shard_count == 2 and client.running_shards == [0, 1]
        assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]]
        assert any(r.path == "/gateway/bot" for r in fake.requests)
        shard_a, shard_b = fake.shard_of(fake.guild_id, 2), fake.shard_of(other.id, 2)
        assert client.get_guild(fake.guild_id).shard_id == shard_a
        assert client.get_guild(other.id).shard_id == shard_b

        # one wave of the community, announced in both servers by the notifier
        community = await services.community_for("discord", str(fake.guild_id))
        await lifecycle.launch(services, community, "state-of-mlops", "2026", [
            ChannelRef("discord", str(fake.guild_id), str(fake.general)),
            ChannelRef("discord", str(other.id), str(other.general)),
        ])
        (in_a,) = fake.channel_messages(fake.general)
        (in_b,) = fake.channel_messages(other.general)

        member_a = DiscordMember(fake, fake.member)
        member_b = DiscordMember(fake, other.member, guild_id=other.id)
        await member_a.take(in_a)
        assert "Thank you" in texts(await member_a.answer_all())
        await member_b.take(in_b)
        assert "Thank you" in texts(await member_b.answer_all())
        # every interaction went over its own guild's shard, and was answered in time
        assert {s for r in member_a.records for s in r.shards} == {(shard_a, 2)}
        assert {s for r in member_b.records for s in r.shards} == {(shard_b, 2)}
        assert all(r.latency < 3 for r in member_a.records + member_b.records)

        # moderators in either server (permission or configured role) see both answers
        for mod in (DiscordMember(fake, fake.moderator),
                    DiscordMember(fake, other.moderator, guild_id=other.id),
                    DiscordMember(fake, other.helper, guild_id=other.id)):
            assert "Respondents: 2 (completed: 2)" in texts(await mod.command("status"))
        refused = await DiscordMember(fake, other.member, guild_id=other.id).command("status")
        assert "for survey moderators" in texts(refused)

        # both shards drop and resume, each on its own shard, through the configured gateway
        await fake.disconnect_all()
        await fake.wait_identified(4)
        assert all("resume" in i for i in fake.identifies[2:])
        assert sorted(fake.session_shards) == [(0, 2), (1, 2)]

        # closing from the second server posts the summary in both
        closed = await DiscordMember(fake, other.moderator, guild_id=other.id).command("close")
        assert "is closed" in texts(closed) and "posted to 2 channel" in texts(closed)
        for channel in (fake.general, other.general):
            summary = fake.channel_messages(channel)[-1]
            assert "has closed" in texts(summary)  # two respondents: shares hidden (min group)
    finally:
        await runtime.stop()
    assert not fake.sessions


async def test_a_count_alone_runs_every_shard(fake, other, dservices):
    runtime = await start_discord(sharded(dservices, discord_shard_count=2))
    try:
        assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]]
        assert not any(r.path == "/gateway/bot" for r in fake.requests)  # the count is given
        assert {g.id for g in runtime.client.guilds} == {fake.guild_id, other.id}
    finally:
        await runtime.stop()


async def test_a_process_runs_only_its_shard_range(fake, other, dservices):
    mine = fake.shard_of(fake.guild_id, 2)
    assert mine == 1  # the fake's first guild is on shard 1 of 2; the other on shard 0
    runtime = await start_discord(sharded(dservices, discord_shard_count=2, discord_shard_ids=[1]))
    try:
        assert [i["shard"] for i in fake.identifies] == [[1, 2]]  # one IDENTIFY: shard 1 only
        assert fake.session_shards == [(1, 2)]
        client = runtime.client
        assert client.running_shards == [1] and client.shard_count == 2
        assert [g.id for g in client.guilds] == [fake.guild_id]  # shard 0's guild is elsewhere
        # the guild on this shard is served as before: launch, answer, status
        announcement = await launch(fake)
        member = DiscordMember(fake, fake.member)
        await member.take(announcement)
        await member.answer_all()
        assert {s for r in member.records for s in r.shards} == {(1, 2)}
        status = await DiscordMember(fake, fake.moderator).command("status")
        assert "Respondents: 1 (completed: 1)" in texts(status)
        # interactions for the other guild never reach this process
        with pytest.raises(RuntimeError, match="no identified gateway session"):
            await fake.send_interaction(fake.command("survey", "status", user=other.moderator,
                                                     guild_id=other.id))
        # the notifier (e.g. on the scheduler leader) still posts in a server of another shard
        ref = ChannelRef("discord", str(other.id), str(other.general))
        message_id = await runtime.notifier.post(ref, Message("Reminder", "Two days left"))
        (posted,) = fake.channel_messages(other.general)
        assert posted["id"] == message_id and "Two days left" in texts(posted)
    finally:
        await runtime.stop()


@pytest.mark.parametrize(("env", "expected"), [
    ({"DISCORD_SHARD_IDS": "0-x", "DISCORD_SHARD_COUNT": "4"}, "DISCORD_SHARD_IDS is invalid"),
    ({"DISCORD_SHARD_IDS": "4", "DISCORD_SHARD_COUNT": "4"}, "shard 4 is out of range"),
])
def test_bad_shard_settings_are_one_line_and_exit_2(tmp_path, env, expected):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "surveys", "list"], cwd=tmp_path,
                            env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: DISCORD_SHARD") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
