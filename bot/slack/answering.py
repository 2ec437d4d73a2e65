"""Answering a survey inside Slack: "Take the survey" opens a paged modal.

- The button (in the announcement, a reminder DM or the App Home) is acknowledged at once;
  the member's progress is loaded and the modal opened with the button's trigger_id
  (valid 3 s). When loading is slow, a "loading" modal opens first and is updated after.
- Submitting a page validates every field; problems go back as `response_action: errors`
  on the field itself and nothing is stored. A valid page is stored through
  `AnswerFlow.submit` (blank optional fields are recorded as skipped) and the modal is
  updated to the next page, or to the thanks page after the last one.
- Back saves what is valid on the page and shows the previous page; closing the modal
  saves what is valid too, so "Take the survey" again resumes at the first open page.
- A page acknowledged with "Saving your answers…" (the database took longer than
  `SUBMIT_BUDGET`) is saved with retries (`bot.saving`) until it lands and the modal moves
  on, or, after the deadline, the modal shows the page again with the member's input still
  filled in and a clear "could not save" notice: never "Saving…" forever.
- A repeated delivery (a retried or replayed submission, a double click) changes nothing:
  recording is idempotent, and a second "take" of the same member within a moment is
  dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError

from bot.once import Once
from bot.saving import UNSAVED, SaveFailed, SavePolicy, save_with_retries
from bot.services import Services
from bot.slack.clients import SlackClients
from bot.slack.modals import (
    MAX_FIELDS,
    PageMeta,
    Screen,
    loading_view,
    message_view,
    page_of,
    page_view,
    state_values,
    thanks_view,
)
from bot.slack.text import clip
from surveys.errors import PageInvalid, SurveyError
from surveys.flow import AnswerFlow, Progress
from surveys.identity import Member
from surveys.paging import opening_page, paginate, resume_page
from surveys.schema import Questionnaire
from surveys.waves import questionnaire_of, wave_by_id

log = logging.getLogger(__name__)

PLATFORM = "slack"
OPEN_BUDGET = 1.2  # seconds of loading before a "loading" modal opens (trigger_id lives 3 s)
SUBMIT_BUDGET = 2.0  # seconds of saving before the submission is acknowledged with "saving"
DOUBLE_CLICK = 2.0  # a second "take" by the same member within this many seconds is dropped
T = TypeVar("T")


def _blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


async def within(task: asyncio.Future[T], budget: float) -> bool:
    """Wait up to `budget` seconds for `task`; True when it finished."""
    done, _ = await asyncio.wait({task}, timeout=budget)
    return bool(done)


class SlackAnswers:
    """Turns button clicks, submissions and closed modals into `AnswerFlow` calls."""

    def __init__(self, services: Services, clients: SlackClients):
        self.services = services
        self.flow = services.flow
        self.clients = clients
        self._waves: dict[int, tuple[str, Questionnaire, int]] = {}
        self._recent_takes: dict[tuple[str, str, int], float] = {}
        self._communities: dict[str, tuple[float, int]] = {}
        self._gate = services.answer_gate  # one member at a time; SQLite: one writer
        self.save_policy = SavePolicy()
        self._once: Once | None = None

    # -- helpers -----------------------------------------------------------------------
    @property
    def once(self) -> Once:
        """Once-only claims shared with the other worker processes (duplicate deliveries, DM posts)."""
        if self._once is None:
            self._once = Once(self.services.db, self.services.secret)
        return self._once

    async def _db(self, member: Member, call: Callable[[], Awaitable[T]]) -> T:
        """One member's database work, in order (see bot.serial)."""
        return await self._gate.run(member, call)

    async def in_order(self, member: Member, call: Callable[[], Awaitable[T]]) -> T:
        """`_db` for the DM flow (`bot.slack.dm_answering`): the same per-member order."""
        return await self._db(member, call)

    async def community_of(self, team: str) -> int:
        """The community id of a workspace (cached)."""
        return await self._community_id(team)

    async def wave_info(self, wave_id: int) -> tuple[str, Questionnaire, int]:
        """Title, questionnaire and community of a wave (fixed once it exists), cached."""
        if wave_id not in self._waves:
            async with self.services.db.session() as session:
                wave = await wave_by_id(session, wave_id)
            qn = questionnaire_of(wave)
            self._waves[wave_id] = (f"{qn.title} {wave.label}", qn, wave.community_id)
        return self._waves[wave_id]

    async def _community_id(self, team: str) -> int:
        """The community of a workspace (cached for a minute)."""
        now = time.monotonic()
        cached = self._communities.get(team)
        if cached is None or cached[0] < now:
            community = await self.services.community_for(PLATFORM, team)
            cached = self._communities[team] = (now + 60.0, community.id)
        return cached[1]

    async def _screen(self, meta_or_wave: int, team: str, progress: Progress, **kw: Any) -> Screen:
        title = (await self.wave_info(meta_or_wave))[0]
        return Screen(meta_or_wave, team, title, progress, **kw)

    def _double_click(self, member: Member, wave_id: int) -> bool:
        now = time.monotonic()
        key = (member.space, member.user, wave_id)
        if len(self._recent_takes) > 10_000:
            self._recent_takes = {k: t for k, t in self._recent_takes.items() if now - t < DOUBLE_CLICK}
        last = self._recent_takes.get(key)
        self._recent_takes[key] = now
        return last is not None and now - last < DOUBLE_CLICK

    # -- "Take the survey" ---------------------------------------------------------------
    async def opening_view(self, member: Member, wave_id: int) -> dict[str, Any]:
        """The modal a member sees when starting or resuming (or why they cannot)."""
        try:
            title, _qn, community_id = await self.wave_info(wave_id)
        except SurveyError as exc:
            return message_view("Survey", str(exc))
        if await self._community_id(member.space) != community_id:
            return message_view(title, "This survey belongs to another community.")
        try:
            progress = await self._db(member, lambda: self.flow.start(wave_id, member))
        except SurveyError as exc:
            return message_view(title, str(exc))
        index, notice = opening_page(progress, paginate(progress, MAX_FIELDS))
        return page_view(Screen(wave_id, member.space, title, progress, index=index, notice=notice))

    async def take(self, body: dict[str, Any], wave_value: str) -> None:
        """Open the answer modal for the wave in the button's value (after the ack)."""
        member = Member(PLATFORM, team_of(body), body["user"]["id"])
        try:
            wave_id = int(wave_value)
        except ValueError:
            log.warning("a take-survey button carried a bad wave id")
            return
        if self._double_click(member, wave_id):
            log.info("dropped a repeated take-survey click")
            return
        client = await self.clients.for_team(member.space, enterprise_of(body))
        task = asyncio.ensure_future(self.opening_view(member, wave_id))
        try:
            if await within(task, OPEN_BUDGET):
                await client.views_open(trigger_id=body["trigger_id"], view=task.result())
                return
            opened = await client.views_open(trigger_id=body["trigger_id"], view=loading_view("Survey"))
            view = await task
            await client.views_update(view_id=opened["view"]["id"], view=view)
        except SlackApiError as exc:
            log.warning("could not open the survey modal: %s", exc.response.get("error"))
        finally:
            if not task.done():
                task.cancel()

    # -- a page submitted ----------------------------------------------------------------
    async def submit(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        """Validate (errors on the fields), store, and move the modal to the next page."""
        view = body["view"]
        meta = PageMeta.load(view.get("private_metadata", ""))
        member = Member(PLATFORM, team_of(body) or meta.team, body["user"]["id"])
        raw = state_values(view, meta.keys)
        try:
            _title, qn, _community = await self.wave_info(meta.wave_id)
            AnswerFlow.validate(qn, raw)
        except PageInvalid as exc:
            errors = {k: clip(v, 150) for k, v in exc.errors.items() if k in meta.keys}
            await ack(response_action="errors", errors=errors or {meta.keys[0]: str(exc)})
            return
        except SurveyError as exc:
            await ack(response_action="update", view=message_view("Survey", str(exc)))
            return
        task = asyncio.ensure_future(self._store_page(member, meta, raw))
        if await within(task, SUBMIT_BUDGET):
            await ack(response_action="update", view=task.result())
            return
        await ack(response_action="update", view=message_view("Survey", "Saving your answers…"))
        next_view = await task  # never raises: saved, or the page again with the input kept
        client = await self.clients.for_team(member.space, enterprise_of(body))
        try:
            await client.views_update(view_id=view["id"], view=next_view)
        except SlackApiError as exc:
            log.warning("could not update the survey modal: %s", exc.response.get("error"))

    async def _store_page(self, member: Member, meta: PageMeta, raw: dict[str, Any]) -> dict[str, Any]:
        """The view after storing a page (retried while the database falters, see bot.saving)."""
        title, qn, _community = await self.wave_info(meta.wave_id)

        async def store() -> Progress:
            return (await self.flow.submit(meta.wave_id, member, raw, finish=meta.last)).progress

        try:
            progress = await save_with_retries(lambda: self._db(member, store), policy=self.save_policy,
                                               what="saving a Slack survey page")
        except PageInvalid as exc:  # validated before; only a race with a changed wave
            return message_view(title, str(exc))
        except SurveyError as exc:
            return message_view(title, str(exc))
        except SaveFailed:
            return unsaved_view(meta, member.space, title, qn, raw)
        screen = Screen(meta.wave_id, member.space, title, progress)
        pages = screen.pages
        current = page_of(pages, meta.keys[0]) if meta.keys else 0
        if current < len(pages) - 1:
            screen.index = current + 1
            return page_view(screen)
        if progress.completed:
            return thanks_view(screen)
        screen.index = resume_page(progress, pages)
        screen.notice = "A few required questions are still open."
        return page_view(screen)

    # -- Back, and a closed modal ----------------------------------------------------------
    async def _save_valid(self, member: Member, meta: PageMeta, view: dict[str, Any]) -> Progress:
        """Store what is valid and filled in on the page (nothing is marked skipped)."""
        _title, qn, _community = await self.wave_info(meta.wave_id)
        keep: dict[str, Any] = {}
        for key, value in state_values(view, meta.keys).items():
            if _blank(value):
                continue
            try:
                AnswerFlow.validate(qn, {key: value})
            except SurveyError:
                continue
            keep[key] = value

        async def save() -> Progress:
            if keep:
                return (await self.flow.submit(meta.wave_id, member, keep)).progress
            return await self.flow.progress(meta.wave_id, member)

        return await self._db(member, save)

    async def back(self, body: dict[str, Any]) -> None:
        view = body["view"]
        meta = PageMeta.load(view.get("private_metadata", ""))
        member = Member(PLATFORM, team_of(body) or meta.team, body["user"]["id"])
        try:
            progress = await self._save_valid(member, meta, view)
            screen = await self._screen(meta.wave_id, member.space, progress)
            current = page_of(screen.pages, meta.keys[0]) if meta.keys else meta.index
            screen.index = max(current - 1, 0)
            new_view = page_view(screen)
        except SurveyError as exc:
            new_view = message_view("Survey", str(exc))
        client = await self.clients.for_team(member.space, enterprise_of(body))
        try:
            await client.views_update(view_id=view["id"], view=new_view)
        except SlackApiError as exc:
            log.warning("could not go back in the survey modal: %s", exc.response.get("error"))

    async def closed(self, body: dict[str, Any]) -> None:
        """The member closed the modal: keep what they filled in on the open page."""
        view = body["view"]
        try:
            meta = PageMeta.load(view.get("private_metadata", ""))
        except (ValueError, KeyError):
            return
        member = Member(PLATFORM, team_of(body) or meta.team, body["user"]["id"])
        self._recent_takes.pop((member.space, member.user, meta.wave_id), None)  # may come back now
        try:
            await self._save_valid(member, meta, view)
        except SurveyError as exc:
            log.info("nothing saved from a closed survey modal: %s", exc)


def unsaved_view(
    meta: PageMeta, team: str, title: str, qn: Questionnaire, raw: dict[str, Any]
) -> dict[str, Any]:
    """The submitted page again, the member's input filled in, with a "could not save" notice."""
    typed = Progress(meta.wave_id, qn, {k: v for k, v in raw.items() if not _blank(v)})
    screen = Screen(meta.wave_id, team, title, typed, notice=UNSAVED)
    screen.index = page_of(screen.pages, meta.keys[0]) if meta.keys else meta.index
    return page_view(screen)


def team_of(body: dict[str, Any]) -> str:
    team = body.get("team") or {}
    return str(team.get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id") or "")


def enterprise_of(body: dict[str, Any]) -> str | None:
    enterprise = body.get("enterprise") or {}
    return enterprise.get("id") if isinstance(enterprise, dict) else None
