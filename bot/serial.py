"""One member's answers in order, and SQLite's single writer respected, for every adapter.

Chat platforms deliver a member's clicks concurrently (double clicks, a submit racing a
close). `AnswerGate.run` runs one member's database work one call at a time; on SQLite it
also lets one writer in at a time for the whole process (Slack and Discord share it), so
writers take turns here instead of sleeping in SQLite's busy handler. A "database is
locked" error that still happens (another process) is retried with a short back-off.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from surveys.identity import Member

log = logging.getLogger(__name__)

T = TypeVar("T")
PG_CONCURRENCY = 8  # answer transactions at once on PostgreSQL (the pool holds 5 + 10)
RETRIES = 6


class AnswerGate:
    """Per-member ordering plus a process-wide limit on concurrent answer transactions."""

    def __init__(self, dialect: str):
        self._locks: weakref.WeakValueDictionary[Member, asyncio.Lock] = weakref.WeakValueDictionary()
        self._writers = asyncio.Semaphore(1 if dialect == "sqlite" else PG_CONCURRENCY)

    def _lock(self, member: Member) -> asyncio.Lock:
        lock = self._locks.get(member)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[member] = lock
        return lock

    async def run(self, member: Member, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` after this member's earlier calls; SQLite lock contention is retried."""
        async with self._lock(member):
            for attempt in range(RETRIES):
                try:
                    async with self._writers:
                        return await call()
                except OperationalError as exc:
                    if "locked" not in str(exc).lower() or attempt == RETRIES - 1:
                        raise
                    log.debug("database locked, retrying (attempt %d)", attempt + 1)
                    await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")
