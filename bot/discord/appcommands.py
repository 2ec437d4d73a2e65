"""The `/survey` app-command group, generated from the command table (`bot.command_table`):
the same subcommands and options as Slack's `/survey`.

Each subcommand only hands its options, by argument name, to
`client.stateof.run_command`; the moderator check, the 3-second rule and the rendering of
the reply live there. The group has no default member permissions on purpose: Discord
applies them to a whole top-level command, which would hide `/survey my-data` and `help`
from members. Moderator subcommands check Manage Server or the configured role instead.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Optional

import discord
from discord import app_commands

from bot.command_table import BY_NAME, COMMANDS, Command, Kind
from bot.discord.render import clip

log = logging.getLogger(__name__)

Choice = app_commands.Choice


def _stateof(interaction: discord.Interaction) -> Any:
    return interaction.client.stateof  # type: ignore[attr-defined]  # set on our client (client.py)


async def survey_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _stateof(interaction).survey_choices(interaction, current)


async def wave_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _stateof(interaction).wave_choices(interaction, current)


async def question_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    return await _stateof(interaction).question_choices(interaction, current)


async def _run(interaction: discord.Interaction, command: str, **args: Any) -> None:
    await _stateof(interaction).run_command(interaction, command, args)


_OPTION_TYPES: dict[Kind, Any] = {Kind.channel: discord.TextChannel, Kind.flag: bool, Kind.number: int}
_AUTOCOMPLETE = {Kind.survey: survey_autocomplete, Kind.wave: wave_autocomplete,
                 Kind.question: question_autocomplete}


def _description(text: str, moderator: bool) -> str:
    text = text[:1].upper() + text[1:]
    return clip(text + (" (moderators)" if moderator else ""), 100)


def _subcommand(spec: Command, name: str) -> app_commands.Command:
    """An app command for one row of the table: options typed, described and autocompleted
    from its arguments (required ones first, as Discord wants)."""
    ordered = sorted(spec.args, key=lambda a: not a.required)
    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=discord.Interaction)]
    for arg in ordered:
        kind = _OPTION_TYPES.get(arg.kind, str)
        if arg.required:
            params.append(inspect.Parameter(arg.key, inspect.Parameter.KEYWORD_ONLY, annotation=kind))
        elif arg.kind is Kind.flag:
            params.append(inspect.Parameter(arg.key, inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                            default=False))
        else:
            params.append(inspect.Parameter(arg.key, inspect.Parameter.KEYWORD_ONLY,
                                            annotation=Optional[kind], default=None))  # noqa: UP045

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        await _run(interaction, spec.name, **{a.name: options.get(a.key) for a in spec.args})

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # read by inspect
    callback.__name__ = name.replace("-", "_")
    if spec.args:
        app_commands.describe(**{a.key: clip(a.help, 100) for a in spec.args})(callback)
    completers = {a.key: _AUTOCOMPLETE[a.kind] for a in spec.args if a.kind in _AUTOCOMPLETE}
    if completers:
        app_commands.autocomplete(**completers)(callback)
    return app_commands.Command(name=name, description=_description(spec.help, spec.moderator),
                                callback=callback)


class SurveyGroup(app_commands.Group):
    """`/survey …`, generated from the command table: moderators steer waves; everyone sees
    and deletes their own data. A table group (`schedule list`) becomes a subcommand group,
    whose bare command is its `add`."""

    def __init__(self) -> None:
        super().__init__(
            name="survey", description="Our community survey", guild_only=True,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
        )
        groups: dict[str, app_commands.Group] = {}
        for spec in COMMANDS:
            sub = spec.sub
            if sub is None:
                self.add_command(_subcommand(spec, spec.name))
                continue
            if spec.group not in groups:
                groups[spec.group] = app_commands.Group(
                    name=spec.group, description=_description(BY_NAME[spec.group].help, True))
                self.add_command(groups[spec.group])
            groups[spec.group].add_command(_subcommand(spec, sub))


def choices(pairs: list[tuple[str, str]], current: str) -> list[Choice[str]]:
    """At most 25 choices whose name or value contains what was typed."""
    typed = current.casefold().strip()
    out = [
        Choice(name=clip(name, 100), value=value[:100])
        for name, value in pairs
        if not typed or typed in name.casefold() or typed in value.casefold()
    ]
    return out[:25]
