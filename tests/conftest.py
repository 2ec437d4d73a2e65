"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL when
STATEOF_TEST_DATABASE_URL is set), settings, and the composed services; the hypothesis
profile (a few hundred examples per property, STATEOF_HYPOTHESIS_EXAMPLES for more)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from bot.services import build_services
from bot.settings import Settings
from surveys.db import Database, sync_url
from surveys.migrate import upgrade
from surveys.models import Base

PG_URL = os.environ.get("STATEOF_TEST_DATABASE_URL")

# Property tests: 200 examples each by default (CI); STATEOF_HYPOTHESIS_EXAMPLES=20000 for a campaign.
hypothesis_settings.register_profile(
    "stateof", max_examples=int(os.environ.get("STATEOF_HYPOTHESIS_EXAMPLES", "200")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile("stateof")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_ready() -> str | None:
    if not PG_URL:
        return None
    upgrade(sync_url(PG_URL))
    return PG_URL


def _truncate_pg(url: str) -> None:
    engine = create_engine(sync_url(url))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, _sqlite_template: Path, _pg_ready: str | None) -> str:
    """A migrated, empty database for this test."""
    if _pg_ready:
        _truncate_pg(_pg_ready)
        return _pg_ready
    path = tmp_path / "stateof.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DISCORD_", "STATEOF_")) and name != "STATEOF_TEST_DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-0123456789-abcdefghijkl",
        secret_file=tmp_path / ".stateof-secret",
        _env_file=None,
    )


@pytest.fixture
async def db(database_url: str):
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def services(settings: Settings, db: Database):
    svc = build_services(settings, db)
    yield svc
    await svc.close()


def use_version_1(catalog) -> None:
    """Make version 1 of the built-in questionnaire the current one in `catalog`: for tests written
    against it (team outlook asked by role, North America), which pin its questions and pages."""
    catalog.add(catalog.get("state-of-mlops", version=1), "builtin:past/state-of-mlops.v1.yaml")
