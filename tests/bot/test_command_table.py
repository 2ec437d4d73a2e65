"""One command table: Slack's text parser, the Discord group, `/survey help`, the CLI and
dispatch all come from `bot.command_table`; replies are `Message`s; user errors share one base."""

from __future__ import annotations

import pytest
import typer

import bot.commands as commands_module
from bot.command_table import (
    COMMANDS,
    DEFAULT_SUB,
    CommandError,
    Kind,
    bind_args,
    help_lines,
    parse_command_text,
)
from bot.commands import HANDLERS, Commands, Invocation
from bot.lifecycle import LifecycleError
from bot.scheduling.schedules import ScheduleError
from surveys.errors import SurveyError, UnknownWave
from surveys.ports import Message

SAMPLE = {Kind.survey: "state-of-mlops", Kind.wave: "2026", Kind.question: "focus", Kind.text: "x",
          Kind.duration: "7d", Kind.number: "3", Kind.where: "role=models", Kind.weekly: "mon"}


def _typed(spec) -> str:
    """`/survey …` text giving every required argument of a row."""
    words = [spec.name]
    for arg in spec.args:
        if arg.required:
            value = SAMPLE[arg.kind]
            words.append(value if arg.positional else f"{arg.name}:{value}")
    return " ".join(words)


def test_every_row_is_parsed_grouped_helped_listed_and_handled():
    from bot.cli import app
    from bot.discord.appcommands import SurveyGroup

    group = SurveyGroup()
    discord_names = set()
    for cmd in group.commands:
        if isinstance(cmd, type(group)) or hasattr(cmd, "commands"):
            discord_names |= {f"{cmd.name} {sub.name}" for sub in cmd.commands}
        else:
            discord_names.add(cmd.name)
    moderator_help = "\n".join(help_lines(True))
    member_help = "\n".join(help_lines(False))
    cli_names = {c.name for c in typer.main.get_command(app).commands.values()}
    assert len(COMMANDS) >= 16
    for spec in COMMANDS:
        # Slack: the text names the row, and its required arguments bind by the row's names
        name, positional, options = parse_command_text(_typed(spec))
        assert name == spec.name, spec.name
        args = bind_args(name, positional, options, lambda w: None)
        assert {a.name for a in spec.args if a.required} <= set(args), spec.name
        # Discord: a subcommand (in a subgroup for `schedule list`), options named as the args
        shown = spec.name if spec.sub in (None,) else f"{spec.group} {spec.sub}"
        assert shown in discord_names, spec.name
        # help: every command for moderators, member commands for members
        assert f"/survey {spec.usage()} — {spec.help}" in moderator_help
        assert (f"/survey {spec.usage()}" in member_help) == (not spec.moderator)
        # dispatch: one handler per row
        assert spec.name in HANDLERS
        if spec.cli:  # `stateof NAME`, generated from the row
            assert spec.name in cli_names, spec.name
    assert set(HANDLERS) == {c.name for c in COMMANDS}
    assert "schedule add" in discord_names and DEFAULT_SUB == "add"
    assert not hasattr(Commands, "cmd_launch")  # no getattr("cmd_" + name) dispatch left


def test_the_text_parser_uses_the_rows_types():
    assert bind_args("extend", ["7d"], {}, lambda w: None) == {"by": "7d"}
    assert bind_args("extend", ["2026", "3d"], {}, lambda w: None) == {"wave": "2026", "by": "3d"}
    assert parse_command_text("schedule list") == ("schedule list", [], {})
    assert parse_command_text("schedule remove 4")[0] == "schedule remove"
    assert parse_command_text("schedule add state-of-mlops '0 9 1 3 *'") == (
        "schedule", ["state-of-mlops", "0 9 1 3 *"], {})
    assert bind_args("delete", ["2026", "confirm"], {}, lambda w: None) == {"wave": "2026", "confirm": "yes"}
    with pytest.raises(CommandError, match="has no option 'colour:'"):
        bind_args("launch", ["state-of-mlops"], {"colour": "red"}, lambda w: None)
    with pytest.raises(CommandError, match=r"Usage: /survey rename WAVE LABEL"):
        bind_args("rename", ["2026"], {}, lambda w: None)
    with pytest.raises(CommandError, match="Unknown command 'nope'"):
        bind_args("nope", [], {}, lambda w: None)


def test_one_error_base_and_replies_are_messages():
    for error in (CommandError, LifecycleError, ScheduleError, UnknownWave):
        assert issubclass(error, SurveyError)
    assert not hasattr(commands_module, "Reply")
    assert Message(title="t").ephemeral is True  # replies are private unless said otherwise


async def test_every_user_error_becomes_the_reply(services):
    commands = Commands(services)
    moderator = dict(platform="slack", space="T1", channel="C1", user="U1", is_moderator=True)
    duration = await commands.run(Invocation(**moderator, command="extend", args={"by": "soon"}))
    assert isinstance(duration, Message) and "'soon' is not a duration" in duration.text
    wave = await commands.run(Invocation(**moderator, command="status", args={"wave": "1999"}))
    assert "unknown wave '1999'" in wave.text or "no waves yet" in wave.text
    cron = await commands.run(Invocation(**moderator, command="summary-channel", args={"weekly": "someday"}))
    assert "is not a weekly time" in cron.text
    with pytest.raises(SurveyError):
        await commands.dispatch(Invocation(**moderator, command="extend", args={"by": "soon"}))
    member = await commands.run(Invocation(**{**moderator, "is_moderator": False}, command="delete",
                                           args={"wave": "2026", "confirm": "yes"}))
    assert "for survey moderators" in member.text
