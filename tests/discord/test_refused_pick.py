"""A refused pick shows the stored answer again: a select never holds more defaults than it allows."""

from __future__ import annotations

from tests.discord.kit import DiscordMember, custom_ids, texts
from tests.discord.test_answering import launch
from tests.fakes.discord import iter_components


async def test_four_of_up_to_three_comes_back_with_the_stored_choice(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    while not any(c.get("max_values") == 3 for c in iter_components(page["components"])):
        await member.answer_page()
        (forward,) = [c for c in custom_ids(member.refresh(), "stateof:nav:") if c.endswith(":n")]
        await member.click(forward)
        page = member.refresh()
    focus = next(c for c in iter_components(page["components"]) if c.get("max_values") == 3)
    options = [o["value"] for o in focus["options"]]
    await member.click(focus["custom_id"], options[:1])  # stored: one choice
    await member.click(focus["custom_id"], options[:4])  # a modified client sends four
    assert "up to 3" in texts(member.page).lower()
    shown = next(c for c in iter_components(member.page["components"]) if c.get("max_values") == 3)
    assert [o["value"] for o in shown["options"] if o.get("default")] == options[:1]
