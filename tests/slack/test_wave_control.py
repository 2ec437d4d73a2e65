"""Wave control over Bolt's HTTP mode as a moderator types it: extend, close, reopen (announced
again), rename, delete (asked, then confirmed), `schedule list|remove`, and members refused."""

from __future__ import annotations

from surveys.models import Schedule, Wave
from tests.slack.kit import GENERAL, MEMBER, MODERATOR, count, reply_text


async def test_wave_control_in_slack(bot, fake, sservices):
    await bot.launch("2026")
    for text in ("extend 7d", "reopen 2026", "rename 2026 x", "delete 2026 confirm", "schedule list",
                 "schedule remove 1"):
        assert "for survey moderators" in await bot.command(text, user=MEMBER), text

    extended = await bot.command("extend 2026 7d", user=MODERATOR)
    assert "Wave '2026' now closes" in extended
    assert "is closed" in await bot.command("close", user=MODERATOR)
    posts = len(fake.messages_in(GENERAL))
    reopened = await bot.command("reopen 2026 duration:3d", user=MODERATOR)
    assert "Wave '2026' is open again, announced in 1 channel(s)" in reopened
    assert "Working on it" in reply_text(bot.last_ack)  # slow by the table: acked first
    assert len(fake.messages_in(GENERAL)) == posts + 1
    assert "is open" in reply_text(fake.messages_in(GENERAL)[-1])

    assert "is now called '2026-spring'" in await bot.command("rename 2026 2026-spring", user=MODERATOR)
    asked = await bot.command("delete 2026-spring", user=MODERATOR)
    assert "/survey delete 2026-spring confirm" in asked and await count(sservices, Wave) == 1
    deleted = await bot.command("delete 2026-spring confirm", user=MODERATOR)
    assert "Deleted wave '2026-spring'" in deleted and await count(sservices, Wave) == 0
    assert "Usage: /survey delete WAVE [confirm]" in await bot.command("delete", user=MODERATOR)

    assert "No schedules" in await bot.command("schedule list", user=MODERATOR)
    assert "There is no schedule 1 here" in await bot.command("schedule remove 1", user=MODERATOR)
    assert await count(sservices, Schedule) == 0
    assert "has no option 'colour:'" in await bot.command("extend 7d colour:red", user=MODERATOR)

    help_text = await bot.command("help", user=MODERATOR)
    for usage in ("/survey extend BY", "/survey reopen WAVE", "/survey rename WAVE LABEL",
                  "/survey delete WAVE [confirm]", "/survey schedule list", "/survey schedule remove ID"):
        assert usage in help_text, usage
    assert max(bot.latencies) < 3
