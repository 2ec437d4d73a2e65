"""Summaries are counted off the event loop, so clicks are answered while they run.

Counting a wave (pandas, SQLAlchemy result processing) is CPU work of up to seconds on a busy
machine; in the event loop it held every member's click for that long (bench/soak.py: acks
past 1 s during each weekly summary). `build_summary_off_loop` runs `build_summary` in a worker
thread with its own event loop and its own short-lived connection pool (an async engine
belongs to the loop that made it), one summary at a time. The loop thread keeps the
interpreter every few milliseconds while the worker counts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy.pool import NullPool

from surveys.db import Database

if TYPE_CHECKING:
    from analytics.model import Summary

log = logging.getLogger(__name__)

_COUNTING = threading.Lock()  # one summary at a time: each holds connections and memory


def _count(url: str, kwargs: dict[str, Any]) -> Summary:
    from analytics.service import build_summary

    async def run() -> Summary:
        db = Database(url, poolclass=NullPool)  # connections of this thread's loop only
        try:
            return await build_summary(db, **kwargs)
        finally:
            await db.engine.dispose()

    with _COUNTING:
        return asyncio.run(run())


async def build_summary_off_loop(db: Database, **kwargs: Any) -> Summary:
    """`analytics.service.build_summary(db, **kwargs)`, computed in a worker thread."""
    return await asyncio.to_thread(_count, db.url, kwargs)
