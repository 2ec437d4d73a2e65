"""`/survey results question: by:` through discord.py and the fake Discord: the cross-tab."""

from __future__ import annotations

from sqlalchemy import select

from surveys.models import Wave
from tests.discord.kit import DiscordMember, texts
from tests.discord.test_answering import launch
from tests.slack.test_results_analyses import answered


async def test_results_by_gives_a_cross_tab_and_its_heatmap(fake, runtime, dservices):
    await launch(fake)
    async with dservices.db.session() as session:
        wave_id = (await session.execute(select(Wave.id))).scalar_one()
    await answered(dservices, wave_id)
    mod = DiscordMember(fake, fake.moderator)
    results = await mod.command("results", {"question": "ml_headcount", "by": "company_size"})
    line = "• More than 1,000 (n=16): Just me 0% (0–19%), 2-10 0% (0–19%), 11-30 100% (81–100%)"
    assert line in texts(results)
    (chart,) = results["attachments"]
    assert chart["filename"] == "crosstab-ml_headcount-by-company_size.png"
    assert fake.attachment_data(chart).startswith(b"\x89PNG")
