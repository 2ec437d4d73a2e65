"""Members answer in modals: button → pages → thanks, errors on the field, stop and resume,
replays stored once — the real slack_bolt over HTTP against the fake Slack."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from surveys.identity import Member
from surveys.models import Answer
from tests.conftest import use_version_1
from tests.fakes.slack import (
    PNG_MAGIC,
    app_home_opened_event,
    block_actions_body,
    event_body,
    state_multi_static_select,
    state_radio_buttons,
)
from tests.slack.kit import (
    GENERAL,
    MEMBER,
    MODERATOR,
    TEAM,
    answers,
    block_text,
    completed,
    fill,
    first_choice,
    input_blocks,
)


@pytest.fixture(autouse=True)
def _questionnaire_version_1(sservices):
    """These tests follow version 1 of the built-in questionnaire (tests/conftest.py)."""
    use_version_1(sservices.catalog)


async def test_member_answers_the_whole_questionnaire(bot, fake, sservices):
    wave_id = await bot.launch("2026")
    member = bot.member()
    view = await member.take(wave_id)
    assert view["title"]["text"] == "State of MLOps 2026" and view["submit"]["text"] == "Next"
    kinds: dict[str, str] = {}

    def choose(block):
        kinds[block["block_id"]] = block["element"]["type"]
        return first_choice(block)

    final = await member.answer_all(choose)
    assert "Thank you" in block_text(final["blocks"]) and not final.get("submit")
    assert kinds["title"] == "radio_buttons" and kinds["focus"] == "multi_static_select"
    assert kinds["tooling.ml_pipeline"] == "static_select" and kinds["data_types"] == "checkboxes"
    assert kinds["biggest_challenge"] == "plain_text_input"
    assert sum(1 for k in kinds if k.startswith("tooling.")) == 9  # one select per grid row
    assert await completed(sservices) == 1
    async with sservices.db.session() as session:
        rows = (await session.execute(select(Answer.question_id, Answer.row_id, Answer.value))).all()
    stored = {(q, r): v for q, r, v in rows}
    assert stored[("title", "")] == "data_scientist" and stored[("focus", "")] == ["prove_potential"]
    assert len([k for k in stored if k[0] == "tooling"]) == 9
    assert stored[("biggest_challenge", "")] == "Getting models into production"
    assert max(bot.latencies) < 3

    status = await bot.command("status", user=MODERATOR)
    assert "Respondents: 1 (completed: 1)" in status

    # Five more respondents (the flow the adapters share), so the summary is not suppressed.
    for i in range(5):
        other = Member("slack", TEAM, f"UOTHER{i}")
        await sservices.flow.start(wave_id, other)
        await sservices.flow.submit(wave_id, other, {"title": "ml_engineer", "role": "models",
                                                      "focus": ["deploy", "monitoring"]})
    assert "is closed" in await bot.command("close", user=MODERATOR)
    assert "has closed" in block_text(fake.messages_in(GENERAL)[-1]["blocks"])
    pngs = [f for f in fake.files.values() if (f["content"] or b"").startswith(PNG_MAGIC)]
    assert pngs and GENERAL in pngs[-1]["channels"]


async def test_more_than_three_focus_choices_is_an_error_on_the_field(bot, fake, sservices):
    wave_id = await bot.launch()
    member = bot.member()
    await member.take(wave_id)
    await member.submit()
    assert "focus" in member.page_keys()
    focus = next(b for b in input_blocks(member.view) if b["block_id"] == "focus")
    assert focus["element"]["max_selected_items"] == 3 and "up to 3" in focus["hint"]["text"]
    stored_before = await answers(sservices)
    four = ["prove_potential", "first_model", "deploy", "monitoring"]
    resp = await member.submit(fill(member.view, overrides={"focus": state_multi_static_select(four)}))
    assert resp.body["response_action"] == "errors"
    assert set(resp.body["errors"]) == {"focus"} and "up to 3" in resp.body["errors"]["focus"]
    assert await answers(sservices) == stored_before  # nothing on the page was stored
    ok = await member.submit(fill(member.view, overrides={"focus": state_multi_static_select(four[:3])}))
    assert ok.body["response_action"] == "update" and "focus" not in member.page_keys()


async def test_stop_and_resume(bot, fake, sservices):
    wave_id = await bot.launch()
    member = bot.member()
    await member.take(wave_id)
    await member.submit()  # page 1 saved
    assert member.page_keys()[:2] == ["team_outlook", "focus"]
    await member.close({"team_outlook": {"value": state_radio_buttons("shrink")}})  # focus left blank

    view = await member.take(wave_id)  # comes back later
    assert "Welcome back" in block_text(view["blocks"])
    assert member.page_keys()[:2] == ["team_outlook", "focus"]
    outlook = input_blocks(view)[0]["element"]
    assert outlook["initial_option"]["value"] == "shrink"  # what was filled in before closing
    earlier = await member.back()
    assert [b["block_id"] for b in input_blocks(earlier)][0] == "title"
    assert input_blocks(earlier)[0]["element"]["initial_option"]["value"] == "data_scientist"
    final = await member.answer_all()
    assert "Thank you" in block_text(final["blocks"])
    assert await completed(sservices) == 1


async def test_replayed_submission_and_double_click_store_once(bot, fake, sservices):
    wave_id = await bot.launch()
    member = bot.member()
    await member.take(wave_id)
    body = member.submission(fill(member.view))
    first = await bot.post(body)
    async with sservices.db.session() as session:
        before = (await session.execute(select(Answer.id, Answer.answered_at))).all()
    again = await bot.post(body)  # Slack (or a proxy) delivers the same submission twice
    assert again.status == 200 and again.body == first.body
    async with sservices.db.session() as session:
        after = (await session.execute(select(Answer.id, Answer.answered_at))).all()
    assert sorted(after) == sorted(before) and len(before) == 4

    opened = len(fake.calls_to("views.open"))
    click = block_actions_body("take_survey", str(wave_id), user_id="UFAST")
    await bot.post(click)
    await bot.post(click)  # the same delivery again
    await bot.post(block_actions_body("take_survey", str(wave_id), user_id="UFAST"))  # a double click
    await fake.wait_for("views.open", opened + 1)
    assert len(fake.calls_to("views.open")) == opened + 1


async def test_events_api_retry_is_handled_once_and_app_home_lists_waves(bot, fake, sservices):
    wave_id = await bot.launch()
    body = event_body(app_home_opened_event(MEMBER), event_id="Ev0001")
    assert (await bot.post(body)).status == 200
    await fake.wait_for("views.publish")
    retry = await bot.post(body, retry_num=1, retry_reason="http_timeout")
    assert retry.status == 200
    await bot.post(event_body(app_home_opened_event("UOTHER"), event_id="Ev0002"))
    await fake.wait_for("views.publish", 2)
    publishes = fake.calls_to("views.publish")
    assert [c.params["user_id"] for c in publishes] == [MEMBER, "UOTHER"]
    home = fake.home_views[MEMBER]
    assert "State of MLOps 2026" in block_text(home["blocks"])
    buttons = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["action_id"] == "take_survey" and buttons[0]["value"] == str(wave_id)
