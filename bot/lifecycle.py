"""Wave lifecycle actions shared by moderator commands and the scheduler.

Each action is idempotent where it can be (opening an open wave, closing a closed one)
and talks to platforms only through the notifiers registered on `Services`. The analytics
stack (pandas, matplotlib) is imported only when a summary is made (`summary_message`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete as sql_delete
from sqlalchemy import false, func, or_, select, update

from bot.services import Services
from bot.summary_worker import build_summary_off_loop
from surveys.db import rows_changed
from surveys.errors import SurveyError, WaveExists
from surveys.identity import Member
from surveys.models import (
    Answer,
    AnswerChoice,
    Community,
    JobRun,
    Participation,
    ReminderOptOut,
    Response,
    Wave,
    WaveAggregate,
    WaveStatus,
    day_start,
    random_key,
    utcnow,
)
from surveys.ports import TAKE_SURVEY, Attachment, Button, ChannelRef, Message, Notifier
from surveys.upsert import dialect_insert
from surveys.waves import (
    LABEL,
    close_wave,
    create_wave,
    find_wave,
    open_wave,
    questionnaire_of,
    wave_by_id,
)

log = logging.getLogger(__name__)

DEFAULT_DURATION = timedelta(days=30)
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class LifecycleError(SurveyError):
    """A lifecycle action that cannot be done; the message is for the moderator."""


MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """`30d`, `2w`, `12h`, `90m` → timedelta; LifecycleError otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise LifecycleError(f"'{text}' is not a duration; use e.g. 30d, 2w, 12h or 90m")
    amount = int(match.group(1))
    if len(match.group(1)) > 6 or timedelta(**{_UNITS[match.group(2)]: amount}) > MAX_DURATION:
        raise LifecycleError(f"'{text}' is too long; a wave runs at most a year (365d)")
    return timedelta(**{_UNITS[match.group(2)]: amount})


def local_time(when: datetime | None, tz: str) -> str:
    """A moment in the community's time zone, e.g. `Mon 1 Dec 2026, 09:00 CET`."""
    if when is None:
        return "not set"
    local = when.astimezone(ZoneInfo(tz))
    return local.strftime("%a %-d %b %Y, %H:%M %Z")


def time_left(until: datetime | None, now: datetime | None = None) -> str:
    if until is None:
        return "no close time set"
    delta = until - (now or utcnow())
    if delta.total_seconds() <= 0:
        return "closing now"
    days, rest = divmod(int(delta.total_seconds()), 86400)
    hours = rest // 3600
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h left"
    return f"{hours} h {(rest % 3600) // 60} min left"


def announcement(wave: Wave, tz: str, min_group_size: int) -> Message:
    """The message that opens a wave in a channel, with the "Take the survey" button; its
    privacy line names the configured minimum group size (STATEOF_MIN_GROUP_SIZE)."""
    qn = questionnaire_of(wave)
    text = qn.description or f"Help us see the state of our community: {qn.title}."
    return Message(
        title=f"{qn.title} {wave.label} is open",
        text=text,
        fields=[
            ("Takes about", f"{qn.minutes} minutes, {len(qn.questions)} questions"),
            ("Closes", local_time(wave.closes_at, tz)),
            ("Privacy", f"Stored under a pseudonym; groups under {min_group_size} are never shown."),
        ],
        buttons=[Button("Take the survey", TAKE_SURVEY, str(wave.id))],
    )


async def launch(
    services: Services,
    community: Community,
    survey_id: str,
    label: str,
    channels: list[ChannelRef],
    *,
    duration: timedelta = DEFAULT_DURATION,
    schedule_id: int | None = None,
    now: datetime | None = None,
) -> tuple[Wave, int]:
    """Open a wave (creating it, or opening a scheduled one) and announce it in `channels`;
    returns the wave and in how many channels the announcement was posted."""
    qn = services.catalog.get(survey_id)
    now = now or utcnow()
    only: list[ChannelRef] | None = None
    async with services.db.session() as session:
        wave = await find_wave(session, community.id, qn.id, label)
        if wave is None:
            wave = await create_wave(
                session, community, qn, label, opens_at=now, closes_at=now + duration,
                channels=[c.to_dict() for c in channels], status=WaveStatus.open,
                schedule_id=schedule_id,
            )
        elif wave.status == WaveStatus.open.value:
            # already open: announce it (again) in the channel(s) asked for, e.g. after the bot
            # was invited to a channel it could not post in, or to a second channel
            known = {ChannelRef.from_dict(c) for c in wave.channels}
            wave.channels = [*wave.channels, *(c.to_dict() for c in channels if c not in known)]
            only = list(channels)
        elif wave.status == WaveStatus.closed.value:
            raise LifecycleError(f"wave '{label}' has closed; pick a new label")
        else:
            open_wave(wave, now)
            wave.closes_at = wave.closes_at or now + duration
            if channels:
                wave.channels = [c.to_dict() for c in channels]
        wave_id = wave.id
    posted = await announce(services, wave_id, only)
    return await _reload(services, wave_id), posted


async def _reload(services: Services, wave_id: int) -> Wave:
    async with services.db.session() as session:
        return await wave_by_id(session, wave_id)


async def announce(services: Services, wave_id: int, only: list[ChannelRef] | None = None) -> int:
    """Post the announcement in the wave's channels (or `only` these) and invite their members."""
    wave = await _reload(services, wave_id)
    community = await _community(services, wave.community_id)
    posted = 0
    for channel in only if only is not None else [ChannelRef.from_dict(raw) for raw in wave.channels]:
        try:
            message = announcement(wave, community.timezone, services.settings.min_group_size)
            if await services.post(channel, message) is not None:
                posted += 1
            await invite_channel(services, wave, channel)
        except Exception:  # a platform failure must not undo the opened wave
            log.exception("could not announce wave %s in %s", wave.label, channel)
    return posted


async def invite_channel(services: Services, wave: Wave, channel: ChannelRef) -> int:
    """Record the channel's members as invited (drives reminders and the response rate)."""
    notifier = services.notifiers.get(channel.platform)
    members = await notifier.channel_members(channel) if notifier else None
    if not members:
        return 0
    rows = [
        {"id": random_key(), "wave_id": wave.id, "platform": channel.platform,
         "space_id": channel.space, "user_id": user, "invited": True}
        for user in members
    ]
    async with services.db.session() as session:
        stmt = dialect_insert(session, Participation)
        stmt = stmt.on_conflict_do_update(
            index_elements=["wave_id", "platform", "space_id", "user_id"], set_={"invited": True},
            where=Participation.invited.is_(False),
        )
        for start in range(0, len(rows), 1000):
            await session.execute(stmt, rows[start:start + 1000])
    return len(rows)


async def _community(services: Services, community_id: int) -> Community:
    async with services.db.session() as session:
        community = await session.get(Community, community_id)
        assert community is not None
        return community


@dataclass
class WaveStatusInfo:
    """Counts for `/survey status`. The response rate covers only the platforms whose channel
    members were invited (Discord without the Members intent knows no channel members: its
    starters are not "invited", and its rate is n/a)."""

    wave: Wave
    respondents: int
    completed: int
    invited: int  # members invited on the platforms that list channel members
    time_left: str
    counted: int = 0  # respondents on those platforms
    unlisted: tuple[str, ...] = ()  # platforms with respondents but no invitations

    @property
    def response_rate(self) -> float | None:
        return min(1.0, self.counted / self.invited) if self.invited else None

    def rate_text(self) -> str:
        """e.g. `40% of 10 invited`, `n/a (no channel member list)`, plus platforms left out."""
        if self.response_rate is None:
            return "n/a (no channel member list)"
        text = f"{self.response_rate:.0%} of {self.invited} invited"
        if self.counted > self.invited:  # joined the channel after the launch, or answered elsewhere
            extra = self.counted - self.invited
            text = f"{self.invited} invited, {extra} more answered without an invitation"
        if self.unlisted:
            text += f"; n/a for {', '.join(p.capitalize() for p in self.unlisted)} (no member list)"
        return text


async def wave_status(services: Services, wave: Wave) -> WaveStatusInfo:
    """Counts for `/survey status`: respondents, completed, invited channel members."""
    async with services.db.session() as session:
        started = select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
        done = started.where(Response.completed_at.is_not(None))
        respondents = (await session.execute(started)).scalar_one()
        completed = (await session.execute(done)).scalar_one()
        by_platform = dict((await session.execute(
            select(Response.platform, func.count()).where(Response.wave_id == wave.id)
            .group_by(Response.platform))).all())
        invited_by = dict((await session.execute(
            select(Participation.platform, func.count())
            .where(Participation.wave_id == wave.id, Participation.invited.is_(True))
            .group_by(Participation.platform))).all())
    left = time_left(wave.closes_at) if wave.status == WaveStatus.open.value else wave.status
    invited = sum(invited_by.values())
    counted = sum(n for platform, n in by_platform.items() if platform in invited_by)
    unlisted = tuple(sorted(p for p in by_platform if p not in invited_by and p in services.notifiers))
    return WaveStatusInfo(wave, respondents, completed, invited, left, counted, unlisted)


GIVE_UP_AFTER = 3  # members in a row whose DM failed after its retries: the fan-out stops


@dataclass
class RemindResult:
    sent: int = 0
    unreachable: int = 0
    failed: int = 0
    stopped: str = ""  # why the fan-out stopped before the end (a long rate limit), if it did


def reminder_message(wave: Wave, tz: str) -> Message:
    qn = questionnaire_of(wave)
    return Message(
        title=f"Reminder: {qn.title} {wave.label}",
        text="You started or were invited to our community survey and have not finished it yet. "
        "It picks up where you left off.",
        fields=[("Closes", local_time(wave.closes_at, tz))],
        buttons=[Button("Continue the survey", TAKE_SURVEY, str(wave.id))],
    )


def reminded_since(since: datetime) -> Any:
    """Ledger rows whose reminder counts as at or after `since` (the query and the claim agree).
    The ledger keeps only the day of a reminder, so "since t" means "on t's day or later": two
    runs on one day never both claim a member."""
    return Participation.reminded_at.is_not(None) & (Participation.reminded_at >= day_start(since))


def _reminder_query(wave: Wave, skip_reminded_since: datetime | None) -> Any:
    """Participation rows to remind: started or invited, not completed, not opted out,
    not blocked, and (with `skip_reminded_since`) not reminded since then."""
    opted_out = select(ReminderOptOut.id).where(
        ReminderOptOut.community_id == wave.community_id,
        ReminderOptOut.platform == Participation.platform,
        ReminderOptOut.space_id == Participation.space_id,
        ReminderOptOut.user_id == Participation.user_id,
    )
    recently = reminded_since(skip_reminded_since) if skip_reminded_since is not None else false()
    return (
        select(Participation.id, Participation.platform, Participation.space_id, Participation.user_id,
               Participation.reminded_at)
        .where(
            Participation.wave_id == wave.id,
            Participation.completed.is_(False),
            Participation.opted_out.is_(False),
            Participation.dm_blocked.is_(False),
            ~opted_out.exists(),
            ~recently,
        ).order_by(Participation.id)
    )


async def pending_reminders(
    services: Services, wave_id: int, *, skip_reminded_since: datetime | None = None
) -> int:
    """How many members `remind` would DM now."""
    wave = await _reload(services, wave_id)
    return len(await _reminder_rows(services, wave, skip_reminded_since))


async def _reminder_rows(services: Services, wave: Wave, skip_reminded_since: datetime | None) -> list[Any]:
    """The ledger's rows to remind, after applying earlier days' marks (surveys.ledger) and
    leaving out members whose completion is still pending."""
    ledger = services.flow.ledger
    await ledger.flush(services.db)
    done = await ledger.pending_completed(services.db, wave.id)
    async with services.db.session() as session:
        rows = (await session.execute(_reminder_query(wave, skip_reminded_since))).all()
    return [row for row in rows if (row[1], row[2], row[3]) not in done]


async def remind(
    services: Services, wave_id: int, *, now: datetime | None = None,
    skip_reminded_since: datetime | None = None, notifiers: Mapping[str, Notifier] | None = None,
) -> RemindResult:
    """DM members who started or were invited and have not completed; never opted-out ones.

    Each member is claimed in the database before the DM goes out (their reminder is
    recorded first, and only by one run): two runs at once, in one process or two, never
    DM anyone twice. A member claimed by a run that was killed before the DM is not DMed
    again by the resumed run (a missing reminder is better than a double one); a DM that
    failed after its retries gives the claim back. `skip_reminded_since` leaves out members
    reminded at or after that time (default: the start of this run). `notifiers` are the
    ones to DM through (retrying ones, see bot.scheduling.delivery); a rate limit longer than
    their cap (`TooLongToWait`) stops the fan-out at once, counting the rest as failed, and
    so do `GIVE_UP_AFTER` members in a row whose DM failed after all retries (the platform is
    down: the rest are left for the next run instead of failing one by one).
    """
    from bot.scheduling.delivery import TooLongToWait  # the scheduling package imports lifecycle

    wave = await _reload(services, wave_id)
    if wave.status != WaveStatus.open.value:
        raise LifecycleError(f"wave '{wave.label}' is not open; nothing to remind")
    community = await _community(services, wave.community_id)
    when = now or utcnow()
    cutoff = skip_reminded_since or when
    rows = await _reminder_rows(services, wave, cutoff)
    result = RemindResult()
    message = reminder_message(wave, community.timezone)
    via = notifiers if notifiers is not None else services.notifiers
    failed_in_row = 0
    for index, (pid, platform, space, user, before) in enumerate(rows):
        if failed_in_row >= GIVE_UP_AFTER:
            result.failed += len(rows) - index
            result.stopped = f"stopped: {failed_in_row} DMs in a row failed (is {platform} down?)"
            log.warning("reminders for wave %s %s", wave.label, result.stopped)
            break
        notifier = via.get(platform)
        if notifier is None:
            result.failed += 1
            continue
        if not await _claim_member(services, pid, cutoff, when):
            continue  # another run reminds this member
        try:
            delivered = await notifier.dm(Member(platform, space, user), message)
        except TooLongToWait as exc:
            await _release_member(services, pid, before)
            result.failed += len(rows) - index
            result.stopped = f"stopped: {exc}"
            log.warning("reminders for wave %s stopped: %s", wave.label, exc)
            break
        except Exception:
            log.exception("reminder to a %s member failed", platform)
            await _release_member(services, pid, before)
            result.failed += 1
            failed_in_row += 1
            continue
        failed_in_row = 0
        if delivered:
            result.sent += 1
        else:
            await _mark_blocked(services, pid, before)
            result.unreachable += 1
    log.info("reminders for wave %s: %s", wave.label, result)
    return result


async def _claim_member(services: Services, pid: int, cutoff: datetime, when: datetime) -> bool:
    """Record the reminder of one member before sending it; False when another run has."""
    async with services.db.session() as session:
        claimed = await session.execute(
            update(Participation).where(Participation.id == pid, ~reminded_since(cutoff))
            .values(reminded_at=when, reminders_sent=Participation.reminders_sent + 1)
        )
        return rows_changed(claimed) == 1


async def _release_member(services: Services, pid: int, before: datetime | None) -> None:
    """Give a claim back (the DM did not go out): the next run reminds them."""
    async with services.db.session() as session:
        await session.execute(update(Participation).where(Participation.id == pid).values(
            reminded_at=before, reminders_sent=Participation.reminders_sent - 1))


async def _mark_blocked(services: Services, pid: int, before: datetime | None) -> None:
    """The member cannot get DMs from us: never tried again (and not counted as reminded)."""
    async with services.db.session() as session:
        await session.execute(update(Participation).where(Participation.id == pid).values(
            dm_blocked=True, reminded_at=before, reminders_sent=Participation.reminders_sent - 1))


def preload_analytics() -> None:
    """Import the analytics stack now. A running bot calls it at start-up: imported on the
    first `/survey results` instead, pandas and matplotlib would hold the event loop (and every
    other member's click) for a second or more. The CLI does not, and loads them only to
    summarise."""
    import analytics.charts  # noqa: F401
    import analytics.export  # noqa: F401
    import analytics.report  # noqa: F401
    import analytics.service  # noqa: F401


_DRAWING = threading.Lock()  # one chart at a time: matplotlib's caches are shared by threads


def draw_lead_chart(summary: Any, question: str | None = None) -> tuple[str, bytes] | None:
    """The one chart a chat summary attaches (`analytics.charts.lead_chart`), drawn under a lock;
    blocking, so callers run it in a worker thread."""
    from analytics import charts

    with _DRAWING:
        return charts.lead_chart(summary, question)


async def summary_message(
    services: Services, wave: Wave, *, title: str | None = None, compare: list[str] | None = None,
    question: str | None = None, where: dict[str, list[str]] | None = None, charts: bool = True,
    platform: str | None = None, by: str | None = None, rank: str | None = None,
) -> Message:
    """A chat summary of a wave against earlier ones, with PNG charts (`platform`: only the
    members who answered on that platform; `by`: the question cross-tabbed by another, see
    analytics.crosstab). Free-text answers never appear."""
    from analytics.report import chat_lines  # pandas and matplotlib: only for summaries
    from analytics.service import previous_labels

    if compare is None:
        compare = await previous_labels(
            services.db, community_id=wave.community_id, survey_id=wave.survey_id, wave=wave.label
        )
    summary = await build_summary_off_loop(
        services.db, community_id=wave.community_id, survey_id=wave.survey_id, wave=wave.label,
        compare=compare, where=where, min_group_size=services.settings.min_group_size,
        questions=[question] if question else None, platform=platform,
    )
    if by and question:
        from analytics.sections import add_crosstabs

        await add_crosstabs(services.db, summary, community_id=wave.community_id, by=by, questions=[question])
    if rank:
        from analytics.sections import add_rankings

        add_rankings(summary, [rank])
    qs = summary.question(question) if question else None
    if question and qs is not None and qs.type == "number":  # its histogram across waves (k-suppressed bins)
        from analytics.sections import add_number_stats

        await add_number_stats(services.db, summary, community_id=wave.community_id, questions=[qs.id])
    attachments = []
    if charts:
        # off the event loop: drawing takes seconds on a busy machine, and meanwhile every
        # member's click would wait (and miss Discord's and Slack's 3-second window)
        chart = await asyncio.to_thread(draw_lead_chart, summary, question)
        if chart is not None:
            name, png = chart
            attachments = [Attachment(name, png, title=name.removesuffix(".png"))]
    qn = questionnaire_of(wave)
    return Message(
        title=title or f"{qn.title} {wave.label}: results so far",
        text="\n".join(chat_lines(summary, question=question)),
        attachments=attachments,
    )


async def post_summary(services: Services, wave: Wave, message: Message) -> int:
    """Post to the community's summary channels (or the wave's channels when none is set)."""
    community = await _community(services, wave.community_id)
    targets = community.summary_channels or wave.channels
    posted = 0
    for raw in targets:
        try:
            if await services.post(ChannelRef.from_dict(raw), message) is not None:
                posted += 1
        except Exception:
            log.exception("could not post the summary of wave %s", wave.label)
    return posted


async def close(
    services: Services, wave_id: int, *, when: datetime | None = None, post: bool = True
) -> tuple[bool, int]:
    """Close a wave and post its final summary; (closed now, channels posted to)."""
    async with services.db.session() as session:
        wave = await wave_by_id(session, wave_id)
        changed = close_wave(wave, when)
    if not changed or not post:
        return changed, 0
    wave = await _reload(services, wave_id)
    message = await summary_message(
        services, wave, title=f"{questionnaire_of(wave).title} {wave.label} has closed: the results"
    )
    return changed, await post_summary(services, wave, message)


# -- wave control: extend, reopen, rename, delete ------------------------------------------------
DEFAULT_REOPEN = timedelta(days=7)


async def extend(services: Services, wave_id: int, by: timedelta, *, now: datetime | None = None) -> Wave:
    """Move a scheduled or open wave's close time `by` later (from now when it is already past)."""
    now = now or utcnow()
    async with services.db.session() as session:
        wave = await wave_by_id(session, wave_id)
        if wave.status == WaveStatus.closed.value:
            raise LifecycleError(f"wave '{wave.label}' has closed; open it again with "
                                 f"/survey reopen {wave.label}")
        closes = max(wave.closes_at or now, now) + by
        if closes - (wave.opened_at or wave.opens_at or now) > MAX_DURATION:
            raise LifecycleError(f"wave '{wave.label}' would then run more than a year; a wave runs "
                                 "at most 365 days")
        wave.closes_at = closes
    log.info("wave %s extended by %s: closes %s", wave_id, by, closes.isoformat())
    return await _reload(services, wave_id)


def _close_runs(wave_id: int) -> Any:
    """Job runs of a wave's close, final summary (and its posts) and reminders."""
    from bot.scheduling import keys  # the scheduling package imports lifecycle

    summary = keys.JobKey.wave(keys.SUMMARY, wave_id).format()
    return or_(JobRun.job_key == keys.JobKey.wave(keys.CLOSE, wave_id).format(), JobRun.job_key == summary,
               JobRun.job_key.like(keys.posts_like(summary)),
               JobRun.job_key.like(keys.occurrences_like(keys.REMIND, keys.Ref(keys.WAVE, wave_id))))


async def reopen(
    services: Services, wave_id: int, duration: timedelta = DEFAULT_REOPEN, *, now: datetime | None = None,
) -> tuple[Wave, int]:
    """Open a closed wave again until now + `duration` and announce it in its channels; returns
    the wave and how many channels the announcement reached. Its close, final summary and
    reminders are planned afresh (their earlier runs are forgotten), and the results kept at
    its close are dropped (answers may change again)."""
    now = now or utcnow()
    async with services.db.session() as session:
        wave = await wave_by_id(session, wave_id)
        if wave.status == WaveStatus.open.value:
            raise LifecycleError(f"wave '{wave.label}' is open; give it more time with "
                                 f"/survey extend {wave.label} 7d")
        if wave.status != WaveStatus.closed.value:
            raise LifecycleError(f"wave '{wave.label}' has not opened yet; open it with /survey launch")
        from analytics.themes import coded_questions

        if coded_questions(questionnaire_of(wave)):
            raise LifecycleError(f"wave '{wave.label}' has free text coded into themes (stateof themes); "
                                 "reopening it would ask members the themes question. Launch a new wave "
                                 "instead")
        wave.status = WaveStatus.open.value
        wave.closed_at = None
        wave.closes_at = now + duration
        await session.execute(sql_delete(JobRun).where(_close_runs(wave_id)))
        await session.execute(sql_delete(WaveAggregate).where(WaveAggregate.wave_id == wave_id))
    log.info("wave %s reopened until %s", wave_id, (now + duration).isoformat())
    posted = await announce(services, wave_id)
    return await _reload(services, wave_id), posted


async def rename(services: Services, wave_id: int, label: str) -> tuple[str, Wave]:
    """Give a wave a new label (unique for its survey in its community); returns the old one."""
    label = label.strip()
    if not label or len(label) > 64:
        raise LifecycleError("a wave label needs 1 to 64 characters")
    if not LABEL.fullmatch(label):
        raise LifecycleError(f"'{label[:20]}' cannot be a wave label: use letters, digits, spaces and "
                             ". _ - : / ( ) + (e.g. 2026 or 2026-Q4)")
    async with services.db.session() as session:
        wave = await wave_by_id(session, wave_id)
        old = wave.label
        if label == old:
            raise LifecycleError(f"wave '{old}' already has that label")
        if await find_wave(session, wave.community_id, wave.survey_id, label) is not None:
            raise WaveExists(f"wave '{label}' of {wave.survey_id} already exists; pick another label")
        wave.label = label
    log.info("wave %s renamed from %r to %r", wave_id, old, label)
    return old, await _reload(services, wave_id)


@dataclass
class WaveContents:
    """What deleting a wave deletes."""

    label: str
    survey_id: str
    status: str
    responses: int
    answers: int


async def wave_contents(services: Services, wave_id: int) -> WaveContents:
    async with services.db.session() as session:
        wave = await wave_by_id(session, wave_id)
        responses = (await session.execute(
            select(func.count()).select_from(Response).where(Response.wave_id == wave_id))).scalar_one()
        answers = (await session.execute(
            select(func.count()).select_from(Answer).where(Answer.wave_id == wave_id))).scalar_one()
        return WaveContents(wave.label, wave.survey_id, wave.status, int(responses), int(answers))


async def delete_wave(services: Services, wave_id: int, *, by: str) -> WaveContents:
    """Delete a wave with its answers, responses, invitations, kept results and job runs, in one
    transaction; logged with who asked (`by`, e.g. `slack:T1:U9`). Irreversible."""
    from bot.scheduling import keys  # the scheduling package imports lifecycle

    contents = await wave_contents(services, wave_id)
    async with services.db.session() as session:
        await wave_by_id(session, wave_id)
        await session.execute(sql_delete(AnswerChoice).where(AnswerChoice.wave_id == wave_id))
        await session.execute(sql_delete(Answer).where(Answer.wave_id == wave_id))
        await session.execute(sql_delete(Response).where(Response.wave_id == wave_id))
        await session.execute(sql_delete(Participation).where(Participation.wave_id == wave_id))
        await session.execute(sql_delete(WaveAggregate).where(WaveAggregate.wave_id == wave_id))
        await session.execute(sql_delete(JobRun).where(or_(
            *(JobRun.job_key.like(pattern) for pattern in keys.about_like(keys.Ref(keys.WAVE, wave_id))))))
        await session.execute(sql_delete(Wave).where(Wave.id == wave_id))
    log.warning("wave %s (%s, %s) deleted by %s: %d responses, %d answers", contents.label,
                contents.survey_id, contents.status, by, contents.responses, contents.answers)
    return contents
