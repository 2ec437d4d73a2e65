"""Discord acknowledgement latency, like Slack's: from the gateway's INTERACTION_CREATE to the
interaction's first response (a message, an update, a modal or a deferral), into the
`stateof_ack_seconds{platform="discord"}` histogram (Discord's limit is 3 s).

`time_interactions` wraps the connection's INTERACTION_CREATE parser: every task discord.py
starts for the interaction (the command tree, views, `on_interaction`) inherits the arrival
time through a context variable, and `acknowledged` is called where we respond.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from bot import metrics

log = logging.getLogger(__name__)

_RECEIVED: ContextVar[float | None] = ContextVar("stateof_discord_interaction_received", default=None)


def time_interactions(parsers: dict[str, Callable[[Any], None]]) -> None:
    """Make the tasks started for each interaction know when it arrived (idempotent)."""
    parse = parsers["INTERACTION_CREATE"]
    if getattr(parse, "stateof_timed", False):
        return

    def timed(data: Any) -> None:
        token = _RECEIVED.set(time.perf_counter())
        try:
            parse(data)
        finally:
            _RECEIVED.reset(token)

    timed.stateof_timed = True  # type: ignore[attr-defined]
    parsers["INTERACTION_CREATE"] = timed


def acknowledged() -> None:
    """The interaction of this task has just been answered: time it (once per interaction)."""
    received = _RECEIVED.get()
    if received is None:
        return
    _RECEIVED.set(None)
    metrics.ACK_SECONDS.labels("discord").observe(time.perf_counter() - received)
