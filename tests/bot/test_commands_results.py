"""`/survey results` split by platform, and the filter's errors, through the neutral commands."""

from __future__ import annotations

import pytest

from bot.commands import CommandError, Commands, Invocation, split_platform
from surveys.identity import Member
from surveys.models import WaveStatus
from surveys.waves import create_wave


def _results(where: str) -> Invocation:
    return Invocation("slack", "T1", "C1", "U_MOD", True, "results", {"where": where})


async def test_results_can_be_split_by_platform(services):
    community = await services.community_for("slack", "T1")
    async with services.db.session() as session:
        wave = await create_wave(session, community, services.catalog.get("state-of-mlops"), "2026",
                                 status=WaveStatus.open)
    for platform, n in (("slack", 5), ("discord", 7)):
        for i in range(n):
            await services.flow.submit(wave.id, Member(platform, "S", f"{platform}-{i}"),
                                       {"title": "researcher", "role": "models"}, finish=True)
    commands = Commands(services)
    everyone = await commands.run(Invocation("slack", "T1", "C1", "U_MOD", True, "results"))
    # a live wave: its released snapshot (analytics.releases)
    assert everyone.text.startswith("2026: based on the first 12 respondents")
    discord = await commands.run(_results("platform=discord"))
    assert discord.text.startswith("2026: based on the first 12 respondents, 7 of them in this segment")
    assert "platform = discord" in discord.text
    slack_ics = await commands.run(_results("platform=slack role=models"))
    assert ", 5 of them in this segment" in slack_ics.text
    refused = await commands.run(_results("platform=irc"))
    assert "platform= takes one of slack, discord, console" in refused.text


def test_split_platform_takes_it_out_of_the_filter():
    where = {"role": ["models"], "platform": ["Slack"]}
    assert split_platform(where) == "slack" and where == {"role": ["models"]}
    assert split_platform({"role": ["x"]}) is None
    with pytest.raises(CommandError):
        split_platform({"platform": ["slack", "discord"]})


def _cmd(command: str, **args: str) -> Invocation:
    return Invocation("slack", "T1", "C1", "U_MOD", True, command, args)


async def test_moderator_mistakes_and_failed_posts_are_said_plainly(services):
    commands = Commands(services)  # no notifier registered: nothing can be posted
    bad_label = await commands.run(_cmd("launch", survey="state-of-mlops", wave="<!channel>"))
    assert "cannot be a wave label" in bad_label.text
    too_long = await commands.run(_cmd("launch", survey="state-of-mlops", wave="2026", duration="9999999w"))
    assert "is too long; a wave runs at most a year" in too_long.text
    launched = await commands.run(_cmd("launch", survey="state-of-mlops", wave="2026"))
    assert "is open, but the announcement could not be posted" in launched.text
    again = await commands.run(_cmd("launch", survey="state-of-mlops", wave="2026"))
    assert "could not be posted" in again.text  # announcing an open wave again is allowed
    closed = await commands.run(_cmd("close"))
    assert "is closed, but its summary could not be posted" in closed.text


async def test_chat_results_show_and_filter_on_a_derived_field(services):
    community = await services.community_for("slack", "T1")
    async with services.db.session() as session:
        wave = await create_wave(session, community, services.catalog.get("state-of-mlops"), "2026",
                                 status=WaveStatus.open)
    people = [("6_20", ["retrain"])] * 6 + [("1", ["train_models"])] * 6 + [("none", ["explore_data"])] * 6
    for i, (models, work) in enumerate(people):
        await services.flow.submit(wave.id, Member("slack", "S", f"m-{i}"),
                                   {"title": "data_scientist", "role": "models",
                                    "models_in_production": models, "recent_work": work}, finish=True)
    commands = Commands(services)
    stage = await commands.run(_cmd("results", question="ml_maturity"))
    assert "ML maturity stage" in stage.text and "Managing many models in production" in stage.text
    pipeline = await commands.run(_results("ml_maturity=pipeline_centric"))
    assert ", 6 of them in this segment" in pipeline.text
    unknown = await commands.run(_cmd("results", question="maturity"))
    assert "ml_maturity" in unknown.text  # the known ids include the derived field
