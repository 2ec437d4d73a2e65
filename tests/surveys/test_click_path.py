"""The answer path's cost (issue 15): a click is a few statements, each compiled once.

The ORM path issued about 8.7 statements a click, and its multi-row answers upsert was a new
statement for every number of fields, compiled anew at each click. CPU per click is
measured in bench/ (bench_slack.py, bench_discord.py); this pins what makes it cheap.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from surveys.catalog import Catalog
from surveys.flow import AnswerFlow
from surveys.identity import Member
from surveys.models import Answer, AnswerChoice, Response, WaveStatus
from surveys.waves import create_wave, ensure_community


async def _wave(db) -> int:
    async with db.session() as session:
        community = await ensure_community(session, "default")
        wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2026",
                                 status=WaveStatus.open)
        return wave.id


class Statements:
    """Every statement sent by the engines the database uses, with its cache outcome."""

    def __init__(self, db):
        self.seen: list[tuple[str, bool]] = []
        self.engines = [e for e in (getattr(db, "_sync", None), db.engine.sync_engine) if e is not None]
        for engine in self.engines:
            event.listen(engine, "after_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if context is not None and context.compiled is not None:
            self.seen.append((statement, context.cache_hit == context.dialect.CACHE_HIT))

    def close(self) -> None:
        for engine in self.engines:
            event.remove(engine, "after_cursor_execute", self._record)

    def take(self) -> list[tuple[str, bool]]:
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
def flow(db):
    return AnswerFlow(db, b"k" * 32)


async def test_a_click_is_a_few_statements_each_compiled_once(db, flow):
    wave = await _wave(db)
    warm = Member("slack", "T1", "U_WARM")
    await flow.start(wave, warm)
    await flow.progress(wave, warm)
    await flow.submit(wave, warm, {"title": "ml_engineer"})
    await flow.submit(wave, warm, {"role": "lead", "company_size": "1_10"})
    statements = Statements(db)
    try:
        member = Member("slack", "T1", "U_CLICKS")
        await flow.start(wave, member)
        statements.take()
        await flow.progress(wave, member)
        assert len(statements.take()) == 1  # one read: the wave's state, response and answers
        await flow.submit(wave, member, {"title": "ml_engineer"})
        one = statements.take()
        # three fields: a different number of rows than any click before, same statements
        await flow.submit(wave, member, {"role": "lead", "company_size": "1_10",
                                         "team_outlook_3m": "grow"})
        three = statements.take()
    finally:
        statements.close()
    # read, answers upsert, chosen options, the response's counters
    assert len(one) <= 4, one
    assert len(three) <= 4, three
    assert all(hit for _, hit in one + three), [sql for sql, hit in one + three if not hit]


async def test_a_cached_respondent_deleted_elsewhere_gets_a_new_row(db, flow, database_url):
    """The flow remembers respondent ids; a member who deleted their data through another
    process (another flow here) answers again under a new respondent, never a dangling id."""
    wave = await _wave(db)
    member = Member("discord", "G1", "U_GONE")
    await flow.submit(wave, member, {"title": "ml_engineer"})
    other = AnswerFlow(db, b"k" * 32)
    async with db.session() as session:
        community = (await ensure_community(session, "default")).id
    assert await other.delete_my_answers(community, member) == 1
    result = await flow.submit(wave, member, {"role": "lead"})
    assert result.progress.answers == {"role": "lead"}
    async with db.session() as session:
        answers = (await session.execute(select(Answer.question_id))).scalars().all()
        choices = (await session.execute(select(func.count()).select_from(AnswerChoice))).scalar()
        responses = (await session.execute(select(func.count()).select_from(Response))).scalar()
    assert answers == ["role"] and choices == 1 and responses == 1


async def test_answers_and_choices_match_what_was_given(db, flow):
    """Replacing an answer rewrites its chosen options; a new field keeps its own."""
    wave = await _wave(db)
    member = Member("slack", "T1", "U_CHOICES")
    await flow.submit(wave, member, {"title": "ml_engineer", "role": "lead"})
    await flow.submit(wave, member, {"title": "other", "company_size": "1_10"})
    async with db.session() as session:
        rows: list[Any] = (await session.execute(
            select(AnswerChoice.question_id, AnswerChoice.option_id)
            .order_by(AnswerChoice.question_id))).all()
    assert [tuple(r) for r in rows] == [("company_size", "1_10"), ("role", "lead"), ("title", "other")]
