"""Saving a member's answers when the database falters: retried until it lands, or given up
after a deadline so the adapter can show an error that keeps the member's input.

A chat adapter that has already acknowledged a submission ("Saving your answers…" in Slack,
a deferred interaction in Discord) must not leave the member waiting forever when the
database hangs or drops connections (a failover). `save_with_retries` runs the write with a
timeout per attempt and retries it with growing, jittered pauses until `SavePolicy.deadline`;
then it raises `SaveFailed`. Recording is idempotent, so an attempt that landed but whose
answer was lost on the way back is harmless to repeat. A `SurveyError` (an invalid answer, a
closed wave) is the member's to see and is never retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from surveys.errors import SurveyError

log = logging.getLogger(__name__)

T = TypeVar("T")
# Seconds of work before a chat adapter answers with a holding reply ("Saving your answers…"
# in Slack, a deferral in Discord) and shows the outcome once it is stored. Both platforms
# allow 3 s; an ack within 0.7 s keeps the p99 under 1 s even when the machine is busy or the
# database fails over (bench/soak.py), at the price of one more update for a slow click.
ACK_BUDGET = 0.7
UNSAVED = ("We could not save this page: our database is not answering right now. Your answers "
           "are still filled in below; please submit again in a minute.")


@dataclass(frozen=True)
class SavePolicy:
    """How long to keep trying: `deadline` seconds in all, `attempt_timeout` per attempt,
    pauses from `first_delay` doubling up to `max_delay`, each shortened by up to `jitter`."""

    deadline: float = 45.0
    attempt_timeout: float = 10.0
    first_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5


class SaveFailed(Exception):
    """The database did not take the write before the deadline; nothing may have been stored."""


async def save_with_retries(
    call: Callable[[], Awaitable[T]], *, policy: SavePolicy, what: str = "saving answers",
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`call()` until it returns; SurveyError passes through; SaveFailed after the deadline."""
    started = time.monotonic()
    delay = policy.first_delay
    attempt = 0
    while True:
        attempt += 1
        left = policy.deadline - (time.monotonic() - started)
        try:
            return await asyncio.wait_for(call(), max(min(policy.attempt_timeout, left), 0.05))
        except SurveyError:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dropped connection, a timeout, a failover in progress
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            left = policy.deadline - (time.monotonic() - started)
            if left <= 0:
                log.error("%s failed %d time(s) within %.0f s; giving up (%s)", what, attempt,
                          policy.deadline, reason)
                raise SaveFailed(reason) from exc
            pause = min(delay * (1.0 - policy.jitter * random.random()), left)
            log.warning("%s failed (attempt %d: %s); retrying in %.1f s", what, attempt, reason, pause)
            await sleep(pause)
            delay = min(delay * 2, policy.max_delay)
