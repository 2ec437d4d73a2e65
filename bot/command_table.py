"""The `/survey` command table: every command's name, typed arguments, moderator-only flag,
slow flag and help text, in one place.

Everything else is generated from it: Slack's text parser (`parse_command_text` +
`bind_args` below), the Discord app-command group (`bot.discord.appcommands`), `/survey help`,
the `stateof` commands that mirror chat commands (`bot.cli_waves`) and dispatch
(`bot.commands.Commands.run`, whose handlers register with `@handles(NAME)`). Adding a command
is a row here and its handler.

This module imports only the standard library: the CLI builds its `--help` from it without
loading the database or analytics stack.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from surveys.errors import SurveyError

log = logging.getLogger(__name__)

UserError = SurveyError  # the one base of errors a user can fix: shown as they are, nothing changed


class CommandError(SurveyError):
    """A command that cannot run as given; the message says how to fix it."""


class Kind(StrEnum):
    """What an argument holds: decides its Discord option type, autocomplete and CLI type."""

    text = "text"
    survey = "survey"  # a questionnaire id (autocompleted)
    wave = "wave"  # a wave label (autocompleted)
    question = "question"  # a question id (autocompleted)
    channel = "channel"  # a channel mention or id
    duration = "duration"  # 30d, 2w, 12h, 90m
    number = "number"  # a whole number (a schedule id)
    flag = "flag"  # a word typed or not (`confirm`, `off`)
    where = "where"  # a filter, QUESTION=OPT[,OPT]
    weekly = "weekly"  # a weekly time, "mon 09:00"


STRICT = (Kind.duration, Kind.number, Kind.flag)  # kinds a positional word must look like
_DURATION_SHAPE = re.compile(r"^\d+\s*[mhdw]$", re.IGNORECASE)
_CLOCK_TIME = re.compile(r"\d{1,2}:\d{2}")


@dataclass(frozen=True)
class Arg:
    """One argument. `positional` ones may be typed in Slack without `name:`, in order."""

    name: str
    kind: Kind
    help: str
    required: bool = False
    positional: bool = True
    shown: str = ""  # how usage shows a `name:value` option's value, e.g. 30d
    keyword: bool = False  # also typed as `NAME VALUE` in text, e.g. `by company_size`

    @property
    def key(self) -> str:
        """The Python/Discord identifier of the argument."""
        return self.name.replace("-", "_")

    def accepts(self, word: str) -> bool:
        """Whether a positional word has the shape this argument needs."""
        if self.kind is Kind.flag:
            return word.lower() == self.name
        if self.kind is Kind.duration:
            return bool(_DURATION_SHAPE.match(word))
        if self.kind is Kind.number:
            return word.isdigit()
        return True


@dataclass(frozen=True)
class Command:
    """One `/survey` command."""

    name: str  # "schedule list": a subcommand of the group "schedule"
    help: str
    args: tuple[Arg, ...] = ()
    moderator: bool = True
    slow: bool = False  # may take longer than a platform's reply window: acknowledged first
    cli: bool = False  # mirrored as `stateof NAME` (posting through the configured platforms)
    example: str = ""  # shown in /survey help

    @property
    def group(self) -> str:
        return self.name.split(" ")[0]

    @property
    def sub(self) -> str | None:
        """The subcommand's own name; `DEFAULT_SUB` for a group's bare command."""
        parts = self.name.split(" ", 1)
        if len(parts) == 2:
            return parts[1]
        return DEFAULT_SUB if any(c.group == self.name and c.name != self.name for c in COMMANDS) else None

    def arg(self, name: str) -> Arg | None:
        return next((a for a in self.args if a.name == name), None)

    def usage(self) -> str:
        """`launch SURVEY [WAVE] [#channel] [duration:30d]`, from the arguments."""
        parts = [self.name]
        for a in self.args:
            if a.kind is Kind.flag:
                shown = a.name
            elif a.kind is Kind.channel:
                shown = "#channel"
            elif a.kind is Kind.where:
                shown = f"where {a.shown}"
            elif a.keyword:
                shown = f"{a.name} {a.shown or a.name.upper()}"
            elif a.positional:
                shown = a.name.upper()
            else:
                shown = f"{a.name}:{a.shown or a.name.upper()}"
            parts.append(shown if a.required else f"[{shown}]")
        return " ".join(parts)


DEFAULT_SUB = "add"  # `schedule SURVEY CRON` is `schedule add SURVEY CRON` in a group

_WAVE = Arg("wave", Kind.wave, "Wave label (default: the open one)")
_WAVE_NEEDED = Arg("wave", Kind.wave, "Wave label, e.g. 2026", required=True)
_CHANNEL = Arg("channel", Kind.channel, "Where to announce it (default: here)")

COMMANDS: tuple[Command, ...] = (
    Command("launch", "open a wave and announce it", (
        Arg("survey", Kind.survey, "Which questionnaire", required=True),
        Arg("wave", Kind.wave, "Wave label, e.g. 2026 (default: this year)"),
        _CHANNEL,
        Arg("duration", Kind.duration, "How long it stays open, e.g. 30d", positional=False, shown="30d"),
    ), slow=True, cli=True),
    Command("schedule", "open a wave on a recurrence, e.g. \"0 9 1 3 *\"", (
        Arg("survey", Kind.survey, "Which questionnaire", required=True),
        Arg("cron", Kind.text, 'When, as cron: "0 9 1 3 *" is 1 March, 09:00', required=True),
        Arg("duration", Kind.duration, "How long each wave stays open, e.g. 30d", positional=False,
            shown="30d"),
        Arg("label", Kind.text, "Wave label pattern, e.g. {year}", positional=False, shown="{year}"),
        Arg("reminders", Kind.text, "Reminder points, e.g. halfway,48h or 75%,2d or off "
            "(default: halfway,48h)", positional=False, shown="halfway,48h"),
        Arg("channel", Kind.channel, "Where to announce each wave (default: here)"),
    )),
    Command("schedule list", "the recurring waves and when each opens next"),
    Command("schedule remove", "stop a recurrence (its waves stay)", (
        Arg("id", Kind.number, "The schedule's number from /survey schedule list", required=True),
    )),
    Command("status", "respondents, completion, time left, upcoming jobs", (_WAVE,), cli=True),
    Command("remind", "DM those who started or were invited and have not finished", (_WAVE,),
            slow=True, cli=True),
    Command("close", "close the wave and post its summary", (_WAVE,), slow=True, cli=True),
    Command("extend", "move the close time of a wave later", (
        Arg("by", Kind.duration, "How much longer, e.g. 7d", required=True),
        _WAVE,
    ), cli=True, example="extend 2026 3d"),
    Command("reopen", "open a closed wave again with a fresh close time", (
        _WAVE_NEEDED,
        Arg("duration", Kind.duration, "How long it stays open again (default: 7d)"),
    ), slow=True, cli=True),
    Command("rename", "give a wave a new label", (
        _WAVE_NEEDED,
        Arg("label", Kind.text, "The new label, e.g. 2026-Q4", required=True),
    ), cli=True),
    Command("delete", "delete a wave and all its answers (asks to confirm)", (
        _WAVE_NEEDED,
        Arg("confirm", Kind.flag, "Yes, delete it and its answers for good"),
    ), cli=True),
    Command("results", "a chart and the numbers", (
        Arg("question", Kind.question, "One question (default: the biggest movers)"),
        Arg("where", Kind.where, "Only some respondents, e.g. role=models,infra or platform=slack",
            positional=False, shown="Q=OPT[,OPT]"),
        Arg("by", Kind.question, "Cross-tab: one column per answer to this question, e.g. company_size",
            positional=False, shown="QUESTION", keyword=True),
        Arg("rank", Kind.text, "Rank a grid's rows by a point, e.g. tooling:looking or "
            "tooling:looking/established", positional=False, shown="GRID:POINT[/POINT]", keyword=True),
        Arg("wave", Kind.wave, "Wave label (default: the open one)", positional=False),
    ), slow=True),
    Command("export", "the answers as CSV, sent to you alone", (_WAVE,), slow=True),
    Command("summary-channel", "where and when summaries are posted", (
        Arg("channel", Kind.channel, "The summary channel"),
        Arg("off", Kind.flag, "Stop posting summaries in this workspace or server"),
        Arg("weekly", Kind.weekly, 'When the weekly summary goes out: "mon 09:00", a cron, or off',
            positional=False, shown='"mon 09:00"'),
        Arg("cron", Kind.weekly, "The weekly summary time as a cron, e.g. \"0 9 * * mon\"",
            positional=False, shown='"0 9 * * mon"'),
    )),
    Command("my-data", "see or delete your own answers", moderator=False),
    Command("help", "this list", moderator=False),
)

BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
GROUPS = {c.group for c in COMMANDS if " " in c.name}


def command(name: str) -> Command:
    """The table's row for `name`; CommandError naming `/survey help` otherwise."""
    found = BY_NAME.get(name)
    if found is None:
        raise CommandError(f"Unknown command '{name}'. Try /survey help.")
    return found


def usage_error(spec: Command) -> CommandError:
    return CommandError("Usage: /survey " + spec.usage())


def help_lines(moderator: bool) -> list[str]:
    """`/survey help`: every command a member (or moderator) may use, with its usage."""
    return [f"/survey {c.usage()} — {c.help}" + (f", e.g. /survey {c.example}" if c.example else "")
            for c in sorted(COMMANDS, key=lambda c: c.name) if moderator or not c.moderator]


# -- Slack-style text -------------------------------------------------------------------------
SMART_DOUBLE_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})
SMART_SINGLE_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'"})


def parse_command_text(text: str) -> tuple[str, list[str], dict[str, str]]:
    """Split Slack-style text: `launch state-of-mlops 2026 <#C1|general> duration:14d`.

    Returns the command (`schedule list` for a group's subcommand; `schedule add …` is
    `schedule`), positional words and `key:value` options (`where Q=A,B` too). Typographic
    quotes (Slack and phones turn "0 9 1 3 *" into “0 9 1 3 *”) count as ASCII quotes; a lone
    ’ that is an apostrophe (O’Reilly) stays as written.
    """
    text = text.strip().translate(SMART_DOUBLE_QUOTES)
    try:
        words = shlex.split(text.translate(SMART_SINGLE_QUOTES))
    except ValueError:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise CommandError(f"could not read the command: {exc}") from None
    if not words:
        return "help", [], {}
    name, rest = words[0].lower(), words[1:]
    if name in GROUPS and rest:
        sub = rest[0].lower()
        if f"{name} {sub}" in BY_NAME:
            name, rest = f"{name} {sub}", rest[1:]
        elif sub == DEFAULT_SUB:
            rest = rest[1:]
    positional: list[str] = []
    options: dict[str, str] = {}
    spec = BY_NAME.get(name)
    keywords = {a.name for a in spec.args if a.keyword} if spec is not None else set()
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.lower() == "where" and i + 1 < len(rest):
            options["where"] = (options.get("where", "") + " " + rest[i + 1]).strip()
            i += 2
            continue
        if word.lower() in keywords and i + 1 < len(rest):
            options[word.lower()] = rest[i + 1]
            i += 2
            continue
        key, sep, value = word.partition(":")
        if sep and key.isidentifier() and value and not word.startswith("<"):
            options[key.lower()] = value
        else:
            positional.append(word)
        i += 1
    return name, positional, options


def bind_args(
    name: str, positional: list[str], options: dict[str, str],
    channel_of: Callable[[str], str | None],
) -> dict[str, str]:
    """Name the words of a text command by the table: `key:value` options must be the
    command's arguments; positional words fill its positional arguments in order, except that
    a word shaped like a duration, a number or a flag goes to the argument of that kind.
    `channel_of` spots channel mentions. A required argument left out is a usage error."""
    spec = command(name)
    args: dict[str, str] = {}
    for key, value in options.items():
        arg = spec.arg(key)
        if arg is None or arg.kind is Kind.flag:
            known = ", ".join(f"{a.name}:" for a in spec.args if a.kind is not Kind.flag) or "none"
            raise CommandError(f"/survey {name} has no option '{key}:' (options: {known}). "
                               f"Usage: /survey {spec.usage()}")
        args[arg.name] = value
    waiting = [a for a in spec.args if a.positional and a.kind is not Kind.channel and a.name not in args]
    for word in positional:
        channel = channel_of(word)
        if channel is not None and spec.arg("channel") is not None:
            args["channel"] = channel
            continue
        last_weekly = next((a for a in reversed(spec.args) if a.kind is Kind.weekly and a.name in args), None)
        if last_weekly is not None and _CLOCK_TIME.fullmatch(word):
            args[last_weekly.name] += " " + word  # weekly:mon 09:00 typed without quotes
            continue
        chosen = next((a for a in waiting if a.kind in STRICT and a.accepts(word)), None)
        if chosen is None:
            chosen = next((a for a in waiting if a.kind not in STRICT), None)
        if chosen is None:
            raise CommandError(f"Unexpected '{word}'. Usage: /survey {spec.usage()}")
        waiting.remove(chosen)
        args[chosen.name] = "yes" if chosen.kind is Kind.flag else word
    missing = [a for a in spec.args if a.required and a.name not in args]
    if missing:
        raise usage_error(spec)
    return args
