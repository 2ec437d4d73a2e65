"""Migrations: upgrade from empty, one head, down/up round trip, no drift from the models."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from surveys.db import sync_url
from surveys.migrate import alembic_config, downgrade, upgrade

from ..conftest import PG_URL


@pytest.fixture
def migration_url(tmp_path):
    if PG_URL:
        url = sync_url(PG_URL)
        downgrade(url, "base")
        yield url
        upgrade(url)  # leave the shared database at head for the other tests
    else:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_single_head():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1


def test_upgrade_from_empty_then_round_trip_without_drift(migration_url):
    assert _tables(migration_url) == set()
    upgrade(migration_url)
    created = _tables(migration_url)
    assert {"answers", "answer_choices", "waves", "respondents", "participation"} <= created
    command.check(alembic_config(migration_url))  # raises when models and migrations differ
    downgrade(migration_url, "base")
    assert _tables(migration_url) == set()
    upgrade(migration_url)
    assert _tables(migration_url) == created


def test_constraints_have_stable_names(migration_url):
    upgrade(migration_url)
    engine = create_engine(migration_url)
    try:
        uniques = inspect(engine).get_unique_constraints("answers")
    finally:
        engine.dispose()
    assert [u["name"] for u in uniques] == ["uq_answers_wave_id_respondent_id_question_id_row_id"]


async def test_0002_backfills_answered_from_existing_answers(database_url, db):
    """Responses stored before 0002 get `answered` from their answers (skips do not count)."""
    from sqlalchemy import select

    from surveys.catalog import Catalog
    from surveys.flow import AnswerFlow
    from surveys.identity import Member
    from surveys.models import Response, WaveStatus
    from surveys.waves import create_wave, ensure_community

    async with db.session() as session:
        community = await ensure_community(session, "default")
        wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2026",
                                 status=WaveStatus.open)
    flow = AnswerFlow(db, b"k" * 32)
    await flow.submit(wave.id, Member("slack", "T", "U1"), {"title": "researcher"})
    await flow.submit(wave.id, Member("slack", "T", "U2"), {"region": ""})  # a skip only

    async def flags() -> list[bool]:
        async with db.session() as session:
            return sorted((await session.execute(select(Response.answered))).scalars(), reverse=True)

    assert await flags() == [True, False]
    await db.dispose()
    downgrade(sync_url(database_url), "0001")
    upgrade(sync_url(database_url))
    assert await flags() == [True, False]
