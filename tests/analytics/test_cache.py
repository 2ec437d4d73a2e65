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


async def _version(db, wave_id: int) -> int:
    from surveys.models import Wave

    async with db.session() as session:
        return (await session.execute(select(Wave.data_version).where(Wave.id == wave_id))).scalar_one()


async def test_the_database_counts_changes_to_closed_waves(db):
    """The kept aggregates' version (issue 15: no scan of `responses` per read) moves on every
    change to a closed wave's responses, whoever makes it (a cascade too), and on a close."""
    from sqlalchemy import delete, update

    from surveys.models import Respondent, Response, Wave

    flow = AnswerFlow(db, b"k" * 32)
    await _waves(db, flow)
    async with db.session() as session:
        rows = dict((await session.execute(select(Wave.label, Wave.id))).all())
    closed, live = rows["2025"], rows["2026"]
    assert await _version(db, closed) >= 1  # closing counted
    before_live, before = await _version(db, live), await _version(db, closed)
    # answers to the open wave do not touch its version (no hot row for the answer flow)
    await flow.submit(live, Member("slack", "T", "U99"), {"title": "researcher"}, finish=True)
    assert await _version(db, live) == before_live
    assert await _version(db, closed) == before
    # a response of the closed wave updated, then deleted through the respondent's cascade
    async with db.session() as session:
        rid = (await session.execute(select(Response.respondent_id).where(
            Response.wave_id == closed).limit(1))).scalar_one()
        await session.execute(update(Response).where(Response.respondent_id == rid,
                                                     Response.wave_id == closed)
                              .values(revision=Response.revision + 1))
    updated = await _version(db, closed)
    assert updated > before
    async with db.session() as session:
        await session.execute(delete(Respondent).where(Respondent.id == rid))
    assert await _version(db, closed) > updated
    assert await _version(db, live) == before_live  # never bumped while open


async def test_kept_aggregates_are_reused_and_go_stale_on_a_plain_sql_change(db, monkeypatch):
    """A second summary reuses the closed wave's kept aggregates (counting nothing); a
    change made behind the application's back (plain SQL) still makes them stale."""
    from sqlalchemy import delete

    from analytics import cache
    from surveys.models import Response, Wave

    flow = AnswerFlow(db, b"k" * 32)
    community = await _waves(db, flow)

    async def summary():
        return (await build_summary(db, community_id=community, survey_id=SURVEY, wave="2025",
                                    min_group_size=2)).to_dict()

    first = await summary()
    counted: list[int] = []
    original = cache.count_waves

    async def spy(database, queries):
        counted.extend(q.wave_id for q in queries)
        return await original(database, queries)

    monkeypatch.setattr(cache, "count_waves", spy)
    assert await summary() == first and counted == []
    async with db.session() as session:
        closed = (await session.execute(select(Wave.id).where(Wave.label == "2025"))).scalar_one()
        rid = (await session.execute(select(Response.respondent_id).where(
            Response.wave_id == closed).limit(1))).scalar_one()
        await session.execute(delete(Response).where(Response.respondent_id == rid,
                                                     Response.wave_id == closed))
    after = await summary()
    assert counted == [closed]
    assert after["respondents"] == {"2025": 7}
