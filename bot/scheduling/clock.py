"""The scheduler's notion of "now": the system clock in production, a manual one in tests.

Jobs, plans and job-run rows read the runtime's clock. APScheduler 3 reads `datetime.now()`
itself (which jobs are due, misfire grace); this package never patches it. A test that drives
a runtime with a `ManualClock` makes APScheduler read that clock too, for the test's duration
(tests/scheduling/apclock.py), and moves time by hours or years without sleeping.
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

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests)."""

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
