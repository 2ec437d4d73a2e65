"""Configuration gaps: STATEOF_TIMEZONE after the community exists, the weekly summary time and
reminder points in chat, smart quotes in Slack text, and answers after a wave's close time."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.commands import Commands, Invocation, bind_args, parse_command_text
from bot.scheduling.plan import reminder_times
from bot.scheduling.schedules import create_schedule
from bot.services import build_services
from bot.settings import Settings
from surveys.catalog import Catalog
from surveys.errors import WaveNotOpen
from surveys.identity import Member
from surveys.models import Community, Schedule, Wave, WaveStatus
from surveys.waves import create_wave, ensure_community, ensure_space

from .conftest import ANNOUNCE, days, make_community, utc


def _channel_of(word: str) -> str | None:
    return word[2:-1].split("|")[0] if word.startswith("<#") else None


def _typed(text: str) -> Invocation:
    """A moderator's Slack text, parsed the way the Slack adapter does."""
    command, positional, options = parse_command_text(text)
    args = bind_args(command, positional, options, _channel_of)
    return Invocation("slack", "T1", ANNOUNCE.channel, "U_MOD", True, command, args)


async def _community(db, slug: str = "default") -> Community:
    async with db.session() as session:
        return (await session.execute(select(Community).where(Community.slug == slug))).scalar_one()


def _weekly(upcoming) -> object:
    return dict(upcoming).get("weekly summary")


# -- 1. STATEOF_TIMEZONE --------------------------------------------------------------------
async def test_default_community_follows_a_changed_timezone(settings, services, clock, make_runtime, caplog):
    qn = Catalog().get("state-of-mlops")
    async with services.db.session() as session:
        default = await ensure_community(session, "default", timezone="UTC")
        default.created_at = utc(2020, 1, 1)
        other = await ensure_community(session, "tokyo-chapter", timezone="Asia/Tokyo")
        await ensure_space(session, other, "slack", "T_TOKYO")  # a second community, its own zone
        await create_schedule(session, default, qn.id, "0 9 1 3 *", duration=days(30), now=clock.now())
        await create_schedule(session, default, qn.id, "0 9 1 9 *", duration=days(30),
                              timezone="America/New_York", now=clock.now())

    # STATEOF_TIMEZONE not set: nothing changes.
    assert (await services.community_for("slack", "T1")).timezone == "UTC"

    helsinki = Settings(database_url=settings.database_url,
                        secret_key="test-secret-key-0123456789-abcdefghijkl",
                        secret_file=settings.secret_file, timezone="Europe/Helsinki", _env_file=None)
    moved = build_services(helsinki, services.db)
    caplog.set_level(logging.WARNING, logger="surveys.waves")
    runtime = await make_runtime(moved)  # start-up applies the setting before planning
    assert (await _community(services.db)).timezone == "Europe/Helsinki"
    assert (await _community(services.db, "tokyo-chapter")).timezone == "Asia/Tokyo"
    async with services.db.session() as session:
        zones = (await session.execute(select(Schedule.timezone).order_by(Schedule.id))).scalars().all()
    assert zones == ["Europe/Helsinki", "America/New_York"]  # the explicit zone stays
    # Saturday 20 Feb 2027: the next weekly summary is Monday 09:00 in Helsinki (07:00 UTC).
    assert _weekly(await runtime.upcoming(default.id)) == utc(2027, 2, 22, 7)
    assert ("open of State of MLOps 2027", utc(2027, 3, 1, 7)) in await runtime.upcoming(default.id)

    # Changed again in the database (e.g. an older process): community_for puts it back and re-plans.
    async with services.db.session() as session:
        (await session.get(Community, default.id)).timezone = "UTC"
    await runtime.community_changed(default.id)
    assert _weekly(await runtime.upcoming(default.id)) == utc(2027, 2, 22, 9)
    assert (await moved.community_for("slack", "T1")).timezone == "Europe/Helsinki"
    assert _weekly(await runtime.upcoming(default.id)) == utc(2027, 2, 22, 7)
    assert (await moved.community_for("slack", "T1")).timezone == "Europe/Helsinki"
    assert (await moved.community_for("slack", "T_TOKYO")).timezone == "Asia/Tokyo"
    changes = [r for r in caplog.records if "time zone changed" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in changes] == ["community default"] * 2  # once per change


# -- 2. the weekly summary time ---------------------------------------------------------------
async def test_summary_channel_sets_the_weekly_time(services, clock, make_runtime):
    community = await make_community(services, tz="Europe/Helsinki", summary=False)
    runtime = await make_runtime()
    commands = Commands(services)

    reply = await commands.run(_typed('summary-channel <#C_SUM|results> weekly:"fri 17:30"'))
    assert reply.text == ("Summaries will be posted in C_SUM; weekly summary: every Friday at 17:30 "
                          "(Europe/Helsinki).")
    row = await _community(services.db)
    assert row.weekly_summary_cron == "30 17 * * fri"
    assert row.summary_channels == [{"platform": "slack", "space": "T1", "channel": "C_SUM"}]
    assert _weekly(await runtime.upcoming(community.id)) == utc(2027, 2, 26, 15, 30)  # 17:30 EET

    # A bad time is one line and changes nothing.
    for bad in ('summary-channel <#C_OTHER> cron:"0 9 * mon"', "summary-channel weekly:someday",
                'summary-channel cron:"61 9 * * mon"'):
        refused = await commands.run(_typed(bad))
        assert "\n" not in refused.text and ("cron" in refused.text or "weekly" in refused.text), refused.text
        after = await _community(services.db)
        assert (after.weekly_summary_cron, after.summary_channels) == (row.weekly_summary_cron,
                                                                      row.summary_channels)
    assert _weekly(await runtime.upcoming(community.id)) == utc(2027, 2, 26, 15, 30)

    # A cron, smart-quoted as Slack sends it; then day and time typed without quotes.
    reply = await commands.run(_typed("summary-channel cron:\u201c0 8 * * tue\u201d"))
    assert reply.text == "Weekly summary: every Tuesday at 08:00 (Europe/Helsinki)."
    assert _weekly(await runtime.upcoming(community.id)) == utc(2027, 2, 23, 6)
    await commands.run(_typed("summary-channel weekly:wed 12:15"))
    assert (await _community(services.db)).weekly_summary_cron == "15 12 * * wed"
    assert _weekly(await runtime.upcoming(community.id)) == utc(2027, 2, 24, 10, 15)

    # weekly:off keeps the channel (final summaries) but drops the weekly job; off drops both.
    reply = await commands.run(_typed("summary-channel weekly:off"))
    assert reply.text == "Weekly summary: off."
    row = await _community(services.db)
    assert row.weekly_summary_cron is None and row.summary_channels
    assert _weekly(await runtime.upcoming(community.id)) is None
    await commands.run(_typed("summary-channel <#C_SUM>"))  # back on, at the default time
    assert (await _community(services.db)).weekly_summary_cron == "0 9 * * mon"
    assert _weekly(await runtime.upcoming(community.id)) == utc(2027, 2, 22, 7)
    reply = await commands.run(_typed("summary-channel off"))
    assert "off" in reply.text
    row = await _community(services.db)
    assert row.weekly_summary_cron is None and row.summary_channels == []
    assert _weekly(await runtime.upcoming(community.id)) is None


# -- 3. reminder points in chat ---------------------------------------------------------------
async def test_schedule_in_chat_takes_reminder_points(services, make_runtime):
    await make_community(services, tz="UTC")
    await make_runtime()
    commands = Commands(services)
    reply = await commands.run(_typed('schedule state-of-mlops "0 9 1 3 *" reminders:50%,48h'))
    assert reply.text.startswith("Scheduled State of MLOps: every year on 1 March"), reply.text
    await commands.run(_typed('schedule state-of-mlops "0 9 1 9 *" label:{year}-autumn reminders:75%,2d'))
    await commands.run(_typed('schedule state-of-mlops "0 9 1 6 *" label:{year}-june reminders:off'))
    refused = await commands.run(_typed('schedule state-of-mlops "0 9 1 12 *" reminders:soon'))
    assert "'soon' is not a reminder point" in refused.text and "\n" not in refused.text
    async with services.db.session() as session:
        stored = (await session.execute(select(Schedule.reminders).order_by(Schedule.id))).scalars().all()
    assert stored == [["halfway", "48h"], ["75%", "2d"], ["off"]]

    wave = Wave(id=1, opened_at=utc(2027, 3, 1), closes_at=utc(2027, 3, 31), reminders=["75%", "2d"])
    assert reminder_times(wave) == [("75%", utc(2027, 3, 23, 12)), ("2d", utc(2027, 3, 29))]


def test_smart_quotes_in_slack_text():
    for text in ('schedule state-of-mlops \u201c0 9 1 3 *\u201d label:\u201c{year}-Q{quarter}\u201d',
                 "schedule state-of-mlops \u20180 9 1 3 *\u2019 label:\u2018{year}-Q{quarter}\u2019",
                 'schedule state-of-mlops "0 9 1 3 *" label:"{year}-Q{quarter}"'):
        assert parse_command_text(text) == ("schedule", ["state-of-mlops", "0 9 1 3 *"],
                                            {"label": "{year}-Q{quarter}"})
    # An apostrophe inside a word is not a quote.
    assert parse_command_text("launch state-of-mlops O\u2019Reilly-2026") == (
        "launch", ["state-of-mlops", "O\u2019Reilly-2026"], {})


# -- 4. no answers after the close time -------------------------------------------------------
async def test_no_answers_after_close_time_and_the_late_close_keeps_it(services, notifier, clock,
                                                                       make_runtime):
    community = await make_community(services, tz="UTC", summary=False)
    clock.set(datetime.now(UTC).replace(microsecond=0))  # the answer flow reads the real time
    closes = clock.now() - days(1)  # the bot was down at the close time
    async with services.db.session() as session:
        wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2027",
                                 opens_at=closes - days(30), closes_at=closes, status=WaveStatus.open,
                                 channels=[ANNOUNCE.to_dict()])
        wave_id = wave.id
    member = Member("slack", "T1", "U_LATE")
    with pytest.raises(WaveNotOpen, match="closed at " + closes.strftime("%a %-d %b %Y, %H:%M UTC")):
        await services.flow.submit(wave_id, member, {"title": "researcher"})
    with pytest.raises(WaveNotOpen, match="closed at"):
        await services.flow.start(wave_id, member)
    # Imports and the demo record answers at a time within the wave: still accepted.
    await services.flow.submit(wave_id, member, {"title": "researcher"}, answered_at=closes - days(2))

    runtime = await make_runtime()
    await runtime.run_until_idle()
    async with services.db.session() as session:
        closed = await session.get(Wave, wave_id)
    assert closed.status == WaveStatus.closed.value and closed.closed_at == closes
    assert [p.title for p in notifier.posts()] == ["State of MLOps 2027 has closed: the results"]
