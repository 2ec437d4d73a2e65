"""Platform ids never reach the log: the Slack SDK's and Bolt's own DEBUG logging of a real
conversation (requests, responses, payloads) passes the root handler's redaction filter."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from sqlalchemy import select

from bot.logs import RedactIds, redact, setup_logging
from surveys.models import Wave
from tests.slack.kit import first_choice

MOD = "U0MOD4X7Q2"
MEMBER = "U07QX2MK9LP"
CHANNEL = "C0GENERAL9"
TEAM = "T0TEAM"
GUILD = "1187654321098765432"


@pytest.fixture
def debug_log(monkeypatch):
    """The process's logging at DEBUG with the Slack libraries at DEBUG too; the text written."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    names = ("slack_sdk", "slack_bolt", "bot", "surveys")
    libraries = {name: logging.getLogger(name).level for name in names}
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    setup_logging("text", "DEBUG")
    for name in ("slack_sdk", "slack_bolt"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in libraries.items():
            logging.getLogger(name).setLevel(level)


async def test_sdk_debug_logging_of_a_whole_conversation_shows_no_ids(bot, fake, debug_log):
    fake.add_user(MOD, is_admin=True)
    fake.set_members(CHANNEL, [MOD, MEMBER])
    text = await bot.command(f"launch state-of-mlops 2026 <#{CHANNEL}|general>", user=MOD, channel=CHANNEL)
    assert "is open and announced" in text, text
    async with bot.services.db.session() as session:
        wave_id = (await session.execute(select(Wave.id))).scalar_one()
    member = bot.member(MEMBER)
    await member.take(wave_id)
    await member.answer_all(first_choice)
    logging.getLogger("bot.test").debug("discord guild %s, user <@%s>", GUILD, "298765432109876543")

    written = debug_log.getvalue()
    sdk_lines = [line for line in written.splitlines()
                 if "Sending a request" in line or "Received the following response" in line]
    assert len(sdk_lines) > 10, written[:3000]  # the SDK's own request/response logging ran
    for secret in (MOD, MEMBER, CHANNEL, TEAM, GUILD, "298765432109876543", "xoxb-test"):
        assert secret not in written, f"{secret} leaked: " + next(
            line for line in written.splitlines() if secret in line)
    assert "U[id]" in written and "C[id]" in written and "[snowflake]" in written


def test_redact_keeps_words_and_numbers_that_are_not_ids():
    text = "WARNING CONNECTION DEBUG status 200 in 1234 ms, wave 2026-Q4, UTF8, C3"
    assert redact(text) == text
    assert redact("user=U024BE7LH team T061EG9R6 dm D024BE91L ws W012A3CDE") == \
        "user=U[id] team T[id] dm D[id] ws W[id]"
    assert redact('{"user": "U024BE7LH", "guild_id": "81384788765712384"}') == \
        '{"user": "U[id]", "guild_id": "[snowflake]"}'
    assert redact("token xoxb-123-456-abc and xapp-1-A0-99") == "token xoxb-[token] and xapp-[token]"


def test_exceptions_and_args_are_redacted_at_every_level():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "member %s failed", ("U024BE7LH",), None)
    try:
        raise RuntimeError("channel C024BE91L not found")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert RedactIds().filter(record) is True
    out = logging.Formatter().format(record)
    assert "U024BE7LH" not in out and "C024BE91L" not in out and "channel C[id] not found" in out
