"""Restarts, missed runs, idempotent jobs, failing platforms, time zones and DST."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from bot.scheduling import jobs as jobs_module
from bot.scheduling.jobs import run_job
from bot.scheduling.plan import WEEKLY
from surveys.models import Community, JobRun, Wave, WaveStatus

from .conftest import ANNOUNCE, SUMMARY, days, make_community, step_until, utc

OPENS = utc(2027, 3, 1, 7)  # Monday 1 March 2027, 09:00 EET
CLOSES = utc(2027, 3, 31, 6)  # 30 days later, 09:00 EEST


async def _runs(db) -> dict[str, tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(select(JobRun.job_key, JobRun.outcome, JobRun.detail))
        return {key: (outcome, detail) for key, outcome, detail in rows}


async def _wave(db) -> Wave:
    async with db.session() as session:
        return (await session.execute(select(Wave))).scalar_one()


async def _yearly(runtime, community) -> None:
    await runtime.add_schedule(community.id, "state-of-mlops", "0 9 1 3 *", duration=days(30),
                               label_pattern="{year}", channels=[ANNOUNCE])


def _titles(notifier, channel=None) -> list[str]:
    return [s.title for s in notifier.posts(channel)]


async def test_weekly_summary_at_0900_helsinki_across_dst(services, notifier, clock, make_runtime):
    await make_community(services, tz="Europe/Helsinki")
    clock.set(utc(2026, 3, 20))
    runtime = await make_runtime()
    await step_until(runtime, clock, utc(2026, 4, 7))
    posts = notifier.posts(SUMMARY.channel)
    assert [p.at for p in posts] == [utc(2026, 3, 23, 7), utc(2026, 3, 30, 6), utc(2026, 4, 6, 6)]
    assert all(p.message.text.startswith("No survey is open right now, and none is scheduled yet")
               for p in posts)
    runs = await _runs(services.db)
    assert {k: v[0] for k, v in runs.items() if k.startswith("summary:community:")} == {
        "summary:community:1:2026-W12": "skipped",  # the Monday before the first start
        "summary:community:1:2026-W13": "done", "summary:community:1:2026-W14": "done",
        "summary:community:1:2026-W15": "done"}


async def test_weekly_summary_turned_off_posts_nothing(services, notifier, clock, make_runtime):
    community = await make_community(services, tz="UTC")
    runtime = await make_runtime()
    assert [w for w, _ in await runtime.upcoming(community.id)] == ["weekly summary"]
    async with services.db.session() as session:
        row = await session.get(Community, community.id)
        row.weekly_summary_cron = None
    await runtime.community_changed(community.id)
    assert await runtime.upcoming(community.id) == []
    await step_until(runtime, clock, clock.now() + days(21))
    assert notifier.sent == []


async def test_restart_runs_missed_close_once_and_skips_stale_summary(
    services, notifier, clock, make_runtime, caplog
):
    community = await make_community(services)
    clock.set(utc(2027, 2, 27))
    first = await make_runtime(name="first")
    await _yearly(first, community)
    await step_until(first, clock, utc(2027, 3, 9))
    assert _titles(notifier) == ["State of MLOps 2027 is open", "State of MLOps 2027: this week"]
    await first.stop()

    # Down from 9 March until 2 April: the close (31 March), both reminders and the summary of
    # Monday 29 March were missed.
    clock.set(utc(2027, 4, 2, 12))
    caplog.set_level(logging.WARNING, logger="bot.scheduling")
    second = await make_runtime(name="second")
    await second.run_until_idle()
    wave = await _wave(services.db)
    assert wave.status == WaveStatus.closed.value
    assert wave.closed_at == CLOSES  # the original close time, not the restart time
    assert _titles(notifier) == ["State of MLOps 2027 is open", "State of MLOps 2027: this week",
                                 "State of MLOps 2027 has closed: the results"]
    assert notifier.dms() == []
    runs = await _runs(services.db)
    assert runs[f"close:wave:{wave.id}"][0] == "done" and "late" in runs[f"close:wave:{wave.id}"][1]
    assert runs[f"summary:wave:{wave.id}"][0] == "done"
    assert runs["summary:community:1:2027-W13"][0] == "skipped"  # Monday 29 March, 4 days late
    assert runs[f"remind:wave:{wave.id}:halfway"][0] == "skipped"
    assert runs[f"remind:wave:{wave.id}:48h"][0] == "skipped"
    assert "weekly summary 2027-W13 of community default was due" in caplog.text
    await second.stop()

    # A third start changes nothing.
    third = await make_runtime(name="third")
    await third.run_until_idle()
    assert len(notifier.sent) == 3
    assert await _runs(services.db) == runs


async def test_restart_within_a_day_still_posts_the_weekly_summary(services, notifier, clock, make_runtime):
    await make_community(services, tz="Europe/Helsinki")
    clock.set(utc(2026, 11, 29, 20))  # Sunday evening: down overnight
    clock.set(utc(2026, 11, 30, 13))  # back on Monday at 15:00, six hours after the summary time
    runtime = await make_runtime()
    await runtime.run_until_idle()
    assert [(p.target, p.at) for p in notifier.posts()] == [(SUMMARY.channel, utc(2026, 11, 30, 13))]
    assert (await _runs(services.db))["summary:community:1:2026-W49"][0] == "done"


async def test_crash_between_close_and_final_summary(services, notifier, clock, make_runtime, monkeypatch):
    community = await make_community(services, summary=False)
    clock.set(utc(2027, 2, 27))
    runtime = await make_runtime(name="first")
    await _yearly(runtime, community)
    await step_until(runtime, clock, OPENS + days(1))
    await runtime.stop()

    async def died(ctx, job):  # the process dies right after the close transaction committed
        return None

    monkeypatch.setattr(jobs_module, "_then", died)
    clock.set(CLOSES)
    closing = next(j for j in (await runtime.plan()).jobs if j.kind == "close")
    assert await run_job(runtime.context, closing) == "done"
    monkeypatch.undo()
    wave = await _wave(services.db)
    assert wave.status == WaveStatus.closed.value
    assert (await _runs(services.db))[f"summary:wave:{wave.id}"][0] == "pending"
    assert "State of MLOps 2027 has closed: the results" not in _titles(notifier)

    clock.set(CLOSES + days(0.5))
    again = await make_runtime(name="second")
    await again.run_until_idle()
    assert _titles(notifier).count("State of MLOps 2027 has closed: the results") == 1
    assert (await _runs(services.db))[f"summary:wave:{wave.id}"][0] == "done"


async def test_jobs_are_idempotent(services, notifier, clock, make_runtime):
    community = await make_community(services)
    clock.set(utc(2027, 2, 27))
    runtime = await make_runtime()
    await _yearly(runtime, community)
    await runtime.stop()  # the jobs are run by hand below, as two racing leaders would
    clock.set(OPENS)
    plan = await runtime.plan()
    opening = next(j for j in plan.jobs if j.kind == "open")
    # The same occurrence run twice in a row and twice at once (e.g. by two leaders).
    results = [await run_job(runtime.context, opening)]
    results += await asyncio.gather(run_job(runtime.context, opening), run_job(runtime.context, opening))
    assert sorted(results) == ["done", "noop", "noop"]
    async with services.db.session() as session:
        assert len((await session.execute(select(Wave))).scalars().all()) == 1
    assert _titles(notifier) == ["State of MLOps 2027 is open"]

    clock.set(OPENS + days(7))  # Monday 8 March
    plan = await runtime.plan()
    weekly = next(j for j in plan.jobs if j.kind == WEEKLY)
    results = await asyncio.gather(*(run_job(runtime.context, weekly) for _ in range(3)))
    assert sorted(results) == ["done", "noop", "noop"]
    assert _titles(notifier, SUMMARY.channel) == ["State of MLOps 2027: this week"]

    clock.set(CLOSES)
    plan = await runtime.plan()
    closing = next(j for j in plan.jobs if j.kind == "close")
    results = await asyncio.gather(run_job(runtime.context, closing), run_job(runtime.context, closing))
    assert sorted(results) == ["done", "noop"]
    assert _titles(notifier, SUMMARY.channel).count("State of MLOps 2027 has closed: the results") == 1
    # A scheduler started now finds nothing left to do for these occurrences.
    again = await make_runtime()
    await again.run_until_idle()
    assert len(notifier.sent) == 3


async def test_failing_platform_is_retried_with_backoff(services, notifier, clock, sleeps, make_runtime):
    await make_community(services, tz="UTC")
    clock.set(utc(2026, 11, 30, 8, 59))
    runtime = await make_runtime()
    notifier.fail_next = 2
    clock.set(utc(2026, 11, 30, 9))
    await runtime.run_until_idle()
    assert notifier.attempts == 3
    assert sleeps == [2.0, 4.0]
    assert len(notifier.posts(SUMMARY.channel)) == 1
    assert (await _runs(services.db))["summary:community:1:2026-W49"][0] == "done"


async def test_platform_down_never_kills_the_scheduler(
    services, notifier, clock, sleeps, make_runtime, caplog
):
    community = await make_community(services, tz="UTC")
    clock.set(utc(2026, 11, 30, 8, 59))
    runtime = await make_runtime()
    notifier.always_fail = True
    clock.set(utc(2026, 11, 30, 9))
    await runtime.run_until_idle()
    key = "summary:community:1:2026-W49"
    assert (await _runs(services.db))[key][0] == "failed"
    assert notifier.attempts == 3 and notifier.sent == []
    assert "failed after 3 attempts" in caplog.text
    assert runtime.is_leader and runtime.apscheduler is not None and runtime.apscheduler.running
    # Tried again ten minutes later; the platform is back.
    assert (await runtime.upcoming(community.id))[0] == ("weekly summary", utc(2026, 11, 30, 9, 10))
    notifier.always_fail = False
    await step_until(runtime, clock, utc(2026, 11, 30, 9, 30))
    assert len(notifier.posts(SUMMARY.channel)) == 1
    assert (await _runs(services.db))[key][0] == "done"


async def test_refusals_for_good_are_not_retried():
    from bot.scheduling.delivery import RetryPolicy, with_retries
    from surveys.ports import DeliveryError

    calls, waits = [], []

    async def refuse():
        calls.append(1)
        raise DeliveryError("channel_not_found")

    async def wait(seconds):
        waits.append(seconds)

    with pytest.raises(DeliveryError):
        await with_retries(refuse, "post", RetryPolicy(attempts=5), wait)
    assert calls == [1] and waits == []
    assert RetryPolicy().delays() == [2.0, 4.0, 8.0, 16.0]
