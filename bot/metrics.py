"""The process's Prometheus metrics (prometheus_client): one place that names every counter.

Adapters, the scheduler and the notifiers record what happened here; `/metrics` exposes the
default registry (process and platform collectors included) plus the survey gauges that
`bot.web` refreshes from the database on each scrape. No label ever carries a user, channel
or team id: labels are closed sets (platform, outcome, kind).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]

UP = Gauge("stateof_up", "1 when the process serves requests.")
UPTIME = Gauge("stateof_uptime_seconds", "Seconds since the process started.")
WAVES = Gauge("stateof_waves", "Waves by status.", ["status"])
RESPONSES = Gauge("stateof_responses", "Responses (started surveys) stored.")
ANSWERS = Gauge("stateof_answers", "Answer rows stored.")
PLATFORM_CONNECTED = Gauge(
    "stateof_platform_connected", "1 when the platform connection is up (Slack socket / Discord gateway).",
    ["platform"],
)

ANSWERS_STORED = Counter(
    "stateof_answers_stored", "Answers (fields) acknowledged to members and stored.", ["platform"]
)
INTERACTIONS = Counter(
    "stateof_interactions", "Member and moderator interactions by platform and outcome.",
    ["platform", "outcome"],
)
ACK_SECONDS = Histogram(
    "stateof_ack_seconds", "Time from receiving an interaction to acknowledging it.", ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
MESSAGES = Counter(
    "stateof_messages", "Posts and DMs by platform, kind and outcome (sent, failed, retried).",
    ["platform", "kind", "outcome"],
)
RATE_LIMITED = Counter("stateof_rate_limited", "429 answers seen from a platform.", ["platform"])
RATE_LIMIT_WAIT = Counter(
    "stateof_rate_limiter_wait_seconds", "Seconds spent waiting in the platform rate limiter.", ["platform"]
)
JOB_RUNS = Counter("stateof_job_runs", "Scheduler job runs by kind and outcome.", ["kind", "outcome"])

_STARTED = time.monotonic()


def exposition() -> bytes:
    """The text exposition of every registered metric."""
    UP.set(1)
    UPTIME.set(round(time.monotonic() - _STARTED, 1))
    return generate_latest(REGISTRY)


@contextmanager
def ack_timer(platform: str) -> Iterator[None]:
    """Time an acknowledgement into the ack histogram."""
    started = time.perf_counter()
    try:
        yield
    finally:
        ACK_SECONDS.labels(platform).observe(time.perf_counter() - started)
