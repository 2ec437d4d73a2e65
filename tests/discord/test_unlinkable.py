"""Issue 9 on Discord (no Members intent: every respondent reaches the ledger by starting):
after members answer at once, SQL alone cannot pair ledger rows with responses, neither
right after the run nor once the ledger's daily batch was applied (tests/linkage.py)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from sqlalchemy import select

from surveys.identity import Member, pseudonym
from surveys.models import Participation, Respondent, Wave, utcnow
from tests.discord.kit import DiscordMember, texts
from tests.linkage import attack

MEMBERS = 30  # ~30 interactions each: 900 through one gateway on a shared CI machine


async def test_ledger_and_responses_cannot_be_paired_after_a_concurrent_run(fake, runtime, dservices):
    mod = DiscordMember(fake, fake.moderator)
    reply = await mod.command("launch", {"survey": "state-of-mlops", "wave": "2026", "channel": fake.general})
    assert "is open" in texts(reply), texts(reply)
    announcement = fake.channel_messages(fake.general)[-1]
    users = [fake.add_member(fake.guild_id, f"member{i}") for i in range(MEMBERS)]
    random.Random(5).shuffle(users)

    active, most = 0, 0

    async def one(i: int, user: int) -> None:
        nonlocal active, most
        # arrivals in groups of 6 every 0.3 s: a group's members start in the same instant, so
        # at least 6 answer at once however fast one member finishes (a concurrent run)
        await asyncio.sleep((i // 6) * 0.3)
        active += 1
        most = max(most, active)
        member = DiscordMember(fake, user, timeout=60)
        await member.take(announcement)
        thanks = await member.answer_all()
        active -= 1
        assert "Thank you" in texts(thanks), texts(thanks)

    await asyncio.gather(*(one(i, u) for i, u in enumerate(users)))
    assert most >= 5, most  # a concurrent run: many members answering at the same time
    async with dservices.db.session() as session:
        names = dict((await session.execute(select(Respondent.pseudonym, Respondent.id))).all())
        wave_id = (await session.execute(select(Wave.id).where(Wave.label == "2026"))).scalar_one()
    guild = str(fake.guild_id)
    truth = {str(u): names[pseudonym(dservices.secret, Member("discord", guild, str(u)))] for u in users}

    right_after = await attack(dservices.db, wave_id, truth)
    assert right_after.matched < right_after.threshold, right_after

    ledger = getattr(dservices.flow, "ledger", None)
    if ledger is not None:  # the next day's batch puts the starters on the ledger, shuffled
        await ledger.flush(dservices.db, today=utcnow() + timedelta(days=1))
        async with dservices.db.session() as session:
            rows = (await session.execute(select(Participation.user_id, Participation.completed,
                                                 Participation.invited))).all()
        assert {u for u, done, invited in rows if done and not invited} == set(truth)
    next_day = await attack(dservices.db, wave_id, truth)
    assert next_day.pairs == MEMBERS
    assert next_day.matched < next_day.threshold, next_day
