"""`/survey` moderator and member commands through the real discord.py and the fake Discord."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from surveys.models import Participation, Wave
from tests.conftest import use_version_1
from tests.discord.kit import DiscordMember, custom_ids, starters_on_ledger, texts
from tests.discord.test_answering import launch


@pytest.fixture(autouse=True)
def _questionnaire_version_1(dservices):
    """These tests follow version 1 of the built-in questionnaire (tests/conftest.py)."""
    use_version_1(dservices.catalog)

EPHEMERAL = 64


async def wave_count(services) -> int:
    async with services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Wave))).scalar_one()


async def test_commands_are_synced_to_the_guild(fake, runtime):
    (group,) = fake.commands[fake.guild_id]
    assert group["name"] == "survey"
    subs = {o["name"] for o in group["options"]}
    assert subs == {"launch", "schedule", "status", "remind", "close", "results", "export",
                    "summary-channel", "my-data", "help", "extend", "reopen", "rename", "delete"}
    assert fake.commands.get(None, []) == []  # global commands of an earlier run are cleared


async def test_commands_sync_globally_without_a_guild(fake, dservices):
    from bot.discord.runtime import start_discord

    dservices.settings.discord_guild = None
    runtime = await start_discord(dservices)
    try:
        (group,) = fake.commands[None]
        assert group["name"] == "survey"
        assert group["contexts"] == [0]  # servers only: my-data needs to know the server
        assert group["integration_types"] == [0]
        assert group["default_member_permissions"] is None  # members need my-data and help
    finally:
        await runtime.stop()


async def test_non_moderator_is_refused_and_nothing_changes(fake, runtime, dservices):
    member = DiscordMember(fake, fake.member)
    reply = await member.command("launch", {"survey": "state-of-mlops", "wave": "2026",
                                            "channel": fake.general})
    assert reply["flags"] & EPHEMERAL
    assert "for survey moderators" in texts(reply)
    assert await wave_count(dservices) == 0
    assert fake.channel_messages(fake.general) == []
    for sub in ("close", "export", "status", "remind", "results", "summary-channel"):
        reply = await member.command(sub)
        assert "for survey moderators" in texts(reply), sub
    record = member.records[0]
    assert record.callback_type == 4 and record.latency < 3


async def test_configured_role_makes_a_moderator(fake, dservices, monkeypatch):
    from bot.discord.runtime import start_discord

    dservices.settings.discord_moderator_role = "Survey team"
    helper = fake.add_member(fake.guild_id, "helper", roles=[fake.moderator_role])
    runtime = await start_discord(dservices)
    try:
        reply = await DiscordMember(fake, helper).command(
            "launch", {"survey": "state-of-mlops", "wave": "2026"})
        assert "is open" in texts(reply)
        assert await wave_count(dservices) == 1
        # the announcement goes to the channel the command was used in
        assert len(fake.channel_messages(fake.general)) == 1
    finally:
        await runtime.stop()


async def test_status_close_and_summary_with_chart(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    await member.take(announcement)
    await member.answer_all()
    for name in ("ada", "bo", "cy", "di"):  # five respondents: the minimum group size shows shares
        other = DiscordMember(fake, fake.add_member(fake.guild_id, name))
        await other.take(announcement)
        await other.answer_all()
    mod = DiscordMember(fake, fake.moderator)
    status = await mod.command("status")
    assert status["flags"] & EPHEMERAL
    assert "Respondents: 5 (completed: 5)" in texts(status)
    results = await mod.command("results", {"question": "focus"})
    (chart,) = results["attachments"]
    assert chart["filename"] == "focus.png" and fake.attachment_data(chart).startswith(b"\x89PNG")
    assert results["flags"] & EPHEMERAL
    closed = await mod.command("close")
    record = mod.records[-1]
    assert record.callback_type == 5, "close is deferred, then answered by follow-up"
    assert record.latency < 3
    assert closed["flags"] & EPHEMERAL
    assert "is closed" in texts(closed) and "posted to 1 channel" in texts(closed)
    summary = fake.channel_messages(fake.general)[-1]
    assert "has closed" in texts(summary)
    assert "Getting data" not in texts(summary)  # free text never appears in chat
    (png,) = summary["attachments"]
    assert png["filename"].endswith(".png")
    assert fake.attachment_data(png).startswith(b"\x89PNG")
    assert summary["embeds"][0]["image"]["url"] == f"attachment://{png['filename']}"
    assert summary["allowed_mentions"] == {"parse": []}
    # answering after close is refused politely
    again = await member.take(announcement)
    assert "has closed" in texts(again)


async def test_export_is_a_private_file(fake, runtime):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    await member.take(announcement)
    await member.answer_all()
    mod = DiscordMember(fake, fake.moderator)
    reply = await mod.command("export")
    assert mod.records[-1].callback_type == 5 and mod.records[-1].latency < 3
    assert reply["flags"] & EPHEMERAL
    (csv,) = reply["attachments"]
    assert csv["filename"] == "state-of-mlops-2026.csv"
    data = fake.attachment_data(csv).decode()
    header = data.splitlines()[0]
    assert "title" in header and "focus" in header
    assert str(fake.member) not in data  # pseudonymous: no Discord user ids
    # a member asking for the export is refused privately, and gets no file
    refused = await member.command("export")
    assert refused["flags"] & EPHEMERAL and not refused["attachments"]


async def test_results_with_question_and_where(fake, runtime):
    await launch(fake)
    mod = DiscordMember(fake, fake.moderator)
    reply = await mod.command("results", {"question": "role", "where": "title=ml_engineer"})
    assert mod.records[-1].callback_type == 5
    assert reply["flags"] & EPHEMERAL
    bad = await mod.command("results", {"question": "biggest_challenge"})
    assert "free text" in texts(bad)


async def test_summary_channel_and_help(fake, runtime, dservices):
    mod = DiscordMember(fake, fake.moderator)
    reply = await mod.command("summary-channel", {"channel": fake.summary_channel})
    assert f"Summaries will be posted in {fake.summary_channel}" in texts(reply)
    off = await mod.command("summary-channel", {"off": True})
    assert "off" in texts(off)
    helped = await DiscordMember(fake, fake.member).command("help")
    assert "my-data" in texts(helped) and "launch" not in texts(helped)


async def test_autocomplete(fake, runtime):
    await launch(fake)
    record = await fake.interact(fake.autocomplete("survey", "launch", {"survey": "mlo"}, "survey",
                                                   user=fake.moderator))
    assert record.callback_type == 8
    assert [c["value"] for c in record.choices] == ["state-of-mlops"]
    record = await fake.interact(fake.autocomplete("survey", "results", {"question": "ro"}, "question",
                                                   user=fake.moderator))
    assert [c["value"] for c in record.choices] == ["role"]
    record = await fake.interact(fake.autocomplete("survey", "close", {"wave": ""}, "wave",
                                                   user=fake.moderator))
    assert [c["value"] for c in record.choices] == ["2026"]
    record = await fake.interact(fake.autocomplete("survey", "close", {"wave": ""}, "wave",
                                                   user=fake.member))
    assert record.choices == []


async def test_my_data_shows_and_deletes(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    await member.take(announcement)
    await member.answer_all()
    shown = await member.command("my-data")
    assert shown["flags"] & EPHEMERAL
    assert "Data Scientist" in texts(shown)
    (delete,) = custom_ids(shown, "stateof:my:mydata_delete:")
    member.page = shown
    asked = fake.response_message(await member.click(delete))
    (confirm,) = custom_ids(asked, "stateof:my:mydata_delete_confirm:")
    member.page = asked
    done = fake.response_message(await member.click(confirm))
    assert "Deleted" in texts(done)
    again = await member.command("my-data")
    assert "no survey answers" in texts(again)


async def test_remind_dms_and_records_closed_dms(fake, runtime, dservices):
    announcement = await launch(fake)
    starter = fake.add_member(fake.guild_id, "starter")
    closed = fake.add_member(fake.guild_id, "closed-dms")
    fake.dm_closed.add(closed)
    for user in (starter, closed):
        await DiscordMember(fake, user).take(announcement)
    await starters_on_ledger(dservices)  # without the Members intent: the next daily batch
    reply = await DiscordMember(fake, fake.moderator).command("remind")
    assert "Reminders sent: 1. Could not reach: 1." in texts(reply)
    (dm,) = fake.dms(starter)
    assert custom_ids(dm, "stateof:take:")
    assert dm["allowed_mentions"] == {"parse": []}
    async with dservices.db.session() as session:
        blocked = (await session.execute(select(Participation.user_id).where(
            Participation.dm_blocked.is_(True)))).scalars().all()
    assert blocked == [str(closed)]
    # not retried: a second remind skips the member whose DMs are closed
    seen = len(fake.requests)
    await DiscordMember(fake, fake.moderator).command("remind")
    dm_channel = fake.dm_channels.get(closed)
    later = [r for r in fake.requests[seen:] if r.path == f"/channels/{dm_channel}/messages"]
    assert later == []


async def test_dm_button_answers_for_the_guild(fake, runtime, dservices):
    announcement = await launch(fake)
    starter = fake.add_member(fake.guild_id, "starter")
    await DiscordMember(fake, starter).take(announcement)
    await starters_on_ledger(dservices)
    await DiscordMember(fake, fake.moderator).command("remind")
    (dm,) = fake.dms(starter)
    (take,) = custom_ids(dm, "stateof:take:")
    record = await fake.interact(fake.click(dm, take, user=starter, guild_id=0,
                                            channel_id=fake.dm_channels[starter]))
    page = fake.response_message(record)
    assert "Page 1 of" in texts(page)


async def test_announcement_names_the_configured_group_size_and_status_has_no_rate_without_members(
        fake, runtime, dservices):
    """Issue 9: the announcement uses STATEOF_MIN_GROUP_SIZE; without the Members intent the
    bot knows no channel members, so starters are not "invited": the rate is n/a, not 100%."""
    dservices.settings.min_group_size = 7
    announcement = await launch(fake)
    assert "groups under 7 are never shown" in texts(announcement), texts(announcement)
    assert "groups under 5" not in texts(announcement)
    for name in ("ada", "bo"):
        member = DiscordMember(fake, fake.add_member(fake.guild_id, name))
        await member.take(announcement)
        await member.answer_all()
    status = texts(await DiscordMember(fake, fake.moderator).command("status"))
    assert "Respondents: 2 (completed: 2)" in status
    assert "Response rate: n/a" in status and "100%" not in status, status
