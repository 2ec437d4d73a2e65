"""Ports the domain owns; platform adapters implement them (bot/slack, bot/discord, console).

Messages are neutral: plain text that the adapter escapes for its platform (community
text is untrusted: no mentions, no markup injection), plus fields, buttons and files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from surveys.identity import Member

log = logging.getLogger(__name__)

TAKE_SURVEY = "take_survey"


@dataclass(frozen=True)
class ChannelRef:
    """A channel on a platform: Slack channel id in a team, Discord channel id in a guild."""

    platform: str
    space: str
    channel: str

    def to_dict(self) -> dict[str, str]:
        return {"platform": self.platform, "space": self.space, "channel": self.channel}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ChannelRef:
        return cls(str(data["platform"]), str(data["space"]), str(data["channel"]))


@dataclass(frozen=True)
class Attachment:
    """A file to upload with a message, e.g. a PNG chart or a CSV export."""

    filename: str
    data: bytes
    title: str = ""
    mime_type: str = "image/png"


@dataclass(frozen=True)
class Button:
    """A button; `action` is e.g. TAKE_SURVEY and `value` the wave id."""

    label: str
    action: str
    value: str


@dataclass
class Message:
    """A neutral chat message. `text` is plain (untrusted parts unescaped); adapters escape.

    The same type answers a command or a click: `ephemeral` (the default, private by default)
    shows it only to the member who asked; channel posts and DMs ignore it.
    """

    title: str
    text: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    ephemeral: bool = True


class DeliveryError(Exception):
    """A platform refused a delivery for good (channel gone, DMs closed); not retried."""


@runtime_checkable
class Notifier(Protocol):
    """What the bot needs from a platform to talk to a community."""

    platform: str

    async def post(self, channel: ChannelRef, message: Message) -> str | None:
        """Post to a channel; returns the platform's message id."""
        ...

    async def dm(self, member: Member, message: Message) -> bool:
        """Send a direct message; False when the member cannot be messaged."""
        ...

    async def channel_members(self, channel: ChannelRef) -> list[str] | None:
        """User ids in a channel (for response rates and invitations), None if unknown."""
        ...
