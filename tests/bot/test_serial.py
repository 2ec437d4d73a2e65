"""AnswerGate: one member's calls in order, one SQLite writer, locked databases retried."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from bot.serial import AnswerGate
from surveys.identity import Member

ADA, BOB = Member("slack", "T", "ada"), Member("discord", "G", "bob")


async def test_one_member_in_order_and_one_sqlite_writer():
    gate = AnswerGate("sqlite")
    running, peak, order = 0, 0, []

    async def work(tag: str) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        order.append(tag)
        running -= 1
        return tag

    results = await asyncio.gather(*(gate.run(m, lambda t=f"{m.user}{i}": work(t))
                                     for i in range(3) for m in (ADA, BOB)))
    assert sorted(results) == sorted(order) and peak == 1
    assert [t for t in order if t.startswith("ada")] == ["ada0", "ada1", "ada2"]


async def test_postgres_runs_members_side_by_side():
    gate = AnswerGate("postgresql")
    running, peak = 0, 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(gate.run(ADA, work), gate.run(BOB, work))
    assert peak == 2


async def test_locked_database_is_retried_then_raised():
    gate = AnswerGate("sqlite")
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return "stored"

    assert await gate.run(ADA, flaky) == "stored" and calls == 3

    async def broken() -> None:
        raise OperationalError("INSERT", {}, Exception("no such table: answers"))

    with pytest.raises(OperationalError, match="no such table"):
        await gate.run(ADA, broken)
