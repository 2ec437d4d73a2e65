"""`/survey results QUESTION by QUESTION` over Bolt's HTTP mode: a cross-tab in the reply,
its heatmap uploaded, free text refused."""

from __future__ import annotations

from sqlalchemy import select

from surveys.identity import Member
from surveys.models import Wave
from tests.slack.kit import MODERATOR

SIZES = ["1_10", "1_10", "1000_plus", "1000_plus", "51_200"]
HEADCOUNTS = ["2_10", "11_30", "11_30", "11_30", "2_10"]


async def answered(services, wave_id: int, n: int = 40) -> None:
    """`n` members answer company size and ML team size (a pattern every group has ≥ 5 of)."""
    for i in range(n):
        await services.flow.submit(wave_id, Member("slack", "T", f"U{i}"), {
            "title": "researcher", "role": "models", "company_size": SIZES[i % 5],
            "ml_headcount": HEADCOUNTS[i % 5], "biggest_challenge": "secret words",
            "tooling.model_monitoring": "looking" if i % 5 < 3 else "established",
            "tooling.feature_store": "established" if i % 5 < 3 else "looking"}, finish=True)


async def test_results_by_gives_a_cross_tab_and_its_heatmap(bot, fake, sservices):
    wave_id = await bot.launch("2026")
    await answered(sservices, wave_id)
    text = await bot.command("results ml_headcount by company_size", user=MODERATOR)
    assert "ML team size by Company size (2026, share of each group's respondents):" in text
    assert "• More than 1,000 (n=16): Just me 0% (0–19%), 2-10 0% (0–19%), 11-30 100% (81–100%)" in text
    assert "• 51-200 (n=8): Just me 0% (0–32%), 2-10 100% (68–100%)" in text
    upload = fake.last_call("files.completeUploadExternal")
    assert "crosstab-ml_headcount-by-company_size" in str(upload)
    refused = await bot.command("results biggest_challenge by company_size", user=MODERATOR)
    assert "free text; its answers are never shown in chat" in refused
    assert "secret words" not in refused
    ranked = await bot.command("results rank tooling:looking/established", user=MODERATOR)
    assert "Tooling ranked by “Looking for a solution in the next 3 months” (2026):" in ranked
    assert "1. Model monitoring 60% (45–74%), 1.5× (" in ranked
    assert "2. Feature store 40% (26–55%), 0.7× (" in ranked
    assert "rank-tooling-looking-vs-established" in str(fake.last_call("files.completeUploadExternal"))
    wrong = await bot.command("results rank tooling:maybe", user=MODERATOR)
    assert "'maybe' is not a point of 'Tooling'" in wrong
    needs_question = await bot.command("results by company_size", user=MODERATOR)
    assert "name the question to cross-tab" in needs_question
    async with sservices.db.session() as session:
        assert (await session.execute(select(Wave.id))).scalar_one() == wave_id
