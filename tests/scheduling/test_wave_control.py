"""Wave control through the neutral commands with a running scheduler: extend, reopen (with a
fresh close that the scheduler plans again), rename, delete (confirmed, logged), and
`/survey schedule list|remove` with duplicate schedules refused."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.commands import Commands, Invocation
from bot.scheduling import ManualClock
from surveys.identity import Member
from surveys.models import Answer, JobRun, Response, Schedule, Wave, WaveStatus
from surveys.waves import ensure_community, ensure_space

from .conftest import ANNOUNCE, step_until


def _inv(command: str, space: str = "T1", **args: str) -> Invocation:
    return Invocation("slack", space, ANNOUNCE.channel, "U_MOD", True, command, args)


async def _wave(services, label: str) -> Wave | None:
    async with services.db.session() as session:
        return (await session.execute(select(Wave).where(Wave.label == label))).scalar_one_or_none()


async def _count(services, model, *where) -> int:
    async with services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_extend_reopen_rename_and_delete(services, notifier, make_runtime, caplog):
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    runtime = await make_runtime(clock=clock)
    commands = Commands(services)
    launched = await commands.run(_inv("launch", survey="state-of-mlops", wave="spring", duration="1h"))
    assert "is open" in launched.text
    wave = await _wave(services, "spring")
    await services.flow.submit(wave.id, Member("slack", "T1", "U_ANSWERS"), {"title": "researcher"})

    # extend: the close moves, and the scheduler's close job with it
    before = wave.closes_at
    extended = await commands.run(_inv("extend", by="2h"))
    assert extended.text.startswith("Wave 'spring' now closes ")
    wave = await _wave(services, "spring")
    assert wave.closes_at == before + timedelta(hours=2)
    assert dict(runtime.scheduled_jobs())["close:wave:1"] == wave.closes_at

    # the scheduler closes it at its (new) close time and posts the final summary
    await step_until(runtime, clock, wave.closes_at + timedelta(minutes=5))
    assert (await _wave(services, "spring")).status == WaveStatus.closed.value
    assert "close:wave:1" not in dict(runtime.scheduled_jobs())
    refused = await commands.run(_inv("extend", wave="spring", by="1d"))
    assert "has closed" in refused.text and "/survey reopen spring" in refused.text

    # reopen: open again with a fresh close, planned again although the close job ran before
    reopened = await commands.run(_inv("reopen", wave="spring", duration="3d"))
    assert "is open again" in reopened.text
    wave = await _wave(services, "spring")
    assert wave.status == WaveStatus.open.value and wave.closed_at is None
    assert abs(wave.closes_at - (datetime.now(UTC) + timedelta(days=3))) < timedelta(minutes=1)
    assert dict(runtime.scheduled_jobs())["close:wave:1"] == wave.closes_at
    assert "is open; give it more time" in (await commands.run(_inv("reopen", wave="spring"))).text

    # a wave of another community cannot be reopened (or deleted) from here
    async with services.db.session() as session:
        other = await ensure_community(session, "elsewhere")
        await ensure_space(session, other, "slack", "T_OTHER")
    stranger = await commands.run(_inv("reopen", space="T_OTHER", wave="spring"))
    assert "unknown wave 'spring'" in stranger.text or "no waves yet" in stranger.text

    # rename: a new, unique, plain label
    await commands.run(_inv("launch", survey="state-of-mlops", wave="autumn"))
    taken = await commands.run(_inv("rename", wave="spring", label="autumn"))
    assert "already exists" in taken.text
    markup = await commands.run(_inv("rename", wave="spring", label="<!channel>"))
    assert "cannot be a wave label" in markup.text
    renamed = await commands.run(_inv("rename", wave="spring", label="spring-2026"))
    assert renamed.text == "Wave 'spring' is now called 'spring-2026'."
    assert await _wave(services, "spring") is None and await _wave(services, "spring-2026") is not None

    # delete: first what would go, then (confirmed) everything, logged with who asked
    asked = await commands.run(_inv("delete", wave="spring-2026"))
    assert "with its 1 response(s) and 1 answer(s)" in asked.text
    assert "/survey delete spring-2026 confirm" in asked.text
    assert await _count(services, Answer) == 1 and await _wave(services, "spring-2026") is not None
    with caplog.at_level(logging.WARNING, logger="bot.lifecycle"):
        deleted = await commands.run(_inv("delete", wave="spring-2026", confirm="yes"))
    assert deleted.text == ("Deleted wave 'spring-2026' of state-of-mlops with 1 response(s) and "
                            "1 answer(s).")
    assert await _wave(services, "spring-2026") is None
    assert await _count(services, Answer) == 0 and await _count(services, Response) == 0
    assert await _count(services, JobRun, JobRun.job_key.like("%:wave:1")) == 0
    assert any("deleted by slack:T1:U_MOD" in r.getMessage() for r in caplog.records)
    assert "close:wave:1" not in dict(runtime.scheduled_jobs())
    assert "close:wave:2" in dict(runtime.scheduled_jobs())  # the other wave is untouched


async def test_schedule_list_remove_and_duplicates_in_chat(services, notifier, make_runtime):
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    runtime = await make_runtime(clock=clock)
    commands = Commands(services)
    assert "No schedules" in (await commands.run(_inv("schedule list"))).text
    first = await commands.run(_inv("schedule", survey="state-of-mlops", cron="0 9 1 3 *"))
    assert first.text.startswith("Scheduled State of MLOps")
    again = await commands.run(_inv("schedule", survey="state-of-mlops", cron="0  9 1 3 *", duration="10d"))
    assert "schedule 1 already opens state-of-mlops every year on 1 March" in again.text
    other_label = await commands.run(_inv("schedule", survey="state-of-mlops", cron="0 9 1 3 *",
                                          label="{year}-spring"))
    assert other_label.text.startswith("Scheduled")
    assert await _count(services, Schedule) == 2

    listed = await commands.run(_inv("schedule list"))
    assert listed.text.splitlines()[0].startswith("1. state-of-mlops: every year on 1 March at 09:00")
    assert "waves labelled {year}-spring" in listed.text
    assert "open:schedule:2" in dict(runtime.scheduled_jobs())

    async with services.db.session() as session:
        other = await ensure_community(session, "elsewhere")
        await ensure_space(session, other, "slack", "T_OTHER")
    assert "There is no schedule 1 here" in (await commands.run(_inv("schedule remove", space="T_OTHER",
                                                                        id="1"))).text
    removed = await commands.run(_inv("schedule remove", id="2"))
    assert removed.text.startswith("Schedule 2 removed.")
    assert await _count(services, Schedule) == 1
    assert "open:schedule:2" not in dict(runtime.scheduled_jobs())
    assert "There is no schedule 2 here" in (await commands.run(_inv("schedule remove", id="2"))).text
