"""Neutral messages and replies rendered as Block Kit (built with slack_sdk.models).

A `Message` (a post, or a command's reply) becomes: a header (title), plain-text sections (the text, split at
Slack's 3,000-character section limit), a section of fields (≤10 per section) and an
actions block of buttons. slack_sdk's models check each element's limits when the blocks
are serialised; the 50-block message limit is applied here. Community text only ever
appears in `plain_text` objects (see `bot.slack.text`), and the message's fallback
`text` (used in notifications) is escaped.

Every "Take the survey" button of a message gets a secondary "Answer in DMs" button next
to it: the same survey one question at a time in the member's DM (`bot.slack.dm_answering`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from bot.commands import CONFIRM_DELETE_MY_DATA, DELETE_MY_DATA
from bot.slack.text import chunks, clip, escape, plain
from surveys.ports import TAKE_SURVEY, Button, Message

log = logging.getLogger(__name__)

ANSWER_IN_DM = "stateof_dm_start"  # "Answer in DMs": one question at a time in a DM
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS_PER_SECTION = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTONS_PER_BLOCK = 25
FALLBACK_TEXT = 3000


def pt(text: str, limit: int) -> PlainTextObject:
    """A plain_text object with community text made safe and clipped."""
    return PlainTextObject(text=plain(text, limit) or " ", emoji=True)


def text_sections(text: str, limit: int = SECTION_TEXT) -> list[Block]:
    """Plain-text sections holding `text` (several when longer than one section allows)."""
    return [SectionBlock(text=pt(piece, limit)) for piece in chunks(text, limit - 100) if piece.strip()]


def field_sections(fields: Sequence[tuple[str, str]]) -> list[Block]:
    """Fields as two-column sections; each field is `label` over `value`, in plain text."""
    out: list[Block] = []
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        group = fields[start:start + FIELDS_PER_SECTION]
        out.append(SectionBlock(fields=[pt(f"{label}\n{value}", FIELD_TEXT) for label, value in group]))
    return out


def button(b: Button, action_id: str | None = None) -> ButtonElement:
    """A neutral button; survey buttons are primary, deleting data asks to confirm."""
    style = None
    confirm = None
    if b.action == TAKE_SURVEY:
        style = "primary"
    elif b.action in (DELETE_MY_DATA, CONFIRM_DELETE_MY_DATA):
        style = "danger"
        confirm = ConfirmObject(
            title="Delete your answers?",
            text="This deletes every survey answer you gave in this community. Summaries "
                 "will no longer count them. This cannot be undone.",
            confirm="Delete",
            deny="Keep them",
            style="danger",
        )
    return ButtonElement(
        text=pt(b.label, BUTTON_TEXT), action_id=action_id or b.action, value=clip(b.value, 2000),
        style=style, confirm=confirm,
    )


def with_dm_option(buttons: Iterable[Button]) -> list[Button]:
    """Add "Answer in DMs" after every "Take the survey" button (same wave)."""
    out: list[Button] = []
    for b in buttons:
        out.append(b)
        if b.action == TAKE_SURVEY:
            out.append(Button("Answer in DMs", ANSWER_IN_DM, b.value))
    return out


def action_blocks(buttons: Sequence[Button], block_id: str | None = None) -> list[Block]:
    """Buttons in actions blocks (≤25 each); repeated action ids get a `:n` suffix."""
    out: list[Block] = []
    for start in range(0, len(buttons), BUTTONS_PER_BLOCK):
        seen: dict[str, int] = {}
        elements = []
        for b in buttons[start:start + BUTTONS_PER_BLOCK]:
            n = seen.get(b.action, 0)
            seen[b.action] = n + 1
            elements.append(button(b, b.action if n == 0 else f"{b.action}:{n}"))
        bid = f"{block_id}:{start}" if block_id and start else block_id
        out.append(ActionsBlock(elements=elements, block_id=bid))
    return out


def message_blocks(
    title: str, text: str, fields: Sequence[tuple[str, str]] = (),
    buttons: Sequence[Button] = (), notes: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Blocks (as dicts, validated by slack_sdk) for a message or a reply."""
    blocks: list[Block] = []
    if title:
        blocks.append(HeaderBlock(text=pt(title, HEADER_TEXT)))
    blocks += text_sections(text)
    blocks += field_sections(list(fields))
    if notes:
        blocks.append(ContextBlock(elements=[pt(n, 2000) for n in notes[:10]]))
    actions = action_blocks(list(buttons))
    room = MAX_MESSAGE_BLOCKS - len(actions)
    if len(blocks) > room:
        cut = ContextBlock(elements=[pt("(shortened: too long for one message)", 100)])
        blocks = blocks[: room - 1] + [cut]
    return [b.to_dict() for b in blocks + actions]


def fallback_text(title: str, text: str) -> str:
    """The escaped notification text that accompanies blocks."""
    joined = f"{title}\n{text}".strip() if title else text
    return escape(clip(joined, FALLBACK_TEXT)) or " "


def render_message(message: Message) -> dict[str, Any]:
    """chat.postMessage arguments (`text`, `blocks`) for a neutral message."""
    return {
        "text": fallback_text(message.title, message.text),
        "blocks": message_blocks(
            message.title, message.text, message.fields, with_dm_option(message.buttons)
        ),
    }


def render_reply(reply: Message, notes: Sequence[str] = ()) -> dict[str, Any]:
    """respond()/chat.postEphemeral arguments for a command reply."""
    return {
        "text": fallback_text(reply.title, reply.text),
        "blocks": message_blocks(reply.title, reply.text, (), with_dm_option(reply.buttons), notes),
    }

