"""The weekly summary: progress of open waves, or when the next one opens.

While a wave is open (for more than a day): responses this week and in total, completed, response rate (of the
members invited in the wave's channels), time left, and the analytics summary against the
previous wave (biggest movers with significance) with its chart. When no wave is open: when
the next one opens (from the schedules), and how the last one ended. A community whose
weekly summary is turned off (`weekly_summary_cron` is NULL) gets nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot import lifecycle
from bot.lifecycle import local_time, time_left
from bot.scheduling.labels import wave_label
from bot.scheduling.schedules import cron_trigger, next_fire
from bot.services import Services
from surveys.models import Community, Participation, Response, Schedule, Wave, WaveStatus
from surveys.ports import Message
from surveys.waves import list_waves, open_waves, questionnaire_of

log = logging.getLogger(__name__)

FRESH = timedelta(days=1)
OPENING_SOON = timedelta(hours=1)


@dataclass
class WaveProgress:
    wave: Wave
    this_week: int
    total: int
    completed: int
    invited: int

    @property
    def response_rate(self) -> float | None:
        return self.total / self.invited if self.invited else None


async def wave_progress(services: Services, wave: Wave, week_end: datetime) -> WaveProgress:
    week_start = week_end - timedelta(days=7)
    async with services.db.session() as session:
        base = select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
        total = (await session.execute(base)).scalar_one()
        completed = (await session.execute(base.where(Response.completed_at.is_not(None)))).scalar_one()
        week = (await session.execute(
            base.where(Response.started_at >= week_start, Response.started_at < week_end)
        )).scalar_one()
        invited = (await session.execute(
            select(func.count()).select_from(Participation)
            .where(Participation.wave_id == wave.id, Participation.invited.is_(True))
        )).scalar_one()
    # nobody invited (e.g. Discord without the Members intent): no rate, not "100%"
    return WaveProgress(wave, week, total, completed, max(invited, total) if invited else 0)


async def progress_message(services: Services, community: Community, wave: Wave, week_end: datetime,
                           now: datetime) -> Message:
    """The weekly message of an open wave (headline numbers first, then the analytics)."""
    progress = await wave_progress(services, wave, week_end)
    qn = questionnaire_of(wave)
    rate = (f"{progress.response_rate:.0%} of {progress.invited} invited"
            if progress.response_rate is not None else "n/a (no channel member list)")
    fields = [
        ("Responses this week", str(progress.this_week)),
        ("Responses in total", f"{progress.total} ({progress.completed} completed)"),
        ("Response rate", rate),
        ("Closes", f"{local_time(wave.closes_at, community.timezone)} ({time_left(wave.closes_at, now)})"),
    ]
    title = f"{qn.title} {wave.label}: this week"
    try:
        analytics = await lifecycle.summary_message(services, wave, title=title)
    except Exception:  # the numbers above still go out
        log.exception("weekly summary of wave %s: the analytics part failed", wave.label)
        analytics = Message(title=title)
    return Message(title=title, text=analytics.text, fields=fields + analytics.fields,
                   attachments=analytics.attachments)


async def next_opening(
    services: Services, community: Community, now: datetime
) -> tuple[str, datetime] | None:
    """(what, when) of the next wave to open in the community, from schedules and scheduled waves."""
    found: list[tuple[datetime, str]] = []
    async with services.db.session() as session:
        schedules = (await session.execute(
            select(Schedule).where(Schedule.community_id == community.id, Schedule.enabled.is_(True))
        )).scalars()
        for s in schedules:
            try:
                when = next_fire(cron_trigger(s.cron, s.timezone), now)
            except Exception:
                continue
            if when is not None:
                try:
                    title = services.catalog.get(s.survey_id).title
                except KeyError:
                    title = s.survey_id
                found.append((when, f"{title} {wave_label(s.label_pattern, when, s.timezone)}"))
        waiting = (await session.execute(
            select(Wave).where(Wave.community_id == community.id, Wave.status == WaveStatus.scheduled.value,
                               Wave.opens_at.is_not(None), Wave.opens_at >= now - OPENING_SOON)
        )).scalars()
        for w in waiting:
            assert w.opens_at is not None
            found.append((w.opens_at, f"{questionnaire_of(w).title} {w.label}"))
    if not found:
        return None
    when, what = min(found, key=lambda f: f[0])
    return what, when


async def idle_message(services: Services, community: Community, now: datetime) -> Message:
    """The weekly message when no wave is open."""
    upcoming = await next_opening(services, community, now)
    lines = []
    if upcoming:
        what, when = upcoming
        lines.append(f"No survey is open right now. The next one, {what}, opens "
                     f"{local_time(when, community.timezone)}.")
    else:
        lines.append("No survey is open right now, and none is scheduled yet.")
    async with services.db.session() as session:
        closed = [w for w in await list_waves(session, community.id)
                  if w.status == WaveStatus.closed.value and not w.synthetic]
    if closed:
        last = max(closed, key=lambda w: (w.closed_at or w.created_at, w.id))
        total = (await wave_progress(services, last, now)).total
        lines.append(f"The last one, {questionnaire_of(last).title} {last.label}, closed "
                     f"{local_time(last.closed_at, community.timezone)} with {total} responses.")
    return Message(title="Survey update", text="\n".join(lines))


async def weekly_posts(
    services: Services, community: Community, week_end: datetime, now: datetime
) -> list[tuple[list[dict], Message]]:
    """(target channels, message) pairs for this week's summary; empty when turned off."""
    if community.weekly_summary_cron is None:
        return []
    async with services.db.session() as session:
        opened = await open_waves(session, community.id)
    if opened:
        posts = []
        # A wave that opened within the last day has no progress to show yet (its announcement
        # just went out), e.g. a wave opening on Monday at 09:00 like the summary.
        for wave in [w for w in opened if not w.opened_at or week_end - w.opened_at >= FRESH]:
            message = await progress_message(services, community, wave, week_end, now)
            posts.append((list(community.summary_channels or wave.channels), message))
        return posts
    if not community.summary_channels:
        return []
    upcoming = await next_opening(services, community, now)
    if upcoming is not None and upcoming[1] - now <= OPENING_SOON:
        return []  # a wave opens right now (its announcement says it all)
    return [(list(community.summary_channels), await idle_message(services, community, now))]
