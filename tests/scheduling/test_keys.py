"""Typed job keys: format and parse round-trip, malformed keys are refused with a reason, and
keys stored by earlier versions (the same text) still plan their jobs after an upgrade."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.scheduling import ManualClock, keys
from bot.scheduling.keys import SHAPES, Extra, JobKey, JobKeyError, Ref
from bot.scheduling.plan import ANNOUNCE, FINAL_SUMMARY, MANUAL_REMIND, REMIND, WEEKLY, build_plan
from surveys.catalog import Catalog
from surveys.models import JobRun, WaveStatus
from surveys.waves import create_wave

from .conftest import ANNOUNCE as ANNOUNCE_CHANNEL
from .conftest import days, make_community, utc

# Keys exactly as earlier versions wrote them to job_runs (and as APScheduler job ids).
STORED = {
    "open:schedule:3:2027": JobKey("open", Ref("schedule", 3), "2027"),
    "open:schedule:3:2026-Q4": JobKey("open", Ref("schedule", 3), "2026-Q4"),
    "open:schedule:3": JobKey("open", Ref("schedule", 3)),
    "open:wave:7": JobKey("open", Ref("wave", 7)),
    "close:wave:12": JobKey("close", Ref("wave", 12)),
    "remind:wave:12:halfway": JobKey("remind", Ref("wave", 12), "halfway"),
    "remind:wave:12:48h": JobKey("remind", Ref("wave", 12), "48h"),
    "remind:wave:12:75%": JobKey("remind", Ref("wave", 12), "75%"),
    "remind:wave:12:manual": JobKey("remind", Ref("wave", 12), "manual"),
    "announce:wave:12": JobKey("announce", Ref("wave", 12)),
    "summary:wave:12": JobKey("summary", Ref("wave", 12)),
    "summary:community:1:2026-W48": JobKey("summary", Ref("community", 1), "2026-W48"),
    "summary:community:1": JobKey("summary", Ref("community", 1)),
}


@pytest.mark.parametrize("text", sorted(STORED))
def test_a_key_in_the_old_format_parses_and_formats_back(text):
    parsed = JobKey.parse(text)
    assert parsed == STORED[text]
    assert parsed.format() == str(parsed) == text


def test_constructors_spell_the_stored_format():
    assert JobKey.wave(keys.CLOSE, 12).format() == "close:wave:12"
    assert JobKey.schedule(keys.OPEN, 3, "2027").format() == "open:schedule:3:2027"
    assert JobKey.community(keys.SUMMARY, 1, "2026-W48").job().format() == "summary:community:1"
    assert JobKey.wave(keys.REMIND, 12, "halfway").job().format() == "remind:wave:12:halfway"
    assert JobKey.schedule(keys.OPEN, 3).occurrence("2027") == JobKey.parse("open:schedule:3:2027")
    assert JobKey.wave(keys.ANNOUNCE, 12).resume_id() == "resume:announce:wave:12"
    assert JobKey.wave(keys.CLOSE, 12).id == 12
    assert keys.like(keys.REMIND, keys.WAVE, keys.MANUAL) == "remind:wave:%:manual"
    assert keys.occurrences_like(keys.REMIND, Ref(keys.WAVE, 12)) == "remind:wave:12:%"
    assert keys.posts_like("summary:wave:12") == "post:summary:wave:12:%"
    assert keys.post_item("announce:wave:12", "slack", "T1", "C1") == "post:announce:wave:12:slack:T1:C1"
    assert len(keys.post_item("announce:wave:12", "slack", "T1", "C" * 300)) == 191


def test_a_label_with_colons_stays_one_occurrence():
    key = JobKey.schedule(keys.OPEN, 3, "2027: spring:a")
    assert key.format() == "open:schedule:3:2027: spring:a"
    assert JobKey.parse(key.format()) == key


@pytest.mark.parametrize(("text", "why"), [
    ("", "is not <kind>:<table>:<id>[:<occurrence>]"),
    ("close", "is not <kind>:<table>:<id>[:<occurrence>]"),
    ("close:wave", "is not <kind>:<table>:<id>[:<occurrence>]"),
    ("close:wave:x", "'x' is not a row id"),
    ("close:wave:-1", "'-1' is not a row id"),
    ("close:wave:012", "'012' is not a row id"),
    ("close:wave:١٢", "is not a row id"),  # Arabic-Indic digits: str.isdigit() would take them
    ("close:wave:12:", "ends in an empty occurrence part"),
    ("close:wave:12:again", "has no occurrence part (got 'again')"),
    ("remind:wave:12", "needs an occurrence part"),
    ("open:galaxy:1", "'galaxy' is not a table jobs refer to"),
    ("explode:wave:1", "'explode' is not a job kind"),
    ("summary:schedule:1", "a 'summary' job is not about a schedule"),
    ("post:announce:wave:12:slack:T1:C1", "'wave' is not a row id"),
])
def test_a_malformed_key_is_refused_with_the_reason(text, why):
    with pytest.raises(JobKeyError) as refused:
        JobKey.parse(text)
    assert why in str(refused.value) and f"'{text}'" in str(refused.value)


def test_a_key_cannot_be_built_malformed():
    with pytest.raises(JobKeyError, match="is not a row id"):
        JobKey.wave(keys.CLOSE, -1)
    with pytest.raises(JobKeyError, match="needs an occurrence part"):
        JobKey.wave(keys.REMIND, 1)
    with pytest.raises(JobKeyError, match="has no occurrences"):
        keys.occurrences_like(keys.CLOSE, Ref(keys.WAVE, 1))


_shapes = st.sampled_from(sorted(SHAPES.items(), key=lambda item: (item[0], item[1].value)))


@given(shape=_shapes, row=st.integers(min_value=0, max_value=2**63),
       extra=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_every_key_round_trips(shape, row, extra):
    (kind, table), rule = shape
    key = JobKey(kind, Ref(table, row), "" if rule is Extra.NONE else extra)
    assert JobKey.parse(key.format()) == key


# -- an upgrade: rows an earlier version left in the database -----------------------------------
async def _rows(services, *rows: tuple[str, str, datetime]) -> None:
    async with services.db.session() as session:
        session.add_all(JobRun(job_key=key, outcome=outcome, ran_at=at, scheduled_for=at)
                        for key, outcome, at in rows)


async def test_runs_stored_by_an_earlier_version_are_resumed_after_an_upgrade(services, clock, caplog):
    community = await make_community(services, tz="UTC")
    async with services.db.session() as session:
        wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2027",
                                 opens_at=clock.now() - days(2), closes_at=clock.now() + days(20),
                                 status=WaveStatus.open, channels=[ANNOUNCE_CHANNEL.to_dict()])
        closed = await create_wave(session, community, Catalog().get("state-of-mlops"), "2026",
                                   opens_at=clock.now() - days(60), closes_at=clock.now() - days(1),
                                   status=WaveStatus.closed, channels=[ANNOUNCE_CHANNEL.to_dict()])
        wave_id, closed_id, community_id = wave.id, closed.id, community.id
    an_hour_ago = clock.now() - timedelta(hours=1)
    await _rows(
        services,
        (f"remind:wave:{wave_id}:halfway", "running", an_hour_ago),
        (f"remind:wave:{wave_id}:manual", "running", an_hour_ago),
        (f"announce:wave:{wave_id}", "running", an_hour_ago),
        (f"summary:wave:{closed_id}", "pending", an_hour_ago),
        (f"summary:community:{community_id}:2027-W07", "running", an_hour_ago),
        (f"post:announce:wave:{wave_id}:slack:T1:C_GENERAL", "running", an_hour_ago),
        ("remind:wave:oops", "running", an_hour_ago),  # no version wrote this: left alone
    )
    caplog.set_level(logging.WARNING, logger="bot.scheduling.plan")
    async with services.db.session() as session:
        plan = await build_plan(session, clock.now(), catalog=services.catalog,
                                interrupted_before=clock.now(), manual_before=clock.now())
    planned = {(job.job_id, job.kind, job.key, job.ref_id, job.extra) for job in plan.jobs}
    assert {
        (f"resume:remind:wave:{wave_id}:halfway", REMIND, f"remind:wave:{wave_id}:halfway", wave_id,
         "halfway"),
        (f"resume:remind:wave:{wave_id}:manual", MANUAL_REMIND, f"remind:wave:{wave_id}:manual", wave_id,
         "manual"),
        (f"resume:announce:wave:{wave_id}", ANNOUNCE, f"announce:wave:{wave_id}", wave_id, ""),
        (f"summary:wave:{closed_id}", FINAL_SUMMARY, f"summary:wave:{closed_id}", closed_id, ""),
        (f"resume:summary:community:{community_id}:2027-W07", WEEKLY,
         f"summary:community:{community_id}:2027-W07", community_id, "2027-W07"),
    } <= planned
    assert not [job for job in plan.jobs if "oops" in job.key or job.key.startswith("post:")]
    assert plan.abandoned == []
    assert [r.getMessage() for r in caplog.records if "oops" in r.getMessage()] == [
        "job run 'remind:wave:oops' is left alone: job key 'remind:wave:oops': 'oops' is not a row id"]


async def test_the_runtime_leaves_apschedulers_clock_alone(services, notifier, make_runtime):
    """Production code never patches APScheduler: only the tests' apclock does, on request."""
    from datetime import datetime as real_datetime

    clock = ManualClock(utc(2030, 1, 1))
    from bot.scheduling import start_scheduler
    from bot.scheduling.leader import SingleProcess

    runtime = await start_scheduler(services, clock=clock, leadership=SingleProcess(), resync_interval=0)
    try:
        assert runtime.is_leader
        assert apscheduler.schedulers.base.datetime is real_datetime
        assert apscheduler.executors.base.datetime is real_datetime
    finally:
        await runtime.stop(wait=1)
