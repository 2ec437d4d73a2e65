"""Neutral messages and replies rendered for Discord: escaped text, embeds, files, buttons.

Community text (questionnaire labels, wave names, answers) is untrusted: it is escaped so it
cannot format, ping or break a message (`safe`), cut to Discord's limits (`clip`), and every
send uses `NO_MENTIONS`. Component labels (buttons, select options, placeholders) do not
render markdown, so they are only clipped.
"""

from __future__ import annotations

import io
import logging

import discord

from bot.commands import CONFIRM_DELETE_MY_DATA, DELETE_MY_DATA, STOP_REMINDERS
from surveys.ports import TAKE_SURVEY, Attachment, Button, Message

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
BRAND = discord.Colour(0x5865F2)

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FIELDS = 25
EMBED_TOTAL = 6000
CONTENT = 2000
BUTTON_LABEL = 80


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def safe(text: str, limit: int | None = None) -> str:
    """Escape untrusted text for markdown surfaces (content, embeds, text displays)."""
    escaped = discord.utils.escape_markdown(discord.utils.escape_mentions(text or ""))
    return clip(escaped, limit) if limit else escaped


def to_file(attachment: Attachment) -> discord.File:
    return discord.File(
        io.BytesIO(attachment.data), filename=attachment.filename,
        description=clip(attachment.title, 1024) or None,
    )


def embed_for(title: str, text: str, fields: list[tuple[str, str]] | None = None,
              attachments: list[Attachment] | None = None) -> discord.Embed:
    """One embed: escaped title, description and fields within Discord's limits.

    The first PNG attachment is shown as the embed's image (`attachment://NAME`).
    """
    embed = discord.Embed(
        title=safe(title, EMBED_TITLE) or None,
        description=safe(text, EMBED_DESCRIPTION) or None,
        colour=BRAND,
    )
    budget = EMBED_TOTAL - len(embed.title or "") - len(embed.description or "")
    for name, value in (fields or [])[:EMBED_FIELDS]:
        n, v = safe(name, EMBED_FIELD_NAME) or "\u200b", safe(value, EMBED_FIELD_VALUE) or "\u200b"
        if len(n) + len(v) > budget:
            break
        budget -= len(n) + len(v)
        embed.add_field(name=n, value=v, inline=False)
    image = next((a for a in attachments or [] if a.mime_type == "image/png"), None)
    if image is not None:
        embed.set_image(url=f"attachment://{image.filename}")
    return embed


def message_payload(message: Message, space: str) -> dict:
    """Keyword arguments for `Messageable.send` / `Webhook.send` from a neutral message."""
    kwargs: dict = {
        "embed": embed_for(message.title, message.text, message.fields, message.attachments),
        "allowed_mentions": NO_MENTIONS,
    }
    if message.attachments:
        kwargs["files"] = [to_file(a) for a in message.attachments]
    view = buttons_view(message.buttons, space)
    if view is not None:
        kwargs["view"] = view
    return kwargs


def reply_payload(reply: Message, space: str) -> dict:
    """Keyword arguments for an interaction response or follow-up from a command reply."""
    kwargs: dict = {
        "embed": embed_for(reply.title, reply.text, attachments=reply.attachments),
        "allowed_mentions": NO_MENTIONS,
        "ephemeral": reply.ephemeral,
    }
    if reply.attachments:
        kwargs["files"] = [to_file(a) for a in reply.attachments]
    view = buttons_view(reply.buttons, space)
    if view is not None:
        kwargs["view"] = view
    return kwargs


def buttons_view(buttons: list[Button], space: str) -> discord.ui.View | None:
    """Neutral buttons as persistent (restart-proof) Discord buttons; None when there are none."""
    from bot.discord.items import MyDataButton, TakeSurveyButton

    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:25]:
        label = clip(button.label, BUTTON_LABEL)
        if button.action == TAKE_SURVEY:
            view.add_item(TakeSurveyButton(int(button.value), space, label=label))
        elif button.action in (DELETE_MY_DATA, CONFIRM_DELETE_MY_DATA, STOP_REMINDERS):
            view.add_item(MyDataButton(button.action, space, label=label))
        else:
            log.warning("no Discord rendering for button action %r; left out", button.action)
    return view if view.children else None
