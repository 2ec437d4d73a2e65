"""How jobs and fan-outs talk to platforms: retries with backoff, and a dry-run file notifier.

A platform call that raises (Slack down, Discord 5xx, a timeout) is retried (tenacity) with
exponential backoff and jitter (so a fan-out does not retry in lockstep, not even after a
rate limit: the Retry-After is waited plus a random share of the backoff) and logged; `DeliveryError`
(channel gone, DMs closed) and a DM answered with False are final and not retried. A rate
limit whose Retry-After is above the policy's cap is not waited for: `TooLongToWait` is
raised at once (a fan-out stops and says so, instead of blocking for minutes). After the
last attempt the error propagates to the job, which logs it and records the outcome: the
scheduler itself never stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.wait import wait_base

from bot import metrics
from surveys.identity import Member
from surveys.ports import ChannelRef, DeliveryError, Message, Notifier

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; waits `base`, `base*factor`, ... seconds (at most `cap`), each
    shortened by up to `jitter` (a fraction) at random. A Retry-After above `cap` is not waited."""

    attempts: int = 5
    base: float = 2.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.0

    def delays(self) -> list[float]:
        return [min(self.base * self.factor**i, self.cap) for i in range(max(self.attempts - 1, 0))]

    def wait(self, delay: float, rng: random.Random | None = None) -> float:
        """`delay` with jitter applied (never longer than `delay`)."""
        if self.jitter <= 0:
            return delay
        return delay * (1.0 - self.jitter * (rng or random).random())


class TooLongToWait(Exception):
    """A platform asked us to wait (Retry-After) longer than the retry policy's cap."""

    def __init__(self, what: str, retry_after: float, cap: float):
        super().__init__(f"{what}: rate-limited for {retry_after:.0f} s (more than the {cap:.0f} s we wait)")
        self.retry_after = retry_after


def retry_after_of(exc: BaseException) -> float | None:
    """The Retry-After a rate-limit error carries (discord.py's RateLimited, a Slack 429), if any."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float):
        return float(value)
    response = getattr(exc, "response", None)
    if getattr(response, "status_code", None) == 429:
        headers = {str(k).lower(): v for k, v in dict(getattr(response, "headers", None) or {}).items()}
        raw = headers.get("retry-after")
        raw = raw[0] if isinstance(raw, list | tuple) and raw else raw
        try:
            return float(raw) if raw is not None else None
        except (TypeError, ValueError):
            return None
    return None


class _Backoff(wait_base):
    """tenacity wait: exponential (`base`, `base*factor`, … at most `cap`), shortened by up to
    `jitter`; after a rate limit, its Retry-After plus up to `jitter` of the backoff at random,
    so the members of a fan-out that hit the same limit do not all come back at once."""

    def __init__(self, policy: RetryPolicy):
        self.policy = policy
        self.exponential = wait_exponential(multiplier=policy.base, exp_base=policy.factor, max=policy.cap)

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self.exponential(retry_state)
        failed = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = retry_after_of(failed) if failed is not None else None
        if retry_after is None:
            return self.policy.wait(delay)
        return max(self.policy.wait(delay), retry_after + self.policy.jitter * delay * random.random())


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and not isinstance(exc, DeliveryError | TooLongToWait)


async def with_retries(
    call: Callable[[], Awaitable[T]], what: str, policy: RetryPolicy, sleep: Sleep = asyncio.sleep
) -> T:
    """Run `call`, retrying failures (not DeliveryError) with backoff and jitter (tenacity);
    re-raise the last one. A rate limit longer than `policy.cap` raises `TooLongToWait` at once."""

    async def attempt() -> T:
        try:
            return await call()
        except Exception as exc:
            retry_after = retry_after_of(exc)
            if retry_after is not None and retry_after > policy.cap and not isinstance(exc, DeliveryError):
                log.warning("%s: rate-limited for %.0f s; not waiting that long", what, retry_after)
                raise TooLongToWait(what, retry_after, policy.cap) from exc
            raise

    def before_sleep(state: RetryCallState) -> None:
        failed = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s failed (attempt %d of %d): %s; retrying in %.1f s",
                    what, state.attempt_number, policy.attempts, _reason(failed or Exception()), delay)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(policy.attempts, 1)), wait=_Backoff(policy),
        retry=retry_if_exception(_retryable), sleep=sleep, before_sleep=before_sleep, reraise=True,
    )
    try:
        return await retrying(attempt)
    except Exception as exc:
        if _retryable(exc):
            log.error("%s failed after %d attempts: %s", what, policy.attempts, _reason(exc))
        raise


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class RetryingNotifier:
    """A notifier whose calls are retried with backoff."""

    def __init__(self, inner: Notifier, policy: RetryPolicy, sleep: Sleep = asyncio.sleep):
        self.inner = inner
        self.platform = inner.platform
        self.policy = policy
        self.sleep = sleep

    async def _counted(self, kind: str, call: Callable[[], Awaitable[T]], what: str) -> T:
        """`with_retries`, counting each retry and the outcome in `stateof_messages_total`."""
        attempts = 0

        async def attempt() -> T:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                metrics.MESSAGES.labels(self.platform, kind, "retried").inc()
            return await call()

        try:
            result = await with_retries(attempt, what, self.policy, self.sleep)
        except BaseException:
            metrics.MESSAGES.labels(self.platform, kind, "failed").inc()
            raise
        metrics.MESSAGES.labels(self.platform, kind, "failed" if result is False else "sent").inc()
        return result

    async def post(self, channel: ChannelRef, message: Message) -> str | None:
        return await self._counted("post", lambda: self.inner.post(channel, message),
                                   f"{self.platform} post to {channel.channel}")

    async def dm(self, member: Member, message: Message) -> bool:
        return await self._counted("dm", lambda: self.inner.dm(member, message), f"{self.platform} DM")

    async def channel_members(self, channel: ChannelRef) -> list[str] | None:
        return await with_retries(
            lambda: self.inner.channel_members(channel),
            f"{self.platform} members of {channel.channel}", self.policy, self.sleep,
        )


class RetryingNotifiers(Mapping[str, Notifier]):
    """A live view of `Services.notifiers` that wraps each notifier in retries.

    Notifiers registered after the scheduler started are picked up on the next lookup.
    """

    def __init__(self, base: Mapping[str, Notifier], policy: RetryPolicy, sleep: Sleep = asyncio.sleep):
        self.base = base
        self.policy = policy
        self.sleep = sleep
        self._wrapped: dict[str, tuple[Notifier, RetryingNotifier]] = {}

    def __getitem__(self, platform: str) -> Notifier:
        inner = self.base[platform]
        cached = self._wrapped.get(platform)
        if cached is None or cached[0] is not inner:
            cached = (inner, RetryingNotifier(inner, self.policy, self.sleep))
            self._wrapped[platform] = cached
        return cached[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


class DryRunNotifier:
    """Writes what would be posted or DMed as JSON lines to a file (STATEOF_DRY_RUN_POSTS).

    A debugging aid: with it set, scheduled jobs never call Slack or Discord.
    """

    def __init__(self, path: Path, platform: str):
        self.path = Path(path)
        self.platform = platform

    def _write(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()

    @staticmethod
    def _message(message: Message) -> dict:
        return {
            "title": message.title,
            "text": message.text,
            "fields": [list(f) for f in message.fields],
            "buttons": [{"label": b.label, "action": b.action, "value": b.value} for b in message.buttons],
            "attachments": [a.filename for a in message.attachments],
        }

    async def post(self, channel: ChannelRef, message: Message) -> str | None:
        self._write({"at": datetime.now(UTC).isoformat(), "kind": "post", **channel.to_dict(),
                     **self._message(message)})
        return f"dry-run-{self.platform}"

    async def dm(self, member: Member, message: Message) -> bool:
        self._write({"at": datetime.now(UTC).isoformat(), "kind": "dm", "platform": member.platform,
                     "space": member.space, "user": member.user, **self._message(message)})
        return True

    async def channel_members(self, channel: ChannelRef) -> list[str] | None:
        return None


class DryRunNotifiers(Mapping[str, Notifier]):
    """Every platform name maps to a DryRunNotifier writing to one file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._by_platform: dict[str, DryRunNotifier] = {}

    def __getitem__(self, platform: str) -> Notifier:
        if platform not in self._by_platform:
            self._by_platform[platform] = DryRunNotifier(self.path, platform)
        return self._by_platform[platform]

    def get(self, platform: str, default=None):  # type: ignore[override]
        return self[platform]

    def __contains__(self, platform: object) -> bool:
        return isinstance(platform, str)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_platform)

    def __len__(self) -> int:
        return len(self._by_platform)
