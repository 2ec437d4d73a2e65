"""The `/survey` app-command group: the same subcommands and options as Slack's `/survey`.

Each subcommand only translates its options into a neutral `Invocation` and hands it to
`client.stateof.run_command`; the moderator check, the 3-second rule and the rendering of
the reply live there. The group has no default member permissions on purpose: Discord
applies them to a whole top-level command, which would hide `/survey my-data` and `help`
from members. Moderator subcommands check Manage Server or the configured role instead.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.discord.render import clip

log = logging.getLogger(__name__)

Choice = app_commands.Choice


def _stateof(interaction: discord.Interaction) -> Any:
    return interaction.client.stateof  # type: ignore[attr-defined]


async def survey_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _stateof(interaction).survey_choices(interaction, current)


async def wave_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _stateof(interaction).wave_choices(interaction, current)


async def question_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _stateof(interaction).question_choices(interaction, current)


async def _run(interaction: discord.Interaction, command: str, **args: Any) -> None:
    await _stateof(interaction).run_command(interaction, command, args)


class SurveyGroup(app_commands.Group):
    """`/survey …`: moderators steer waves; everyone sees and deletes their own data."""

    def __init__(self) -> None:
        super().__init__(
            name="survey", description="Our community survey", guild_only=True,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
        )

    @app_commands.command(name="launch", description="Open a survey wave and announce it (moderators)")
    @app_commands.describe(
        survey="Which questionnaire", wave="Wave label, e.g. 2026 (default: this year)",
        channel="Where to announce it (default: here)", duration="How long it stays open, e.g. 30d",
    )
    @app_commands.autocomplete(survey=survey_autocomplete)
    async def launch(
        self, interaction: discord.Interaction, survey: str, wave: str | None = None,
        channel: discord.TextChannel | None = None, duration: str | None = None,
    ) -> None:
        await _run(interaction, "launch", survey=survey, wave=wave, channel=channel, duration=duration)

    @app_commands.command(name="schedule", description="Open waves on a recurrence (moderators)")
    @app_commands.describe(
        survey="Which questionnaire", cron='When, as cron: "0 9 1 3 *" is 1 March, 09:00',
        duration="How long each wave stays open, e.g. 30d", label="Wave label pattern, e.g. {year}",
        channel="Where to announce each wave (default: here)",
        reminders="Reminder points, e.g. halfway,48h or 75%,2d or off (default: halfway,48h)",
    )
    @app_commands.autocomplete(survey=survey_autocomplete)
    async def schedule(
        self, interaction: discord.Interaction, survey: str, cron: str, duration: str | None = None,
        label: str | None = None, channel: discord.TextChannel | None = None, reminders: str | None = None,
    ) -> None:
        await _run(interaction, "schedule", survey=survey, cron=cron, duration=duration, label=label,
                   channel=channel, reminders=reminders)

    @app_commands.command(name="status", description="Respondents, completion and time left (moderators)")
    @app_commands.describe(wave="Wave label (default: the open one)")
    @app_commands.autocomplete(wave=wave_autocomplete)
    async def status(self, interaction: discord.Interaction, wave: str | None = None) -> None:
        await _run(interaction, "status", wave=wave)

    @app_commands.command(name="remind", description="DM those who have not finished (moderators)")
    @app_commands.describe(wave="Wave label (default: the open one)")
    @app_commands.autocomplete(wave=wave_autocomplete)
    async def remind(self, interaction: discord.Interaction, wave: str | None = None) -> None:
        await _run(interaction, "remind", wave=wave)

    @app_commands.command(name="close", description="Close a wave and post its summary (moderators)")
    @app_commands.describe(wave="Wave label (default: the open one)")
    @app_commands.autocomplete(wave=wave_autocomplete)
    async def close(self, interaction: discord.Interaction, wave: str | None = None) -> None:
        await _run(interaction, "close", wave=wave)

    @app_commands.command(name="results", description="A chart and the numbers (moderators)")
    @app_commands.describe(
        question="One question (default: the biggest movers)",
        where="Only some respondents, e.g. role=models,infra", wave="Wave label (default: the open one)",
    )
    @app_commands.autocomplete(question=question_autocomplete, wave=wave_autocomplete)
    async def results(
        self, interaction: discord.Interaction, question: str | None = None, where: str | None = None,
        wave: str | None = None,
    ) -> None:
        await _run(interaction, "results", question=question, where=where, wave=wave)

    @app_commands.command(name="export", description="The answers as CSV, sent to you alone (moderators)")
    @app_commands.describe(wave="Wave label (default: the open one)")
    @app_commands.autocomplete(wave=wave_autocomplete)
    async def export(self, interaction: discord.Interaction, wave: str | None = None) -> None:
        await _run(interaction, "export", wave=wave)

    @app_commands.command(name="summary-channel", description="Where summaries are posted (moderators)")
    @app_commands.describe(channel="The summary channel", off="Stop posting summaries in this server",
                           weekly='When the weekly summary goes out: "mon 09:00", a cron, or off')
    async def summary_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None,
        off: bool = False, weekly: str | None = None,
    ) -> None:
        await _run(interaction, "summary-channel", channel="off" if off else channel, weekly=weekly)

    @app_commands.command(name="my-data", description="See or delete your own answers")
    async def my_data(self, interaction: discord.Interaction) -> None:
        await _run(interaction, "my-data")

    @app_commands.command(name="help", description="What /survey can do")
    async def help(self, interaction: discord.Interaction) -> None:
        await _run(interaction, "help")


def choices(pairs: list[tuple[str, str]], current: str) -> list[Choice[str]]:
    """At most 25 choices whose name or value contains what was typed."""
    typed = current.casefold().strip()
    out = [
        Choice(name=clip(name, 100), value=value[:100])
        for name, value in pairs
        if not typed or typed in name.casefold() or typed in value.casefold()
    ]
    return out[:25]
