"""One community on Slack and Discord: one wave, one dataset, one summary."""

from __future__ import annotations

from bot.commands import Commands, Invocation
from surveys.identity import Member
from tests.discord.kit import DiscordMember, texts
from tests.discord.test_answering import launch

SLACK_ANSWERS = {
    "title": "ml_engineer", "role": "infra", "company_size": "51_200", "ml_headcount": "2_10",
    "team_outlook": "grow", "focus": ["deploy", "monitoring"],
    "tooling": {"data_analysis": "established", "experimentation": "looking", "feature_store": "looking",
                "code_repository": "established", "ml_pipeline": "looking", "metadata_store": "not_relevant",
                "model_registry": "looking", "model_serving": "established", "model_monitoring": "looking"},
    "industry": "technology", "region": "europe", "data_types": ["text"], "biggest_challenge": "",
}


async def test_slack_and_discord_members_sum_to_one_summary(fake, runtime, dservices):
    announcement = await launch(fake)
    # The Slack team and the Discord guild both join the default community on first sight.
    slack = await dservices.community_for("slack", "T_SLACK")
    discord_side = await dservices.community_for("discord", str(fake.guild_id))
    assert slack.id == discord_side.id
    wave_id = 1
    for i in range(3):  # Slack members answer through the same flow the Slack adapter uses
        member = Member("slack", "T_SLACK", f"U{i}")
        await dservices.flow.start(wave_id, member)
        result = await dservices.flow.submit(wave_id, member, SLACK_ANSWERS, finish=True)
        assert result.progress.completed
    for name in ("ada", "bo", "cy"):
        member = DiscordMember(fake, fake.add_member(fake.guild_id, name))
        await member.take(announcement)
        await member.answer_all()
    mod = DiscordMember(fake, fake.moderator)
    assert "Respondents: 6 (completed: 6)" in texts(await mod.command("status"))
    slack_status = await Commands(dservices).run(
        Invocation("slack", "T_SLACK", "C1", "UADMIN", True, "status"))
    assert "Respondents: 6 (completed: 6)" in slack_status.text  # the same numbers on Slack
    await mod.command("close")
    summary = fake.channel_messages(fake.general)[-1]
    assert "has closed" in texts(summary)
    assert summary["attachments"][0]["filename"].endswith(".png")

    from analytics.service import build_summary

    built = await build_summary(dservices.db, community_id=slack.id, survey_id="state-of-mlops",
                                wave="2026", compare=[], min_group_size=5)
    data = built if isinstance(built, dict) else built.to_dict()
    assert data["respondents"]["2026"] == 6
