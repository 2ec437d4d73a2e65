"""Scheduler leader election: exactly one process runs jobs.

PostgreSQL: the leader holds a session advisory lock (`pg_try_advisory_lock`) on a dedicated,
non-pooled connection opened with psycopg directly (a pooled connection would keep the lock
after being returned to the pool). The same connection LISTENs for change notifications
from other processes and is checked every few seconds; when it breaks (the process died,
the backend was terminated, the network went away) PostgreSQL releases the lock and a
standby, retrying every few seconds, takes over. TCP keepalives on both ends bound how long
a silently dead peer keeps the lock (about 30 s).

SQLite: a single process, always the leader; no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url

from bot.scheduling.schedules import NOTIFY_CHANNEL

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

DEFAULT_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"stateof:scheduler-leader").digest()[:8], "big", signed=True
)


class Leadership(Protocol):
    """How a process becomes and stays the scheduler leader."""

    description: str

    async def acquire(self) -> bool:
        """Try once to become leader; True when this process now leads."""
        ...

    async def hold(self, on_change: Callable[[str], None], interval: float) -> None:
        """Return (or raise) when leadership is lost; calls `on_change` for notifications."""
        ...

    async def release(self) -> None:
        ...


class SingleProcess:
    """SQLite: one process, always the leader."""

    description = "single process (SQLite)"

    async def acquire(self) -> bool:
        return True

    async def hold(self, on_change: Callable[[str], None], interval: float) -> None:
        await asyncio.Event().wait()

    async def release(self) -> None:
        return None


def psycopg_conninfo(url: str) -> str:
    """A libpq connection string from a SQLAlchemy URL (postgresql+psycopg://...)."""
    from psycopg.conninfo import make_conninfo

    u = make_url(url)
    params = {k: v for k, v in u.translate_connect_args(username="user", database="dbname").items()
              if v is not None}
    params.update({k: v if isinstance(v, str) else v[-1] for k, v in u.query.items()})
    return make_conninfo("", **{k: str(v) for k, v in params.items()})


class PostgresAdvisoryLock:
    """Leadership through `pg_try_advisory_lock(key)` on a dedicated psycopg connection."""

    def __init__(self, url: str, key: int = DEFAULT_LOCK_KEY, *, timeout: float = 10.0):
        self.conninfo = psycopg_conninfo(url)
        self.key = key
        self.timeout = timeout
        self.description = f"PostgreSQL advisory lock {key}"
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.backend_pid: int | None = None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=int(self.timeout),
            application_name="stateof-scheduler", keepalives=1, keepalives_idle=10,
            keepalives_interval=5, keepalives_count=3,
        )
        # The server side notices a vanished leader within ~30 s too (it frees the lock then).
        for setting, value in (("tcp_keepalives_idle", "10"), ("tcp_keepalives_interval", "5"),
                               ("tcp_keepalives_count", "3"), ("tcp_user_timeout", "30000")):
            with contextlib.suppress(Exception):
                await conn.execute(f"SET {setting} = {value}")
        return conn

    async def acquire(self) -> bool:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = await asyncio.wait_for(self._connect(), self.timeout + 1)
        try:
            cur = await asyncio.wait_for(
                conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)), self.timeout
            )
            row = await cur.fetchone()
            if not row or not row[0]:
                return False
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except BaseException:
            await self._drop()
            raise
        self.backend_pid = conn.info.backend_pid
        return True

    async def hold(self, on_change: Callable[[str], None], interval: float) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                async for notify in conn.notifies(timeout=interval):
                    on_change(notify.payload)
                await asyncio.wait_for(conn.execute("SELECT 1"), self.timeout)
        finally:
            await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.backend_pid = None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def release(self) -> None:
        if self._conn is not None and not self._conn.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.execute("SELECT pg_advisory_unlock_all()"), 5)
        await self._drop()


def leadership_for(url: str) -> Leadership:
    """The leader election fitting the database: advisory lock on PostgreSQL, none on SQLite."""
    if make_url(url).get_backend_name() == "postgresql":
        return PostgresAdvisoryLock(url)
    return SingleProcess()
