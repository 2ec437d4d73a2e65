"""Liveness and readiness: is the database reachable, is each platform connected.

A platform runtime registers a check (Slack: the Socket Mode connection, or always up in
HTTP mode; Discord: the gateway). Readiness needs the database and every registered platform
up; liveness fails only when a platform has stayed down longer than `STUCK_AFTER` (a
reconnect loop that never recovers), since restarting the process cannot fix a database
outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

STUCK_AFTER = 300.0  # seconds a platform may stay disconnected before the process is not live

PlatformCheck = Callable[[], Awaitable[bool]]


@dataclass
class PlatformHealth:
    """The registered platform checks and when each was last seen up."""

    checks: dict[str, PlatformCheck] = field(default_factory=dict)
    last_up: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    def register(self, platform: str, check: PlatformCheck) -> None:
        self.checks[platform] = check
        self.last_up[platform] = self.clock()

    def unregister(self, platform: str) -> None:
        self.checks.pop(platform, None)
        self.last_up.pop(platform, None)

    async def states(self) -> dict[str, bool]:
        """Each registered platform: connected now?"""
        result: dict[str, bool] = {}
        for platform, check in sorted(self.checks.items()):
            try:
                up = bool(await check())
            except Exception:  # a failing check means "not connected", never a failed probe
                log.warning("health check of %s failed", platform, exc_info=True)
                up = False
            if up:
                self.last_up[platform] = self.clock()
            result[platform] = up
        return result

    def stuck(self, states: dict[str, bool]) -> list[str]:
        """Platforms down for longer than STUCK_AFTER."""
        now = self.clock()
        return [p for p, up in states.items()
                if not up and now - self.last_up.get(p, now) > STUCK_AFTER]
