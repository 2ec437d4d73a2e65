"""A member answers the whole questionnaire through the real discord.py and the fake Discord."""

from __future__ import annotations

from sqlalchemy import func, select

from surveys.identity import Member
from surveys.models import Answer, Response
from tests.discord.kit import DiscordMember, custom_ids, texts
from tests.fakes.discord import iter_components


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



def mlops_chooser(picked: dict[str, list[str]]):
    """Choose three focus areas (the most the select allows), two data types, else the first."""
    def choose(select: dict) -> list[str]:
        values = [o["value"] for o in select["options"]]
        top = int(select.get("max_values") or 1)
        if top == 3:  # focus: "up to 3"
            chosen = values[1:4]
        elif top > 1:  # data_types: any number
            chosen = values[:2]
        else:
            chosen = values[-1:] if "established" in values else values[:1]
        picked[select["custom_id"]] = chosen
        return chosen
    return choose


async def test_full_questionnaire_with_grid_and_up_to_three(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    await member.take(announcement)
    picked: dict[str, list[str]] = {}
    pages_seen = []
    answer_page = member.answer_page

    async def tracking(choose, text="Getting data"):
        pages_seen.append([c for c in iter_components(member.refresh()["components"]) if c["type"] == 3])
        await answer_page(choose, text)

    member.answer_page = tracking  # type: ignore[method-assign]
    thanks = await member.answer_all(mlops_chooser(picked), text="Data quality")
    assert "Thank you" in texts(thanks)
    # every select fits Discord: at most 25 options, at most five fields per page
    for selects in pages_seen:
        assert len(selects) <= 5
        assert all(len(s["options"]) <= 25 and s.get("max_values", 1) <= len(s["options"]) for s in selects)
    # the grid is one select per row, over two pages (5 + 4 rows), each offering the scale
    grid = [s for selects in pages_seen for s in selects
            if [o["value"] for o in s["options"]] == ["established", "looking", "not_relevant"]]
    assert len(grid) == 9
    focus = [s for selects in pages_seen for s in selects if s.get("max_values") == 3]
    assert len(focus) == 1 and focus[0]["min_values"] == 0
    me = Member("discord", str(fake.guild_id), str(fake.member))
    progress = await dservices.flow.progress(1, me)
    assert progress.completed
    assert progress.value("focus") == ["first_model", "deploy", "monitoring"]
    assert progress.value("data_types") == ["relational", "time_series"]
    assert progress.by_question()["tooling"] == {row: "not_relevant" for row in (
        "data_analysis", "experimentation", "feature_store", "code_repository", "ml_pipeline",
        "metadata_store", "model_registry", "model_serving", "model_monitoring")}
    assert progress.value("biggest_challenge") == "Data quality"
    # the modal was a Label wrapping a paragraph text input
    modal = next(r.modal for r in member.records if r.modal)
    (label,) = modal["components"]
    assert label["type"] == 18 and label["component"]["type"] == 4 and label["component"]["style"] == 2
    assert all(r.latency is not None and r.latency < 3 for r in member.records)


async def test_more_than_max_choices_is_refused_and_not_saved(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    page = await member.take(announcement)
    while not any(c.get("max_values") == 3 for c in iter_components(page["components"])):
        await member.answer_page()
        (forward,) = [c for c in custom_ids(member.refresh(), "stateof:nav:") if c.endswith(":n")]
        await member.click(forward)
        page = member.refresh()
    focus = next(c for c in iter_components(page["components"]) if c.get("max_values") == 3)
    four = [o["value"] for o in focus["options"]][:4]  # a modified client could send four
    await member.click(focus["custom_id"], four)
    assert "up to 3" in texts(member.page).lower() or "at most 3" in texts(member.page).lower()
    progress = await dservices.flow.progress(1, Member("discord", str(fake.guild_id), str(fake.member)))
    assert not progress.has("focus")


async def test_stop_and_resume_later(fake, runtime, dservices):
    announcement = await launch(fake)
    member = DiscordMember(fake, fake.member)
    first = await member.take(announcement)
    assert "Page 1 of" in texts(first) and "Welcome back" not in texts(first)
    await member.answer_page()
    (forward,) = [c for c in custom_ids(member.refresh(), "stateof:nav:") if c.endswith(":n")]
    await member.click(forward)
    assert "Page 2 of" in texts(member.page)
    # the member walks away; later, "Take the survey" again opens a new private page
    later = DiscordMember(fake, fake.member)
    resumed = await later.take(announcement)
    assert resumed["id"] != first["id"] and resumed["flags"] & 64
    assert "Welcome back" in texts(resumed) and "Page 2 of" in texts(resumed)
    # Back shows the first page with the earlier answers selected
    (back,) = [c for c in custom_ids(resumed, "stateof:nav:") if c.endswith(":b")]
    await later.click(back)
    assert "Page 1 of" in texts(later.page)
    chosen = [o["value"] for c in iter_components(later.page["components"]) if c["type"] == 3
              for o in c["options"] if o.get("default")]
    assert chosen[:2] == ["data_scientist", "models_and_infra"]
    thanks = await later.answer_all()
    assert "Thank you" in texts(thanks)
    me = Member("discord", str(fake.guild_id), str(fake.member))
    assert (await dservices.flow.progress(1, me)).completed
    async with dservices.db.session() as session:
        responses = (await session.execute(select(func.count()).select_from(Response))).scalar_one()
    assert responses == 1  # one response, resumed, not a second one
    again = await DiscordMember(fake, fake.member).take(announcement)
    assert "You have completed this survey" in texts(again)
