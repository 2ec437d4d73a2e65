"""Which community a workspace or server joins: linked spaces, first-come, strangers apart."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

import bot.runner as runner
from bot.settings import SettingsError, load_settings
from surveys.db import Database
from surveys.models import Community, Space
from tests.discord.test_cross_platform import free_port, wait_healthy
from tests.fakes.slack import FakeSlackAPI, SlackHTTPClient, slash_command_body
from tests.slack.kit import MODERATOR, SECRET


async def test_first_space_of_each_platform_joins_then_strangers_get_their_own(services):
    slack = await services.community_for("slack", "T1")
    discord = await services.community_for("discord", "111")
    assert slack.id == discord.id and slack.slug == "default"  # one community, two platforms
    stranger = await services.community_for("discord", "999")
    assert stranger.id != slack.id and stranger.slug == "discord-999"
    assert (await services.community_for("discord", "999")).id == stranger.id  # remembered
    assert (await services.community_for("slack", "T1")).id == slack.id


async def test_linked_spaces_decide_when_configured(services):
    services.settings.community_spaces = "slack:T2, discord:222"
    services.settings.discord_guild = 333
    assert (await services.community_for("discord", "111")).slug == "discord-111"  # not linked
    default = await services.community_for("slack", "T2")
    assert (await services.community_for("discord", "222")).id == default.id
    assert (await services.community_for("discord", "333")).id == default.id  # STATEOF_DISCORD_GUILD
    assert (await services.community_for("slack", "T9")).slug == "slack-T9"


def test_malformed_link_is_one_line(monkeypatch):
    monkeypatch.setenv("STATEOF_COMMUNITY_SPACES", "discord:1,irc:#x")
    with pytest.raises(SettingsError, match="STATEOF_COMMUNITY_SPACES is invalid: 'irc:#x'"):
        load_settings()


async def test_a_linked_discord_server_keeps_an_unlinked_slack_workspace_out(services):
    """The campaign's case: Discord linked, Slack not; a stranger's workspace is not adopted."""
    services.settings.discord_guild = 4242
    ours = await services.community_for("discord", "4242")
    stranger = await services.community_for("slack", "T0EVIL")
    assert ours.slug == "default" and stranger.slug == "slack-T0EVIL" and stranger.id != ours.id
    assert (await services.community_for("discord", "5555")).slug == "discord-5555"


async def test_a_space_adopted_before_links_leaves_and_a_linked_one_comes_back(services, caplog):
    first = await services.community_for("slack", "T0EVIL")  # nothing linked yet: first come
    assert first.slug == "default"
    services.settings.discord_guild = 4242
    with caplog.at_level(logging.WARNING, logger="surveys.waves"):
        moved = await services.community_for("slack", "T0EVIL")
    assert moved.slug == "slack-T0EVIL" and "leaves it for a community of its own" in caplog.text
    services.settings.community_spaces = "slack:T0EVIL"  # the operator links it after all
    assert (await services.community_for("slack", "T0EVIL")).slug == "default"


async def test_the_terminal_chat_always_belongs_to_the_community(services):
    services.settings.community_spaces = "slack:T0123"
    assert (await services.community_for("console", "local")).slug == "default"


async def test_stateof_run_says_which_spaces_form_the_community_and_refuses_a_stranger(
    settings, database_url, monkeypatch, caplog,
):
    """Through `run_bot`: Slack single-workspace token (its workspace is linked), a Discord
    server linked by STATEOF_DISCORD_GUILD; a command from another workspace gets its own."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    stop = asyncio.Event()
    monkeypatch.setattr(runner, "_wait_for_signal", stop.wait)
    port = free_port()
    async with FakeSlackAPI() as slack:
        slack.add_user(MODERATOR, is_admin=True)  # an admin in each workspace
        both = settings.model_copy(update={
            "discord_guild": 4242, "slack_bot_token": "xoxb-test", "slack_signing_secret": SECRET,
            "slack_api_url": slack.base_url,
        })
        caplog.set_level(logging.INFO)
        task = asyncio.create_task(runner.run_bot(both, host="127.0.0.1", port=port, chat=False))
        try:
            await wait_healthy(f"http://127.0.0.1:{port}/healthz", ["slack"], task)
            lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("community ")]
            assert lines == ["community default: discord:4242 (STATEOF_DISCORD_GUILD), slack:T0TEAM "
                             "(workspace of SLACK_BOT_TOKEN); any other Slack workspace or Discord "
                             "server gets a community of its own"], lines
            http = SlackHTTPClient(f"http://127.0.0.1:{port}/slack/events", SECRET)
            try:
                for team in ("T0TEAM", "T0EVIL"):
                    resp = await http.post(slash_command_body("/survey", "status", team_id=team,
                                                              user_id=MODERATOR))
                    assert resp.status == 200, resp
            finally:
                await http.close()
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    db = Database(database_url)
    try:
        async with db.session() as session:
            rows = (await session.execute(
                select(Space.external_id, Community.slug).join(Community, Community.id == Space.community_id)
                .where(Space.platform == "slack"))).all()
    finally:
        await db.dispose()
    assert dict(rows) == {"T0TEAM": "default", "T0EVIL": "slack-T0EVIL"}
