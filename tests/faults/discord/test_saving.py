"""Discord picks deferred while the database fails over are saved, or shown again unsaved
(issue 10, item 1 on Discord; "Discord with the database down").

Before: the deferred pick failed with "Your answers so far are saved; please try again"
while the pick itself was lost.
"""

from __future__ import annotations

import asyncio

from bot.saving import SavePolicy
from surveys.models import Answer
from tests.discord.kit import DiscordMember, component, custom_ids, texts
from tests.discord.test_answering import launch
from tests.faults.outage import Outage
from tests.slack.kit import count

MEMBERS = 6


async def _first_pick(member: DiscordMember) -> tuple[str, list[str]]:
    cid = next(c for c in custom_ids(member.refresh(), "stateof:pick:"))
    select = component(member.page, cid)
    return cid, [select["options"][0]["value"]]


async def test_picks_deferred_through_a_failover_are_all_saved(fake, runtime, dservices):
    announcement = await launch(fake)
    members = [DiscordMember(fake, fake.add_member(fake.guild_id, f"saver{i}"), timeout=30)
               for i in range(MEMBERS)]
    for m in members:
        await m.take(announcement)
    picks = [await _first_pick(m) for m in members]
    outage = Outage(dservices.db)
    try:
        outage.begin(hang=2.6, down=1.0)
        records = await asyncio.gather(*(m.click(cid, values) for m, (cid, values) in zip(members, picks,
                                                                                          strict=True)))
    finally:
        outage.restore()
    assert outage.failed >= MEMBERS
    assert all(r.latency is not None and r.latency < 3 for r in records)  # deferred in time
    for m in members:
        assert "could not save" not in texts(m.page) and "went wrong" not in texts(m.page), texts(m.page)
    assert await count(dservices, Answer) == MEMBERS  # every pick, once


async def test_database_down_past_the_deadline_shows_the_pick_unsaved(fake, runtime, dservices):
    runtime.client.stateof.answers.save_policy = SavePolicy(deadline=2.5, attempt_timeout=1.0,
                                                            first_delay=0.2)
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member, timeout=20)
    await member.take(announcement)
    cid, values = await _first_pick(member)
    outage = Outage(dservices.db)
    try:
        outage.begin(down=60)
        await member.click(cid, values)
    finally:
        outage.restore()
    shown = texts(member.page)
    assert "could not save your answer" in shown
    picked = component(member.page, cid)
    assert [o["value"] for o in picked["options"] if o.get("default")] == values  # still shown
    assert await count(dservices, Answer) == 0
    await member.click(cid, values)  # the database is back: the same pick saves
    assert await count(dservices, Answer) == 1


async def test_database_down_every_interaction_gets_a_clear_answer_in_time(fake, runtime, dservices):
    announcement = await launch(fake)
    outage = Outage(dservices.db)
    try:
        outage.begin(hang=2.0, down=60)  # hangs past the deferral, then refuses
        member = DiscordMember(fake, fake.member, timeout=20)
        page = await member.take(announcement)
        status = await DiscordMember(fake, fake.moderator, timeout=20).command("status")
    finally:
        outage.restore()
    assert "went wrong on our side" in texts(page)
    assert "went wrong on our side" in texts(status) or "try again" in texts(status)
    assert all(r.latency is not None and r.latency < 3 for r in member.records)  # deferred in time
    assert await count(dservices, Answer) == 0
    assert "Page 1 of" in texts(await member.take(announcement))  # back once the database is
