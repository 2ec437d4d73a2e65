"""Logging set-up: text or JSON lines; chatty or leaky third-party loggers turned down, and
platform ids redacted from every record.

slack_bolt logs the whole body of a rejected request (user ids included) at INFO, and
slack_sdk logs every request and response body at DEBUG, so their loggers are kept at
WARNING; and whatever still reaches the root handlers, at any level and from any library,
passes `RedactIds`: Slack user/team/channel ids, Discord snowflakes and Slack tokens are
replaced before a record is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

log = logging.getLogger(__name__)

QUIET = {
    "slack_bolt": logging.WARNING,
    "slack_sdk": logging.WARNING,
    "discord": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "alembic": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "matplotlib": logging.WARNING,
}


# Slack ids: U/W users, T teams, E enterprises, C/G/D channels: an upper-case letter and 5+
# upper-case letters or digits, at least one a digit (so words like "WARNING" stay).
_SLACK_ID = re.compile(r"(?<![A-Za-z0-9])([UWTECGD])(?=[A-Z]*[0-9])[A-Z0-9]{5,20}(?![A-Za-z0-9])")
# Discord ids (users, guilds, channels, roles) are snowflakes: 17 to 20 digits.
_SNOWFLAKE = re.compile(r"(?<![0-9])[0-9]{17,20}(?![0-9])")
_SLACK_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")


def redact(text: str) -> str:
    """`text` with platform ids and tokens replaced (`U[id]`, `[snowflake]`, `xoxb-[token]`)."""
    text = _SLACK_TOKEN.sub(lambda m: f"{m.group(1)}-[token]", text)
    text = _SLACK_ID.sub(lambda m: f"{m.group(1)}[id]", text)
    return _SNOWFLAKE.sub("[snowflake]", text)


# A record with this attribute set (`extra={KEEP_SPACE_IDS: True}`) keeps its ids: only for
# lines built from configuration and the spaces table (workspace and server ids, which the
# operator needs to see to link them), never for anything that can hold a user id.
KEEP_SPACE_IDS = "stateof_space_ids"


class RedactIds(logging.Filter):
    """Rewrite a record's message, exception and stack text with `redact` (never drops one).

    Installed on the root handlers, it sees records of every logger that propagates there,
    at every level; the formatted message replaces `msg` and `args`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, KEEP_SPACE_IDS, False) is True:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record as the logging module would
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exception"] = record.exc_text
        elif record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Configure the root logger once for the process; its handler redacts platform ids."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactIds())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, lvl in QUIET.items():
        logging.getLogger(name).setLevel(max(lvl, root.level))


@contextlib.contextmanager
def quiet_terminal(level: int = logging.WARNING) -> Iterator[None]:
    """While the terminal chat has the screen: the root logger's terminal handlers show only
    `level` and above (INFO lines would land between a question and its prompt)."""
    raised = []
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and stream in (sys.stderr, sys.stdout) \
                and handler.level < level:
            raised.append((handler, handler.level))
            handler.setLevel(level)
    try:
        yield
    finally:
        for handler, before in raised:
            handler.setLevel(before)
