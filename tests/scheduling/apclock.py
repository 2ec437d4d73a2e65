"""Make APScheduler read a test's `ManualClock` (tests only; production never patches it).

APScheduler 3 calls `datetime.now()` in its scheduler module (which jobs are due, when to wake)
and its executor module (misfire grace). While `apscheduler_reads(clock)` is active those two
modules see a `datetime` whose `now()` is the clock's, so a test moves time by years without
sleeping. One clock at a time drives APScheduler in a process; entering again with the same
clock is counted.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo

from bot.scheduling.clock import Clock

MODULES = ("apscheduler.schedulers.base", "apscheduler.executors.base")
_driving: list[Clock] = []  # the clock now installed, once per active `apscheduler_reads`
_originals: dict[str, object] = {}


def _clock_datetime(clock: Clock) -> type[datetime]:
    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]  # a plain datetime
            current = clock.now()
            return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)

    return ClockDatetime


@contextmanager
def apscheduler_reads(clock: Clock) -> Iterator[None]:
    """APScheduler reads `clock` inside the block."""
    if _driving and _driving[0] is not clock:
        raise RuntimeError("another clock already drives APScheduler in this process")
    if not _driving:
        replacement = _clock_datetime(clock)
        for name in MODULES:
            module = importlib.import_module(name)
            _originals[name] = module.datetime
            module.datetime = replacement
    _driving.append(clock)
    try:
        yield
    finally:
        _driving.pop()
        if not _driving:
            for name, original in _originals.items():
                importlib.import_module(name).datetime = original
            _originals.clear()
