"""A yearly schedule end to end on a manual clock: open → remind → close → summaries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from surveys.models import JobRun, Participation, ReminderOptOut, Wave, WaveStatus

from .conftest import ANNOUNCE, SUMMARY, days, make_community, step_until, utc


async def _runs(db) -> dict[str, str]:
    async with db.session() as session:
        return dict((await session.execute(select(JobRun.job_key, JobRun.outcome))).all())


async def test_open_remind_close_and_summaries(services, notifier, clock, make_runtime):
    community = await make_community(services, tz="Europe/Helsinki", summary=False)
    notifier.members[ANNOUNCE.channel] = ["U_DONE", "U_OPTOUT", "U_TODO", "U_STOP"]
    runtime = await make_runtime()
    described = await runtime.add_schedule(
        community.id, "state-of-mlops", "0 9 1 3 *", duration=days(30), label_pattern="{year}",
        channels=[ANNOUNCE],
    )
    assert "every year on 1 March at 09:00 (Europe/Helsinki)" in described
    assert "next: 2027 opens Mon 1 Mar 2027, 09:00 EET" in described
    upcoming = await runtime.upcoming(community.id)
    assert ("open of State of MLOps 2027", utc(2027, 3, 1, 7, 0)) in upcoming

    opens = utc(2027, 3, 1, 7, 0)  # 09:00 EET
    await step_until(runtime, clock, opens)
    async with services.db.session() as session:
        wave = (await session.execute(select(Wave))).scalar_one()
        # 30 days in local time: 09:00 EET on 1 March to 09:00 EEST on 31 March.
        closes = utc(2027, 3, 31, 6, 0)
        assert (wave.label, wave.status, wave.opens_at, wave.closes_at) == (
            "2027", WaveStatus.open.value, opens, closes)
        invited = (await session.execute(select(Participation.user_id))).scalars().all()
        assert sorted(invited) == ["U_DONE", "U_OPTOUT", "U_STOP", "U_TODO"]
        for p in (await session.execute(select(Participation))).scalars():
            if p.user_id == "U_DONE":
                p.completed = True
            if p.user_id == "U_OPTOUT":
                p.opted_out = True
        session.add(ReminderOptOut(community_id=community.id, platform="slack", space_id="T1",
                                   user_id="U_STOP"))
    assert [(s.kind, s.target, s.title) for s in notifier.sent] == [
        ("post", ANNOUNCE.channel, "State of MLOps 2027 is open")]

    upcoming = dict((what, when) for what, when in await runtime.upcoming(community.id))
    halfway = opens + (closes - opens) / 2
    assert upcoming["reminder (halfway) for State of MLOps 2027"] == halfway
    assert upcoming["reminder (48h before close) for State of MLOps 2027"] == closes - days(2)
    assert upcoming["close of State of MLOps 2027"] == closes
    assert upcoming["weekly summary"] == utc(2027, 3, 8, 7, 0)

    await step_until(runtime, clock, opens + days(31))
    sent = [(s.kind, s.target, s.title, s.at) for s in notifier.sent]
    weekly = [s for s in sent if s[2] == "State of MLOps 2027: this week"]
    # Mondays 8, 15, 22 March 09:00 EET; 29 March 09:00 EEST (after the DST change).
    assert [s[3] for s in weekly] == [utc(2027, 3, 8, 7), utc(2027, 3, 15, 7), utc(2027, 3, 22, 7),
                                      utc(2027, 3, 29, 6)]
    assert all(s[1] == ANNOUNCE.channel for s in weekly)  # no summary channel: the wave's channel
    reminders = [s for s in sent if s[0] == "dm"]
    assert [(s[1], s[3]) for s in reminders] == [("U_TODO", halfway), ("U_TODO", closes - days(2))]
    final = [s for s in sent if s[2] == "State of MLOps 2027 has closed: the results"]
    assert final == [("post", ANNOUNCE.channel, final[0][2], closes)]
    async with services.db.session() as session:
        wave = (await session.execute(select(Wave))).scalar_one()
        assert wave.status == WaveStatus.closed.value and wave.closed_at == closes
    runs = await _runs(services.db)
    assert runs["open:schedule:1:2027"] == "done"
    assert runs[f"announce:wave:{wave.id}"] == "done"
    assert runs[f"remind:wave:{wave.id}:halfway"] == "done"
    assert runs[f"remind:wave:{wave.id}:48h"] == "done"
    assert runs[f"close:wave:{wave.id}"] == "done"
    assert runs[f"summary:wave:{wave.id}"] == "done"
    assert runs["summary:community:1:2027-W10"] == "done"

    # Nothing is open now: the next weekly summary says when the next wave opens.
    async with services.db.session() as session:
        row = await session.get(type(community), community.id)
        row.summary_channels = [SUMMARY.to_dict()]
    await runtime.community_changed(community.id)
    await step_until(runtime, clock, utc(2027, 4, 5, 12))
    idle = notifier.posts(SUMMARY.channel)
    assert len(idle) == 1 and idle[0].at == utc(2027, 4, 5, 6)
    assert "The next one, State of MLOps 2028, opens Wed 1 Mar 2028, 09:00 EET" in idle[0].message.text
    assert "State of MLOps 2027, closed" in idle[0].message.text
    upcoming = await runtime.upcoming(community.id)
    assert [what for what, _ in upcoming] == ["weekly summary", "open of State of MLOps 2028"]


async def test_quarterly_schedule_opens_each_quarter(services, notifier, clock, make_runtime):
    community = await make_community(services, tz="UTC")
    clock.set(utc(2026, 9, 15))
    runtime = await make_runtime()
    await runtime.add_schedule(community.id, "state-of-mlops", "0 9 1 1,4,7,10 *", duration=days(14),
                               label_pattern="{year}-Q{quarter}", channels=[ANNOUNCE])
    await step_until(runtime, clock, utc(2027, 4, 20))
    async with services.db.session() as session:
        waves = (await session.execute(select(Wave).order_by(Wave.id))).scalars().all()
    assert [(w.label, w.opens_at, w.status) for w in waves] == [
        ("2026-Q4", utc(2026, 10, 1, 9), "closed"),
        ("2027-Q1", utc(2027, 1, 1, 9), "closed"),
        ("2027-Q2", utc(2027, 4, 1, 9), "closed"),
    ]
    opened = [s.title for s in notifier.posts(ANNOUNCE.channel) if s.title.endswith("is open")]
    assert opened == ["State of MLOps 2026-Q4 is open", "State of MLOps 2027-Q1 is open",
                      "State of MLOps 2027-Q2 is open"]
    assert timedelta(0) < waves[0].closes_at - waves[0].opens_at <= days(14)


async def test_weekly_progress_numbers(services, notifier, clock, make_runtime):
    from surveys.catalog import Catalog
    from surveys.models import Respondent, Response
    from surveys.waves import create_wave

    community = await make_community(services, tz="UTC")
    opened = utc(2026, 11, 2, 9)
    async with services.db.session() as session:
        wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2026",
                                 opens_at=opened, closes_at=opened + days(30),
                                 channels=[ANNOUNCE.to_dict()], status=WaveStatus.open)
        wave.opened_at = opened
        for i in range(10):  # 10 invited, 6 answered: 2 before this week, 4 this week (3 completed)
            session.add(Participation(wave_id=wave.id, platform="slack", space_id="T1", user_id=f"U{i}",
                                      invited=True))
        for i, started in enumerate([utc(2026, 11, 10), utc(2026, 11, 20), utc(2026, 11, 24),
                                     utc(2026, 11, 25), utc(2026, 11, 29), utc(2026, 11, 30, 8)]):
            respondent = Respondent(community_id=community.id, pseudonym=f"p{i}")
            session.add(respondent)
            await session.flush()
            session.add(Response(wave_id=wave.id, respondent_id=respondent.id, platform="slack",
                                 started_at=started, updated_at=started,
                                 completed_at=started if i % 2 else None))
    clock.set(utc(2026, 11, 30, 8))
    runtime = await make_runtime()
    await step_until(runtime, clock, utc(2026, 11, 30, 10))
    [post] = notifier.posts(SUMMARY.channel)
    assert post.title == "State of MLOps 2026: this week" and post.at == utc(2026, 11, 30, 9)
    fields = dict(post.message.fields)
    assert fields["Responses this week"] == "4"
    assert fields["Responses in total"] == "6 (3 completed)"
    assert fields["Response rate"] == "60% of 10 invited"
    assert fields["Closes"].startswith("Wed 2 Dec 2026, 09:00 UTC (2 days 0 h left)")
