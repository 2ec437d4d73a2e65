"""The fake Discord behaves like Discord for the real discord.py: REST, gateway, interactions."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakes.discord import FakeDiscord, iter_components


@pytest.fixture
async def fake():
    async with FakeDiscord(deadline=3.0) as server:
        yield server


class Bare(discord.Client):
    """A discord.Client whose interaction handler a test sets."""

    handler = None

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if self.handler is not None:
            await self.handler(interaction)


@pytest.fixture
async def client(fake):
    previous = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = fake.api_url, yarl.URL(fake.gateway_url)
    bare = Bare(intents=discord.Intents(guilds=True), guild_ready_timeout=0.05)
    await bare.login(fake.token)
    task = asyncio.create_task(bare.connect())
    await asyncio.wait_for(bare.wait_until_ready(), 10)
    yield bare
    await bare.close()
    task.cancel()
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = previous


async def test_rest_answers_json_and_checks_the_token(fake):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_url}/users/@me", headers={"Authorization": f"Bot {fake.token}"}) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            assert (await r.json())["bot"] is True
        async with http.get(f"{fake.api_url}/users/@me", headers={"Authorization": "Bot wrong"}) as r:
            assert r.status == 401
        async with http.get(f"{fake.api_url}/nowhere", headers={"Authorization": f"Bot {fake.token}"}) as r:
            assert r.status == 404 and r.headers["Content-Type"] == "application/json"
    assert [q.status for q in fake.requests] == [200, 401, 404]


async def test_gateway_handshake_fills_the_guild_cache(fake, client):
    assert fake.identifies and fake.identifies[0]["token"] == fake.token
    guild = client.get_guild(fake.guild_id)
    assert guild is not None and guild.get_channel(fake.general).name == "general"
    assert guild.get_role(fake.moderator_role).name == "Survey team"
    assert client.user.id == fake.app_id


async def test_bad_token_is_a_login_failure(fake):
    previous = Route.BASE
    Route.BASE = fake.api_url
    bare = discord.Client(intents=discord.Intents.none())
    try:
        with pytest.raises(discord.LoginFailure):
            await bare.login("wrong")
    finally:
        await bare.close()
        Route.BASE = previous


async def test_one_callback_per_interaction_and_follow_up_replaces_thinking(fake, client):
    outcomes = []

    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await interaction.response.send_message("twice")  # discord.py refuses locally
        except discord.InteractionResponded:
            outcomes.append("refused")
        await interaction.followup.send("done", ephemeral=True)

    client.handler = handler
    record = await fake.interact(fake.command("survey", "status", {}, user=fake.moderator))
    assert record.callback_type == 5 and record.latency < 3
    message = fake.response_message(record)
    assert message["content"] == "done" and not message["flags"] & 128  # no longer loading
    assert outcomes == ["refused"]
    url = f"{fake.api_url}/interactions/{record.id}/{record.token}/callback"
    async with aiohttp.ClientSession() as http, http.post(  # a second callback, like a duplicate
        url, json={"type": 4, "data": {"content": "again"}}
    ) as r:
        assert r.status == 400 and (await r.json())["code"] == 40060


async def test_late_callback_is_unknown_interaction(fake, client):
    fake.deadline = 0.05
    errors = []

    async def handler(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.2)
        try:
            await interaction.response.send_message("late")
        except discord.NotFound as exc:
            errors.append(exc.code)

    client.handler = handler
    record = await fake.send_interaction(fake.command("survey", "help", {}))
    await asyncio.sleep(0.5)
    assert errors == [10062] and record.callback_type is None and record.rejected_callbacks


async def test_rate_limit_is_retried_by_discord_py(fake, client):
    fake.inject("POST", r"^/channels/\d+/messages$", retry_after=0.05, times=2)
    channel = client.get_channel(fake.general)
    file = discord.File(io.BytesIO(b"\x89PNG\r\n\x1a\nxx"), filename="chart.png")
    sent = await channel.send("hello", file=file, allowed_mentions=discord.AllowedMentions.none())
    statuses = [r.status for r in fake.requests if r.path == f"/channels/{fake.general}/messages"]
    assert statuses == [429, 429, 200]
    stored = fake.messages[sent.id]
    assert fake.attachment_data(stored["attachments"][0]).startswith(b"\x89PNG")
    assert stored["allowed_mentions"] == {"parse": []}


async def test_closed_dms_answer_50007(fake, client):
    fake.dm_closed.add(fake.member)
    user = await client.fetch_user(fake.member)
    with pytest.raises(discord.Forbidden) as caught:
        await user.send("hi")
    assert caught.value.code == 50007
    fake.dm_closed.clear()
    await user.send("hi again")
    assert [m["content"] for m in fake.dms(fake.member)] == ["hi again"]


async def test_component_click_and_modal_submit_reach_discord_py(fake, client):
    got: dict[str, object] = {}

    class Ask(discord.ui.Modal, title="Ask"):
        answer = discord.ui.Label(text="Your answer", component=discord.ui.TextInput(custom_id="a"))

        async def on_submit(self, interaction: discord.Interaction) -> None:
            got["modal"] = self.answer.component.value
            await interaction.response.edit_message(content="thanks", view=None)

    class Buttons(discord.ui.View):
        @discord.ui.select(custom_id="pick", options=[discord.SelectOption(label="A", value="a"),
                                                      discord.SelectOption(label="B", value="b")])
        async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
            got["values"] = select.values
            await interaction.response.send_modal(Ask())

    async def handler(interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.application_command:
            await interaction.response.send_message("choose", view=Buttons(), ephemeral=True)

    client.handler = handler
    record = await fake.interact(fake.command("survey", "help", {}))
    message = fake.response_message(record)
    assert message["flags"] & 64
    assert [c["custom_id"] for c in iter_components(message["components"]) if "custom_id" in c] == ["pick"]
    opened = await fake.interact(fake.click(message, "pick", values=["b"]))
    assert got["values"] == ["b"] and opened.callback_type == 9
    assert opened.modal["components"][0]["type"] == 18  # a Label wrapping the text input
    done = await fake.interact(fake.modal_submit(opened.modal, {"a": "42"}, message=message))
    assert got["modal"] == "42" and done.callback_type == 7
    assert fake.messages[int(message["id"])]["content"] == "thanks"


async def test_disconnect_resumes(fake, client):
    await fake.disconnect_all()
    await fake.wait_identified(2)
    assert "resume" in fake.identifies[-1]


async def _identify(fake: FakeDiscord, http: aiohttp.ClientSession, shard: list[int]) -> list[dict]:
    """A raw gateway handshake: HELLO, READY and its GUILD_CREATEs (or how it was closed)."""
    frames: list[dict] = []
    async with http.ws_connect(fake.gateway_url) as ws:
        frames.append(await ws.receive_json())  # HELLO
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "shard": shard,
                                           "properties": {}}})
        expected = None
        while expected is None or len(frames) < 2 + expected:
            msg = await ws.receive(timeout=5)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return [*frames, {"close": ws.close_code}]
            frames.append(msg.json())
            if frames[-1].get("t") == "READY":
                expected = len(frames[-1]["d"]["guilds"])
    return frames


async def test_gateway_sends_each_guild_on_its_shard(fake):
    second = ((fake.guild_id >> 22) + 1) << 22  # the other shard of two
    fake.add_guild(second, "Second")
    fake.add_channel(second, "lobby")
    fake.shards = 2
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_url}/gateway/bot",
                            headers={"Authorization": f"Bot {fake.token}"}) as r:
            assert (await r.json())["shards"] == 2
        for shard_id in (0, 1):
            frames = await _identify(fake, http, [shard_id, 2])
            ready = frames[1]
            assert ready["t"] == "READY" and ready["d"]["shard"] == [shard_id, 2]
            (guild,) = [int(g["id"]) for g in ready["d"]["guilds"]]
            assert fake.shard_of(guild, 2) == shard_id
            assert [int(f["d"]["id"]) for f in frames if f.get("t") == "GUILD_CREATE"] == [guild]
        assert (await _identify(fake, http, [2, 2]))[-1] == {"close": 4010}  # no such shard


async def test_interactions_go_to_the_guild_shard_only(fake):
    second = ((fake.guild_id >> 22) + 1) << 22
    fake.add_guild(second, "Second")
    user = fake.add_member(second, "b")
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        await ws.receive_json()
        mine = fake.shard_of(second, 2)
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "shard": [mine, 2],
                                           "properties": {}}})
        await fake.wait_identified()
        record = await fake.send_interaction(fake.command("survey", "help", {}, user=user,
                                                          guild_id=second))
        assert record.shards == [(mine, 2)]
        with pytest.raises(RuntimeError, match="no identified gateway session"):
            await fake.send_interaction(fake.command("survey", "help", {}))  # the other shard's guild
        frames = []
        while not any(f.get("t") == "INTERACTION_CREATE" for f in frames):
            frames.append(await ws.receive_json(timeout=5))
        (got,) = [f for f in frames if f.get("t") == "INTERACTION_CREATE"]
        assert int(got["d"]["guild_id"]) == second
