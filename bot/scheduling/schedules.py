"""Schedules (recurring waves): validation, human descriptions, and rows in the database.

Used by the scheduler (`/survey schedule`) and by the CLI (`stateof schedule add|list|remove`).
A cron expression has five fields (minute hour day-of-month month day-of-week) and is read
in the schedule's time zone (the community's by default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lifecycle import LifecycleError, local_time
from bot.scheduling.keys import Ref
from bot.scheduling.labels import LabelPatternError, check_label_pattern, wave_label
from surveys.models import Community, Schedule, utcnow
from surveys.ports import ChannelRef

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "stateof_scheduler"
DEFAULT_REMINDERS = ("halfway", "48h")
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DOW = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class ScheduleError(LifecycleError):
    """A schedule that cannot be made as given; the message says how to fix it."""


def cron_trigger(cron: str, tz: str) -> CronTrigger:
    """An APScheduler trigger for a five-field cron in time zone `tz` (DST-aware)."""
    fields = cron.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"'{cron}' is not a cron expression: use five fields, minute hour day month weekday, "
            "e.g. \"0 9 1 3 *\" for 1 March at 09:00"
        )
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {tz!r} (use an IANA name like Europe/Helsinki)") from None
    try:
        return CronTrigger.from_crontab(cron, timezone=zone)
    except ValueError as exc:
        raise ScheduleError(f"'{cron}' is not a valid cron expression: {exc}") from None


def weekly_cron(text: str, tz: str) -> str:
    """When the weekly summary goes out, as a checked cron: a five-field cron
    (`0 9 * * mon`) or day(s) and a time (`mon 09:00`, `monday 9:30`, `mon,thu 17:00`)."""
    words = " ".join(text.replace("@", " ").split())
    if len(words.split()) == 5:
        cron_trigger(words, tz)
        return words
    parts = words.lower().split()
    problem = (f"'{text}' is not a weekly time: use day and time like \"mon 09:00\", or a cron like "
               "\"0 9 * * mon\"")
    if len(parts) != 2 or ":" not in parts[1]:
        raise ScheduleError(problem)
    days, (hour, _, minute) = parts[0].split(","), parts[1].partition(":")
    if not all(d in _DOW or d in (name.lower() for name in DAYS) for d in days):
        raise ScheduleError(problem)
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ScheduleError(problem)
    cron = f"{int(minute)} {int(hour)} * * {','.join(d[:3] for d in days)}"
    cron_trigger(cron, tz)
    return cron


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time at or after `after`."""
    return trigger.get_next_fire_time(None, after)


def fires_between(trigger: CronTrigger, start: datetime, end: datetime, limit: int = 5000) -> list[datetime]:
    """Fire times in [start, end] (at most `limit`)."""
    found: list[datetime] = []
    when = trigger.get_next_fire_time(None, start)
    while when is not None and when <= end and len(found) < limit:
        found.append(when)
        when = trigger.get_next_fire_time(when, when + timedelta(microseconds=1))
    return found


def last_fire(trigger: CronTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time in [now - lookback, now], searching small windows first."""
    window = timedelta(hours=1)
    while True:
        window = min(window, lookback)
        fires = fires_between(trigger, now - window, now)
        if fires:
            return fires[-1]
        if window >= lookback:
            return None
        window *= 8


def parse_reminders(text: str | None) -> list[str] | None:
    """`halfway,48h` / `50%, 2d` / `off` as typed (CLI `--reminders`, chat `reminders:`)."""
    if text is None:
        return None
    return normalize_reminders([p for p in text.split(",") if p.strip()])


def reminder_fraction(point: str) -> float | None:
    """The share of the wave's time a `N%` point stands for (`75%` → 0.75); None otherwise."""
    if not point.endswith("%"):
        return None
    number = point[:-1].strip()
    try:
        value = float(number)
    except ValueError:
        return None
    return value / 100 if 0 < value < 100 else None


def normalize_reminders(points: list | tuple | None) -> list[str]:
    """Validate reminder points as stored: `halfway`, a share of the wave's time (`75%`;
    `50%` is `halfway`) or a time before close (`48h`, `2d`).

    An empty list means the default (halfway and 48 h before close); `["off"]` means none.
    """
    from bot.lifecycle import parse_duration

    out: list[str] = []
    for raw in points or []:
        point = str(raw).strip().lower().replace(" ", "")
        if point in ("off", "none"):
            return ["off"]
        if point.endswith("%"):
            fraction = reminder_fraction(point)
            if fraction is None:
                raise ScheduleError(f"'{raw}' is not a reminder point: a share of the wave's time is "
                                    "between 1% and 99%, e.g. 50%")
            point = "halfway" if fraction == 0.5 else f"{fraction * 100:g}%"
        elif point != "halfway":
            try:
                parse_duration(point)
            except LifecycleError:
                raise ScheduleError(
                    f"'{raw}' is not a reminder point: use halfway, a share of the wave's time like "
                    "75%, a time before close like 48h, or off"
                ) from None
        if point not in out:
            out.append(point)
    return out


def reminder_points(stored: list | None) -> list[str]:
    """The reminder points in effect for a stored list (see `normalize_reminders`)."""
    if not stored:
        return list(DEFAULT_REMINDERS)
    points = [str(p).strip().lower() for p in stored]
    return [] if "off" in points or "none" in points else points


def describe_cron(cron: str) -> str:
    """Common cron shapes in words (`every year on 1 March at 09:00`); the cron otherwise."""
    fallback = f"on cron \"{cron}\""
    parts = cron.split()
    if len(parts) != 5:
        return fallback
    minute, hour, dom, month, dow = parts
    if not (minute.isdigit() and hour.isdigit()):
        return fallback
    at = f"at {int(hour):02d}:{int(minute):02d}"
    if dom == "*" and month == "*" and dow == "*":
        return f"every day {at}"
    if dom == "*" and month == "*":
        days = [_day_name(d) for d in dow.split(",")]
        if all(days):
            return f"every {_join(days)} {at}"  # type: ignore[arg-type]
        return fallback
    if dow != "*" or not dom.isdigit():
        return fallback
    if month == "*":
        return f"on day {int(dom)} of every month {at}"
    months = month.split(",")
    if all(m.isdigit() and 1 <= int(m) <= 12 for m in months):
        names = [MONTHS[int(m) - 1] for m in months]
        if len(names) == 1:
            return f"every year on {int(dom)} {names[0]} {at}"
        return f"on {int(dom)} {_join([n[:3] for n in names])} {at}"
    return fallback


def _day_name(token: str) -> str | None:
    token = token.strip().lower()
    if token[:3] in _DOW:
        return DAYS[_DOW[token[:3]]]
    if token.isdigit() and 0 <= int(token) <= 7:
        return DAYS[(int(token) - 1) % 7]  # cron: 0 and 7 are Sunday
    return None


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe_duration(seconds: int) -> str:
    for unit, size in (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size and not (unit == "week" and seconds < 14 * 86400):
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def check_schedule(cron: str, tz: str, label_pattern: str, duration: timedelta, now: datetime) -> datetime:
    """Validate a schedule; returns its next open time. ScheduleError says what is wrong."""
    trigger = cron_trigger(cron, tz)
    try:
        check_label_pattern(label_pattern)
    except LabelPatternError as exc:
        raise ScheduleError(str(exc)) from None
    if duration <= timedelta(0):
        raise ScheduleError("a wave must stay open for some time; use e.g. duration:30d")
    upcoming = []
    when = next_fire(trigger, now)
    while when is not None and len(upcoming) < 3:
        upcoming.append(when)
        when = trigger.get_next_fire_time(when, when + timedelta(microseconds=1))
    if not upcoming:
        raise ScheduleError(f"'{cron}' never fires")
    labels = [wave_label(label_pattern, w, tz) for w in upcoming]
    if len(set(labels)) < len(labels):
        raise ScheduleError(
            f"the label pattern {label_pattern} gives the same label ({labels[0]}) to waves opened "
            f"{describe_cron(cron)}; use one that changes as often, e.g. {{year}}-Q{{quarter}} or "
            "{year}-{month:02d}"
        )
    return upcoming[0]


@dataclass(frozen=True)
class ScheduleInfo:
    schedule: Schedule
    next_open: datetime | None
    next_label: str | None

    def describe(self) -> str:
        s = self.schedule
        text = (f"{describe_cron(s.cron)} ({s.timezone}), waves labelled {s.label_pattern}, "
                f"open {describe_duration(s.duration_seconds)}")
        if not s.enabled:
            return text + "; disabled"
        if self.next_open is not None:
            text += f"; next: {self.next_label} opens {local_time(self.next_open, s.timezone)}"
        return text


def schedule_info(schedule: Schedule, now: datetime) -> ScheduleInfo:
    try:
        trigger = cron_trigger(schedule.cron, schedule.timezone)
    except ScheduleError:
        return ScheduleInfo(schedule, None, None)
    when = next_fire(trigger, now)
    label = wave_label(schedule.label_pattern, when, schedule.timezone) if when else None
    return ScheduleInfo(schedule, when, label)


async def create_schedule(
    session: AsyncSession, community: Community, survey_id: str, cron: str, *,
    duration: timedelta, label_pattern: str = "{year}", channels: list[ChannelRef] | None = None,
    reminders: list[str] | None = None, timezone: str | None = None, now: datetime | None = None,
) -> Schedule:
    """Validate and store a schedule (the scheduler picks it up on its next sync)."""
    tz = timezone or community.timezone or "UTC"
    now = now or utcnow()
    check_schedule(cron, tz, label_pattern, duration, now)
    same = await session.execute(select(Schedule.id).where(
        Schedule.community_id == community.id, Schedule.survey_id == survey_id,
        Schedule.cron == " ".join(cron.split()), Schedule.label_pattern == label_pattern))
    taken = same.scalars().first()
    if taken is not None:  # the same waves twice: refused, nothing stored
        raise ScheduleError(f"schedule {taken} already opens {survey_id} {describe_cron(cron)} with labels "
                            f"{label_pattern}; remove it first to change its options")
    schedule = Schedule(
        community_id=community.id, survey_id=survey_id, cron=" ".join(cron.split()), timezone=tz,
        label_pattern=label_pattern, duration_seconds=int(duration.total_seconds()),
        channels=[c.to_dict() for c in channels or []],
        reminders=normalize_reminders(reminders), enabled=True, created_at=now,
    )
    session.add(schedule)
    await session.flush()
    return schedule


async def list_schedules(session: AsyncSession, community_id: int | None = None) -> list[Schedule]:
    stmt = select(Schedule).order_by(Schedule.id)
    if community_id is not None:
        stmt = stmt.where(Schedule.community_id == community_id)
    return list((await session.execute(stmt)).scalars())


async def remove_schedule(session: AsyncSession, schedule_id: int) -> Schedule | None:
    """Delete a schedule; its waves stay (their schedule link is cleared)."""
    schedule = await session.get(Schedule, schedule_id)
    if schedule is not None:
        await session.delete(schedule)
        await session.flush()
    return schedule


async def notify_change(session: AsyncSession, what: Ref) -> None:
    """Tell the scheduler leader (any process) that a row changed (`wave:12`): PostgreSQL NOTIFY.

    Delivered when the session commits. SQLite runs one process, which syncs directly.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, :what)"),
                              {"channel": NOTIFY_CHANNEL, "what": what.format()})
