"""Dialect-aware INSERT … ON CONFLICT helpers (SQLite and PostgreSQL both support them)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


def insert_for(dialect: str, model: Any) -> Any:
    """An INSERT for `model` with on_conflict_* methods for the dialect named `dialect`."""
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database dialect {dialect}")


def dialect_insert(session: AsyncSession, model: Any) -> Any:
    """An INSERT for `model` with on_conflict_* methods for the session's dialect."""
    return insert_for(session.get_bind().dialect.name, model)


def insert_ignore(session: AsyncSession, model: Any, keys: list[str]) -> Any:
    """INSERT that does nothing when a row with the same `keys` exists."""
    return dialect_insert(session, model).on_conflict_do_nothing(index_elements=keys)
