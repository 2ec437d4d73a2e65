"""What the Slack app hands requests to: `/survey` text commands, my-data buttons, App Home
(answering is in `bot.slack.answering`, the modal, and `bot.slack.dm_answering`, DMs).

A slash command's text is parsed by the command table (`bot.command_table`) into a neutral
`Invocation` for `bot.commands.Commands`, and its reply (a `Message`) rendered back as an
ephemeral (or in-channel) Block Kit message. The command runs while Bolt waits for the ack:
when it is done within `COMMAND_BUDGET` the reply *is* the ack; otherwise (and always for the
table's slow commands) the ack says "working on it"
and the reply follows through the command's response_url. Files (a CSV export, a results
chart) cannot ride on an ephemeral message, so they go to the moderator's DM with the app.

Moderators are workspace admins/owners or members of `STATEOF_SLACK_MODERATOR_GROUP`
(`bot.slack.moderators`); others get the neutral layer's polite, private refusal.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ContextBlock, HeaderBlock, SectionBlock
from slack_sdk.models.views import View

from bot.answering.conversation import within
from bot.command_table import CommandError, bind_args, parse_command_text
from bot.command_table import command as table_command
from bot.commands import (
    CONFIRM_DELETE_MY_DATA,
    DELETE_MY_DATA,
    STOP_REMINDERS,
    Commands,
    Invocation,
    reply,
)
from bot.lifecycle import local_time, preload_analytics
from bot.services import Services
from bot.slack.answering import PLATFORM, SlackAnswers, team_of
from bot.slack.clients import SlackClients
from bot.slack.dm_answering import SlackDMAnswers
from bot.slack.moderators import ModeratorCheck
from bot.slack.notifier import SlackNotifier
from bot.slack.render import ANSWER_IN_DM, button, pt, render_reply
from surveys.identity import Member
from surveys.ports import TAKE_SURVEY, Button, Message
from surveys.waves import questionnaire_of

log = logging.getLogger(__name__)

COMMAND_BUDGET = 2.0  # seconds a command may run before the ack goes out without its reply
CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
WORKING = "Working on it…"
SORRY = "Something went wrong on our side. Please try again; if it keeps failing, tell the operator."


def channel_of(word: str, names: dict[str, str]) -> str | None:
    """A channel id from `<#C123|general>`, a bare id, or `#name` (already resolved)."""
    match = CHANNEL_MENTION.match(word)
    if match:
        return match.group(1)
    if word.startswith("#"):
        return names.get(word[1:].lower())
    return word if CHANNEL_ID.match(word) else None


class SlackFrontend:
    """Handles `/survey`, my-data buttons and the App Home for one app."""

    def __init__(
        self, services: Services, clients: SlackClients, notifier: SlackNotifier,
        moderators: ModeratorCheck,
    ):
        self.services = services
        self.clients = clients
        self.notifier = notifier
        self.moderators = moderators
        preload_analytics()  # not on the first /survey results, inside the event loop
        self.commands = Commands(services)
        self.answers = SlackAnswers(services, clients)
        self.dm = SlackDMAnswers(self.answers, clients, notifier)
        self._channel_names: dict[str, tuple[float, dict[str, str]]] = {}

    # -- /survey ---------------------------------------------------------------------------
    async def command(
        self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any],
        respond: Callable[..., Awaitable[Any]],
    ) -> None:
        team = str(body.get("team_id", ""))
        client = await self.clients.for_team(team, body.get("enterprise_id"))
        try:
            name, positional, options = parse_command_text(str(body.get("text", "")))
            spec = table_command(name)
            if any(w.startswith("#") and len(w) > 1 for w in positional):
                # a #name Slack did not turn into a channel link: looking it up is a paced Web
                # API call (conversations.list), so it happens after the ack
                await ack(**_payload(reply(WORKING)))
                await self._command_after_lookup(client, body, team, name, positional, options, respond)
                return
            args = bind_args(name, positional, options, lambda w: channel_of(w, {}))
        except CommandError as exc:
            await ack(**_payload(reply(str(exc))))
            return
        started = time.monotonic()
        inv_task = asyncio.ensure_future(self._invocation(client, body, name, args))
        if not await within(inv_task, COMMAND_BUDGET / 2):
            await ack(**_payload(reply(WORKING)))
            inv = await inv_task
            await self._deliver(inv, await self._run(inv), respond)
            return
        inv = inv_task.result()
        if spec.moderator and not inv.is_moderator:
            log.info("refused /survey %s for a member without moderator rights", name)
        elif spec.slow:
            await ack(**_payload(reply(WORKING)))
            await self._deliver(inv, await self._run(inv), respond)
            return
        task = asyncio.ensure_future(self._run(inv))
        left = COMMAND_BUDGET - (time.monotonic() - started)
        if await within(task, max(left, 0.1)) and not task.result().attachments:
            await ack(**_payload(task.result()))
            return
        await ack(**_payload(reply(WORKING)))
        await self._deliver(inv, await task, respond)

    async def _command_after_lookup(
        self, client: Any, body: dict[str, Any], team: str, name: str, positional: list[str],
        options: dict[str, str], respond: Callable[..., Awaitable[Any]],
    ) -> None:
        try:
            names = await self._resolve_names(client, team, positional)
            args = bind_args(name, positional, options, lambda w: channel_of(w, names))
        except CommandError as exc:
            await respond(replace_original=True, **_payload(reply(str(exc))))
            return
        except Exception:
            log.exception("could not look up channel names for /survey %s", name)
            await respond(replace_original=True, **_payload(reply(
                "Could not look up that channel name; pick the channel from Slack's suggestions "
                "(so it becomes a link) and try again.")))
            return
        inv = await self._invocation(client, body, name, args)
        await self._deliver(inv, await self._run(inv), respond)

    async def _invocation(
        self, client: Any, body: dict[str, Any], name: str, args: dict[str, str]
    ) -> Invocation:
        team, user = str(body.get("team_id", "")), str(body.get("user_id", ""))
        moderator = False
        if table_command(name).moderator or name == "help":
            moderator = await self.moderators.is_moderator(client, team, user)
        return Invocation(PLATFORM, team, body.get("channel_id") or None, user, moderator, name, args)

    async def _run(self, inv: Invocation) -> Message:
        try:
            return await self.commands.run(inv)
        except Exception:
            log.exception("/survey %s failed", inv.command)
            return reply(SORRY)

    async def _deliver(
        self, inv: Invocation, answer: Message, respond: Callable[..., Awaitable[Any]]
    ) -> None:
        notes: list[str] = []
        if answer.attachments:
            sent = await self.notifier.send_files(
                inv.member, answer.attachments, answer.title or "Your survey file")
            notes.append("The file is in your direct messages with the app." if sent else
                         "The file could not be sent: allow direct messages from the app.")
        await respond(replace_original=True, **_payload(answer, notes))

    async def _resolve_names(self, client: Any, team: str, words: list[str]) -> dict[str, str]:
        """`#name` words → channel ids (conversations.list, cached for a minute)."""
        wanted = {w[1:].lower() for w in words if w.startswith("#") and len(w) > 1}
        if not wanted:
            return {}
        cached = self._channel_names.get(team)
        if cached and cached[0] > time.monotonic() and wanted <= set(cached[1]):
            return cached[1]
        names: dict[str, str] = {}
        cursor = None
        try:
            while True:
                resp = await client.conversations_list(
                    types="public_channel,private_channel", exclude_archived=True, limit=1000,
                    cursor=cursor,
                )
                for ch in resp.get("channels", []):
                    names[str(ch.get("name", "")).lower()] = str(ch["id"])
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            log.warning("cannot list channels: %s", exc.response.get("error"))
        self._channel_names[team] = (time.monotonic() + 60, names)
        missing = wanted - set(names)
        if missing:
            raise CommandError(
                f"I cannot see #{sorted(missing)[0]}. Invite the app to it (/invite @stateof) "
                "or pick the channel from Slack's autocomplete."
            )
        return names

    # -- my-data buttons --------------------------------------------------------------------
    async def my_data(
        self, body: dict[str, Any], action: str, respond: Callable[..., Awaitable[Any]]
    ) -> None:
        member = Member(PLATFORM, team_of(body), body["user"]["id"])
        if action in (DELETE_MY_DATA, CONFIRM_DELETE_MY_DATA):  # Slack showed the confirm dialog
            answer = await self.commands.delete_my_data(member)
        elif action == STOP_REMINDERS:
            answer = await self.commands.stop_reminders(member)
        else:
            answer = reply("This button is no longer supported.")
        payload = _payload(answer)
        payload.pop("response_type", None)
        if body.get("response_url"):
            await respond(replace_original=True, **payload)
        else:
            await self.notifier.dm(member, answer)

    # -- App Home ------------------------------------------------------------------------
    async def publish_home(self, team: str, user: str, enterprise: str | None = None) -> None:
        """The App Home tab: open waves with "Take the survey" and "Answer in DMs"."""
        member = Member(PLATFORM, team, user)
        community = await self.services.community_for(PLATFORM, team)
        waves = await self.commands.open_wave_ids(PLATFORM, team)
        blocks: list[Any] = [HeaderBlock(text=pt("Community surveys", 150))]
        if not waves:
            blocks.append(SectionBlock(text=pt("No survey is open right now. We will let you "
                                               "know when the next one starts.", 3000)))
        for wave in waves[:20]:
            qn = questionnaire_of(wave)
            progress = await self.services.flow.progress(wave.id, member)
            done, total = progress.position
            state = ("completed — you can still change answers" if progress.completed
                     else f"{done} of {total} answered" if progress.answers else "not started")
            blocks.append(SectionBlock(text=pt(
                f"{qn.title} {wave.label}\nCloses {local_time(wave.closes_at, community.timezone)}"
                f" · about {qn.minutes} minutes · {state}", 3000)))
            take = Button("Continue the survey" if progress.answers else "Take the survey",
                          TAKE_SURVEY, str(wave.id))
            in_dm = Button("Answer in DMs", ANSWER_IN_DM, str(wave.id))
            blocks.append(ActionsBlock(elements=[button(take), button(in_dm)]))
        blocks.append(ContextBlock(elements=[pt(
            "Answers are stored under a pseudonym. See or delete yours with /survey my-data.",
            2000)]))
        client = await self.clients.for_team(team, enterprise)
        view = View(type="home", blocks=blocks).to_dict()
        try:
            await client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            log.warning("could not publish the App Home: %s", exc.response.get("error"))


def _payload(answer: Message, notes: list[str] | None = None) -> dict[str, Any]:
    rendered = render_reply(answer, notes or ())
    rendered["response_type"] = "ephemeral" if answer.ephemeral else "in_channel"
    return rendered

