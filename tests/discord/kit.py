"""Driving the bot like a Discord member: answer pages through selects, buttons and modals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.discord import FakeDiscord, InteractionRecord, iter_components

Chooser = Callable[[dict[str, Any]], list[str]]


def custom_ids(message: dict[str, Any], prefix: str = "") -> list[str]:
    return [c["custom_id"] for c in iter_components(message.get("components"))
            if c.get("custom_id", "").startswith(prefix)]


def component(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    return next(c for c in iter_components(message.get("components")) if c.get("custom_id") == custom_id)


def texts(message: dict[str, Any]) -> str:
    """All text a member sees: content, embeds and text displays."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    parts += [c["content"] for c in iter_components(message.get("components")) if c.get("type") == 10]
    return "\n".join(p for p in parts if p)


def first_option(select: dict[str, Any]) -> list[str]:
    return [select["options"][0]["value"]]


class DiscordMember:
    """One member answering through the fake: every interaction is recorded in `records`.

    `guild_id` is the server the member acts in (default: the fake's first guild).
    """

    def __init__(self, fake: FakeDiscord, user: int, *, timeout: float = 10.0,
                 guild_id: int | None = None):
        self.fake = fake
        self.user = user
        self.where: dict[str, Any] = {} if guild_id is None else {"guild_id": guild_id}
        self.timeout = timeout  # seconds to wait for an interaction's final answer
        self.records: list[InteractionRecord] = []
        self.page: dict[str, Any] | None = None

    async def _send(self, payload: dict[str, Any]) -> InteractionRecord:
        record = await self.fake.send_interaction(payload)
        self.records.append(record)  # recorded even when it is never answered
        await self.fake.wait_answered(record, timeout=self.timeout)
        return record

    async def command(self, sub: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        record = await self._send(self.fake.command("survey", sub, options or {}, user=self.user,
                                                      **self.where))
        message = self.fake.response_message(record)
        assert message is not None, record
        return message

    async def take(self, announcement: dict[str, Any]) -> dict[str, Any]:
        (take,) = custom_ids(announcement, "stateof:take:")
        record = await self._send(self.fake.click(announcement, take, user=self.user, **self.where))
        self.page = self.fake.response_message(record)
        assert self.page is not None
        return self.page

    def refresh(self) -> dict[str, Any]:
        assert self.page is not None
        self.page = self.fake.messages[int(self.page["id"])]
        return self.page

    async def click(self, custom_id: str, values: list[str] | None = None) -> InteractionRecord:
        assert self.page is not None
        record = await self._send(self.fake.click(self.refresh(), custom_id, user=self.user,
                                                    values=values, **self.where))
        self.refresh()
        return record

    async def write(self, custom_id: str, text: str) -> InteractionRecord:
        opened = await self.click(custom_id)
        assert opened.modal is not None, opened
        modal = opened.modal
        inputs = [c["custom_id"] for c in iter_components(modal["components"]) if c.get("type") == 4]
        record = await self._send(self.fake.modal_submit(
            modal, {inputs[0]: text}, user=self.user, message=self.refresh(), **self.where))
        self.refresh()
        return record

    async def answer_page(self, choose: Chooser = first_option, text: str = "Getting data") -> None:
        """Answer every select and text field on the current page, in order."""
        assert self.page is not None
        done: set[str] = set()
        while True:
            pending = [cid for cid in custom_ids(self.refresh(), "stateof:")
                       if cid.startswith(("stateof:pick:", "stateof:range:", "stateof:write:"))
                       and cid not in done]
            if not pending:
                return
            cid = pending[0]
            done.add(cid)
            if cid.startswith("stateof:write:"):
                await self.write(cid, text)
            else:
                await self.click(cid, choose(component(self.page, cid)))

    async def answer_all(self, choose: Chooser = first_option, text: str = "Getting data",
                         max_pages: int = 20) -> dict[str, Any]:
        """Answer page after page until the thank-you page; returns it."""
        for _ in range(max_pages):
            await self.answer_page(choose, text)
            nav = custom_ids(self.refresh(), "stateof:nav:")
            forward = [cid for cid in nav if cid.endswith((":n", ":f"))]
            if not forward:
                return self.page  # type: ignore[return-value]
            await self.click(forward[0])
            if not any(cid.endswith((":n", ":f")) for cid in custom_ids(self.refresh(), "stateof:nav:")):
                return self.page  # type: ignore[return-value]
        raise AssertionError("the questionnaire did not end")


async def starters_on_ledger(services: Any) -> None:
    """What the next day brings: members who started without an invitation (no Members intent)
    join the participation ledger in its daily batch (docs/privacy.md), so reminders reach them."""
    from datetime import timedelta

    from surveys.models import utcnow

    services.flow.ledger.batch_min = 1
    await services.flow.ledger.flush(services.db, today=utcnow() + timedelta(days=1))
