"""Retries (tenacity): the backoff of RetryPolicy, its jitter, and no lockstep after a rate limit."""

from __future__ import annotations

import logging

import pytest

from bot.scheduling.delivery import RetryPolicy, TooLongToWait, with_retries


class RateLimited(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


async def _waits(policy: RetryPolicy, errors: list[Exception]) -> tuple[str, list[float]]:
    waits: list[float] = []
    queue = list(errors)

    async def call() -> str:
        if queue:
            raise queue.pop(0)
        return "sent"

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return await with_retries(call, "post", policy, sleep), waits


async def test_backoff_grows_and_jitter_only_shortens_it(caplog):
    caplog.set_level(logging.WARNING)
    result, waits = await _waits(RetryPolicy(attempts=4, base=2, factor=2), [OSError("5xx")] * 3)
    assert result == "sent" and waits == [2.0, 4.0, 8.0]
    assert "post failed (attempt 1 of 4): OSError: 5xx; retrying in 2.0 s" in caplog.text
    jittered = [(await _waits(RetryPolicy(attempts=3, base=2, factor=2, jitter=0.5), [OSError()] * 2))[1]
                for _ in range(20)]
    assert all(1.0 <= w[0] <= 2.0 and 2.0 <= w[1] <= 4.0 for w in jittered)
    assert len({w[0] for w in jittered}) > 1


async def test_the_last_failure_is_raised_and_logged(caplog):
    with pytest.raises(OSError):
        await _waits(RetryPolicy(attempts=3), [OSError("down")] * 3)
    assert "post failed after 3 attempts: OSError: down" in caplog.text
    with pytest.raises(TooLongToWait):
        await _waits(RetryPolicy(attempts=3, cap=60), [RateLimited(300)])


async def test_a_fan_out_limited_together_does_not_come_back_together():
    """Twenty DMs told 'Retry-After: 4': each waits at least 4 s, and not all the same time
    (before, every one of them retried at exactly 4.0 s)."""
    policy = RetryPolicy(attempts=3, base=2, factor=2, cap=60, jitter=0.5)
    waits = [(await _waits(policy, [RateLimited(4.0)]))[1][0] for _ in range(20)]
    assert all(4.0 <= w <= 5.0 for w in waits), waits
    assert len(set(waits)) > 10
    exact = RetryPolicy(attempts=3, base=2, factor=2, cap=60)  # no jitter asked: Retry-After as given
    assert (await _waits(exact, [RateLimited(4.0)]))[1] == [4.0]
