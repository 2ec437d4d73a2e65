"""`/survey` over Bolt's HTTP mode: moderators run waves, members are refused politely."""

from __future__ import annotations

from surveys.models import Wave
from tests.slack.kit import GENERAL, MEMBER, MODERATOR, count, reply_text


async def test_non_moderator_is_refused_privately_and_nothing_changes(bot, fake, sservices):
    text = await bot.command(f"launch state-of-mlops 2026 <#{GENERAL}|general>", user=MEMBER)
    assert "for survey moderators" in text
    assert bot.last_ack["response_type"] == "ephemeral"
    for sub in ("status", "close", "export", "remind", "results", "summary-channel off"):
        assert "for survey moderators" in await bot.command(sub, user=MEMBER), sub
    assert await count(sservices, Wave) == 0
    assert fake.calls_to("chat.postMessage") == [] and fake.calls_to("files.completeUploadExternal") == []
    assert max(bot.latencies) < 3


async def test_help_differs_for_members_and_moderators(bot):
    member = await bot.command("help", user=MEMBER)
    assert "/survey my-data" in member and "/survey launch" not in member
    mod = await bot.command("", user=MODERATOR)
    assert "/survey launch" in mod and "/survey export" in mod


async def test_moderator_launch_status_close_export(bot, fake, sservices):
    wave_id = await bot.launch("2026")
    (post,) = fake.messages_in(GENERAL)
    assert "State of MLOps 2026 is open" in reply_text(post)
    buttons = [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ("take_survey", str(wave_id)) in [(b["action_id"], b["value"]) for b in buttons]

    status = await bot.command("status", user=MODERATOR)
    assert "Respondents: 0" in status and "of 3 invited" in status

    export = await bot.command("export", user=MODERATOR)
    assert "in your direct messages" in export
    upload = fake.last_call("files.completeUploadExternal")
    assert upload.params["channel_id"] == fake.dm_channel(MODERATOR)
    (csv_file,) = [f for f in fake.files.values() if f["name"].endswith(".csv")]
    assert csv_file["content"].startswith(b"respondent") or b"," in csv_file["content"]

    closed = await bot.command("close", user=MODERATOR)
    assert "is closed" in closed and "posted to 1 channel" in closed
    summary = fake.messages_in(GENERAL)[-1]
    assert "has closed" in reply_text(summary)
    assert "already closed" in await bot.command("close", user=MODERATOR)
    assert max(bot.latencies) < 3


async def test_a_channel_typed_by_name_is_looked_up_after_the_ack(bot, fake, sservices):
    fake.add_channel(GENERAL, name="general", members=[MODERATOR, MEMBER])
    text = await bot.command("launch state-of-mlops 2026 #general", user=MODERATOR)
    assert "Working on it" in reply_text(bot.last_ack)  # conversations.list is paced: not before
    assert "is open and announced" in text
    assert fake.last_call("chat.postMessage").params["channel"] == GENERAL
    typo = await bot.command("launch state-of-mlops 2027 #genral", user=MODERATOR)
    assert "genral" in typo and await count(sservices, Wave) == 1
