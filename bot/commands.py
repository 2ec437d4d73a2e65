"""`/survey` commands, platform-neutral: Slack and Discord translate into an `Invocation`
and render the `Reply`. Moderator-only commands refuse others politely and change nothing.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from analytics.export import export_wave
from bot import lifecycle
from bot.lifecycle import LifecycleError, local_time, parse_duration
from bot.scheduling import manual
from bot.scheduling.schedules import describe_cron, parse_reminders, weekly_cron
from bot.services import Services
from surveys.errors import SurveyError
from surveys.identity import Member
from surveys.models import Community, Wave, WaveStatus, utcnow
from surveys.ports import Attachment, Button, ChannelRef
from surveys.schema import QuestionType
from surveys.validation import field_key
from surveys.waves import current_wave, open_waves, questionnaire_of

log = logging.getLogger(__name__)

MODERATOR_COMMANDS = {
    "launch", "schedule", "status", "remind", "close", "results", "export", "summary-channel",
}
MEMBER_COMMANDS = {"my-data", "help"}
DELETE_MY_DATA = "mydata_delete"
CONFIRM_DELETE_MY_DATA = "mydata_delete_confirm"
STOP_REMINDERS = "mydata_stop_reminders"
DEFAULT_WEEKLY_CRON = "0 9 * * mon"

HELP = {
    "launch": ("launch SURVEY [WAVE] [#channel] [duration:30d]", "open a wave and announce it"),
    "schedule": ("schedule SURVEY CRON [duration:30d] [label:{year}] [reminders:halfway,48h] [#channel]",
                 "open a wave on a recurrence, e.g. \"0 9 1 3 *\""),
    "status": ("status [WAVE]", "respondents, completion, time left, upcoming jobs"),
    "remind": ("remind [WAVE]", "DM those who started or were invited and have not finished"),
    "close": ("close [WAVE]", "close the wave and post its summary"),
    "results": ("results [QUESTION] [where Q=OPT[,OPT]] [where platform=slack|discord]",
                "a chart and the numbers"),
    "export": ("export [WAVE]", "the answers as CSV, sent to you alone"),
    "summary-channel": ("summary-channel [#channel] [weekly:\"mon 09:00\" | cron:\"0 9 * * mon\" | "
                        "weekly:off] | off", "where and when summaries are posted"),
    "my-data": ("my-data", "see or delete your own answers"),
    "help": ("help", "this list"),
}


class CommandError(Exception):
    """A command that cannot run as given; the message says how to fix it."""


@dataclass(frozen=True)
class Invocation:
    """A `/survey` command from a platform, already translated at the edge."""

    platform: str
    space: str
    channel: str | None
    user: str
    is_moderator: bool
    command: str
    args: dict[str, str] = field(default_factory=dict)

    @property
    def member(self) -> Member:
        return Member(self.platform, self.space, self.user)

    def channel_ref(self, channel: str | None = None) -> ChannelRef | None:
        target = channel or self.channel
        return ChannelRef(self.platform, self.space, target) if target else None


@dataclass
class Reply:
    """What the member sees: plain text (adapters escape it), files, and buttons."""

    text: str
    ephemeral: bool = True
    attachments: list[Attachment] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    title: str = ""


class Scheduling(Protocol):
    """What commands need from the scheduler (registered on Services when it runs)."""

    async def add_schedule(
        self, community_id: int, survey_id: str, cron: str, *, duration: timedelta,
        label_pattern: str, channels: list[ChannelRef], reminders: list[str] | None = None,
    ) -> str: ...

    async def upcoming(self, community_id: int) -> list[tuple[str, object]]: ...

    async def wave_changed(self, wave_id: int) -> None: ...

    async def community_changed(self, community_id: int) -> None: ...


SMART_DOUBLE_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})
SMART_SINGLE_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'"})


def parse_command_text(text: str) -> tuple[str, list[str], dict[str, str]]:
    """Split Slack-style text: `launch state-of-mlops 2026 <#C1|general> duration:14d`.

    Returns the command, positional words and `key:value` options (`where Q=A,B` too).
    Typographic quotes (Slack and phones turn "0 9 1 3 *" into “0 9 1 3 *”) count as
    ASCII quotes; a lone ’ that is an apostrophe (O’Reilly) stays as written.
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
    command, rest = words[0].lower(), words[1:]
    positional: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.lower() == "where" and i + 1 < len(rest):
            options["where"] = (options.get("where", "") + " " + rest[i + 1]).strip()
            i += 2
            continue
        key, sep, value = word.partition(":")
        if sep and key.isidentifier() and value and not word.startswith("<"):
            options[key.lower()] = value
        else:
            positional.append(word)
        i += 1
    return command, positional, options


def parse_where(text: str) -> dict[str, list[str]]:
    """`role=models,infra company_size=1_10` → {"role": [...], "company_size": [...]}."""
    where: dict[str, list[str]] = {}
    for part in text.split():
        q, sep, opts = part.partition("=")
        if not sep or not q or not opts:
            raise CommandError(f"'{part}' is not a filter; use where QUESTION=OPTION[,OPTION]")
        where.setdefault(q, []).extend(o for o in opts.split(",") if o)
    return where


PLATFORMS = ("slack", "discord", "console")
INLINE_REMINDERS = 100  # more are sent after the reply (chat replies must come within seconds)
REMINDERS_PER_MINUTE = 50  # Slack's conversations.open (Tier 3); Discord allows more
REMIND_GAP = timedelta(hours=1)


def split_platform(where: dict[str, list[str]]) -> str | None:
    """Take `platform=slack` out of a filter: results of the members who answered there."""
    chosen = where.pop("platform", None)
    if chosen is None:
        return None
    if len(chosen) != 1 or chosen[0].lower() not in PLATFORMS:
        raise CommandError(f"platform= takes one of {', '.join(PLATFORMS)}")
    return chosen[0].lower()


POSITIONAL = {
    "launch": ["survey", "wave"],
    "schedule": ["survey", "cron"],
    "status": ["wave"],
    "remind": ["wave"],
    "close": ["wave"],
    "results": ["question"],
    "export": ["wave"],
    "summary-channel": [],
}


_CLOCK_TIME = re.compile(r"\d{1,2}:\d{2}")


def bind_args(
    command: str, positional: list[str], options: dict[str, str],
    channel_of: Callable[[str], str | None],
) -> dict[str, str]:
    """Name the positional words of a text command; `channel_of` spots channel mentions."""
    args = dict(options)
    names = list(POSITIONAL.get(command, []))
    for word in positional:
        channel = channel_of(word)
        if channel is not None:
            args["channel"] = channel
        elif command == "summary-channel" and word.lower() == "off":
            args["channel"] = "off"
        elif command == "summary-channel" and "weekly" in args and _CLOCK_TIME.fullmatch(word):
            args["weekly"] += " " + word  # weekly:mon 09:00 typed without quotes
        elif names:
            args[names.pop(0)] = word
        else:
            raise CommandError(f"Unexpected '{word}'. Usage: /survey {HELP[command][0]}")
    return args


class Commands:
    """Runs `/survey` subcommands against the services."""

    def __init__(self, services: Services):
        self.services = services

    @property
    def scheduling(self) -> Scheduling | None:
        return getattr(self.services, "scheduling", None)

    async def run(self, inv: Invocation) -> Reply:
        """Run one command; every user error becomes a clear private reply."""
        name = inv.command
        if name not in MODERATOR_COMMANDS | MEMBER_COMMANDS:
            return Reply(f"Unknown command '{name}'. Try /survey help.")
        if name in MODERATOR_COMMANDS and not inv.is_moderator:
            return Reply(
                f"Sorry, /survey {name} is for survey moderators. You can answer open surveys "
                "and see your own data with /survey my-data."
            )
        handler = getattr(self, "cmd_" + name.replace("-", "_"))
        try:
            return await handler(inv)
        except (CommandError, LifecycleError, SurveyError) as exc:
            return Reply(str(exc))

    async def _community(self, inv: Invocation) -> Community:
        return await self.services.community_for(inv.platform, inv.space)

    async def _wave(self, inv: Invocation, label: str | None) -> Wave:
        community = await self._community(inv)
        async with self.services.db.session() as session:
            return await current_wave(session, community.id, label)

    # -- moderator commands ------------------------------------------------------------
    async def cmd_help(self, inv: Invocation) -> Reply:
        names = sorted(HELP) if inv.is_moderator else sorted(MEMBER_COMMANDS)
        lines = [f"/survey {HELP[n][0]} — {HELP[n][1]}" for n in names]
        return Reply("\n".join(lines), title="Survey commands")

    async def cmd_launch(self, inv: Invocation) -> Reply:
        survey = inv.args.get("survey")
        if not survey:
            raise CommandError("Usage: /survey " + HELP["launch"][0])
        qn = self.services.catalog.get(survey)
        community = await self._community(inv)
        label = inv.args.get("wave") or _default_label(community)
        channel = inv.channel_ref(inv.args.get("channel"))
        if channel is None:
            raise CommandError("Name a channel to announce the survey in, e.g. #general")
        duration = parse_duration(inv.args["duration"]) if inv.args.get("duration") else \
            lifecycle.DEFAULT_DURATION
        wave, posted = await lifecycle.launch(
            self.services, community, qn.id, label, [channel], duration=duration
        )
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        closes = f"It closes {local_time(wave.closes_at, community.timezone)}."
        if not posted:
            return Reply(
                f"{qn.title} {wave.label} is open, but the announcement could not be posted in that "
                "channel: is the bot in it, and may it post there? Invite it, then run "
                f"/survey launch {qn.id} {wave.label} #channel again to announce it. {closes}",
                ephemeral=True,
            )
        return Reply(f"{qn.title} {wave.label} is open and announced. {closes}", ephemeral=True)

    async def cmd_schedule(self, inv: Invocation) -> Reply:
        survey, cron = inv.args.get("survey"), inv.args.get("cron")
        if not survey or not cron:
            raise CommandError("Usage: /survey " + HELP["schedule"][0])
        if self.scheduling is None:
            raise CommandError("The scheduler is not running in this process; try again later.")
        qn = self.services.catalog.get(survey)
        community = await self._community(inv)
        channel = inv.channel_ref(inv.args.get("channel"))
        duration = parse_duration(inv.args.get("duration") or "30d")
        reminders = parse_reminders(inv.args.get("reminders"))  # as the CLI's --reminders
        described = await self.scheduling.add_schedule(
            community.id, qn.id, cron, duration=duration,
            label_pattern=inv.args.get("label") or "{year}", channels=[channel] if channel else [],
            reminders=reminders,
        )
        return Reply(f"Scheduled {qn.title}: {described}")

    async def cmd_status(self, inv: Invocation) -> Reply:
        wave = await self._wave(inv, inv.args.get("wave"))
        community = await self._community(inv)
        info = await lifecycle.wave_status(self.services, wave)
        rate = f"{info.response_rate:.0%}" if info.response_rate is not None else "n/a"
        lines = [
            f"Respondents: {info.respondents} (completed: {info.completed})",
            f"Response rate: {rate} of {info.invited} invited",
            f"Status: {wave.status}, {info.time_left}",
            f"Closes: {local_time(wave.closes_at, community.timezone)}",
        ]
        if self.scheduling:
            for what, when in await self.scheduling.upcoming(community.id):
                lines.append(f"Next {what}: {local_time(when, community.timezone)}")  # type: ignore[arg-type]
        return Reply("\n".join(lines), title=f"{questionnaire_of(wave).title} {wave.label}")

    async def cmd_remind(self, inv: Invocation) -> Reply:
        """DM who has not finished. Members reminded in the last hour are skipped (a second
        `/survey remind` never nags twice); one fan-out per wave runs at a time, as a durable
        job (bot.scheduling.manual) that a restart resumes; a large one runs after the reply
        and its result comes as a DM."""
        wave = await self._wave(inv, inv.args.get("wave"))
        if wave.status != WaveStatus.open.value:
            raise CommandError(f"Wave '{wave.label}' is not open; nothing to remind.")
        since = utcnow() - REMIND_GAP
        pending = await lifecycle.pending_reminders(self.services, wave.id, skip_reminded_since=since)
        request = manual.Request(since, inv.member)
        if not await manual.claim(self.services, wave.id, request):
            started = await manual.running_since(self.services, wave.id)
            community = await self._community(inv)
            return Reply(f"Reminders for '{wave.label}' are already being sent (started "
                         f"{local_time(started, community.timezone)}); whoever started them gets the "
                         "result in a DM. Nobody is reminded twice.")
        if pending <= INLINE_REMINDERS:
            result = await manual.run(self.services, wave.id, request, tell=False)
            return Reply(manual.result_text(result))
        self.services.spawn(manual.run(self.services, wave.id, request), f"remind:{wave.id}")
        minutes = max(1, round(pending / REMINDERS_PER_MINUTE))
        return Reply(f"Sending {pending} reminders for '{wave.label}' in the background (about "
                     f"{minutes} min at the platform's pace). I'll send you the result in a DM.")

    async def cmd_close(self, inv: Invocation) -> Reply:
        wave = await self._wave(inv, inv.args.get("wave"))
        if wave.status == WaveStatus.closed.value:
            return Reply(f"Wave '{wave.label}' was already closed.")
        changed, posted = await lifecycle.close(self.services, wave.id)
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        if posted:
            return Reply(f"Wave '{wave.label}' is closed; the summary was posted to {posted} channel(s).")
        return Reply(f"Wave '{wave.label}' is closed, but its summary could not be posted (no summary "
                     "channel set, or the bot cannot post there). See it with /survey results, or "
                     "set one with /survey summary-channel #channel.")

    async def cmd_results(self, inv: Invocation) -> Reply:
        wave = await self._wave(inv, inv.args.get("wave"))
        qn = questionnaire_of(wave)
        question = inv.args.get("question")
        if question and not qn.has_question(question):
            raise CommandError(
                f"'{question}' is not a question of {qn.id}; known: "
                + ", ".join(q.id for q in qn.questions)
            )
        if question and qn.question(question).type is QuestionType.text:
            raise CommandError(f"'{question}' is free text; its answers are never shown in chat.")
        where = parse_where(inv.args["where"]) if inv.args.get("where") else {}
        platform = split_platform(where)
        message = await lifecycle.summary_message(
            self.services, wave, question=question, where=where or None, platform=platform
        )
        return Reply(message.text, attachments=message.attachments, title=message.title)

    async def cmd_export(self, inv: Invocation) -> Reply:
        wave = await self._wave(inv, inv.args.get("wave"))
        data = await export_wave(
            self.services.db, community_id=wave.community_id, survey_id=wave.survey_id,
            wave=wave.label, fmt="csv", min_group_size=self.services.settings.min_group_size,
        )
        name = f"{wave.survey_id}-{wave.label}.csv"
        return Reply(
            f"Export of {wave.label}: one row per pseudonymous respondent, no user ids.",
            attachments=[Attachment(name, data, title=name, mime_type="text/csv")],
        )

    async def cmd_summary_channel(self, inv: Invocation) -> Reply:
        """Where summaries go and when the weekly one does: `#channel [weekly:"mon 09:00"]`,
        `weekly:off`, or `off`. A bad time changes nothing."""
        target = inv.args.get("channel")
        when = inv.args.get("weekly") or inv.args.get("cron")
        if not target and not when:
            raise CommandError("Usage: /survey " + HELP["summary-channel"][0])
        community = await self._community(inv)
        cron: str | None = None
        if when and when.strip().lower() not in ("off", "none"):
            cron = weekly_cron(when, community.timezone)  # ScheduleError: one line, nothing changed
        async with self.services.db.session() as session:
            row = await session.get(Community, community.id)
            assert row is not None
            others = [c for c in row.summary_channels if c.get("platform") != inv.platform
                      or c.get("space") != inv.space]
            if target and target.lower() == "off":
                row.summary_channels = others
                row.weekly_summary_cron = None if not others else row.weekly_summary_cron
                text = "Weekly summaries are off for this workspace."
            else:
                if target:
                    ref = inv.channel_ref(target)
                    assert ref is not None
                    row.summary_channels = [*others, ref.to_dict()]
                if when:
                    row.weekly_summary_cron = cron
                elif target:
                    row.weekly_summary_cron = row.weekly_summary_cron or DEFAULT_WEEKLY_CRON
                weekly = (f"{describe_cron(row.weekly_summary_cron)} ({row.timezone})"
                          if row.weekly_summary_cron else "off")
                text = (f"Summaries will be posted in {target}; weekly summary: {weekly}." if target
                        else f"Weekly summary: {weekly}.")
        if self.scheduling:
            await self.scheduling.community_changed(community.id)
        return Reply(text)

    # -- member commands -------------------------------------------------------------
    async def cmd_my_data(self, inv: Invocation) -> Reply:
        community = await self._community(inv)
        answered = await self.services.flow.my_answers(community.id, inv.member)
        if not answered:
            return Reply("We hold no survey answers from you.", title="Your survey data",
                         buttons=[Button("Stop reminding me", STOP_REMINDERS, "all")])
        lines = []
        for wave, progress in answered:
            qn = questionnaire_of(wave)
            state = "completed" if progress.completed else "in progress"
            lines.append(f"{qn.title} {wave.label} ({state}):")
            for q in qn.questions:
                shown = describe_answer(q, progress)
                if shown:
                    lines.append(f"  {q.title}: {shown}")
        lines.append("Stored under a pseudonym, never with your user id.")
        return Reply(
            "\n".join(lines), title="Your survey data",
            buttons=[Button("Delete my answers", DELETE_MY_DATA, "all"),
                     Button("Stop reminding me", STOP_REMINDERS, "all")],
        )

    async def delete_my_data(self, member: Member) -> Reply:
        community = await self.services.community_for(member.platform, member.space)
        count = await self.services.flow.delete_my_answers(community.id, member)
        return Reply(f"Deleted {count} answer(s). Summaries no longer count them.")

    async def stop_reminders(self, member: Member) -> Reply:
        community = await self.services.community_for(member.platform, member.space)
        await self.services.flow.stop_reminders(community.id, member)
        return Reply("Done: you will not get survey reminders from us again.")

    async def open_wave_ids(self, platform: str, space: str) -> list[Wave]:
        """Open waves for a space (App Home, "take the survey" without a wave id)."""
        community = await self.services.community_for(platform, space)
        async with self.services.db.session() as session:
            return await open_waves(session, community.id)


def describe_answer(q, progress) -> str:
    """A member's own answer to one question, in words (for my-data)."""
    if q.type is QuestionType.grid:
        parts = []
        for row in q.rows:
            value = progress.value(q.id, row.id)
            if value is not None:
                scale = next((s.label for s in q.scale if s.id == value), value)
                parts.append(f"{row.label}: {scale}")
        return "; ".join(parts)
    value = progress.answers.get(field_key(q.id))
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_label(q, v) for v in value)
    if q.type in (QuestionType.single, QuestionType.country):
        return _label(q, value)
    return str(value)


def _label(q, option_id: str) -> str:
    opt = q.option(option_id)
    return opt.label if opt else option_id


def _default_label(community: Community) -> str:
    from zoneinfo import ZoneInfo

    return str(datetime.now(ZoneInfo(community.timezone)).year)
