"""Run Alembic migrations programmatically (used by `stateof db upgrade` and tests)."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config

log = logging.getLogger(__name__)


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the bundled migrations pointed at `database_url`."""
    here = Path(str(resources.files("migrations")))
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    cfg.attributes["database_url"] = database_url
    return cfg


REWRITES_ROWS = "0004p"  # re-keys and coarsens rows: SQLite's freed pages still hold the old ones


def upgrade(database_url: str, revision: str = "head", *, secret_key: bytes | None = None) -> None:
    """Migrate to `revision`. `secret_key` (else the bot's settings) seals stored Slack tokens.

    SQLite is VACUUMed after a migration that rewrote rows, so the file keeps no freed page
    with an old id, time or token (docs/privacy.md).
    """
    cfg = alembic_config(database_url)
    if secret_key is not None:
        cfg.attributes["secret_key"] = secret_key
    before = _applied(database_url)
    command.upgrade(cfg, revision)
    if REWRITES_ROWS not in before and REWRITES_ROWS in _applied(database_url):
        _vacuum(database_url)


def _applied(database_url: str) -> set[str]:
    """Revisions applied to the database (the current one and its ancestors)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, pool

    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(alembic_config(database_url))
    return {rev.revision for head in heads for rev in script.iterate_revisions(head, "base")}


def _vacuum(database_url: str) -> None:
    from sqlalchemy import create_engine, pool, text

    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM"))
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_heads(database_url: str) -> list[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
