"""Which community a workspace or server joins: linked spaces, first-come, strangers apart."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


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
