"""Answering in a Slack modal: "Take the survey" is a take, a submitted page Next (Finish on
the last page), Back and closing the modal keep what is valid; screens become views
(`bot.slack.modals`).

Slack gives a trigger_id 3 s and a submission 3 s for its ack: a slow opening shows a
"loading" modal first; a page is checked before anything is stored (problems go back on
the fields) and a slow save is acknowledged "Saving your answers…", the modal updated once
the conversation has stored the page or given up with the member's input kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.answering.conversation import Conversation, Front, WaveBook, or_notice, within
from bot.answering.screens import ALREADY_OPEN, Notice
from bot.once import Once
from bot.saving import ACK_BUDGET
from bot.services import Services
from bot.slack.clients import SlackClients
from bot.slack.modals import PageMeta, field_errors, message_view, modal_pages, state_values, view_of
from surveys.identity import Member

log = logging.getLogger(__name__)

PLATFORM = "slack"
OPEN_BUDGET = 1.2  # seconds of loading before a "loading" modal opens (trigger_id lives 3 s)
SUBMIT_BUDGET = ACK_BUDGET  # seconds from a submission's arrival to its ack when saving is slow ("Saving…")


def member_of(body: dict[str, Any], team: str = "") -> Member:
    """The member who clicked or submitted (`team`: the workspace a view was opened in)."""
    return Member(PLATFORM, team_of(body) or team, str(body["user"]["id"]))


def wave_of(value: str) -> int | None:
    """The wave id a survey button carries (None, logged, when it is not one)."""
    try:
        return int(value)
    except ValueError:
        log.warning("a survey button carried a bad wave id")
        return None


def page_of(body: dict[str, Any]) -> tuple[dict[str, Any], PageMeta, Member, dict[str, Any]]:
    """A page view in a submission, Back or close: the view, its metadata, the member and
    what they filled in."""
    view = body["view"]
    meta = PageMeta.load(view.get("private_metadata", ""))
    return view, meta, member_of(body, meta.team), state_values(view, meta.keys)


class SlackAnswers(Front):
    """Turns button clicks, submissions and closed modals into conversation events."""

    def __init__(self, services: Services, clients: SlackClients):
        self.services = services
        self.clients = clients
        self.book = WaveBook(services, PLATFORM)  # shared with the DM conversation
        self.conversation = Conversation(services, PLATFORM, modal_pages, book=self.book)

    @cached_property
    def once(self) -> Once:
        """Once-only claims shared with the other worker processes (duplicate deliveries, DM posts)."""
        return Once(self.services.db, self.services.secret)

    async def _update(self, member: Member, body: dict[str, Any], view_id: str, view: dict[str, Any]) -> None:
        client = await self.clients.for_team(member.space, enterprise_of(body))
        try:
            await client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            log.warning("could not update the survey modal: %s", exc.response.get("error"))

    # -- "Take the survey" ---------------------------------------------------------------
    async def take(self, body: dict[str, Any], wave_value: str) -> None:
        """Open the answer modal for the wave in the button's value (after the ack)."""
        member, wave_id = member_of(body), wave_of(wave_value)
        if wave_id is None:
            return
        client = await self.clients.for_team(member.space, enterprise_of(body))
        task = asyncio.ensure_future(self.conversation.take(member, wave_id))
        try:
            if await within(task, OPEN_BUDGET):
                screen = task.result()
                if screen is not None:  # None: the second click of a double click
                    await client.views_open(trigger_id=body["trigger_id"], view=view_of(screen, member.space))
                return
            loading = message_view("Survey", "One moment: loading your survey…")
            opened = await client.views_open(trigger_id=body["trigger_id"], view=loading)
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
        view, meta, member, raw = page_of(body)
        errors = await or_notice(self.conversation.check(meta.wave_id, raw))
        if isinstance(errors, Notice):
            await ack(response_action="update", view=view_of(errors, member.space))
            return
        if errors:
            await ack(response_action="errors", errors=field_errors(errors, meta.keys))
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
        view, meta, member, values = page_of(body)
        screen = await self.conversation.back(member, meta.wave_id, meta.anchor, values)
        await self._update(member, body, view["id"], view_of(screen, member.space))

    async def closed(self, body: dict[str, Any]) -> None:
        """The member closed the modal: keep what they filled in on the open page."""
        try:
            _view, meta, member, values = page_of(body)
        except (ValueError, TypeError, KeyError):
            return
        screen = await self.conversation.stop(member, meta.wave_id, values)
        if isinstance(screen, Notice):
            log.info("nothing saved from a closed survey modal: %s", screen.text)


def team_of(body: dict[str, Any]) -> str:
    team = body.get("team") or {}
    return str(team.get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id") or "")


def enterprise_of(body: dict[str, Any]) -> str | None:
    enterprise = body.get("enterprise") or {}
    return enterprise.get("id") if isinstance(enterprise, dict) else None
