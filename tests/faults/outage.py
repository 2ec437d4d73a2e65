"""A failing-session seam for databases the TCP proxy cannot stand in front of (SQLite).

While an outage lasts, every new session first hangs (until the hang phase is over), then
fails as a dropped connection does; afterwards sessions work again. Sessions already open
are not touched (on PostgreSQL the proxy drops those too).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import OperationalError

from surveys.db import Database


class Outage:
    """`Outage(db).begin(hang=5, down=2)`: hangs 5 s, then refuses for 2 s, then heals."""

    def __init__(self, db: Database):
        self.db = db
        self._real = db.session
        self._real_run = db.run
        self._hang_until = 0.0
        self._down_until = 0.0
        self.failed = 0  # sessions that failed
        db.session = self.session  # type: ignore[method-assign]
        db.run = self.run  # type: ignore[method-assign]

    def begin(self, *, hang: float = 0.0, down: float = 0.0) -> None:
        now = time.monotonic()
        self._hang_until = now + hang
        self._down_until = now + hang + down

    def end(self) -> None:
        self._hang_until = self._down_until = 0.0

    def restore(self) -> None:
        self.end()
        self.db.session = self._real  # type: ignore[method-assign]
        self.db.run = self._real_run  # type: ignore[method-assign]

    async def _falter(self) -> None:
        now = time.monotonic()
        if now < self._down_until:
            if now < self._hang_until:
                await asyncio.sleep(self._hang_until - now)
            self.failed += 1
            raise OperationalError("connect", {}, ConnectionResetError("server closed the connection"))

    @asynccontextmanager
    async def session(self) -> AsyncIterator:
        await self._falter()
        async with self._real() as session:
            yield session

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """The answer path's transactions (Database.run) fail alike."""
        await self._falter()
        return await self._real_run(fn, *args)
