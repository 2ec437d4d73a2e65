"""Aggregates of closed waves, kept in `wave_aggregates` so a summary recounts only the live wave.

A closed wave takes no answers; it changes only when a member deletes their answers (or an
imported wave is replaced). The database counts such changes in `waves.data_version`
(triggers on `responses` and on the wave's status, migration 0005s); every read compares the
version the aggregates were counted at with the wave's version now (one row read, no scan of
the wave's responses), so a deletion makes the kept aggregates stale and they are counted
again. Segments are never kept (their queries differ every time); the whole-wave aggregates
they are checked against (analytics.privacy) are.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.frames import WaveFrames, WaveQuery, count_waves
from surveys.db import Database
from surveys.models import Wave, WaveAggregate
from surveys.upsert import dialect_insert

log = logging.getLogger(__name__)

VERSION = 2  # bump when WaveFrames or the queries change meaning


def signature(query: WaveQuery) -> str:
    """What was aggregated (question sets), independent of the wave."""
    spec = {"v": VERSION, "choice": sorted(query.choice), "multi": sorted(query.multi),
            "free": sorted(query.free), "number": sorted(query.number), "all": query.all_choice,
            "derived": [[spec.question_id, [[o, repr(rule)] for o, rule in spec.cases]]
                        for spec in query.derived]}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


async def fingerprint(session: AsyncSession, wave_id: int) -> str:
    """The wave's change counter as kept with its aggregates (see above)."""
    version = (await session.execute(
        select(Wave.data_version).where(Wave.id == wave_id))).scalar_one_or_none()
    return f"v{version or 0}"


def _frame_json(frame: pd.DataFrame) -> str:
    return frame.astype(object).to_json(orient="split", index=False)


def _frame(text: str) -> pd.DataFrame:
    frame = pd.read_json(io.StringIO(text), orient="split", dtype=False)
    for col in ("question_id", "row_id", "option_id"):
        if col in frame:
            frame[col] = frame[col].astype(str).astype("category")
    return frame


def dumps(frames: WaveFrames) -> str:
    data: dict[str, Any] = asdict(frames)
    for key in ("counts", "answered", "numbers"):
        data[key] = _frame_json(getattr(frames, key))
    return json.dumps(data)


def loads(text: str) -> WaveFrames:
    data = json.loads(text)
    for key in ("counts", "answered", "numbers"):
        data[key] = _frame(data[key])
    return WaveFrames(**data)


async def read(session: AsyncSession, query: WaveQuery) -> tuple[WaveFrames | None, str]:
    """The kept aggregates of this closed wave if they are still true, and its fingerprint now."""
    now = await fingerprint(session, query.wave_id)
    row = (await session.execute(
        select(WaveAggregate.fingerprint, WaveAggregate.payload)
        .where(WaveAggregate.wave_id == query.wave_id, WaveAggregate.signature == signature(query))
    )).one_or_none()
    if row is None:
        return None, now
    if row.fingerprint != now:
        log.info("wave %s changed since its aggregates were kept: counting again", query.wave_id)
        return None, now
    return loads(row.payload), now


async def keep(session: AsyncSession, query: WaveQuery, frames: WaveFrames, taken: str) -> None:
    """Keep (or replace) the aggregates of a closed wave; `taken` is its fingerprint from
    before they were counted (a change in between makes them stale, never wrongly fresh)."""
    stmt = dialect_insert(session, WaveAggregate).values(
        wave_id=query.wave_id, signature=signature(query), fingerprint=taken, payload=dumps(frames),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["wave_id", "signature"],
        set_={"fingerprint": stmt.excluded.fingerprint, "payload": stmt.excluded.payload,
              "created_at": stmt.excluded.created_at},
    )
    await session.execute(stmt)


async def load_waves(db: Database, queries: Sequence[WaveQuery]) -> list[WaveFrames]:
    """The frames of several waves: kept aggregates of closed waves where they are still
    true (see above), the rest counted with all their queries running concurrently."""
    found: dict[int, WaveFrames] = {}
    taken: dict[int, str] = {}
    keepable = [i for i, q in enumerate(queries) if q.keepable and not q.segment.conditions
                and q.segment.platform is None]
    if keepable:
        async with db.session() as session:
            for i in keepable:
                frames, taken[i] = await read(session, queries[i])
                if frames is not None:
                    found[i] = frames
    todo = [i for i in range(len(queries)) if i not in found]
    counted = await count_waves(db, [queries[i] for i in todo])
    fresh = [i for i in todo if i in taken]
    if fresh:
        async with db.session() as session:
            for i in fresh:
                await keep(session, queries[i], counted[todo.index(i)], taken[i])
    for i, frames in zip(todo, counted, strict=True):
        found[i] = frames
    return [found[i] for i in range(len(queries))]
