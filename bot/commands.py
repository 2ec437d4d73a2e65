"""`/survey` commands, platform-neutral: Slack, Discord and the CLI translate into an
`Invocation` and render the reply, a neutral `Message` (ephemeral unless said otherwise).

Which commands exist, their typed arguments, who may run them and their help text is the
command table (`bot.command_table`); each handler here registers for its row with
`@handles(NAME)`, and a row without a handler (or a handler without a row) fails at import.
Moderator-only commands refuse others politely and change nothing. Every error a user can fix
is a `SurveyError` (command, lifecycle and schedule errors included) whose message becomes the
reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select

from bot import lifecycle
from bot.command_table import BY_NAME, CommandError, bind_args, command, help_lines, parse_command_text
from bot.lifecycle import local_time, parse_duration
from bot.scheduling import manual
from bot.scheduling.schedules import (
    describe_cron,
    list_schedules,
    parse_reminders,
    remove_schedule,
    schedule_info,
    weekly_cron,
)
from bot.services import Services
from surveys.derived import derived_field
from surveys.errors import SurveyError
from surveys.identity import Member
from surveys.models import Community, Wave, WaveStatus, utcnow
from surveys.ports import Attachment, Button, ChannelRef, Message
from surveys.schema import QuestionType
from surveys.validation import field_key
from surveys.waves import current_wave, ensure_community, get_wave, open_waves, questionnaire_of

__all__ = ["CLI", "CommandError", "Commands", "Invocation", "bind_args", "parse_command_text", "reply"]

log = logging.getLogger(__name__)

CLI = "cli"  # the platform of an invocation from `stateof`: its space is a community slug
DELETE_MY_DATA = "mydata_delete"
CONFIRM_DELETE_MY_DATA = "mydata_delete_confirm"
STOP_REMINDERS = "mydata_stop_reminders"
DEFAULT_WEEKLY_CRON = "0 9 * * mon"


def reply(text: str, *, title: str = "", ephemeral: bool = True, attachments: list[Attachment] | None = None,
          buttons: list[Button] | None = None) -> Message:
    """A command's answer: private to the member who ran it unless `ephemeral=False`."""
    return Message(title=title, text=text, attachments=attachments or [], buttons=buttons or [],
                   ephemeral=ephemeral)


@dataclass(frozen=True)
class Invocation:
    """A `/survey` command from a platform (or the CLI), already translated at the edge."""

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

    @property
    def who(self) -> str:
        """Who ran it, for the log of irreversible actions."""
        return f"{self.platform}:{self.space}:{self.user}"

    def channel_ref(self, channel: str | None = None) -> ChannelRef | None:
        """A channel of this platform and space; from the CLI, `PLATFORM:SPACE:CHANNEL`."""
        target = channel or self.channel
        if not target:
            return None
        if self.platform == CLI:
            parts = target.split(":")
            if len(parts) != 3 or not all(parts):
                raise CommandError(f"'{target}' is not a channel; use PLATFORM:SPACE:CHANNEL, "
                                   "e.g. slack:T0123:C0456")
            return ChannelRef(parts[0].lower(), parts[1], parts[2])
        return ChannelRef(self.platform, self.space, target)


class Scheduling(Protocol):
    """What commands need from the scheduler (registered on Services when it runs)."""

    async def add_schedule(
        self, community_id: int, survey_id: str, cron: str, *, duration: timedelta,
        label_pattern: str, channels: list[ChannelRef], reminders: list[str] | None = None,
    ) -> str: ...

    async def upcoming(self, community_id: int) -> list[tuple[str, object]]: ...

    async def wave_changed(self, wave_id: int) -> None: ...

    async def community_changed(self, community_id: int) -> None: ...


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


Handler = Callable[["Commands", Invocation], Awaitable[Message]]
HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of the table's command `name` (which must be in the table)."""
    if name not in BY_NAME:
        raise RuntimeError(f"/survey {name} is not in the command table (bot.command_table)")

    def register(fn: Handler) -> Handler:
        if name in HANDLERS:
            raise RuntimeError(f"/survey {name} has two handlers")
        HANDLERS[name] = fn
        return fn

    return register


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "1", "on")


class Commands:
    """Runs `/survey` subcommands against the services."""

    def __init__(self, services: Services):
        self.services = services

    @property
    def scheduling(self) -> Scheduling | None:
        return getattr(self.services, "scheduling", None)

    async def run(self, inv: Invocation) -> Message:
        """Run one command; every user error becomes a clear private reply."""
        try:
            return await self.dispatch(inv)
        except SurveyError as exc:
            return reply(str(exc))

    async def dispatch(self, inv: Invocation) -> Message:
        """Run one command by the table; a user error is raised (the CLI shows it and exits 1)."""
        spec = command(inv.command)
        if spec.moderator and not inv.is_moderator:
            return reply(
                f"Sorry, /survey {spec.name} is for survey moderators. You can answer open surveys "
                "and see your own data with /survey my-data."
            )
        return await HANDLERS[spec.name](self, inv)

    async def _community(self, inv: Invocation) -> Community:
        if inv.platform == CLI:  # the community named by slug; only `launch` creates it
            slug = inv.space or self.services.settings.community
            async with self.services.db.session() as session:
                if inv.command == "launch":
                    return await ensure_community(session, slug, timezone=self.services.settings.timezone)
                found = (await session.execute(select(Community).where(Community.slug == slug))
                         ).scalar_one_or_none()
            if found is None:
                raise CommandError(f"unknown community '{slug}'; nothing has been launched there yet "
                                   "(see --community)")
            return found
        return await self.services.community_for(inv.platform, inv.space)

    async def _wave(self, inv: Invocation, label: str | None) -> Wave:
        community = await self._community(inv)
        async with self.services.db.session() as session:
            return await current_wave(session, community.id, label)

    # -- moderator commands ------------------------------------------------------------
    @handles("help")
    async def help(self, inv: Invocation) -> Message:
        return reply("\n".join(help_lines(inv.is_moderator)), title="Survey commands")

    @handles("launch")
    async def launch(self, inv: Invocation) -> Message:
        survey = inv.args.get("survey")
        if not survey:
            raise CommandError("Usage: /survey " + BY_NAME["launch"].usage())
        qn = self.services.catalog.get(survey)
        community = await self._community(inv)
        label = inv.args.get("wave") or _default_label(community)
        channel = inv.channel_ref(inv.args.get("channel"))
        if channel is None:
            raise CommandError("Name a channel to announce the survey in, e.g. " + (
                "--channel slack:T0123:C0456" if inv.platform == CLI else "#general"))
        duration = parse_duration(inv.args["duration"]) if inv.args.get("duration") else \
            lifecycle.DEFAULT_DURATION
        wave, posted = await lifecycle.launch(
            self.services, community, qn.id, label, [channel], duration=duration
        )
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        closes = f"It closes {local_time(wave.closes_at, community.timezone)}."
        if not posted:
            return reply(
                f"{qn.title} {wave.label} is open, but the announcement could not be posted in that "
                "channel: is the bot in it, and may it post there? Invite it, then run "
                f"/survey launch {qn.id} {wave.label} #channel again to announce it. {closes}",
                ephemeral=True,
            )
        return reply(f"{qn.title} {wave.label} is open and announced. {closes}", ephemeral=True)

    @handles("schedule")
    async def schedule(self, inv: Invocation) -> Message:
        survey, cron = inv.args.get("survey"), inv.args.get("cron")
        if not survey or not cron:
            raise CommandError("Usage: /survey " + BY_NAME["schedule"].usage())
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
        return reply(f"Scheduled {qn.title}: {described}")

    @handles("status")
    async def status(self, inv: Invocation) -> Message:
        wave = await self._wave(inv, inv.args.get("wave"))
        community = await self._community(inv)
        info = await lifecycle.wave_status(self.services, wave)
        lines = [
            f"Respondents: {info.respondents} (completed: {info.completed})",
            f"Response rate: {info.rate_text()}",
            f"Status: {wave.status}, {info.time_left}",
            f"Closes: {local_time(wave.closes_at, community.timezone)}",
        ]
        if self.scheduling:
            for what, when in await self.scheduling.upcoming(community.id):
                lines.append(f"Next {what}: {local_time(when, community.timezone)}")  # type: ignore[arg-type]
        return reply("\n".join(lines), title=f"{questionnaire_of(wave).title} {wave.label}")

    @handles("remind")
    async def remind(self, inv: Invocation) -> Message:
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
            return reply(f"Reminders for '{wave.label}' are already being sent (started "
                         f"{local_time(started, community.timezone)}); whoever started them gets the "
                         "result in a DM. Nobody is reminded twice.")
        if pending <= INLINE_REMINDERS:
            result = await manual.run(self.services, wave.id, request, tell=False)
            return reply(manual.result_text(result))
        self.services.spawn(manual.run(self.services, wave.id, request), f"remind:{wave.id}")
        minutes = max(1, round(pending / REMINDERS_PER_MINUTE))
        return reply(f"Sending {pending} reminders for '{wave.label}' in the background (about "
                     f"{minutes} min at the platform's pace). I'll send you the result in a DM.")

    @handles("close")
    async def close(self, inv: Invocation) -> Message:
        wave = await self._wave(inv, inv.args.get("wave"))
        if wave.status == WaveStatus.closed.value:
            return reply(f"Wave '{wave.label}' was already closed.")
        changed, posted = await lifecycle.close(self.services, wave.id)
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        if posted:
            return reply(f"Wave '{wave.label}' is closed; the summary was posted to {posted} channel(s).")
        return reply(f"Wave '{wave.label}' is closed, but its summary could not be posted (no summary "
                     "channel set, or the bot cannot post there). See it with /survey results, or "
                     "set one with /survey summary-channel #channel.")

    @handles("results")
    async def results(self, inv: Invocation) -> Message:
        wave = await self._wave(inv, inv.args.get("wave"))
        qn = questionnaire_of(wave)
        question = inv.args.get("question")
        derived = question is not None and derived_field(qn, question) is not None
        if question and not derived and not qn.has_question(question):
            raise CommandError(
                f"'{question}' is not a question of {qn.id}; known: "
                + ", ".join([*(q.id for q in qn.questions), *(f.id for f in qn.derived)])
            )
        if question and not derived and qn.question(question).type is QuestionType.text:
            raise CommandError(f"'{question}' is free text; its answers are never shown in chat.")
        where = parse_where(inv.args["where"]) if inv.args.get("where") else {}
        platform = split_platform(where)
        by, rank = inv.args.get("by"), inv.args.get("rank")
        if rank:
            if by:
                raise CommandError("ask for a ranking or a cross-tab, one at a time")
            grid = rank.partition(":")[0]
            if question and question != grid:
                raise CommandError(f"rank: '{rank}' ranks the rows of '{grid}', not of '{question}'")
            if not qn.has_question(grid):
                raise CommandError(f"rank: '{grid}' is not a question of {qn.id}")
            question = grid
        if by and not question:
            raise CommandError(
                f"by: name the question to cross-tab, e.g. /survey results ml_headcount by {by}")
        message = await lifecycle.summary_message(
            self.services, wave, question=question, where=where or None, platform=platform, by=by,
            rank=rank,
        )
        return reply(message.text, attachments=message.attachments, title=message.title)

    @handles("export")
    async def export(self, inv: Invocation) -> Message:
        wave = await self._wave(inv, inv.args.get("wave"))
        from analytics.export import export_wave  # pandas: only when exporting

        data = await export_wave(
            self.services.db, community_id=wave.community_id, survey_id=wave.survey_id,
            wave=wave.label, fmt="csv", min_group_size=self.services.settings.min_group_size,
        )
        name = f"{wave.survey_id}-{wave.label}.csv"
        return reply(
            f"Export of {wave.label}: one row per pseudonymous respondent, no user ids.",
            attachments=[Attachment(name, data, title=name, mime_type="text/csv")],
        )

    @handles("summary-channel")
    async def summary_channel(self, inv: Invocation) -> Message:
        """Where summaries go and when the weekly one does: `#channel [weekly:"mon 09:00"]`,
        `weekly:off`, or `off`. A bad time changes nothing."""
        target = "off" if _flag(inv.args.get("off")) else inv.args.get("channel")
        when = inv.args.get("weekly") or inv.args.get("cron")
        if not target and not when:
            raise CommandError("Usage: /survey " + BY_NAME["summary-channel"].usage())
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
        return reply(text)

    @handles("schedule list")
    async def schedule_list(self, inv: Invocation) -> Message:
        community = await self._community(inv)
        now = utcnow()
        async with self.services.db.session() as session:
            infos = [schedule_info(s, now) for s in await list_schedules(session, community.id)]
        if not infos:
            return reply("No schedules. Add one with /survey " + BY_NAME["schedule"].usage())
        lines = [f"{info.schedule.id}. {info.schedule.survey_id}: {info.describe()}" for info in infos]
        lines.append("Remove one with /survey schedule remove ID.")
        return reply("\n".join(lines), title="Schedules")

    @handles("schedule remove")
    async def schedule_remove(self, inv: Invocation) -> Message:
        community = await self._community(inv)
        raw = inv.args.get("id", "")
        if not raw.isdigit():
            raise CommandError(f"'{raw}' is not a schedule number; see /survey schedule list")
        async with self.services.db.session() as session:
            ids = {s.id for s in await list_schedules(session, community.id)}
            if int(raw) not in ids:  # another community's schedule is not ours to remove
                raise CommandError(f"There is no schedule {raw} here; see /survey schedule list")
            await remove_schedule(session, int(raw))
        if self.scheduling:
            await self.scheduling.community_changed(community.id)
        return reply(f"Schedule {raw} removed. Its waves stay; an open one still closes on time.")

    async def _named_wave(self, inv: Invocation) -> Wave:
        """The wave named by label (no default: the action is about one wave on purpose)."""
        label = inv.args.get("wave")
        if not label:
            raise CommandError("Usage: /survey " + command(inv.command).usage())
        community = await self._community(inv)
        async with self.services.db.session() as session:
            return await get_wave(session, community.id, label)

    @handles("extend")
    async def extend(self, inv: Invocation) -> Message:
        by = parse_duration(inv.args.get("by") or "")
        wave = await self._wave(inv, inv.args.get("wave"))
        community = await self._community(inv)
        wave = await lifecycle.extend(self.services, wave.id, by)
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        return reply(f"Wave '{wave.label}' now closes {local_time(wave.closes_at, community.timezone)}.")

    @handles("reopen")
    async def reopen(self, inv: Invocation) -> Message:
        duration = parse_duration(inv.args["duration"]) if inv.args.get("duration") else \
            lifecycle.DEFAULT_REOPEN
        wave = await self._named_wave(inv)
        community = await self._community(inv)
        wave, posted = await lifecycle.reopen(self.services, wave.id, duration)
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        where = f"announced in {posted} channel(s)" if posted else "not announced (no channel reached)"
        return reply(f"Wave '{wave.label}' is open again, {where}. It closes "
                     f"{local_time(wave.closes_at, community.timezone)}.")

    @handles("rename")
    async def rename(self, inv: Invocation) -> Message:
        wave = await self._named_wave(inv)
        old, wave = await lifecycle.rename(self.services, wave.id, inv.args.get("label", ""))
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        return reply(f"Wave '{old}' is now called '{wave.label}'.")

    @handles("delete")
    async def delete(self, inv: Invocation) -> Message:
        """Without `confirm`, say what would go and how to confirm; with it, delete for good."""
        wave = await self._named_wave(inv)
        if not _flag(inv.args.get("confirm")):
            found = await lifecycle.wave_contents(self.services, wave.id)
            again = {CLI: f"stateof delete {wave.label} --confirm",
                     "discord": f"/survey delete wave:{wave.label} confirm:True"}.get(
                         inv.platform, f"/survey delete {wave.label} confirm")
            return reply(
                f"This deletes wave '{found.label}' of {found.survey_id} ({found.status}) with its "
                f"{found.responses} response(s) and {found.answers} answer(s), for good. To go ahead: "
                f"{again}", title="Delete a wave?")
        gone = await lifecycle.delete_wave(self.services, wave.id, by=inv.who)
        if self.scheduling:
            await self.scheduling.wave_changed(wave.id)
        return reply(f"Deleted wave '{gone.label}' of {gone.survey_id} with {gone.responses} "
                     f"response(s) and {gone.answers} answer(s).")

    # -- member commands -------------------------------------------------------------
    @handles("my-data")
    async def my_data(self, inv: Invocation) -> Message:
        community = await self._community(inv)
        answered = await self.services.flow.my_answers(community.id, inv.member)
        if not answered:
            return reply("We hold no survey answers from you.", title="Your survey data",
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
        return reply(
            "\n".join(lines), title="Your survey data",
            buttons=[Button("Delete my answers", DELETE_MY_DATA, "all"),
                     Button("Stop reminding me", STOP_REMINDERS, "all")],
        )

    async def delete_my_data(self, member: Member) -> Message:
        community = await self.services.community_for(member.platform, member.space)
        count = await self.services.flow.delete_my_answers(community.id, member)
        return reply(f"Deleted {count} answer(s). Summaries no longer count them.")

    async def stop_reminders(self, member: Member) -> Message:
        community = await self.services.community_for(member.platform, member.space)
        await self.services.flow.stop_reminders(community.id, member)
        return reply("Done: you will not get survey reminders from us again.")

    async def open_wave_ids(self, platform: str, space: str) -> list[Wave]:
        """Open waves for a space (App Home, "take the survey" without a wave id)."""
        community = await self.services.community_for(platform, space)
        async with self.services.db.session() as session:
            return await open_waves(session, community.id)


_missing = set(BY_NAME) - set(HANDLERS)
if _missing:
    raise RuntimeError(f"no handler for /survey {', '.join(sorted(_missing))} (see bot.command_table)")


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
