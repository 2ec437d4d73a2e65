"""The Slack side of the domain's `Notifier` port: channel posts, DMs, channel members, files.

- `post`: chat.postMessage with Block Kit (header, plain-text sections, fields, buttons)
  and escaped fallback text, no unfurling; files (PNG charts, CSV) follow with
  files_upload_v2 in the same channel. A post is one message: once chat.postMessage has
  answered, `post` returns its ts whatever happens to the files, so a caller that retries
  `post` never posts the message twice. A failed upload is retried on its own (a few times,
  with jitter) and then reported in the log, never by posting the message again.
- `dm`: conversations.open (the DM channel is cached per member), then the same post.
  A member who cannot receive DMs (deactivated, a bot, not visible) returns False so the
  caller records it and never retries.
- `channel_members`: conversations.members, all pages, without our own bot user.

Every call goes through the workspace's paced client (`bot.slack.ratelimit`), so a
reminder fan-out runs at Slack's published rates and 429s are retried after Retry-After.
A channel that is gone or that the app is not in raises `DeliveryError` (not retried).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

from slack_sdk.errors import SlackApiError

from bot.slack.clients import NotInstalled, SlackClients
from bot.slack.render import render_message
from bot.slack.text import clip, escape, plain
from surveys.identity import Member
from surveys.ports import Attachment, ChannelRef, DeliveryError, Message

log = logging.getLogger(__name__)

PLATFORM = "slack"
CHANNEL_GONE = {
    "channel_not_found", "is_archived", "not_in_channel", "channel_is_archived",
    "restricted_action", "restricted_action_read_only_channel", "team_access_not_granted",
    "ekm_access_denied", "invalid_auth", "account_inactive", "token_revoked", "missing_scope",
}
CANNOT_DM = {
    "user_not_found", "user_not_visible", "user_disabled", "cannot_dm_bot",
    "messages_tab_disabled", "channel_not_found", "is_archived", "not_in_channel",
    "users_list_not_supplied", "restricted_action",
}
UPLOAD_DELAYS = (2.0, 6.0)  # seconds before the 2nd and 3rd upload attempt (shortened by jitter)


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code, or the HTTP status when the answer was not JSON (a 5xx page)."""
    response = exc.response
    if response is None:
        return str(exc)
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error"))
    return f"HTTP {getattr(response, 'status_code', '?')}"


class SlackNotifier:
    """Posts, DMs and uploads through the workspace's paced Web API client."""

    platform = PLATFORM

    def __init__(
        self, clients: SlackClients, *, upload_delays: Sequence[float] = UPLOAD_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.clients = clients
        self.upload_delays = tuple(upload_delays)
        self.sleep = sleep
        self.failed_uploads = 0  # messages posted whose files could not be uploaded
        self._dm_channels: dict[tuple[str, str], str] = {}

    async def _client(self, space: str):
        try:
            return await self.clients.for_team(space)
        except NotInstalled as exc:
            raise DeliveryError(str(exc)) from None

    # -- channels --------------------------------------------------------------------
    async def post(self, channel: ChannelRef, message: Message) -> str | None:
        client = await self._client(channel.space)
        try:
            resp = await client.chat_postMessage(
                channel=channel.channel, unfurl_links=False, unfurl_media=False,
                **render_message(message),
            )
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in CHANNEL_GONE:
                hint = " (invite the app with /invite)" if error == "not_in_channel" else ""
                raise DeliveryError(f"cannot post in Slack channel {channel.channel}: {error}{hint}") from exc
            raise
        ts = str(resp["ts"])
        if message.attachments:
            await self._attach(channel.space, str(resp.get("channel") or channel.channel), message)
        return ts

    async def _attach(self, space: str, channel_id: str, message: Message) -> None:
        """Upload a posted message's files: retried on its own, then reported (never raised,
        so the message is not posted again)."""
        for attempt in range(len(self.upload_delays) + 1):
            try:
                await self.upload(space, channel_id, message.attachments)
                return
            except DeliveryError as exc:
                problem = str(exc)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a 5xx, a failed completeUploadExternal, a timeout
                problem = f"{type(exc).__name__}: {exc}"
                if attempt < len(self.upload_delays):
                    delay = self.upload_delays[attempt] * (1.0 - 0.5 * random.random())
                    log.warning("uploading the files of a posted message failed (%s); retrying in "
                                "%.1f s", problem, delay)
                    await self.sleep(delay)
        self.failed_uploads += 1
        log.error("posted %r in %s but could not upload its %d file(s): %s; the message is not "
                  "posted again", message.title, channel_id, len(message.attachments), problem)

    async def upload(
        self, space: str, channel_id: str, attachments: Sequence[Attachment], comment: str = ""
    ) -> list[str]:
        """Upload files (charts, CSV) into a channel with files_upload_v2; returns file ids."""
        if not attachments:
            return []
        client = await self._client(space)
        uploads = [
            {"content": a.data, "filename": a.filename, "title": plain(a.title or a.filename, 250)}
            for a in attachments
        ]
        kwargs = {"initial_comment": escape(clip(comment, 3000))} if comment else {}
        try:
            resp = await client.files_upload_v2(channel=channel_id, file_uploads=uploads, **kwargs)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in CHANNEL_GONE:
                raise DeliveryError(f"cannot upload to Slack channel {channel_id}: {error}") from exc
            raise
        return [str(f.get("id")) for f in resp.get("files", [])]

    async def channel_members(self, channel: ChannelRef) -> list[str] | None:
        try:
            client = await self.clients.for_team(channel.space)
        except NotInstalled:
            return None
        me = (await self.clients.identity(client)).get("user_id")
        members: list[str] = []
        cursor = None
        try:
            while True:
                resp = await client.conversations_members(
                    channel=channel.channel, limit=1000, cursor=cursor
                )
                page: list[str] = resp.get("members") or []
                members += [m for m in page if m != me]
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            log.warning("cannot list the members of %s: %s", channel.channel, slack_error(exc))
            return None
        return members

    # -- direct messages ---------------------------------------------------------------
    async def dm_channel(self, member: Member) -> str | None:
        """The DM channel with a member (conversations.open once, then cached); None if closed."""
        key = (member.space, member.user)
        found = self._dm_channels.get(key)
        if found:
            return found
        client = await self._client(member.space)
        try:
            resp = await client.conversations_open(users=member.user)
        except SlackApiError as exc:
            if slack_error(exc) in CANNOT_DM:
                log.info("a Slack member cannot get DMs from us (%s)", slack_error(exc))
                return None
            raise
        channel = str(resp["channel"]["id"])
        self._dm_channels[key] = channel
        return channel

    async def dm(self, member: Member, message: Message) -> bool:
        channel = await self.dm_channel(member)
        if channel is None:
            return False
        try:
            await self.post(ChannelRef(PLATFORM, member.space, channel), message)
        except DeliveryError as exc:
            log.info("a DM could not be delivered: %s", exc)
            self._dm_channels.pop((member.space, member.user), None)
            return False
        return True

    async def send_files(self, member: Member, attachments: Sequence[Attachment], comment: str) -> bool:
        """Files for one member alone (an export, a results chart): uploaded into their DM."""
        channel = await self.dm_channel(member)
        if channel is None:
            return False
        try:
            await self.upload(member.space, channel, attachments, comment)
        except DeliveryError:
            return False
        return True
