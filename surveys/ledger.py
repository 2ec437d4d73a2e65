"""How the answer flow tells the participation ledger that a member started or completed.

Writing the ledger row in the transaction that writes the response would pair the two
(serial ids, timestamps microseconds apart, physical order, PostgreSQL's xmin). So the
flow only adds a sealed *mark* (member, wave, started/completed, day) in its transaction:
durable with the answers, unreadable without STATEOF_SECRET_KEY, in a table whose keys are
random. `Ledger.flush` later applies the marks of whole earlier days to `participation`, a
wave at a time once at least `batch_min` members are pending (so a batch never points at one
person), in shuffled order, in one transaction that also deletes them: a crash applies all
or nothing, and a restart simply flushes again. Marks of a closed wave are dropped (they no
longer drive reminders). Reminders apply earlier days first and skip members whose
completion is still pending (`pending_completed`), so nobody who completed is reminded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from surveys.db import Database
from surveys.identity import Member
from surveys.models import (
    Participation,
    ParticipationMark,
    Wave,
    WaveStatus,
    day_start,
    random_key,
    utcnow,
)
from surveys.sealing import LEDGER_MARKS, Sealer, SealError
from surveys.upsert import dialect_insert

log = logging.getLogger(__name__)

STARTED = "started"
COMPLETED = "completed"
_PAD = 160  # sealed payloads have one length, so their size tells nothing about the member
_FLUSH_LOCK = 0x5E7A1ED6  # PostgreSQL advisory lock: one flusher at a time (no deadlocks)


@dataclass(frozen=True)
class Mark:
    """One opened mark."""

    token: str
    wave_id: int
    member: Member
    kind: str


class Ledger:
    """Sealed marks in, shuffled batches out (see the module docstring)."""

    def __init__(self, secret: bytes, *, batch_min: int = 5):
        self.sealer = Sealer(secret, LEDGER_MARKS)
        self.batch_min = max(1, batch_min)
        self._checked_day: datetime | None = None
        self._task: asyncio.Task[int] | None = None

    # -- the answer flow's side ----------------------------------------------------------
    def sealed_mark(self, wave_id: int, member: Member, kind: str, when: datetime) -> dict[str, Any]:
        """The `participation_marks` row of a mark (the answer flow inserts it in its
        transaction): a random token, the wave, the day (`UTCDay`), the sealed member."""
        body = json.dumps({"w": wave_id, "p": member.platform, "s": member.space,
                           "u": member.user, "k": kind}, separators=(",", ":"))
        return {"token": secrets.token_hex(16), "wave_id": wave_id, "day": when,
                "sealed": self.sealer.seal(body.ljust(_PAD))}

    def flush_soon(self, db: Database, now: datetime | None = None) -> None:
        """Start a flush in the background once per day and process (never delays an answer)."""
        today = day_start(now or utcnow())
        if self._checked_day == today or (self._task is not None and not self._task.done()):
            return
        self._checked_day = today
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._flush_logged(db, today), name="ledger-flush")

    async def _flush_logged(self, db: Database, today: datetime) -> int:
        try:
            return await self.flush(db, today=today)
        except Exception:  # retried on the next day's first mark or the next reminder run
            log.exception("applying participation marks failed; they stay pending")
            self._checked_day = None
            return 0

    # -- reading and applying -------------------------------------------------------------
    def _open(self, token: str, wave_id: int, sealed: str) -> Mark | None:
        try:
            data = json.loads(self.sealer.open(sealed))
        except (SealError, ValueError):
            log.error("a participation mark cannot be opened (was STATEOF_SECRET_KEY changed?); "
                      "it is left in place")
            return None
        if data.get("w") != wave_id:  # sealed for another row: tampered with
            return None
        return Mark(token, wave_id, Member(data["p"], data["s"], data["u"]), data["k"])

    async def pending(self, session: AsyncSession, wave_ids: list[int]) -> list[Mark]:
        rows = await session.execute(
            select(ParticipationMark.token, ParticipationMark.wave_id, ParticipationMark.sealed)
            .where(ParticipationMark.wave_id.in_(wave_ids))
        )
        return [m for m in (self._open(*row) for row in rows) if m is not None]

    async def pending_completed(self, db: Database, wave_id: int) -> set[tuple[str, str, str]]:
        """(platform, space, user) of members whose completion of this wave is not applied yet."""
        async with db.session() as session:
            marks = await self.pending(session, [wave_id])
        return {(m.member.platform, m.member.space, m.member.user)
                for m in marks if m.kind == COMPLETED}

    async def flush(self, db: Database, *, today: datetime | None = None) -> int:
        """Apply the marks of days before `today` (see the module docstring); returns how many."""
        cutoff = day_start(today or utcnow())
        applied = 0
        async with db.session() as session:
            if db.dialect == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FLUSH_LOCK})
            rows = (await session.execute(
                select(ParticipationMark.token, ParticipationMark.wave_id, ParticipationMark.sealed,
                       Wave.status)
                .join(Wave, Wave.id == ParticipationMark.wave_id)
                .where(ParticipationMark.day < cutoff)
            )).all()
            by_wave: dict[int, list[Mark]] = defaultdict(list)
            closed: list[str] = []
            for token, wave_id, sealed, status in rows:
                if status == WaveStatus.closed.value:
                    closed.append(token)
                    continue
                mark = self._open(token, wave_id, sealed)
                if mark is not None:
                    by_wave[wave_id].append(mark)
            await self._delete(session, closed)
            for marks in by_wave.values():
                if len({m.member for m in marks}) < self.batch_min:
                    continue  # wait until the batch cannot point at fewer than batch_min people
                await self._apply(session, marks)
                await self._delete(session, [m.token for m in marks])
                applied += len(marks)
        if applied or closed:
            log.info("participation ledger: applied %d marks, dropped %d of closed waves",
                     applied, len(closed))
        return applied

    @staticmethod
    async def _apply(session: AsyncSession, marks: list[Mark]) -> None:
        """One upsert per member, in random order: the rows' physical order and versions say
        nothing about who answered first."""
        done: dict[tuple[int, Member], bool] = {}
        for m in marks:
            key = (m.wave_id, m.member)
            done[key] = done.get(key, False) or m.kind == COMPLETED
        params = [
            {"id": random_key(), "wave_id": wave_id, "platform": member.platform,
             "space_id": member.space, "user_id": member.user, "completed": completed}
            for (wave_id, member), completed in done.items()
        ]
        random.SystemRandom().shuffle(params)
        stmt = dialect_insert(session, Participation)
        stmt = stmt.on_conflict_do_update(
            index_elements=["wave_id", "platform", "space_id", "user_id"],
            set_={"completed": stmt.excluded.completed},
            where=stmt.excluded.completed.is_(True),
        )
        await session.execute(stmt, params)

    @staticmethod
    async def _delete(session: AsyncSession, tokens: list[str]) -> None:
        for start in range(0, len(tokens), 1000):
            await session.execute(
                delete(ParticipationMark).where(ParticipationMark.token.in_(tokens[start:start + 1000]))
            )

    async def forget(self, session: AsyncSession, community_id: int, member: Member) -> None:
        """A member deleted their answers: drop their pending marks, clear their completions."""
        waves = list((await session.execute(
            select(Wave.id).where(Wave.community_id == community_id))).scalars())
        if not waves:
            return
        mine = [m.token for m in await self.pending(session, waves) if m.member == member]
        await self._delete(session, mine)
        await session.execute(
            update(Participation)
            .where(Participation.wave_id.in_(waves), Participation.platform == member.platform,
                   Participation.space_id == member.space, Participation.user_id == member.user)
            .values(completed=False)
        )
