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


def upgrade(database_url: str, revision: str = "head", *, secret_key: bytes | None = None) -> None:
    """Migrate to `revision`. `secret_key` (else the bot's settings) seals stored Slack tokens.

    A migration that rewrote rows asks for a VACUUM (`attributes["vacuum"]`): on SQLite the
    file then keeps no freed page with an old id, time or token (docs/privacy.md).
    """
    cfg = alembic_config(database_url)
    if secret_key is not None:
        cfg.attributes["secret_key"] = secret_key
    command.upgrade(cfg, revision)
    if cfg.attributes.get("vacuum"):
        _vacuum(database_url)


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
