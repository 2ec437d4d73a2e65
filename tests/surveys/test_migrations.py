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
