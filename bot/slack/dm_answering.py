"""Answering in Slack DMs, one question (or grid row) a message: clicks in, messages out.

"Answer in DMs" is a take: the next open question is posted in the member's DM. Each click
is a pick, stored at once; the clicked message is replaced by the question with its answer
(or, with a problem, the question again) and, when the member moved on, the next question
or the thank-you is posted. The clicked message is replaced through the click's
`response_url` (not rate-limited per workspace, unlike chat.update, the fallback and what
the one-field "Write answer" modal uses).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.answering.conversation import Conversation, Picked, one_at_a_time, or_notice, shown
from bot.answering.screens import ALREADY_OPEN, Notice
from bot.slack import dm_render as dm
from bot.slack.answering import PLATFORM, SlackAnswers, enterprise_of, member_of, team_of, wave_of
from bot.slack.clients import NotInstalled, SlackClients
from bot.slack.modals import field_errors, state_value, state_values
from bot.slack.notifier import SlackNotifier
from bot.slack.text import clip, escape
from surveys.identity import Member
from surveys.ports import DeliveryError

log = logging.getLogger(__name__)

NEXT_QUESTION_TTL = 120.0  # seconds in which one answer step posts its next question once
IN_YOUR_DMS = "The survey continues in your direct messages with the app."
CANNOT_DM = ("I cannot send you direct messages. Allow messages from the app, or press "
             "\"Take the survey\" to answer in a form.")
CHOOSE_ONE = "Choose at least one option, then press Save."
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


class SlackDMAnswers:
    """Turns clicks in DM question messages into conversation events and the next message."""

    def __init__(self, answers: SlackAnswers, clients: SlackClients, notifier: SlackNotifier):
        self.conversation = Conversation(answers.services, PLATFORM, one_at_a_time, book=answers.book,
                                         review_on_open=False)
        self.answers = answers  # its `once` claims are shared with the other worker processes
        self.clients = clients
        self.notifier = notifier

    # -- talking to the member ---------------------------------------------------------------
    async def _post(self, member: Member, enterprise: str | None, payload: dict[str, Any]) -> str | None:
        """Post into the member's DM; the DM channel id, or None when they cannot get DMs."""
        try:
            channel = await self.notifier.dm_channel(member)
            if channel is None:
                return None
            client = await self.clients.for_team(member.space, enterprise)
            await client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **payload)
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
        await self._post(member, origin.enterprise, dm.notice_message(text))

    # -- "Answer in DMs" and "Stop for now" --------------------------------------------------
    async def start(self, body: dict[str, Any], value: str, respond: Respond | None) -> None:
        """Post the member's next open question (or "all answered") in their DM."""
        member, origin, wave_id = member_of(body), origin_of(body, respond), wave_of(value)
        if wave_id is None:
            return
        screen = await self.conversation.take(member, wave_id)
        if screen is None:
            return  # the second press of a double press
        if isinstance(screen, Notice):  # a closed wave, …: said every time, nothing is posted
            await self._tell(member, origin, screen.text)
            return
        channel = await self._post(member, origin.enterprise, dm.message_of(screen))
        if channel is None:
            await self._tell(member, origin, CANNOT_DM)
        elif origin.channel != channel and origin.respond is not None:
            await self._tell(member, origin, IN_YOUR_DMS)

    async def stop(self, body: dict[str, Any], value: str, respond: Respond | None) -> None:
        """"Stop for now": nothing to store; the message offers to continue later."""
        wave_id = wave_of(value)
        if wave_id is None:
            return
        screen = await self.conversation.stop(member_of(body), wave_id)
        if isinstance(screen, Notice):
            log.info("a stop click that cannot stop: %s", screen.text)
            return
        await self._replace(origin_of(body, respond), dm.message_of(screen))

    # -- answers -------------------------------------------------------------------------------
    async def answer(self, body: dict[str, Any], action: dict[str, Any], respond: Respond | None) -> None:
        """A click that answers: an option or scale button, a select, "Save" under ticked
        options (the message state), or "Skip" (recorded as skipped)."""
        kind = str(action.get("action_id", "")).split(":", 1)[0]
        member, origin = member_of(body), origin_of(body, respond)
        if kind == dm.DM_SELECT:
            ref = dm.Ref.from_block(str(action.get("block_id", "")))
            value: Any = (action.get("selected_option") or {}).get("value")
        else:
            ref = dm.Ref.load(str(action.get("value", "")))
            value = None if kind == dm.DM_SKIP else ref.option
        if kind == dm.DM_SAVE:
            values = (body.get("state") or {}).get("values") or {}
            value = state_value((values.get(dm.INPUT_PREFIX + ref.dump()) or {}).get(dm.DM_MULTI)) or []
            if not value:  # ticking nothing is no answer here (Skip is)
                screen = await self.conversation.show(member, ref.wave_id, ref.key, {ref.key: CHOOSE_ONE},
                                                      {ref.key: []})
                await self._replace(origin, dm.message_of(screen))
                return
        await self.record(member, origin, ref.wave_id, ref.key, value)

    async def record(self, member: Member, origin: Origin, wave_id: int, key: str, value: Any) -> None:
        """Store `value` for `key`, replace the message, and post the next question."""
        picked = await self.conversation.pick(member, wave_id, key, value)
        if not isinstance(picked, Picked) or not picked.ok:  # a notice, or the question again
            await self._replace(origin, dm.message_of(shown(picked) or Notice(ALREADY_OPEN)))
            return
        await self._replace(origin, dm.answered_message(picked.page))
        if not picked.moved:
            log.debug("a repeated DM answer: nothing more to post")
            return
        # two workers can both see the move (a double click reaching two processes): one posts
        step = f"dm-next:{member.key()}:{wave_id}:{picked.step}"
        if not await self.answers.once.first(step, NEXT_QUESTION_TTL):
            log.info("the next DM question was posted by another delivery of this answer")
            return
        await self._post(member, origin.enterprise, dm.message_of(picked.following))

    # -- "Write answer": a one-field modal -----------------------------------------------------
    async def write(self, body: dict[str, Any], value: str) -> None:
        """Open the one-field modal for a number, text or country question."""
        ref, member, origin = dm.Ref.load(value), member_of(body), origin_of(body, None)
        opened = await self.conversation.opening(member, ref.wave_id, ref.key)
        if isinstance(opened, Notice):
            await self._replace(origin, dm.notice_message(opened.text))
            return
        meta = dm.WriteMeta(ref.wave_id, member.space, ref.key, origin.channel, origin.ts)
        try:
            client = await self.clients.for_team(member.space, origin.enterprise)
            await client.views_open(trigger_id=body["trigger_id"], view=dm.write_view(*opened, meta))
        except SlackApiError as exc:
            log.warning("could not open the answer modal: %s", exc.response.get("error"))

    async def written(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        """The one-field modal submitted: errors on the field, else store and move on."""
        view = body["view"]
        meta = dm.WriteMeta.load(view.get("private_metadata", ""))
        member = member_of(body, meta.team)
        raw = state_values(view, (meta.key,))
        errors = await or_notice(self.conversation.check(meta.wave_id, raw))
        if isinstance(errors, Notice):
            errors = {meta.key: errors.text}
        if errors:
            await ack(response_action="errors", errors=field_errors(errors, (meta.key,)))
            return
        await ack()
        origin = Origin(member.space, enterprise_of(body), meta.channel, meta.ts)
        await self.record(member, origin, meta.wave_id, meta.key, raw[meta.key])
