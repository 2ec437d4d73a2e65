"""The scheduler's notion of "now": the system clock in production, a manual one in tests.

APScheduler 3 reads `datetime.now()` itself (due jobs, misfire grace). With a `ManualClock`
the runtime points APScheduler's `datetime` at the clock while it runs, so tests move time
by hours or years without sleeping. The system clock never patches anything.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    manual = False

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests)."""

    manual = True

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


# -- APScheduler hook (manual clocks only) ------------------------------------------------
_PATCHED_MODULES = ("apscheduler.schedulers.base", "apscheduler.executors.base")
_installed: dict[str, object] = {}
_active: list[Clock] = []


def _clock_datetime(clock: Clock) -> type[datetime]:
    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            current = clock.now()
            return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)

    return ClockDatetime


def install_apscheduler_clock(clock: Clock) -> None:
    """Make APScheduler read `clock` (nested installs of the same clock are counted)."""
    import importlib

    if _active and _active[0] is not clock:
        raise RuntimeError("another manual clock already drives APScheduler in this process")
    if not _active:
        replacement = _clock_datetime(clock)
        for name in _PATCHED_MODULES:
            module = importlib.import_module(name)
            _installed[name] = module.datetime
            module.datetime = replacement  # type: ignore[attr-defined]
    _active.append(clock)


def uninstall_apscheduler_clock(clock: Clock) -> None:
    import importlib

    if clock not in _active:
        return
    _active.remove(clock)
    if not _active:
        for name, original in _installed.items():
            importlib.import_module(name).datetime = original  # type: ignore[attr-defined]
        _installed.clear()
