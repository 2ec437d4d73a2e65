"""Members answer in their DM, one question at a time ("Answer in DMs") — the real slack_bolt
over HTTP with signed requests, against the fake Slack. Clicks carry a response_url bound to
the clicked message, so replacing it shows in `fake.messages` like in Slack.

The bot runs with a rate limiter scaled up 50× (chat.postMessage is paced at one per second
per channel, and every answer posts the next question into the same DM); pacing itself is
tested in test_transport and bench/."""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack.dm_render import (
    DM_CHOOSE,
    DM_SAVE,
    DM_SELECT,
    DM_SKIP,
    DM_START,
    DM_STOP,
    DM_WRITE,
    INPUT_PREFIX,
    WRITE_CALLBACK,
    DMField,
    Ref,
    WriteMeta,
    question_message,
    write_view,
)
from bot.slack.ratelimit import SlackRateLimiter
from surveys.flow import AnswerFlow, Progress
from surveys.models import Answer
from surveys.schema import Questionnaire
from tests.conftest import use_version_1
from tests.fakes.slack import (
    block_actions_body,
    state_checkboxes,
    state_multi_static_select,
    state_plain_text,
    state_radio_buttons,
    state_static_select,
    view_submission_body,
)
from tests.slack.conftest import serve
from tests.slack.kit import GENERAL, MEMBER, MODERATOR, SlackBot, answers, block_text, completed


@pytest.fixture(autouse=True)
def _questionnaire_version_1(sservices):
    """These tests follow version 1 of the built-in questionnaire (tests/conftest.py)."""
    use_version_1(sservices.catalog)

FOUR = ["prove_potential", "first_model", "deploy", "monitoring"]
SCALE = ["established", "looking", "not_relevant"]
ROWS = ["data_analysis", "experimentation", "feature_store", "code_repository", "ml_pipeline",
        "metadata_store", "model_registry", "model_serving", "model_monitoring"]
# What the member gives, by field (None: skipped). The same answers go through the modal.
PLAN: dict[str, Any] = {
    "title": "ml_engineer", "role": "models", "company_size": None, "ml_headcount": "2_10",
    "team_outlook": "grow", "focus": ["prove_potential", "deploy", "monitoring"],
    **{f"tooling.{row}": SCALE[i % 3] for i, row in enumerate(ROWS)},
    "industry": "retail", "region": "europe", "data_types": ["time_series", "text"],
    "biggest_challenge": "Getting <!channel> models into production",
}


@pytest.fixture
async def dbot(fake, sservices):
    runtime, runner, root = await serve(sservices, limiter=SlackRateLimiter(scale=50))
    started = SlackBot(fake, sservices, runtime, root + "/slack/events")
    try:
        yield started
    finally:
        await started.close()
        await runtime.stop()
        await runner.cleanup()


def elements(message: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) for every interactive element of a message."""
    return [(b, e) for b in message.get("blocks") or [] if b.get("type") == "actions"
            for e in b["elements"]]


def find(message: dict[str, Any], action: str, value: str | None = None) -> tuple[dict, dict]:
    for block, el in elements(message):
        if el["action_id"].split(":")[0] != action:
            continue
        given = str(el.get("value", ""))
        if value is None or given == value or ("|" in given and Ref.load(given).option == value):
            return block, el
    raise AssertionError(f"no {action} {value or ''} in {block_text(message.get('blocks', []))}")


def key_of(message: dict[str, Any]) -> str:
    """The field a question message asks."""
    for block, el in elements(message):
        if block.get("block_id", "").startswith(INPUT_PREFIX):
            return Ref.from_block(block["block_id"]).key
        if el["action_id"].split(":")[0] in (DM_CHOOSE, DM_SAVE, DM_SKIP, DM_WRITE):
            return Ref.load(el["value"]).key
    raise AssertionError("not a question message")


class DMMember:
    """A member clicking the elements of the bot's messages in their DM."""

    def __init__(self, bot: SlackBot, user: str = MEMBER):
        self.bot = bot
        self.fake = bot.fake
        self.user = user
        self.channel = bot.fake.dm_channel(user)

    def messages(self) -> list[dict[str, Any]]:
        return self.fake.messages_in(self.channel)

    def live(self) -> list[dict[str, Any]]:
        """Messages that still have buttons."""
        return [m for m in self.messages() if elements(m)]

    def body(self, message: dict[str, Any], action: str, value: str | None = None, *,
             selected: Any = None, state: dict[str, Any] | None = None,
             channel: str | None = None) -> tuple[bytes, str]:
        """A signed-ready click on `message`, and the name of its response_url."""
        block, el = find(message, action, value)
        channel = channel or message["channel"]
        url = self.fake.message_response_url(channel, message["ts"])
        plain = {k: v for k, v in message.items() if k not in ("channel", "params")}
        body = block_actions_body(
            el["action_id"], selected if selected is not None else el.get("value"),
            action_type=el["type"], block_id=block.get("block_id", "b"), user_id=self.user,
            channel_id=channel, message=plain, response_url=url, state_values=state)
        return body, url.rsplit("/", 1)[1]

    async def click(self, message: dict[str, Any], action: str, value: str | None = None, *,
                    posts: int = 1, **kw: Any) -> dict[str, Any]:
        """Click; wait for the message to be replaced and `posts` new DM messages."""
        before = len(self.messages())
        body, name = self.body(message, action, value, **kw)
        resp = await self.bot.post(body)
        assert resp.status == 200
        await self.fake.wait_for_response(name)
        await self.fake.wait_until(lambda: len(self.messages()) >= before + posts,
                                   what=f"{posts} new DM message(s)")
        return next(m for m in self.fake.messages if m["ts"] == message["ts"])

    async def start(self, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Press "Answer in DMs" (in the announcement by default); the posted question."""
        message = message or self.fake.messages_in(GENERAL)[0]
        before = len(self.messages())
        body, _name = self.body(message, DM_START)
        assert (await self.bot.post(body)).status == 200
        await self.fake.wait_until(lambda: len(self.messages()) > before, what="a DM question")
        return self.messages()[-1]

    async def answer(self, message: dict[str, Any], value: Any, *, posts: int = 1) -> dict[str, Any]:
        """Answer a question message with `value` the way its elements allow."""
        key = key_of(message)
        ref = Ref(int(find(message, DM_STOP)[1]["value"]), key)
        if value is None:
            return await self.click(message, DM_SKIP, posts=posts)
        kinds = {el["type"] for _b, el in elements(message)}
        if "static_select" in kinds:
            return await self.click(message, DM_SELECT, selected=value, posts=posts)
        if "checkboxes" in kinds or "multi_static_select" in kinds:
            entry = (state_checkboxes(value) if "checkboxes" in kinds
                     else state_multi_static_select(value))
            state = {INPUT_PREFIX + ref.dump(): {"stateof_dm_multi": entry}}
            return await self.click(message, DM_SAVE, state=state, posts=posts)
        if any(el["action_id"] == DM_WRITE for _b, el in elements(message)):
            return await self.write(message, value, posts=posts)
        return await self.click(message, DM_CHOOSE, value, posts=posts)

    async def write(self, message: dict[str, Any], text: str, *, posts: int = 1) -> dict[str, Any]:
        """"Write answer": the modal opens, the text is submitted, the message updated."""
        opened = len(self.fake.calls_to("views.open"))
        body, _name = self.body(message, DM_WRITE)
        assert (await self.bot.post(body)).status == 200
        view = (await self.fake.wait_for("views.open", opened + 1))[-1].response["view"]
        assert view["callback_id"] == WRITE_CALLBACK
        (block,) = view["blocks"]
        updates = len(self.fake.calls_to("chat.update"))
        before = len(self.messages())
        resp = await self.bot.post(view_submission_body(
            WRITE_CALLBACK, view["private_metadata"],
            {block["block_id"]: {block["element"]["action_id"]: state_plain_text(text)}},
            user_id=self.user, view_id=view["id"], blocks=view["blocks"]))
        assert resp.status == 200 and not resp.body, resp  # the modal closes
        await self.fake.wait_for("chat.update", updates + 1)
        await self.fake.wait_until(lambda: len(self.messages()) >= before + posts,
                                   what="the next DM message")
        return next(m for m in self.fake.messages if m["ts"] == message["ts"])


async def stored_by_respondent(services: Any) -> dict[int, dict[str, Any]]:
    async with services.db.session() as session:
        rows = (await session.execute(select(
            Answer.respondent_id, Answer.question_id, Answer.row_id, Answer.value))).all()
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    for respondent, qid, row, value in rows:
        out[respondent][f"{qid}.{row}" if row else qid] = value
    return dict(out)


def modal_entry(block: dict[str, Any]) -> Any:
    """The modal's state entry for PLAN's value of this field (None: left blank)."""
    value = PLAN[block["block_id"]]
    if value is None:
        return None
    return {"radio_buttons": state_radio_buttons, "static_select": state_static_select,
            "multi_static_select": state_multi_static_select, "checkboxes": state_checkboxes,
            "plain_text_input": state_plain_text}[block["element"]["type"]](value)


async def test_member_answers_the_whole_questionnaire_in_dms(dbot, fake, sservices):
    wave_id = await dbot.launch("2026")
    announcement = fake.messages_in(GENERAL)[0]
    take, in_dm = [el for _b, el in elements(announcement)]
    assert (take["action_id"], in_dm["action_id"]) == ("take_survey", DM_START)
    assert in_dm["value"] == str(wave_id) and in_dm["text"]["text"] == "Answer in DMs"
    assert "style" not in in_dm  # the secondary button

    member = DMMember(dbot)
    question = await member.start()
    # pressed in the channel: the member is told privately where the survey went
    await fake.wait_until(lambda: fake.ephemerals, what="the where-it-went note")
    assert "direct messages" in fake.ephemerals[-1]["text"]
    kinds: dict[str, set[str]] = {}
    asked: list[str] = []
    for _ in range(30):
        if "Thank you" in block_text(question["blocks"]):
            break
        key = key_of(question)
        asked.append(key)
        kinds[key] = {el["type"] for _b, el in elements(question)}
        has_skip = any(el["action_id"] == DM_SKIP for _b, el in elements(question))
        assert has_skip == (key not in ("title", "role")), key  # optional questions only
        assert any(el["action_id"] == DM_STOP for _b, el in elements(question))
        if key == "focus":  # four where three are allowed: the question again with the problem
            stored = await answers(sservices)
            again = await member.answer(question, FOUR, posts=0)
            assert "up to 3" in block_text(again["blocks"]) and elements(again)
            checkboxes = find(again, "stateof_dm_multi")[1]
            assert [o["value"] for o in checkboxes["initial_options"]] == FOUR
            assert await answers(sservices) == stored
            question = again
        done = await member.answer(question, PLAN[key])
        assert not elements(done), key  # answered: no buttons left
        question = member.messages()[-1]
    else:
        raise AssertionError("the questionnaire did not end")

    assert asked == list(PLAN)  # one question (one grid row) per message, in order
    assert "static_select" in kinds["title"] and "checkboxes" in kinds["focus"]
    assert kinds["role"] == {"button"} and "checkboxes" in kinds["data_types"]
    assert kinds["tooling.ml_pipeline"] == {"button"}
    answered = dict(zip(asked, member.messages(), strict=False))
    assert "Machine Learning Engineer" in block_text(answered["title"]["blocks"])
    assert "Skipped" in block_text(answered["company_size"]["blocks"])
    texts = [block_text(m["blocks"]) for m in member.messages()]
    assert any("<\u200b!channel> models" in t for t in texts)  # the text, defused, no ping
    review = find(question, "take_survey")[1]  # the thanks message opens the modal to review
    assert review["value"] == str(wave_id)
    assert await completed(sservices) == 1

    # The same answers through the modal store exactly the same rows.
    modal = dbot.member("UMODAL")
    await modal.take(wave_id)
    final = await modal.answer_all(modal_entry)
    assert "Thank you" in block_text(final["blocks"])
    by_respondent = await stored_by_respondent(sservices)
    in_dms, in_modal = by_respondent.values()
    assert in_dms == in_modal
    assert in_dms["focus"] == PLAN["focus"] and in_dms["company_size"] is None
    assert in_dms["biggest_challenge"] == PLAN["biggest_challenge"]
    assert await completed(sservices) == 2
    assert max(dbot.latencies) < 3


async def test_a_repeated_click_stores_once_and_posts_one_next_question(dbot, fake, sservices):
    await dbot.launch()
    member = DMMember(dbot)
    question = await member.start()
    stale = copy.deepcopy(question)  # a copy still showing the buttons
    body, name = member.body(question, DM_SELECT, selected="ml_engineer")
    twin, twin_name = member.body(question, DM_SELECT, selected="ml_engineer")  # a double click
    assert (await dbot.post(body)).status == 200
    assert (await dbot.post(body)).status == 200  # the same delivery again: dropped
    assert (await dbot.post(twin)).status == 200
    await fake.wait_for_response(twin_name)
    await fake.wait_until(lambda: len(member.messages()) == 2, what="the next question")
    await asyncio.sleep(0.3)  # room for a wrong second post
    assert len(member.messages()) == 2 and key_of(member.messages()[-1]) == "role"
    assert len(fake.responses[name]) == 1  # the replayed delivery did nothing
    async with sservices.db.session() as session:
        rows = (await session.execute(select(Answer.question_id, Answer.value))).all()
    assert rows == [("title", "ml_engineer")]

    # A stale copy of the answered question: the change is stored, nothing new is posted.
    await member.click(stale, DM_SELECT, selected="researcher", posts=0)
    await asyncio.sleep(0.3)
    assert len(member.messages()) == 2
    async with sservices.db.session() as session:
        assert (await session.execute(select(Answer.value))).scalars().all() == ["researcher"]

    # Two quick presses of "Answer in DMs" post the current question once.
    announcement = fake.messages_in(GENERAL)[0]
    first, _ = member.body(announcement, DM_START)
    second, _ = member.body(announcement, DM_START)
    await dbot.post(first)
    await dbot.post(second)
    await fake.wait_until(lambda: len(member.messages()) == 3, what="the question again")
    await asyncio.sleep(0.3)
    assert len(member.messages()) == 3 and key_of(member.messages()[-1]) == "role"


async def test_stop_and_resume(dbot, fake, sservices):
    await dbot.launch()
    member = DMMember(dbot)
    question = await member.start()
    await member.answer(question, "data_scientist")
    await member.answer(member.messages()[-1], "lead")
    question = member.messages()[-1]
    assert key_of(question) == "company_size"

    stopped = await member.click(question, DM_STOP, posts=0)
    assert "Stopped for now" in block_text(stopped["blocks"])
    assert await answers(sservices) == 2 and await completed(sservices) == 0

    # Resume from the stopped message: the next open question, nothing asked twice.
    resumed = await member.start(stopped)
    assert key_of(resumed) == "company_size" and "Welcome back" in block_text(resumed["blocks"])
    await member.answer(resumed, "51_200")
    await member.click(member.messages()[-1], DM_STOP, posts=0)

    # The reminder DM has the button too, and it continues where the member stopped.
    notes = len(fake.ephemerals)
    reply = await dbot.command("remind", user=MODERATOR)
    assert "Reminders sent: 3" in reply, reply  # the channel members who have not finished
    reminder = member.messages()[-1]
    assert {el["action_id"] for _b, el in elements(reminder)} == {"take_survey", DM_START}
    resumed = await member.start(reminder)
    assert key_of(resumed) == "ml_headcount"
    assert len(fake.ephemerals) == notes  # pressed in the DM: no "see your DMs" note

    # The App Home lists the wave with both buttons.
    await dbot.runtime.frontend.publish_home(fake.team_id, MEMBER)
    home = fake.home_views[MEMBER]
    assert [e["action_id"] for b in home["blocks"] if b["type"] == "actions"
            for e in b["elements"]] == ["take_survey", DM_START]


async def test_a_wave_closed_meanwhile_gives_a_clear_message(dbot, fake, sservices):
    await dbot.launch()
    member = DMMember(dbot)
    question = await member.start()
    assert "is closed" in await dbot.command("close", user=MODERATOR)
    before = len(member.messages())
    closed = await member.click(question, DM_SELECT, selected="ml_engineer", posts=0)
    text = block_text(closed["blocks"])
    assert "has closed" in text and "not accepted" in text and not elements(closed)
    assert await answers(sservices) == 0 and len(member.messages()) == before

    ephemerals = len(fake.ephemerals)
    body, _name = member.body(fake.messages_in(GENERAL)[0], DM_START)
    assert (await dbot.post(body)).status == 200
    await fake.wait_until(lambda: len(fake.ephemerals) > ephemerals, what="the closed note")
    assert "has closed" in fake.ephemerals[-1]["text"] and len(member.messages()) == before


def test_number_and_country_questions_are_written_and_long_lists_are_menus():
    qn = Questionnaire.model_validate({"id": "t", "title": "Test", "questions": [
        {"id": "age", "type": "number", "text": "How old?", "min": 18, "max": 99, "required": True},
        {"id": "where", "type": "country", "text": "Which country?"},
        {"id": "pick", "type": "single", "text": "Pick one",
         "options": [{"id": f"o{i}", "label": f"Option {i}"} for i in range(150)]}]})
    progress = Progress(7, qn)
    age = question_message("Test 1", progress, DMField(qn.question("age")))
    assert [el["action_id"] for _b, el in elements(age)] == [DM_WRITE, DM_STOP]  # required: no Skip
    assert "from 18 to 99" in block_text(age["blocks"])
    meta = WriteMeta(7, "T1", "age", "D1", "1.2")
    view = write_view("Test 1", DMField(qn.question("age")), 42, meta)
    (block,) = view["blocks"]
    assert block["element"]["type"] == "number_input" and block["element"]["initial_value"] == "42"
    assert block["element"]["min_value"] == "18" and WriteMeta.load(view["private_metadata"]) == meta

    where = question_message("Test 1", progress, DMField(qn.question("where")))
    assert [el["action_id"] for _b, el in elements(where)] == [DM_WRITE, DM_SKIP, DM_STOP]
    view = write_view("Test 1", DMField(qn.question("where")), "DE", meta)
    assert view["blocks"][0]["element"]["type"] == "plain_text_input"
    assert view["blocks"][0]["element"]["initial_value"] == "Germany"
    assert AnswerFlow.validate(qn, {"where": "de"}) == {"where": "DE"}  # name or ISO code
    assert AnswerFlow.validate(qn, {"where": "germany"}) == {"where": "DE"}

    pick = question_message("Test 1", progress, DMField(qn.question("pick")))
    (_block, select_el) = find(pick, DM_SELECT)
    groups = select_el["option_groups"]
    assert [len(g["options"]) for g in groups] == [100, 50]  # Slack's 100 per list
