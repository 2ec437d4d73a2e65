"""Pacing Web API calls to Slack's published rate limits, and honouring Retry-After.

Slack limits each Web API method per app per workspace in tiers (per minute: Tier 1 = 1,
Tier 2 = 20, Tier 3 = 50, Tier 4 = 100; https://api.slack.com/apis/rate-limits) and
chat.postMessage to about one message per second per channel. `SlackRateLimiter` keeps one
bucket per (workspace token, method[, channel]) and hands out evenly spaced slots at
`headroom` × the published rate, so a fan-out (reminder DMs, summary posts) runs just below
the limit instead of bursting into 429s. When Slack still answers 429, the method is
blocked for that workspace for `Retry-After` seconds and the call is retried.

Calls bound to a trigger (views.open / views.push, which must happen within 3 s of a
click) and calls that answer a member's own action (views.update, views.publish) are not
paced: delaying them would break the interaction. They still honour Retry-After.

`PacedWebClient` is an `AsyncWebClient` whose every call (including the three calls of
files_upload_v2) goes through the limiter. `scale` multiplies every rate, so a benchmark
against a fake Slack can run Slack's limits scaled up in time and keep the ratio honest.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import metrics

log = logging.getLogger(__name__)

TIER_PER_MINUTE = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}

# Published tiers of the methods this app calls (https://api.slack.com/methods).
METHOD_TIERS: dict[str, int] = {
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.open": 3,
    "conversations.members": 4,
    "conversations.info": 3,
    "conversations.list": 2,
    "users.info": 4,
    "users.list": 2,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "team.info": 3,
}
# chat.postMessage: "1 message per second per channel, short bursts allowed".
PER_CHANNEL_PER_MINUTE: dict[str, float] = {"chat.postMessage": 60.0}
# Calls answering a member's own click: never delayed (a trigger_id expires after 3 s).
UNPACED = {
    "views.open", "views.push", "views.update", "views.publish", "auth.test",
    "apps.connections.open", "oauth.v2.access", "api.test",
}
TRIGGER_BOUND = {"views.open", "views.push"}


@dataclass
class _Bucket:
    interval: float
    next_at: float = 0.0


@dataclass
class LimiterStats:
    """What the limiter did: calls paced, seconds waited, 429s seen and retried."""

    acquired: Counter = field(default_factory=Counter)
    rate_limited: Counter = field(default_factory=Counter)
    retried: Counter = field(default_factory=Counter)
    gave_up: Counter = field(default_factory=Counter)
    waited_seconds: float = 0.0


class SlackRateLimiter:
    """Evenly spaced slots per (workspace, method[, channel]); Retry-After blocks a method."""

    def __init__(
        self,
        *,
        scale: float = 1.0,
        headroom: float = 0.97,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.scale = scale
        self.headroom = headroom
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._blocked: dict[tuple[str, str], float] = {}
        self.stats = LimiterStats()

    def per_minute(self, method: str, channel: str | None = None) -> float | None:
        """The published rate of `method` (per channel where Slack limits per channel)."""
        if method in UNPACED:
            return None
        if method in PER_CHANNEL_PER_MINUTE:
            return PER_CHANNEL_PER_MINUTE[method]
        tier = METHOD_TIERS.get(method)
        return TIER_PER_MINUTE[tier] if tier else None

    def allowed_per_second(self, method: str) -> float | None:
        """The rate this limiter paces `method` at (scaled, with headroom)."""
        rate = self.per_minute(method)
        return rate * self.scale * self.headroom / 60.0 if rate else None

    def _bucket(self, who: str, method: str, channel: str | None) -> _Bucket | None:
        rate = self.per_minute(method, channel)
        if rate is None:
            return None
        per_channel = method in PER_CHANNEL_PER_MINUTE
        key = (who, method, (channel or "") if per_channel else "")
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(60.0 / (rate * self.scale * self.headroom))
        return bucket

    async def acquire(self, who: str, method: str, channel: str | None = None) -> None:
        """Wait for this call's slot (and for any Retry-After block on the method)."""
        bucket = self._bucket(who, method, channel)
        while True:
            now = self.clock()
            blocked = self._blocked.get((who, method), 0.0)
            if now < blocked:
                await self._wait(blocked - now)
                continue
            if bucket is None:
                break
            slot = max(now, bucket.next_at)
            bucket.next_at = slot + bucket.interval
            if slot > now:
                await self._wait(slot - now)
            if self.clock() >= self._blocked.get((who, method), 0.0):
                break
        self.stats.acquired[method] += 1

    async def _wait(self, seconds: float) -> None:
        self.stats.waited_seconds += seconds
        metrics.RATE_LIMIT_WAIT.labels("slack").inc(seconds)
        await self.sleep(seconds)

    def blocked_for(self, who: str, method: str) -> float:
        return max(self._blocked.get((who, method), 0.0) - self.clock(), 0.0)

    def penalize(self, who: str, method: str, retry_after: float) -> None:
        """Slack answered 429: block `method` for this workspace for `retry_after` seconds."""
        until = self.clock() + max(retry_after, 0.0)
        key = (who, method)
        self._blocked[key] = max(self._blocked.get(key, 0.0), until)
        self.stats.rate_limited[method] += 1
        metrics.RATE_LIMITED.labels("slack").inc()


def token_key(token: str | None) -> str:
    """A short, non-reversible name for a token's bucket (tokens never sit in keys or logs)."""
    return hashlib.sha256((token or "").encode()).hexdigest()[:12]


def _param(name: str, *sources: Any) -> str | None:
    for source in sources:
        if isinstance(source, dict) and source.get(name):
            return str(source[name])
    return None


class PacedWebClient(AsyncWebClient):
    """An AsyncWebClient that paces every call through a `SlackRateLimiter` and retries 429s."""

    def __init__(
        self, *args: Any, limiter: SlackRateLimiter, max_retries: int = 5,
        max_retry_after: float = 120.0, **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.limiter = limiter
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after

    async def api_call(
        self, api_method: str, *, http_verb: str = "POST", files: dict | None = None,
        data: Any = None, params: dict | None = None, json: dict | None = None,
        headers: dict | None = None, auth: dict | None = None,
    ) -> AsyncSlackResponse:
        who = token_key(_param("token", json, data, params) or self.token)
        channel = _param("channel", json, data, params)
        limit = 1.0 if api_method in TRIGGER_BOUND else self.max_retry_after
        for attempt in range(self.max_retries + 1):
            await self.limiter.acquire(who, api_method, channel)
            try:
                return await super().api_call(
                    api_method, http_verb=http_verb, files=files, data=_copy(data),
                    params=_copy(params), json=_copy(json), headers=headers, auth=auth,
                )
            except SlackApiError as exc:
                response = exc.response
                if response is None or response.status_code != 429:
                    raise
                retry_after = _retry_after(response.headers)
                self.limiter.penalize(who, api_method, retry_after)
                if attempt >= self.max_retries or retry_after > limit:
                    self.limiter.stats.gave_up[api_method] += 1
                    log.warning("Slack rate-limited %s; giving up after %d attempt(s)",
                                api_method, attempt + 1)
                    raise
                self.limiter.stats.retried[api_method] += 1
                log.info("Slack rate-limited %s: retrying in %.0f s (Retry-After)",
                         api_method, retry_after)
        raise AssertionError("unreachable")


def _retry_after(headers: Any) -> float:
    value = None
    if headers:
        for key, val in dict(headers).items():
            if str(key).lower() == "retry-after":
                value = val[0] if isinstance(val, list | tuple) else val
    try:
        return max(float(value), 0.0) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def _copy(value: Any) -> Any:
    """slack_sdk pops `token` out of the argument dicts; retries need them intact."""
    return dict(value) if isinstance(value, dict) else value
