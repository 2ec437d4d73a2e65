"""The Discord side of the domain's `Notifier` port: channel posts, DMs, channel members.

Messages become one embed (escaped title, text and fields; the first PNG chart as its
image), the files as attachments and the buttons as persistent components. Nothing can
ping (`allowed_mentions=none`). discord.py queues requests per rate-limit bucket and honours
429s and Retry-After; on top, every post and DM takes its slots from a `FanoutLimiter` so a
reminder run stays well under Discord's global limit. A DM refused with 50007 (the member
does not accept DMs from us) returns False so the scheduler records it and never retries.
"""

from __future__ import annotations

import logging

import discord

from bot.discord.pacing import FanoutLimiter
from bot.discord.render import message_payload
from surveys.identity import Member
from surveys.ports import ChannelRef, DeliveryError, Message

log = logging.getLogger(__name__)

CANNOT_DM = 50007  # "Cannot send messages to this user"


class DiscordNotifier:
    """Posts and DMs through a connected discord.py client."""

    platform = "discord"

    def __init__(self, client: discord.Client, limiter: FanoutLimiter | None = None):
        self.client = client
        self.limiter = limiter or FanoutLimiter()

    async def _channel(self, channel: ChannelRef) -> discord.abc.Messageable:
        found = self.client.get_channel(int(channel.channel))
        if found is None:
            await self.limiter.acquire()
            try:
                found = await self.client.fetch_channel(int(channel.channel))
            except (discord.NotFound, discord.Forbidden) as exc:
                raise DeliveryError(f"Discord channel {channel.channel} is not reachable: {exc}") from exc
        if not isinstance(found, discord.abc.Messageable):
            raise DeliveryError(f"Discord channel {channel.channel} cannot take messages")
        return found

    async def post(self, channel: ChannelRef, message: Message) -> str | None:
        target = await self._channel(channel)
        await self.limiter.acquire()
        try:
            sent = await target.send(**message_payload(message, channel.space))
        except (discord.NotFound, discord.Forbidden) as exc:
            raise DeliveryError(f"cannot post in Discord channel {channel.channel}: {exc}") from exc
        return str(sent.id)

    async def dm(self, member: Member, message: Message) -> bool:
        user_id = int(member.user)
        user = self.client.get_user(user_id)
        try:
            if user is None:
                await self.limiter.acquire()
                user = await self.client.fetch_user(user_id)
            # opening the DM channel (once per user and process) is a request of its own
            await self.limiter.acquire(1 if user.dm_channel is not None else 2)
            await user.send(**message_payload(message, member.space))
        except discord.Forbidden as exc:
            if exc.code == CANNOT_DM:
                log.info("a Discord member does not accept DMs from us (50007); recorded")
                return False
            raise DeliveryError(f"cannot DM a Discord member: {exc}") from exc
        except discord.NotFound as exc:
            raise DeliveryError(f"unknown Discord user: {exc}") from exc
        return True

    async def channel_members(self, channel: ChannelRef) -> list[str] | None:
        """Members who can see the channel, from the guild cache (needs the members intent)."""
        if not self.client.intents.members:
            return None
        guild = self.client.get_guild(int(channel.space))
        if guild is None:
            return None
        found = guild.get_channel(int(channel.channel))
        if found is None or not hasattr(found, "members"):
            return None
        return [str(m.id) for m in found.members if not m.bot]
