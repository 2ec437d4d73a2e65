"""Duplicates, restarts, rate limits, slow work, untrusted text and long lists."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

import bot.discord.respond as respond
from bot.discord.client import StateofClient
from bot.discord.pacing import FanoutLimiter
from bot.discord.runtime import start_discord
from surveys.catalog import parse_questionnaire
from surveys.identity import Member
from surveys.models import Answer
from tests.conftest import use_version_1
from tests.discord.kit import DiscordMember, component, custom_ids, starters_on_ledger, texts
from tests.discord.test_answering import launch


@pytest.fixture(autouse=True)
def _questionnaire_version_1(dservices):
    """These tests follow version 1 of the built-in questionnaire (tests/conftest.py)."""
    use_version_1(dservices.catalog)


async def answer_rows(services, question: str) -> int:
    async with services.db.session() as session:
        return (await session.execute(select(func.count()).select_from(Answer)
                                      .where(Answer.question_id == question))).scalar_one()


async def test_same_component_interaction_twice_is_stored_once(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    title = next(cid for cid in custom_ids(page, "stateof:pick:") if cid.endswith(":0"))
    payload = fake.click(page, title, user=fake.member, values=["ml_engineer"])
    first = await fake.interact(payload)
    requests = len(fake.requests)
    again = await fake.send_interaction(payload)  # Discord (or a proxy) delivers it again
    await asyncio.sleep(0.3)
    assert again is first and first.callback_type == 7
    assert first.rejected_callbacks == []  # the repeat was dropped, not answered twice
    assert fake.requests[requests:] == []
    # a second click with the same choice (a new interaction) replaces nothing either
    await fake.interact(fake.click(member.refresh(), title, user=fake.member, values=["ml_engineer"]))
    assert await answer_rows(dservices, "title") == 1
    progress = await dservices.flow.progress(1, Member("discord", str(fake.guild_id), str(fake.member)))
    assert progress.value("title") == "ml_engineer"
    # answering again replaces
    await fake.interact(fake.click(member.refresh(), title, user=fake.member, values=["researcher"]))
    progress = await dservices.flow.progress(1, Member("discord", str(fake.guild_id), str(fake.member)))
    assert progress.value("title") == "researcher"
    assert await answer_rows(dservices, "title") == 1
    shown = component(member.refresh(), title)
    assert [o["value"] for o in shown["options"] if o.get("default")] == ["researcher"]


async def test_restart_keeps_buttons_working(fake, dservices):
    first = await start_discord(dservices)
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    await first.stop()
    second = await start_discord(dservices)
    try:
        await fake.wait_identified(2)
        other = DiscordMember(fake, fake.add_member(fake.guild_id, "newcomer"))
        fresh = await other.take(announcement)  # the persistent button on the old message
        assert "Page 1 of" in texts(fresh)
        assert other.records[-1].callback_type == 4
        # a select on a page opened before the restart still saves
        title = next(cid for cid in custom_ids(page, "stateof:pick:") if cid.endswith(":0"))
        record = await member.click(title, ["data_engineer"])
        assert record.callback_type == 7
        progress = await dservices.flow.progress(1, Member("discord", str(fake.guild_id), str(fake.member)))
        assert progress.value("title") == "data_engineer"
    finally:
        await second.stop()


async def test_rate_limited_post_is_retried(fake, runtime):
    fake.inject("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.05)
    await launch(fake)
    path = f"/channels/{fake.general}/messages"
    posts = [r for r in fake.requests if r.method == "POST" and r.path == path]
    assert [r.status for r in posts] == [429, 200]
    assert len(fake.channel_messages(fake.general)) == 1


async def test_slow_work_is_deferred_then_edited(fake, runtime, dservices, monkeypatch):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    monkeypatch.setattr(respond, "DEFER_AFTER", 0.05)
    submit = dservices.flow.submit

    async def slow_submit(*args, **kwargs):
        await asyncio.sleep(0.3)
        return await submit(*args, **kwargs)

    monkeypatch.setattr(dservices.flow, "submit", slow_submit)
    title = next(cid for cid in custom_ids(page, "stateof:pick:") if cid.endswith(":0"))
    record = await member.click(title, ["researcher"])
    assert record.callback_type == 6 and record.latency < 0.3
    assert record.edits, "the page is edited once the answer is saved"
    shown = component(member.refresh(), title)
    assert [o["value"] for o in shown["options"] if o.get("default")] == ["researcher"]


UNTRUSTED = """
id: untrusted
title: "**Bold** @everyone <@&123456789012345678>"
questions:
  - id: q
    type: single
    text: "Pick _one_ @here"
    options:
      - {id: a, label: "$100k+ **a**"}
      - {id: b, label: "b"}
"""


async def test_community_text_cannot_ping_or_format(fake, runtime, dservices):
    dservices.catalog.add(parse_questionnaire(UNTRUSTED))
    mod = DiscordMember(fake, fake.moderator)
    await mod.command("launch", {"survey": "untrusted", "wave": "@everyone", "channel": fake.general})
    assert not fake.channel_messages(fake.general)  # a wave label cannot carry a mention
    await mod.command("launch", {"survey": "untrusted", "wave": "2026", "channel": fake.general})
    announcement = fake.channel_messages(fake.general)[-1]
    title = announcement["embeds"][0]["title"]
    assert "\\*\\*Bold\\*\\*" in title and "@\u200beveryone" in title and "@\u200b&1234" in title
    assert announcement["allowed_mentions"] == {"parse": []}
    page = await DiscordMember(fake, fake.member).take(announcement)
    shown = texts(page)
    assert "Pick \\_one\\_ @\u200bhere" in shown
    select = component(page, custom_ids(page, "stateof:pick:")[0])
    assert select["options"][0]["label"] == "$100k+ **a**"  # labels do not render markdown
    for message in fake.messages.values():
        assert message.get("allowed_mentions") in ({"parse": []}, None), message


LONG = """
id: long-lists
title: Long lists
questions:
  - id: country
    type: country
    text: Where do you live?
    required: true
  - id: years
    type: number
    text: Years of experience?
    min: 0
    max: 60
  - id: langs
    type: multi
    text: Which languages do you use?
    options:
""" + "".join(f"      - {{id: l{i}, label: Language {i:02d}}}\n" for i in range(1, 31))


async def test_long_lists_numbers_and_validation(fake, runtime, dservices):
    dservices.catalog.add(parse_questionnaire(LONG))
    mod = DiscordMember(fake, fake.moderator)
    await mod.command("launch", {"survey": "long-lists", "wave": "2026", "channel": fake.general})
    member = DiscordMember(fake, fake.member)
    page = await member.take(fake.channel_messages(fake.general)[-1])
    (letters,) = custom_ids(page, "stateof:range:")
    groups = component(page, letters)["options"]
    assert 2 <= len(groups) <= 25
    finland = next(g["value"] for g in groups
                   if g["label"].split(" – ")[0] <= "Finland" <= g["label"].split(" – ")[-1])
    await member.click(letters, [finland])
    country = next(cid for cid in custom_ids(member.page, "stateof:pick:") if cid.endswith(":0"))
    options = component(member.page, country)["options"]
    assert len(options) <= 25 and any(o["value"] == "FI" for o in options)
    await member.click(country, ["FI"])
    (write,) = custom_ids(member.page, "stateof:write:")
    await member.write(write, "many")
    assert "is not a number" in texts(member.page)
    await member.write(write, "99")
    assert "out of range" in texts(member.page)
    await member.write(write, "7")
    parts = [cid for cid in custom_ids(member.page, "stateof:pick:") if "~" in cid]
    assert len(parts) == 2
    assert all(component(member.page, cid)["max_values"] <= 25 for cid in parts)
    await member.click(parts[0], ["l1", "l2"])
    await member.click(parts[1], ["l29"])
    progress = await dservices.flow.progress(1, Member("discord", str(fake.guild_id), str(fake.member)))
    assert progress.value("country") == "FI"
    assert progress.value("years") == 7
    assert progress.value("langs") == ["l1", "l2", "l29"]
    # "Other letters…" goes back to the letter groups
    country = next(cid for cid in custom_ids(member.page, "stateof:pick:") if cid.endswith(":0"))
    await member.click(country, ["~ranges"])
    assert custom_ids(member.page, "stateof:range:")
    # Finish works (nothing required is missing)
    (finish,) = [cid for cid in custom_ids(member.page, "stateof:nav:") if cid.endswith(":f")]
    await member.click(finish)
    assert "Thank you" in texts(member.page)


async def test_required_question_blocks_next(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    (next_,) = [cid for cid in custom_ids(page, "stateof:nav:") if cid.endswith(":n")]
    await member.click(next_)
    assert "needs an answer" in texts(member.page)
    assert "Page 1 of" in texts(member.page)
    assert await answer_rows(dservices, "company_size") == 0  # nothing saved from a refused page


async def test_gateway_reconnect_resumes_through_the_configured_gateway(fake, dservices, monkeypatch):
    # Discord names a regional host to resume on; behind DISCORD_GATEWAY_URL it must not be used.
    fake.resume_gateway_url = "ws://127.0.0.1:9/not-the-proxy"

    async def no_identify_pause(self, shard_id, *, initial=False):  # discord.py waits 5 s otherwise
        return None

    monkeypatch.setattr(StateofClient, "before_identify_hook", no_identify_pause)
    runtime = await start_discord(dservices)
    try:
        await launch(fake)
        await fake.disconnect_all()
        await fake.wait_identified(2)
        resumed = fake.identifies[-1]["resume"]
        assert resumed["session_id"] and resumed["seq"] >= 2 and resumed["token"] == fake.token
        # the bot keeps answering after the resume
        reply = await DiscordMember(fake, fake.moderator).command("status")
        assert "Respondents: 0" in texts(reply)
        # an invalidated session makes it identify afresh; interactions still work
        fake.invalidate_resumes = True
        await fake.disconnect_all()
        await fake.wait_identified(3)
        assert "token" in fake.identifies[-1] and "resume" not in fake.identifies[-1]
        announcement = fake.channel_messages(fake.general)[-1]
        page = await DiscordMember(fake, fake.member).take(announcement)
        assert "Page 1 of" in texts(page)
        assert runtime.ready and not runtime.task.done()
    finally:
        await runtime.stop()


async def test_fanout_limiter_spaces_slots_evenly():
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = FanoutLimiter(10, clock=lambda: now[0], sleep=sleep)
    await limiter.acquire()  # the first slot is free
    await limiter.acquire(2)  # a DM: open the channel and send
    await limiter.acquire()
    assert slept == pytest.approx([0.1, 0.2]) and limiter.waited == pytest.approx(0.3)
    now[0] += 5  # idle time is not banked into a burst
    await limiter.acquire()
    await limiter.acquire()
    assert len(slept) == 3 and slept[-1] == pytest.approx(0.1)


async def test_reminder_fanout_is_paced_and_429_honoured(fake, runtime, dservices):
    announcement = await launch(fake)
    starters = [fake.add_member(fake.guild_id, f"starter{i}") for i in range(5)]
    for user in starters:
        await DiscordMember(fake, user).take(announcement)
    await starters_on_ledger(dservices)
    runtime.notifier.limiter = FanoutLimiter(20)
    seen = len(fake.requests)
    fake.inject("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.05)  # the first DM
    reply = await DiscordMember(fake, fake.moderator).command("remind")
    assert "Reminders sent: 5." in texts(reply)
    assert all(len(fake.dms(user)) == 1 for user in starters)  # the 429'd one was sent after the wait
    fanout = [r for r in fake.requests[seen:]
              if r.path.startswith(("/users/", "/channels/")) and r.status != 429]
    dm_sends = [r for r in fanout if r.method == "POST" and r.path.startswith("/channels/")]
    assert len(dm_sends) == 5
    retried = [r for r in fake.requests[seen:] if r.status == 429]
    assert len(retried) == 1
    # evenly spaced under the limiter: n requests need at least (n - 3) / rate seconds
    span = fanout[-1].at - fanout[0].at
    assert span >= (len(fanout) - 3) / 20 * 0.95, (span, len(fanout))


async def test_modal_opens_in_time_when_the_database_is_slow(fake, runtime, dservices, monkeypatch):
    import bot.discord.answering as answering

    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    await member.take(announcement)
    while not custom_ids(member.page, "stateof:write:"):
        await member.answer_page()
        forward = [c for c in custom_ids(member.refresh(), "stateof:nav:") if c.endswith(":n")]
        await member.click(forward[0])
    (write,) = custom_ids(member.page, "stateof:write:")
    await member.write(write, "First try")
    monkeypatch.setattr(answering, "MODAL_READ_BUDGET", 0.1)
    progress = dservices.flow.progress

    async def slow_progress(*args, **kwargs):
        await asyncio.sleep(0.5)
        return await progress(*args, **kwargs)

    monkeypatch.setattr(dservices.flow, "progress", slow_progress)
    opened = await member.click(write)
    assert opened.callback_type == 9 and opened.latency < 0.5  # a modal, not a deferral
    (label,) = opened.modal["components"]
    assert "value" not in label["component"]  # opened empty rather than late
    monkeypatch.setattr(dservices.flow, "progress", progress)
    monkeypatch.setattr(answering, "MODAL_READ_BUDGET", 1.0)
    await asyncio.sleep(0.5)  # the slow read finishes on its own
    opened = await member.click(write)
    (label,) = opened.modal["components"]
    assert label["component"]["value"] == "First try"  # prefilled when the database answers


async def test_time_spent_before_the_handler_counts_against_three_seconds(fake, runtime, dservices,
                                                                          monkeypatch):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    submit = dservices.flow.submit

    async def slow_submit(*args, **kwargs):
        await asyncio.sleep(1.2)
        return await submit(*args, **kwargs)

    monkeypatch.setattr(dservices.flow, "submit", slow_submit)
    title = next(cid for cid in custom_ids(page, "stateof:pick:") if cid.endswith(":0"))
    # the click reaches the bot 2 s after Discord created it: only 1 s of the 3 is left
    record = await fake.send_interaction(fake.click(page, title, user=fake.member, values=["researcher"]),
                                         lag=2.0)
    await fake.wait_answered(record)
    assert record.callback_type == 6 and record.latency < 3  # deferred at once, not after 1.5 s
    assert record.rejected_callbacks == [] and record.edits
