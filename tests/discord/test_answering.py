"""A member answers the whole questionnaire through the real discord.py and the fake Discord."""

from __future__ import annotations

from sqlalchemy import func, select

from surveys.identity import Member
from surveys.models import Answer, Response
from tests.discord.kit import DiscordMember, custom_ids, texts


async def launch(fake, label: str = "2026") -> dict:
    mod = DiscordMember(fake, fake.moderator)
    reply = await mod.command("launch", {"survey": "state-of-mlops", "wave": label, "channel": fake.general})
    assert "is open" in texts(reply), texts(reply)
    return fake.channel_messages(fake.general)[-1]


async def test_member_answers_whole_questionnaire(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    assert page["flags"] & 64  # ephemeral
    assert "Page 1 of" in texts(page)
    thanks = await member.answer_all()
    assert "Thank you" in texts(thanks), texts(thanks)
    assert all(r.latency is not None and r.latency < 3 for r in member.records)
    async with dservices.db.session() as session:
        done = (await session.execute(select(func.count()).select_from(Response)
                                      .where(Response.completed_at.is_not(None)))).scalar_one()
        answers = (await session.execute(select(func.count()).select_from(Answer))).scalar_one()
    assert done == 1
    progress = await dservices.flow.progress(1, Member("discord", str(fake.guild_id), str(fake.member)))
    assert progress.completed
    assert progress.value("title") == "data_scientist"
    assert progress.value("biggest_challenge") == "Getting data"
    assert progress.value("tooling", "model_monitoring") == "established"
    assert answers >= 15
    assert custom_ids(thanks, "stateof:nav:")

