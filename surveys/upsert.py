"""Dialect-aware INSERT … ON CONFLICT helpers (SQLite and PostgreSQL both support them)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

log = logging.getLogger(__name__)


def dialect_insert(session: AsyncSession | AsyncConnection, model: Any) -> Any:
    """An INSERT for `model` with on_conflict_* methods for the session's (or connection's)
    dialect."""
    bind = session if isinstance(session, AsyncConnection) else session.bind
    if bind is None:
        raise RuntimeError("the session is not bound to a database")
    name = bind.dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database dialect {name}")


def insert_ignore(session: AsyncSession | AsyncConnection, model: Any, keys: list[str]) -> Any:
    """INSERT that does nothing when a row with the same `keys` exists."""
    return dialect_insert(session, model).on_conflict_do_nothing(index_elements=keys)
