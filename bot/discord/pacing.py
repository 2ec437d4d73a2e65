"""Pacing the bot's own fan-out (reminder DMs, announcements, summaries) under Discord's limits.

Discord publishes one fixed limit, the global one: 50 requests per second per bot
(https://discord.com/developers/docs/topics/rate-limits#global-rate-limit). Per-route limits
are announced in response headers; discord.py follows those, queues requests per bucket and
retries 429s after `Retry-After`. What discord.py cannot do is keep a long fan-out (a
reminder to thousands of members costs two requests each: open the DM channel, send) from
using the whole global budget, which the bot's other posts (announcements, summaries,
command results in DMs) and discord.py's own requests need too; a global 429 stalls them
all. `FanoutLimiter` hands out evenly spaced slots at a fraction of the global limit;
interaction responses are never paced (they are exempt from the global limit and have a
3-second deadline).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot import metrics

log = logging.getLogger(__name__)

GLOBAL_PER_SECOND = 50.0  # Discord's published global limit per bot
# the share of it a fan-out may use: measured (bench/bench_discord_fanout.py, RESULTS.md), 0.8
# is the fastest share that never crossed the global limit while other posts went out
FANOUT_SHARE = 0.8


class FanoutLimiter:
    """Evenly spaced request slots: at most `per_second` on average, no bursts."""

    def __init__(
        self, per_second: float = GLOBAL_PER_SECOND * FANOUT_SHARE, *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self.waited = 0.0  # seconds spent waiting, for logs and tests

    async def acquire(self, requests: int = 1) -> None:
        """Wait for a slot for `requests` REST calls made back to back."""
        now = self._clock()
        start = max(now, self._next)
        self._next = start + requests / self.per_second
        delay = start - now
        if delay > 0:
            self.waited += delay
            metrics.RATE_LIMIT_WAIT.labels("discord").inc(delay)
            await self._sleep(delay)
