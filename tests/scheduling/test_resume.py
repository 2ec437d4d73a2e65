"""A job killed in the middle is resumed after a restart, repeating nothing; the weekly summary
carries its charts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.scheduling.jobs import run_job
from bot.scheduling.plan import ANNOUNCE as ANNOUNCE_JOB
from bot.scheduling.plan import REMIND, WEEKLY
from surveys.catalog import Catalog
from surveys.identity import Member
from surveys.models import JobRun, Participation, WaveStatus
from surveys.waves import create_wave

from .conftest import ANNOUNCE, SUMMARY, days, make_community, utc

USERS = [f"U{i}" for i in range(1, 7)]


class Killed(BaseException):
    """The process dies here (like SIGKILL: nothing below catches it, no row is updated)."""


def kill_after(notifier, method: str, calls: int) -> None:
    """Make `notifier.<method>` die on call number `calls + 1`."""
    original = getattr(notifier, method)
    count = 0

    async def dying(*args, **kwargs):
        nonlocal count
        count += 1
        if count > calls:
            raise Killed()
        return await original(*args, **kwargs)

    setattr(notifier, method, dying)


async def _outcome(db, key: str) -> str | None:
    async with db.session() as session:
        found = await session.execute(select(JobRun.outcome).where(JobRun.job_key == key))
        return found.scalar_one_or_none()


async def _open_wave(services, clock, channels, *, opened_days_ago: float = 2, members=USERS) -> int:
    community = await make_community(services, tz="UTC")
    async with services.db.session() as session:
        wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2027",
                                 opens_at=clock.now() - days(opened_days_ago),
                                 closes_at=clock.now() + days(20), status=WaveStatus.open,
                                 channels=[c.to_dict() for c in channels])
        wave.opened_at = clock.now() - days(opened_days_ago)
        session.add_all(Participation(wave_id=wave.id, platform="slack", space_id="T1", user_id=user,
                                      invited=True) for user in members)
        return wave.id


async def _killed_midway(runtime, clock, kind: str):
    """At the time of the next job of `kind`, run it by hand until the process 'dies' (the
    runtime is stopped first so that only this run happens)."""
    await runtime.stop()
    job = next(j for j in (await runtime.plan()).jobs if j.kind == kind)
    clock.set(max(clock.now(), job.when))
    with pytest.raises(Killed):
        await run_job(runtime.context, job)
    return job


async def test_reminder_fan_out_killed_halfway_reaches_the_rest_once(services, notifier, clock, make_runtime):
    wave_id = await _open_wave(services, clock, [ANNOUNCE])
    first = await make_runtime(name="first")
    kill_after(notifier, "dm", 3)
    job = await _killed_midway(first, clock, REMIND)
    assert job.key == f"remind:wave:{wave_id}:halfway"
    first_three = [s.target for s in notifier.dms()]  # in the ledger's (random) key order
    assert len(set(first_three)) == 3 and set(first_three) <= set(USERS)
    assert await _outcome(services.db, job.key) == "running"  # left behind by the dead process

    del notifier.dm  # the platform works again in the new process
    clock.advance(timedelta(minutes=2))
    second = await make_runtime(name="second")
    await second.run_until_idle()
    # The rest, each once. U4 was claimed when the process died inside its DM: whether it went
    # out is unknown, so it is not repeated (a missing reminder is better than a double one).
    in_flight = USERS[3]
    assert sorted(s.target for s in notifier.dms()) == sorted(u for u in USERS if u != in_flight)
    assert await _outcome(services.db, job.key) == "done"
    async with services.db.session() as session:
        sent = dict((await session.execute(select(Participation.user_id, Participation.reminders_sent)))
                    .all())
    assert sent == dict.fromkeys(USERS, 1)

    third = await make_runtime(name="third")  # nothing left to resume
    await third.run_until_idle()
    assert len(notifier.dms()) == len(USERS) - 1


async def test_announcement_killed_between_channels_posts_the_rest_once(services, notifier, clock,
                                                                         make_runtime):
    other = ANNOUNCE.__class__("slack", "T1", "C_OTHER")
    notifier.members = {ANNOUNCE.channel: ["U1"], other.channel: ["U2"]}
    wave_id = await _open_wave(services, clock, [ANNOUNCE, other], members=[])
    first = await make_runtime(name="first")
    await first.stop()
    async with services.db.session() as session:  # queued by the open, as open jobs do
        session.add(JobRun(job_key=f"announce:wave:{wave_id}", ran_at=clock.now(), outcome="pending",
                           scheduled_for=clock.now()))
    kill_after(notifier, "channel_members", 0)  # dies inviting the first channel, after posting there
    await _killed_midway(first, clock, ANNOUNCE_JOB)
    assert [s.target for s in notifier.posts()] == [ANNOUNCE.channel]

    del notifier.channel_members
    clock.advance(timedelta(minutes=2))
    second = await make_runtime(name="second")
    await second.run_until_idle()
    assert [s.target for s in notifier.posts()] == [ANNOUNCE.channel, other.channel]
    assert await _outcome(services.db, f"announce:wave:{wave_id}") == "done"
    assert await _outcome(services.db, f"post:announce:wave:{wave_id}:slack:T1:{other.channel}") == "done"
    async with services.db.session() as session:
        invited = (await session.execute(select(Participation.user_id))).scalars().all()
    assert sorted(invited) == ["U1", "U2"]


async def test_a_post_interrupted_in_flight_is_not_repeated(services, notifier, clock, make_runtime):
    await _open_wave(services, clock, [ANNOUNCE], opened_days_ago=8)  # the weekly job is on Monday
    first = await make_runtime(name="first")
    kill_after(notifier, "post", 0)  # dies inside the platform call: did it go out? unknown
    job = await _killed_midway(first, clock, WEEKLY)
    del notifier.post
    clock.advance(timedelta(minutes=2))
    second = await make_runtime(name="second")
    await second.run_until_idle()
    assert notifier.posts() == []  # at most once: a duplicate post is worse than a missing one
    async with services.db.session() as session:
        items = (await session.execute(select(JobRun.outcome, JobRun.detail)
                                       .where(JobRun.job_key.like(f"post:{job.key}:%")))).all()
    assert [(o, d.split(";")[0]) for o, d in items] == [("skipped", "interrupted while posting")]


async def test_resumed_on_postgresql_only_when_the_heartbeat_is_stale(services, notifier, clock,
                                                                      make_runtime):
    """With several processes, a running row is another leader's until its heartbeat is stale."""

    class Lock:  # an election that this process wins, but that is not the single-process kind
        description = "test lock"

        async def acquire(self) -> bool:
            return True

        async def hold(self, on_change, interval) -> None:
            await asyncio.Event().wait()

        async def release(self) -> None:
            return None

    wave_id = await _open_wave(services, clock, [ANNOUNCE])
    first = await make_runtime(name="first", leadership=Lock())
    kill_after(notifier, "dm", 2)
    await _killed_midway(first, clock, REMIND)
    del notifier.dm
    clock.advance(timedelta(seconds=30))
    second = await make_runtime(name="second", leadership=Lock(), stale_after=timedelta(seconds=90))
    await second.run_until_idle()
    assert len(notifier.dms()) == 2  # maybe still running elsewhere: left alone
    assert await _outcome(services.db, f"remind:wave:{wave_id}:halfway") == "running"
    clock.advance(timedelta(minutes=2))
    await second.sync()
    await second.run_until_idle()
    # the rest; U3, claimed when the process died inside its DM, is not repeated
    assert sorted(s.target for s in notifier.dms()) == sorted(u for u in USERS if u != "U3")
    assert await _outcome(services.db, f"remind:wave:{wave_id}:halfway") == "done"


async def test_too_late_to_resume_is_recorded_not_posted(services, notifier, clock, make_runtime):
    await _open_wave(services, clock, [ANNOUNCE], opened_days_ago=8)
    first = await make_runtime(name="first")
    kill_after(notifier, "post", 0)
    job = await _killed_midway(first, clock, WEEKLY)
    del notifier.post
    clock.advance(days(2))  # a weekly summary is stale after a day
    second = await make_runtime(name="second")
    await second.run_until_idle()
    assert notifier.posts() == []
    assert await _outcome(services.db, job.key) == "skipped"


async def test_weekly_summary_carries_the_chart(services, notifier, clock, make_runtime):
    wave_id = await _open_wave(services, clock, [ANNOUNCE], opened_days_ago=3)
    clock.set(utc(2027, 2, 22, 8, 59))
    for i, title in enumerate(["data_scientist", "ml_engineer", "researcher"] * 3):
        member = Member("slack", "T1", f"U_ANSWER{i}")
        await services.flow.submit(wave_id, member, {"title": title, "role": "models"}, finish=True,
                                   answered_at=clock.now() - days(1))
    runtime = await make_runtime()
    clock.set(utc(2027, 2, 22, 9))  # Monday 09:00 UTC
    await runtime.run_until_idle()
    [post] = notifier.posts(SUMMARY.channel)
    assert post.title == "State of MLOps 2027: this week"
    assert post.message.attachments, "the weekly summary has no chart"
    for chart in post.message.attachments:
        assert chart.filename.endswith(".png") and chart.mime_type == "image/png"
        assert chart.data.startswith(b"\x89PNG\r\n\x1a\n") and len(chart.data) > 1000


async def test_heartbeat_touches_only_this_leaders_running_rows(services, clock):
    from bot.scheduling import runs

    db, now = services.db, clock.now()
    assert await runs.claim(db, "remind:wave:1:halfway", now=now)
    assert await runs.claim(db, "remind:wave:2:halfway", now=now - timedelta(hours=1))  # a dead leader's
    later = now + timedelta(minutes=5)
    assert await runs.heartbeat(db, claimed_since=now - timedelta(minutes=1), now=later) == 1
    async with db.session() as session:
        touched = dict((await session.execute(select(JobRun.job_key, JobRun.ran_at))).all())
    assert touched == {"remind:wave:1:halfway": now + timedelta(minutes=5),
                       "remind:wave:2:halfway": now - timedelta(hours=1)}
    # Only the dead leader's row can be taken over.
    cutoff = now
    assert not await runs.claim(db, "remind:wave:1:halfway", now=now, resume_before=cutoff)
    assert await runs.claim(db, "remind:wave:2:halfway", now=now, resume_before=cutoff)
