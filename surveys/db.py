"""Async database access: one engine per process, short sessions, friendly connect errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
PG_THREADS = 8  # answer transactions at once on PostgreSQL (bot.serial lets 8 in)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or the URL is unusable; the message names the host."""


def rows_changed(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE changed. `AsyncSession.execute` is typed to
    return a plain `Result`; for these statements it is a `CursorResult`, which has the count."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"a {type(result).__name__} has no row count (not an INSERT, UPDATE or DELETE)")
    return result.rowcount


def describe_url(url: str) -> str:
    """A short, password-free description of a database URL for messages."""
    try:
        u = make_url(url)
    except ArgumentError:
        return "an unreadable database URL"
    if u.get_backend_name() == "sqlite":
        return f"SQLite file {u.database or ':memory:'}"
    return f"{u.get_backend_name()} at {u.host or 'localhost'}:{u.port or 'default port'}/{u.database}"


def async_url(url: str) -> str:
    """Map plain URLs to the async drivers we ship (aiosqlite, psycopg 3)."""
    u = make_url(url)
    driver = u.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The synchronous twin of an async URL (Alembic, benchmarks)."""
    u = make_url(url)
    if u.drivername == "sqlite+aiosqlite":
        u = u.set(drivername="sqlite")
    elif u.drivername.startswith("postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys, WAL and a busy timeout."""
    try:
        engine = create_async_engine(async_url(url), **kwargs)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUnavailable(f"cannot use STATEOF_DATABASE_URL: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_file(engine: AsyncEngine) -> bool:
    """A SQLite database in a file (not in memory, where another connection is another
    database)."""
    database = engine.url.database
    return (engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"
            and "mode=memory" not in str(engine.url))


class Database:
    """The process's database: an engine plus a session factory.

    `run(fn)` runs a whole transaction as one synchronous function on a Core connection (the
    answer path) in a worker thread with the plain driver: one hand-off per transaction. On
    SQLite, aiosqlite hands every cursor call to its thread and back (about 4 hand-offs a
    statement); on PostgreSQL the async driver costs an event-loop round and a greenlet
    switch per statement. SQLite gets one such thread (one writer), PostgreSQL
    `PG_THREADS`; an in-memory SQLite database runs on the async engine (`run_sync`).
    """

    def __init__(self, url: str, **engine_kwargs: Any):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._threads = 1
        if _sqlite_file(self.engine):
            self._sync = create_engine(sync_url(url), connect_args={"check_same_thread": False})
            event.listen(self._sync, "connect", _sqlite_pragmas)
        elif self.dialect == "postgresql":
            self._sync = create_engine(sync_url(url), **engine_kwargs)
            self._threads = PG_THREADS

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(connection, *args)` in a transaction, committed when it returns (rolled back
        when it raises); its result. The commit is done when this returns."""
        if self._sync is not None:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(self._threads, thread_name_prefix="stateof-db")
            job = self._thread.submit(partial(self._run_in_thread, fn, *args))
            done = asyncio.wrap_future(job)
            try:
                return await asyncio.shield(done)
            except DBAPIError as exc:
                if exc.connection_invalidated:  # the server went away: so did the pooled
                    await self.engine.dispose(close=False)  # connections of the async engine
                raise
            except asyncio.CancelledError:
                # a caller that gave up (a save attempt's timeout) must not leave its work
                # queued behind the next caller's: a job not started yet never runs, one
                # already running is waited for (it commits or rolls back) before giving up
                if not job.cancel():
                    await asyncio.wait([done])
                raise
        async with self.engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    def _run_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._sync is not None
        with self._sync.begin() as conn:
            return fn(conn, *args)

    async def check(self) -> None:
        """Connect once; raise DatabaseUnavailable with a one-line reason otherwise."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError) as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise DatabaseUnavailable(
                f"cannot connect to {describe_url(self.url)}: {reason}"
            ) from None

    async def dispose(self) -> None:
        await self.engine.dispose()
        thread, self._thread = self._thread, None
        if self._sync is not None and thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._sync.dispose)
            thread.shutdown(wait=False)
