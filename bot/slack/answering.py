"""Answering a survey inside Slack: "Take the survey" opens a paged modal.

The conversation (`bot.answering`) decides everything; this module turns Slack payloads
into its events and its screens into modal views (`bot.slack.modals`):

- The button (in the announcement, a reminder DM or the App Home) is acknowledged at once;
  the modal opens with the button's trigger_id (valid 3 s). When loading is slow, a
  "loading" modal opens first and is updated after.
- Submitting a page is checked first (no database): problems go back as `response_action:
  errors` on the field itself and nothing is stored. A valid page is Next (Finish on the last
  page); when storing takes longer than `SUBMIT_BUDGET` the submission is acknowledged with
  "Saving your answers…" and the modal updated once it is stored: the conversation retries
  the write until it lands or, after `save_policy.deadline`, shows the page again with the
  member's input filled in and a clear "could not save" notice, never "Saving…" forever.
- Back and closing the modal keep what is valid on the page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError

from bot.answering.conversation import Conversation, Front, WaveBook
from bot.answering.screens import ALREADY_OPEN, Notice
from bot.once import Once
from bot.saving import ACK_BUDGET
from bot.services import Services
from bot.slack.clients import SlackClients
from bot.slack.modals import PageMeta, loading_view, message_view, modal_pages, state_values, view_of
from bot.slack.text import clip
from surveys.errors import SurveyError
from surveys.identity import Member

log = logging.getLogger(__name__)

PLATFORM = "slack"
OPEN_BUDGET = 1.2  # seconds of loading before a "loading" modal opens (trigger_id lives 3 s)
# seconds from the submission's arrival to its ack when saving is slow ("Saving…" then)
SUBMIT_BUDGET = ACK_BUDGET
T = TypeVar("T")


async def within(task: asyncio.Future[T], budget: float) -> bool:
    """Wait up to `budget` seconds for `task`; True when it finished."""
    done, _ = await asyncio.wait({task}, timeout=budget)
    return bool(done)


class SlackAnswers(Front):
    """Turns button clicks, submissions and closed modals into conversation events."""

    def __init__(self, services: Services, clients: SlackClients):
        self.services = services
        self.clients = clients
        self.book = WaveBook(services, PLATFORM)  # shared with the DM conversation
        self.conversation = Conversation(services, PLATFORM, modal_pages, book=self.book)
        self._once: Once | None = None

    @property
    def once(self) -> Once:
        """Once-only claims shared with the other worker processes (duplicate deliveries, DM posts)."""
        if self._once is None:
            self._once = Once(self.services.db, self.services.secret)
        return self._once

    @staticmethod
    def _member(body: dict[str, Any], team: str = "") -> Member:
        return Member(PLATFORM, team_of(body) or team, str(body["user"]["id"]))

    async def _update(self, member: Member, body: dict[str, Any], view_id: str, view: dict[str, Any]) -> None:
        client = await self.clients.for_team(member.space, enterprise_of(body))
        try:
            await client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            log.warning("could not update the survey modal: %s", exc.response.get("error"))

    # -- "Take the survey" ---------------------------------------------------------------
    async def take(self, body: dict[str, Any], wave_value: str) -> None:
        """Open the answer modal for the wave in the button's value (after the ack)."""
        member = self._member(body)
        try:
            wave_id = int(wave_value)
        except ValueError:
            log.warning("a take-survey button carried a bad wave id")
            return
        client = await self.clients.for_team(member.space, enterprise_of(body))
        task = asyncio.ensure_future(self.conversation.take(member, wave_id))
        try:
            if await within(task, OPEN_BUDGET):
                screen = task.result()
                if screen is not None:  # None: the second click of a double click
                    await client.views_open(trigger_id=body["trigger_id"], view=view_of(screen, member.space))
                return
            opened = await client.views_open(trigger_id=body["trigger_id"], view=loading_view("Survey"))
            screen = await task
            await self._update(member, body, opened["view"]["id"],
                               view_of(screen or Notice(ALREADY_OPEN), member.space))
        except SlackApiError as exc:
            log.warning("could not open the survey modal: %s", exc.response.get("error"))
        finally:
            if not task.done():
                task.cancel()

    # -- a page submitted ----------------------------------------------------------------
    async def submit(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        """Check (errors on the fields), store, and move the modal to the next page."""
        started = time.monotonic()
        view = body["view"]
        meta = PageMeta.load(view.get("private_metadata", ""))
        member = self._member(body, meta.team)
        raw = state_values(view, meta.keys)
        try:
            errors = await self.conversation.check(meta.wave_id, raw)
        except SurveyError as exc:
            await ack(response_action="update", view=message_view("Survey", str(exc)))
            return
        if errors:
            on_page = {k: clip(v, 150) for k, v in errors.items() if k in meta.keys}
            await ack(response_action="errors", errors=on_page or {meta.keys[0]: " ".join(errors.values())})
            return
        task = asyncio.ensure_future(self.conversation.next(member, meta.wave_id, meta.anchor, raw,
                                                            finish=meta.last))
        if await within(task, max(SUBMIT_BUDGET - (time.monotonic() - started), 0.1)):
            await ack(response_action="update", view=view_of(task.result(), member.space))
            return
        await ack(response_action="update", view=message_view("Survey", "Saving your answers…"))
        await self._update(member, body, view["id"], view_of(await task, member.space))

    # -- Back, and a closed modal ----------------------------------------------------------
    async def back(self, body: dict[str, Any]) -> None:
        view = body["view"]
        meta = PageMeta.load(view.get("private_metadata", ""))
        member = self._member(body, meta.team)
        values = state_values(view, meta.keys)
        screen = await self.conversation.back(member, meta.wave_id, meta.anchor, values)
        await self._update(member, body, view["id"], view_of(screen, member.space))

    async def closed(self, body: dict[str, Any]) -> None:
        """The member closed the modal: keep what they filled in on the open page."""
        view = body["view"]
        try:
            meta = PageMeta.load(view.get("private_metadata", ""))
        except (ValueError, KeyError):
            return
        member = self._member(body, meta.team)
        screen = await self.conversation.stop(member, meta.wave_id, state_values(view, meta.keys))
        if isinstance(screen, Notice):
            log.info("nothing saved from a closed survey modal: %s", screen.text)


def team_of(body: dict[str, Any]) -> str:
    team = body.get("team") or {}
    return str(team.get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id") or "")


def enterprise_of(body: dict[str, Any]) -> str | None:
    enterprise = body.get("enterprise") or {}
    return enterprise.get("id") if isinstance(enterprise, dict) else None
