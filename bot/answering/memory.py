"""An in-memory front end (like errbot's TestBackend): drive the conversation with no platform.

`MemoryMember` keeps the screen it was last shown and sends events the way a member's
clicks would, so a test can answer a whole questionnaire, resume, go back, hit every
validation error and double-click, with no Slack or Discord fake. `render` draws any
screen as plain text, the smallest renderer there is.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.answering.conversation import Conversation, shown
from bot.answering.events import Back, Finish, Next, Pick, Show, Stop, Take, Write
from bot.answering.screens import PageScreen, Screen, answer_text, draw, thanks_text
from surveys.identity import Member

log = logging.getLogger(__name__)


def _page_text(screen: PageScreen) -> str:
    lines = [f"{screen.title} · {screen.where}"]
    lines += [screen.notice] if screen.notice else []
    lines += [f"! {message}" for message in screen.stray_errors]
    for f in screen.fields:
        head = f"{f.number}. {f.question.text}" + (f" / {f.row.label}" if f.row else "")
        shown = answer_text(f.question, f.value, f.row) if f.stored or f.value is not None else "-"
        lines.append(f"{head} [{shown}]" + (f" ({f.hint})" if f.hint else ""))
        lines += [f"! {f.error}"] if f.error else []
    return "\n".join(lines)


def render(screen: Screen | None) -> str:
    """A screen as plain text: progress, notice, each field with its hint, value and error."""
    if screen is None:
        return ""
    return draw(screen, page=_page_text, notice=lambda text, _title: text,
                thanks=lambda s: thanks_text(s.title, again=s.again))


class MemoryMember:
    """One member answering one wave through a conversation, in memory."""

    def __init__(self, conversation: Conversation, member: Member, wave_id: int):
        self.conversation = conversation
        self.member = member
        self.wave_id = wave_id
        self.screen: Screen | None = None
        self.transcript: list[Screen | None] = []

    async def _send(self, event: Any) -> Screen | None:
        screen = shown(await self.conversation.handle(self.member, event))
        self.transcript.append(screen)
        if screen is not None:
            self.screen = screen
        return screen

    @property
    def page(self) -> PageScreen:
        assert isinstance(self.screen, PageScreen), f"not on a page: {render(self.screen)}"
        return self.screen

    @property
    def text(self) -> str:
        return render(self.screen)

    async def take(self) -> Screen | None:
        return await self._send(Take(self.wave_id))

    async def pick(self, key: str, value: Any) -> Screen | None:
        """Answer one field now (a select, a button); the first open field comes next."""
        return await self._send(Pick(self.wave_id, key, value))

    async def write(self, key: str, text: str) -> Screen | None:
        return await self._send(Write(self.wave_id, key, text))

    async def next(self, values: dict[str, Any] | None = None) -> Screen | None:
        return await self._send(Next(self.wave_id, self.page.keys[0], values))

    async def finish(self, values: dict[str, Any] | None = None) -> Screen | None:
        return await self._send(Finish(self.wave_id, self.page.keys[0], values))

    async def back(self, values: dict[str, Any] | None = None) -> Screen | None:
        return await self._send(Back(self.wave_id, self.page.keys[0], values))

    async def stop(self, values: dict[str, Any] | None = None) -> Screen | None:
        return await self._send(Stop(self.wave_id, values))

    async def show(self, key: str | None = None) -> Screen | None:
        return await self._send(Show(self.wave_id, key))
