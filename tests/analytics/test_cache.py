"""Kept aggregates of closed waves: reused while true, counted again after a deletion."""

from __future__ import annotations

from sqlalchemy import func, select

from analytics.cache import dumps, loads
from analytics.service import build_summary
from surveys.catalog import Catalog
from surveys.flow import AnswerFlow
from surveys.identity import Member
from surveys.models import WaveAggregate, WaveStatus
from surveys.waves import close_wave, create_wave, ensure_community, wave_by_id

SURVEY = "state-of-mlops"


async def _waves(db, flow) -> int:
    qn = Catalog().get(SURVEY)
    async with db.session() as session:
        community = await ensure_community(session, "default")
        old = await create_wave(session, community, qn, "2025", status=WaveStatus.open)
        new = await create_wave(session, community, qn, "2026", status=WaveStatus.open)
        ids = old.id, new.id, community.id
    for wave_id in ids[:2]:
        for i in range(8):
            await flow.submit(wave_id, Member("slack", "T", f"U{i}"),
                              {"title": "researcher" if i % 2 else "ml_engineer", "role": "models",
                               "focus": ["deploy", "monitoring"][: 1 + i % 2]}, finish=True)
    async with db.session() as session:
        close_wave(await wave_by_id(session, ids[0]))
    return ids[2]


async def _kept(db) -> int:
    async with db.session() as session:
        return (await session.execute(select(func.count()).select_from(WaveAggregate))).scalar_one()


async def test_closed_waves_are_kept_and_recounted_after_a_deletion(db):
    flow = AnswerFlow(db, b"k" * 32)
    community = await _waves(db, flow)

    async def summary():
        return (await build_summary(db, community_id=community, survey_id=SURVEY, wave="2026",
                                    compare=["2025"], min_group_size=2)).to_dict()

    first = await summary()
    assert await _kept(db) == 1  # the closed 2025 only; the open 2026 is always counted
    assert await summary() == first
    # a member deletes their data: the closed wave's kept aggregates no longer hold
    await flow.delete_my_answers(community, Member("slack", "T", "U1"))
    after = await summary()
    # the open 2026 is counted on its released snapshot, which the member left: its live
    # results are held back until the next release (analytics.releases)
    assert after["respondents"] == {"2026": None, "2025": 7}
    assert after["snapshot"]["2026"] == {"release": 1, "covers": 8, "held": True}
    assert after != first


async def test_segments_are_never_kept_but_their_whole_wave_is(db):
    flow = AnswerFlow(db, b"k" * 32)
    community = await _waves(db, flow)
    seg = await build_summary(db, community_id=community, survey_id=SURVEY, wave="2025",
                              where={"title": ["researcher"]}, min_group_size=2)
    assert seg.respondents == {"2025": 4}
    assert await _kept(db) == 1


async def test_frames_round_trip(db):
    flow = AnswerFlow(db, b"k" * 32)
    community = await _waves(db, flow)
    await build_summary(db, community_id=community, survey_id=SURVEY, wave="2025", min_group_size=2)
    async with db.session() as session:
        payload = (await session.execute(select(WaveAggregate.payload))).scalar_one()
    frames = loads(payload)
    assert frames.respondents == 8 and dumps(frames) == payload
    counts = frames.counts
    monitoring = (counts.question_id == "focus") & (counts.option_id == "monitoring")
    assert int(counts.loc[monitoring, "n"].sum()) == 4
