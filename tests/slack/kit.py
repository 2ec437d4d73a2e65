"""Driving the bot like Slack and its members: signed HTTP requests, modals filled in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from surveys.models import Answer, Response, Wave
from tests.fakes.slack import (
    SlackHTTPClient,
    SlackHTTPResponse,
    block_actions_body,
    slash_command_body,
    state_checkboxes,
    state_multi_static_select,
    state_plain_text,
    state_radio_buttons,
    state_static_select,
    view_closed_body,
    view_submission_body,
)

SECRET = "test-signing-secret"
MODERATOR = "UMOD"
MEMBER = "UMEMBER"
GENERAL = "CGENERAL"
TEAM = "T0TEAM"

Chooser = Callable[[dict[str, Any]], Any]  # input block → state entry (None: leave blank)


def block_text(blocks: list[dict[str, Any]]) -> str:
    """All text a member sees in blocks."""
    parts: list[str] = []
    for block in blocks or []:
        for key in ("text", "label", "hint"):
            obj = block.get(key)
            if isinstance(obj, dict):
                parts.append(obj.get("text", ""))
        for f in block.get("fields") or []:
            parts.append(f.get("text", ""))
        for el in block.get("elements") or []:
            if isinstance(el, dict) and isinstance(el.get("text"), str):
                parts.append(el["text"])
            elif isinstance(el, dict) and isinstance(el.get("text"), dict):
                parts.append(el["text"].get("text", ""))
    return "\n".join(p for p in parts if p)


def reply_text(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    return "\n".join([payload.get("text", ""), block_text(payload.get("blocks", []))])


def options_of(element: dict[str, Any]) -> list[str]:
    if element.get("options"):
        return [o["value"] for o in element["options"]]
    return [o["value"] for g in element.get("option_groups", []) for o in g["options"]]


def first_choice(block: dict[str, Any]) -> Any:
    """Answer an input block with its first option (or a plausible value)."""
    el = block["element"]
    kind = el["type"]
    if kind == "radio_buttons":
        return state_radio_buttons(options_of(el)[0])
    if kind == "static_select":
        return state_static_select(options_of(el)[0])
    if kind == "multi_static_select":
        return state_multi_static_select(options_of(el)[:1])
    if kind == "checkboxes":
        return state_checkboxes(options_of(el)[:1])
    if kind == "number_input":
        return {"type": "number_input", "value": str(el.get("min_value") or 3)}
    return state_plain_text("Getting models into production")


def input_blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in view.get("blocks", []) if b.get("type") == "input"]


def fill(view: dict[str, Any], choose: Chooser = first_choice,
         overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """`state.values` for every input block of a view."""
    values: dict[str, Any] = {}
    for block in input_blocks(view):
        entry = (overrides or {}).get(block["block_id"], choose(block))
        if entry is not None:
            values[block["block_id"]] = {block["element"]["action_id"]: entry}
    return values


class SlackBot:
    """The running app behind a signed HTTP client; records every ack's latency."""

    def __init__(self, fake: Any, services: Any, runtime: Any, url: str):
        self.fake = fake
        self.services = services
        self.runtime = runtime
        self.url = url
        self.http = SlackHTTPClient(url, SECRET)
        self.latencies: list[float] = []
        self._responses = 0

    async def close(self) -> None:
        await self.http.close()

    async def post(self, body: bytes, **kw: Any) -> SlackHTTPResponse:
        started = time.perf_counter()
        resp = await self.http.post(body, **kw)
        self.latencies.append(time.perf_counter() - started)
        return resp

    async def command(self, text: str, *, user: str = MEMBER, channel: str = GENERAL) -> str:
        """Run `/survey text`; returns what the user finally sees (ack or response_url)."""
        self._responses += 1
        name = f"cmd{self._responses}"
        resp = await self.post(slash_command_body(
            "/survey", text, user_id=user, channel_id=channel, response_url=self.fake.response_url(name)))
        assert resp.status == 200, resp
        self.last_ack = resp.body
        if "Working on it" in reply_text(resp.body):
            (payload,) = await self.fake.wait_for_response(name, timeout=15)
            self.last_reply = payload
            return reply_text(payload)
        self.last_reply = resp.body
        return reply_text(resp.body)

    async def launch(self, label: str = "2026", channel: str = GENERAL) -> int:
        if channel not in self.fake.channels:
            self.fake.set_members(channel, [MODERATOR, MEMBER, "UOTHER"])
        text = await self.command(f"launch state-of-mlops {label} <#{channel}|general>", user=MODERATOR)
        assert "is open and announced" in text, text
        async with self.services.db.session() as session:
            return (await session.execute(select(Wave.id).where(Wave.label == label))).scalar_one()

    def member(self, user: str = MEMBER) -> SlackMember:
        return SlackMember(self, user)


class SlackMember:
    """One member clicking buttons and submitting modal pages."""

    def __init__(self, bot: SlackBot, user: str):
        self.bot = bot
        self.fake = bot.fake
        self.user = user
        self.view: dict[str, Any] | None = None

    async def take(self, wave_id: int) -> dict[str, Any]:
        before = len(self.fake.calls_to("views.open"))
        resp = await self.bot.post(block_actions_body("take_survey", str(wave_id), user_id=self.user))
        assert resp.status == 200
        calls = await self.fake.wait_for("views.open", before + 1)
        self.view = calls[-1].response["view"]
        updates = self.fake.calls_to("views.update")
        if "loading" in block_text(self.view["blocks"]):  # slow start: updated afterwards
            await self.fake.wait_for("views.update", len(updates) + 1)
            self.view = self.fake.views[self.view["id"]]
        return self.view

    def submission(self, values: dict[str, Any]) -> bytes:
        assert self.view is not None
        return view_submission_body(
            self.view["callback_id"], self.view["private_metadata"], values, user_id=self.user,
            view_id=self.view["id"], blocks=self.view["blocks"])

    async def submit(self, values: dict[str, Any] | None = None, *,
                     choose: Chooser = first_choice) -> SlackHTTPResponse:
        """Submit the current page; follows `response_action: update` to the next view."""
        assert self.view is not None
        resp = await self.bot.post(self.submission(fill(self.view, choose) if values is None else values))
        assert resp.status == 200, resp
        body = resp.body
        if isinstance(body, dict) and body.get("response_action") == "update":
            view_id = self.view["id"]
            self.view = {**body["view"], "id": view_id}
        return resp

    async def back(self) -> dict[str, Any]:
        assert self.view is not None
        before = len(self.fake.calls_to("views.update"))
        resp = await self.bot.post(block_actions_body(
            "stateof_back", "1", user_id=self.user, view=self.view,
            state_values=fill(self.view, lambda b: None)))
        assert resp.status == 200
        call = (await self.fake.wait_for("views.update", before + 1))[-1]
        self.view = call.response["view"]
        return self.view

    async def close(self, values: dict[str, Any]) -> None:
        assert self.view is not None
        resp = await self.bot.post(view_closed_body(
            self.view["callback_id"], self.view["private_metadata"], values, user_id=self.user,
            view_id=self.view["id"]))
        assert resp.status == 200

    def page_keys(self) -> list[str]:
        assert self.view is not None
        return [b["block_id"] for b in input_blocks(self.view)]

    async def answer_all(self, choose: Chooser = first_choice, max_pages: int = 20) -> dict[str, Any]:
        """Submit page after page until the view has no submit button (the thanks page)."""
        for _ in range(max_pages):
            assert self.view is not None
            if not self.view.get("submit"):
                return self.view
            resp = await self.submit(choose=choose)
            assert isinstance(resp.body, dict) and resp.body.get("response_action") == "update", resp
        raise AssertionError("the questionnaire did not end")


async def count(services: Any, model: Any, *where: Any) -> int:
    async with services.db.session() as session:
        stmt = select(func.count()).select_from(model)
        for clause in where:
            stmt = stmt.where(clause)
        return (await session.execute(stmt)).scalar_one()


async def answers(services: Any) -> int:
    return await count(services, Answer)


async def completed(services: Any) -> int:
    return await count(services, Response, Response.completed_at.is_not(None))
