"""Answering in DMs, one question at a time: what "Answer in DMs" starts.

- "Answer in DMs" (next to "Take the survey" in the announcement, a reminder DM or the App
  Home) marks the member as started and posts the next open question in their DM with the
  app (`bot.slack.dm_render`). Pressing it again continues with the next open question;
  a second press within `DOUBLE_CLICK` seconds (with no answer in between) is dropped.
- Each answer is stored at once through `AnswerFlow.submit` (the modal's validation and
  idempotent recording). The answered message is then replaced by the question with the
  answer and no buttons, and the next question is posted; after the last one, "Thank you"
  with a button that opens the modal to review or change answers. An invalid answer (four
  choices where three are allowed) replaces the message with the question again, the
  problem shown above its buttons, and nothing is stored.
- The message is replaced through the click's `response_url` (not rate-limited per
  workspace, unlike chat.update's 50 a minute); chat.update is the fallback, and what the
  one-field modal ("Write answer") uses, as its submission has no response_url.
- Idempotent: the next question is posted only when the click moved the member's next
  open question, so a repeated click (a double click, a stale copy of an answered
  question, a replayed submission) stores once and posts nothing twice; when two worker
  processes both see the move, a claim in the database (bot.once) lets one of them post. One member's
  clicks run one at a time (`AnswerGate`), so two clicks racing both see a consistent
  "before".
- A wave that closed meanwhile turns the clicked message into the flow's clear
  "has closed; answers are not accepted" and stores nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.slack.answering import PLATFORM, SlackAnswers, enterprise_of, team_of, within
from bot.slack.clients import NotInstalled, SlackClients
from bot.slack.dm_render import (
    DM_MULTI,
    INPUT_PREFIX,
    DMField,
    Ref,
    WriteMeta,
    answered_message,
    field_of,
    next_field,
    notice_message,
    question_message,
    stopped_message,
    thanks_message,
    write_view,
)
from bot.slack.modals import state_value, state_values
from bot.slack.notifier import SlackNotifier
from bot.slack.text import clip, escape
from surveys.errors import PageInvalid, SurveyError
from surveys.flow import AnswerFlow, Progress
from surveys.identity import Member
from surveys.ports import DeliveryError
from surveys.schema import Question
from surveys.validation import split_field

log = logging.getLogger(__name__)

DOUBLE_CLICK = 2.0  # a second "Answer in DMs" by the same member within this many seconds
PREFILL_BUDGET = 1.0  # seconds to read the current answer before the trigger_id runs out
NEXT_QUESTION_TTL = 120.0  # seconds in which one answer step posts its next question once
IN_YOUR_DMS = "The survey continues in your direct messages with the app."
CANNOT_DM = ("I cannot send you direct messages. Allow messages from the app, or press "
             "\"Take the survey\" to answer in a form.")
OTHER_COMMUNITY = "This survey belongs to another community."
Respond = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Origin:
    """The message a click came from, and how to replace it."""

    team: str
    enterprise: str | None
    channel: str
    ts: str
    respond: Respond | None = None  # Bolt's respond (the click's response_url), if any


def origin_of(body: dict[str, Any], respond: Respond | None) -> Origin:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts") or ""
    return Origin(team_of(body), enterprise_of(body), str(channel), str(ts),
                  respond if body.get("response_url") else None)


@dataclass(frozen=True)
class Recorded:
    """After an answer: the member's progress, and whether their next open field moved."""

    progress: Progress
    moved: bool
    step: str = ""  # "<next field before>><next field after>": what posting the next question means


def _key(f: DMField | None) -> str | None:
    return f.key if f is not None else None


class SlackDMAnswers:
    """Turns clicks in DM question messages into `AnswerFlow` calls and the next message."""

    def __init__(self, answers: SlackAnswers, clients: SlackClients, notifier: SlackNotifier):
        self.answers = answers
        self.flow = answers.flow
        self.clients = clients
        self.notifier = notifier
        self._recent_starts: dict[tuple[str, str, int], float] = {}

    @staticmethod
    def _member(body: dict[str, Any], team: str = "") -> Member:
        return Member(PLATFORM, team_of(body) or team, str(body["user"]["id"]))

    def _double_click(self, member: Member, wave_id: int) -> bool:
        now = time.monotonic()
        if len(self._recent_starts) > 10_000:
            self._recent_starts = {k: t for k, t in self._recent_starts.items()
                                   if now - t < DOUBLE_CLICK}
        key = (member.space, member.user, wave_id)
        last = self._recent_starts.get(key)
        self._recent_starts[key] = now
        return last is not None and now - last < DOUBLE_CLICK

    async def _question(self, member: Member, wave_id: int, key: str) -> tuple[str, Question]:
        """The wave's title and the question of `key`; SurveyError for another community."""
        title, qn, community_id = await self.answers.wave_info(wave_id)
        if await self.answers.community_of(member.space) != community_id:
            raise SurveyError(OTHER_COMMUNITY)
        qid, _row = split_field(key)
        if not qn.has_question(qid):
            raise SurveyError("This question is no longer part of the survey.")
        return title, qn.question(qid)

    # -- talking to the member ---------------------------------------------------------------
    async def _post(self, member: Member, enterprise: str | None, payload: dict[str, Any]) -> str | None:
        """Post into the member's DM; the DM channel id, or None when they cannot get DMs."""
        try:
            channel = await self.notifier.dm_channel(member)
            if channel is None:
                return None
            client = await self.clients.for_team(member.space, enterprise)
            await client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False,
                                          **payload)
        except (SlackApiError, DeliveryError, NotInstalled) as exc:
            log.warning("could not post a survey question in a DM: %s", exc)
            return None
        return channel

    async def _replace(self, origin: Origin, payload: dict[str, Any]) -> None:
        """Replace the clicked message (response_url; chat.update without one)."""
        if origin.respond is not None:
            try:
                resp = await origin.respond(replace_original=True, **payload)
                if getattr(resp, "status_code", 200) == 200:
                    return
                log.info("response_url refused a replacement (%s)", resp.status_code)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("response_url failed (%r); using chat.update", exc)
        if not (origin.channel and origin.ts):
            return
        try:
            client = await self.clients.for_team(origin.team, origin.enterprise)
            await client.chat_update(channel=origin.channel, ts=origin.ts, **payload)
        except (SlackApiError, NotInstalled) as exc:
            log.warning("could not update a survey question in a DM: %s", exc)

    async def _tell(self, member: Member, origin: Origin, text: str) -> None:
        """A short notice: privately where the member clicked, else in their DM."""
        if origin.respond is not None:
            try:
                await origin.respond(text=escape(clip(text, 3000)), response_type="ephemeral",
                                     replace_original=False)
                return
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("response_url failed (%r); telling in the DM", exc)
        await self._post(member, origin.enterprise, notice_message(text))

    # -- "Answer in DMs" ---------------------------------------------------------------------
    async def start(self, body: dict[str, Any], value: str, respond: Respond | None) -> None:
        """Post the member's next open question (or "all answered") in their DM."""
        member = self._member(body)
        origin = origin_of(body, respond)
        try:
            wave_id = int(value)
        except ValueError:
            log.warning("an Answer-in-DMs button carried a bad wave id")
            return
        try:
            title, _qn, community_id = await self.answers.wave_info(wave_id)
            if await self.answers.community_of(member.space) != community_id:
                raise SurveyError(OTHER_COMMUNITY)
            progress = await self.answers.in_order(member, lambda: self.flow.start(wave_id, member))
        except SurveyError as exc:  # a closed wave, …: said every time, nothing is posted
            await self._tell(member, origin, str(exc))
            return
        if self._double_click(member, wave_id):
            log.info("dropped a repeated Answer-in-DMs click")
            return
        f = next_field(progress)
        if f is None:
            payload = thanks_message(title, wave_id, again=True)
        else:
            notice = "Welcome back: picking up where you left off." if progress.answers else ""
            payload = question_message(title, progress, f, notice=notice)
        channel = await self._post(member, origin.enterprise, payload)
        if channel is None:
            await self._tell(member, origin, CANNOT_DM)
        elif origin.channel != channel and origin.respond is not None:
            await self._tell(member, origin, IN_YOUR_DMS)

    async def stop(self, body: dict[str, Any], value: str, respond: Respond | None) -> None:
        """"Stop for now": nothing to store; the message offers to continue later."""
        member = self._member(body)
        try:
            wave_id = int(value)
            title = (await self.answers.wave_info(wave_id))[0]
        except (ValueError, SurveyError) as exc:
            log.info("a stop click for an unknown wave: %s", exc)
            return
        self._recent_starts.pop((member.space, member.user, wave_id), None)  # may resume now
        await self._replace(origin_of(body, respond), stopped_message(title, wave_id))

    # -- answers -------------------------------------------------------------------------------
    async def choose(self, body: dict[str, Any], value: str, respond: Respond | None) -> None:
        """A button: a single-choice option or a grid row's scale point."""
        ref = Ref.load(value)
        await self.record(self._member(body), origin_of(body, respond), ref.wave_id, ref.key,
                          {ref.key: ref.option})

    async def select(self, body: dict[str, Any], action: dict[str, Any], respond: Respond | None) -> None:
        """A single-choice option picked from a static select (saved at once)."""
        ref = Ref.from_block(str(action.get("block_id", "")))
        option = (action.get("selected_option") or {}).get("value")
        await self.record(self._member(body), origin_of(body, respond), ref.wave_id, ref.key,
                          {ref.key: option})

    async def save(self, body: dict[str, Any], value: str, respond: Respond | None) -> None:
        """"Save" under checkboxes / a multi-select: the ticked options in the message state."""
        ref = Ref.load(value)
        member = self._member(body)
        origin = origin_of(body, respond)
        values = (body.get("state") or {}).get("values") or {}
        entry = (values.get(INPUT_PREFIX + ref.dump()) or {}).get(DM_MULTI)
        chosen = state_value(entry) or []
        if not chosen:
            await self._ask_again(member, origin, ref.wave_id, ref.key,
                                  "Choose at least one option, then press Save.", [])
            return
        await self.record(member, origin, ref.wave_id, ref.key, {ref.key: chosen}, chosen)

    async def skip(self, body: dict[str, Any], value: str, respond: Respond | None) -> None:
        """Skip an optional question (a grid: this row); recorded as skipped."""
        ref = Ref.load(value)
        await self.record(self._member(body), origin_of(body, respond), ref.wave_id, ref.key,
                          {ref.key: None})

    async def record(
        self, member: Member, origin: Origin, wave_id: int, key: str, values: dict[str, Any],
        chosen: list[str] | None = None,
    ) -> None:
        """Store `values` for `key`, replace the message, and post the next question."""
        try:
            title, question = await self._question(member, wave_id, key)
        except SurveyError as exc:
            await self._replace(origin, notice_message(str(exc)))
            return
        f = field_of(question, key)

        async def store() -> Recorded:
            before = await self.flow.progress(wave_id, member)
            after = (await self.flow.submit(wave_id, member, values)).progress
            step = (_key(next_field(before)), _key(next_field(after)))
            return Recorded(after, step[0] != step[1], f"{step[0]}>{step[1]}")

        try:
            done = await self.answers.in_order(member, store)
        except PageInvalid as exc:
            await self._ask_again(member, origin, wave_id, key,
                                  exc.errors.get(key) or str(exc), chosen)
            return
        except SurveyError as exc:  # the wave closed meanwhile, …
            await self._replace(origin, notice_message(str(exc)))
            return
        self._recent_starts.pop((member.space, member.user, wave_id), None)  # a new press is meant
        await self._replace(origin, answered_message(title, done.progress, f))
        if not done.moved:
            log.debug("a repeated DM answer: nothing more to post")
            return
        # two workers can both see the move (a double click reaching two processes): one posts
        step = f"dm-next:{member.key()}:{wave_id}:{done.step}"
        if not await self.answers.once.first(step, NEXT_QUESTION_TTL):
            log.info("the next DM question was posted by another delivery of this answer")
            return
        following = next_field(done.progress)
        payload = (question_message(title, done.progress, following) if following is not None
                   else thanks_message(title, wave_id))
        await self._post(member, origin.enterprise, payload)

    async def _ask_again(
        self, member: Member, origin: Origin, wave_id: int, key: str, error: str,
        chosen: list[str] | None,
    ) -> None:
        """The question again, with what to fix above its buttons (nothing was stored)."""
        try:
            title, question = await self._question(member, wave_id, key)
            progress = await self.flow.progress(wave_id, member)
        except SurveyError as exc:
            await self._replace(origin, notice_message(str(exc)))
            return
        await self._replace(origin, question_message(
            title, progress, field_of(question, key), error=clip(error, 500), chosen=chosen))

    # -- "Write answer": a one-field modal -----------------------------------------------------
    async def write(self, body: dict[str, Any], value: str) -> None:
        """Open the one-field modal for a number, text or country question."""
        ref = Ref.load(value)
        member = self._member(body)
        origin = origin_of(body, None)
        client = await self.clients.for_team(member.space, origin.enterprise)
        try:
            title, question = await self._question(member, ref.wave_id, ref.key)
        except SurveyError as exc:
            await self._replace(origin, notice_message(str(exc)))
            return
        task = asyncio.ensure_future(self.flow.progress(ref.wave_id, member))
        current = None
        if await within(task, PREFILL_BUDGET):
            current = task.result().answers.get(ref.key)
        else:
            task.cancel()
        meta = WriteMeta(ref.wave_id, member.space, ref.key, origin.channel, origin.ts)
        try:
            await client.views_open(trigger_id=body["trigger_id"],
                                    view=write_view(title, field_of(question, ref.key), current, meta))
        except SlackApiError as exc:
            log.warning("could not open the answer modal: %s", exc.response.get("error"))

    async def written(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        """The one-field modal submitted: errors on the field, else store and move on."""
        view = body["view"]
        meta = WriteMeta.load(view.get("private_metadata", ""))
        member = self._member(body, meta.team)
        raw = state_values(view, (meta.key,))
        try:
            _title, qn, _community = await self.answers.wave_info(meta.wave_id)
            AnswerFlow.validate(qn, raw)
        except PageInvalid as exc:
            await ack(response_action="errors",
                      errors={meta.key: clip(exc.errors.get(meta.key) or str(exc), 150)})
            return
        except SurveyError as exc:
            await ack(response_action="errors", errors={meta.key: clip(str(exc), 150)})
            return
        await ack()
        origin = Origin(member.space, enterprise_of(body), meta.channel, meta.ts)
        await self.record(member, origin, meta.wave_id, meta.key, raw)
