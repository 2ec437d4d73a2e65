"""`/survey my-data`: a member sees their own answers privately, deletes them, opts out."""

from __future__ import annotations

import pytest

from surveys.models import ReminderOptOut
from tests.conftest import use_version_1
from tests.fakes.slack import block_actions_body
from tests.slack.kit import MEMBER, MODERATOR, answers, count


@pytest.fixture(autouse=True)
def _questionnaire_version_1(sservices):
    """These tests follow version 1 of the built-in questionnaire (tests/conftest.py)."""
    use_version_1(sservices.catalog)


def buttons_of(payload):
    return {e["action_id"]: e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]}


async def test_my_data_shows_and_deletes_own_answers(bot, fake, sservices):
    assert "We hold no survey answers" in await bot.command("my-data", user=MEMBER)
    wave_id = await bot.launch()
    member = bot.member()
    await member.take(wave_id)
    await member.submit()
    assert "Respondents: 1" in await bot.command("status", user=MODERATOR)

    text = await bot.command("my-data", user=MEMBER)
    assert bot.last_ack["response_type"] == "ephemeral"
    assert "State of MLOps 2026 (in progress)" in text and "Title: Data Scientist" in text
    assert "UMEMBER" not in text
    buttons = buttons_of(bot.last_reply)
    assert buttons["mydata_delete"]["confirm"]["confirm"]["text"] == "Delete"  # Slack asks first
    assert "mydata_stop_reminders" in buttons

    assert await answers(sservices) == 4
    await bot.post(block_actions_body("mydata_delete", "all", user_id=MEMBER, is_ephemeral=True,
                                      response_url=fake.response_url("delete")))
    (done,) = await fake.wait_for_response("delete")
    assert "Deleted 4 answer(s)" in done["text"] and done["replace_original"] is True
    assert await answers(sservices) == 0
    assert "Respondents: 0" in await bot.command("status", user=MODERATOR)
    assert "We hold no survey answers" in await bot.command("my-data", user=MEMBER)


async def test_stop_reminding_me_is_honoured_by_remind(bot, fake, sservices):
    await bot.launch()  # members of the channel: UMOD, UMEMBER, UOTHER (invited)
    await bot.post(block_actions_body("mydata_stop_reminders", "all", user_id=MEMBER, is_ephemeral=True,
                                      response_url=fake.response_url("stop")))
    (done,) = await fake.wait_for_response("stop")
    assert "not get survey reminders" in done["text"]
    assert await count(sservices, ReminderOptOut) == 1
    text = await bot.command("remind", user=MODERATOR)
    assert "Reminders sent: 2" in text
    dm_users = {c.params["users"] for c in fake.calls_to("conversations.open")}
    assert dm_users == {MODERATOR, "UOTHER"}
    reminder = fake.messages_in(fake.dm_channel("UOTHER"))[-1]
    take = [e for b in reminder["blocks"] if b["type"] == "actions" for e in b["elements"]][0]
    assert take["action_id"] == "take_survey"
