"""Answer every interaction within Discord's 3-second window.

The work runs as a task; when it finishes within `DEFER_AFTER` seconds its outcome is the
interaction's response, otherwise the interaction is deferred first and the outcome follows
as an edit (components) or a follow-up (commands), which may take up to 15 minutes.

The seconds count from when Discord created the interaction (its snowflake id), not from
when our handler started: under load an event can wait in the gateway socket or the event
loop, and that time counts against Discord's 3 seconds too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.answering.conversation import within
from bot.discord.acks import acknowledged
from bot.discord.render import NO_MENTIONS, embed_for, safe
from bot.saving import ACK_BUDGET

log = logging.getLogger(__name__)

DEFER_AFTER = ACK_BUDGET  # seconds from the interaction's creation before deferring
SORRY = "Something went wrong on our side. Your answers so far are saved; please try again."
TOO_LATE = "That took too long; please press the button again."  # a modal cannot follow a deferral


@dataclass
class Outcome:
    """What to show: a v2 layout (answer pages), or an embed with files and buttons."""

    view: discord.ui.View | discord.ui.LayoutView | None = None
    embed: discord.Embed | None = None
    files: list[discord.File] = field(default_factory=list)
    ephemeral: bool = True
    modal: discord.ui.Modal | None = None


def text_layout(text: str) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(discord.ui.TextDisplay(safe(text, 3900)))
    return view


def age(interaction: discord.Interaction) -> float:
    """Seconds since Discord created the interaction (0 when our clock is behind Discord's)."""
    seconds = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    return min(max(seconds, 0.0), 3.0)


class SeenInteractions:
    """Interaction ids already handled (a re-delivered interaction is dropped)."""

    def __init__(self, size: int = 20_000):
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def first(self, interaction_id: int) -> bool:
        if interaction_id in self._ids:
            return False
        self._ids[interaction_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


async def answer(
    interaction: discord.Interaction,
    work: Callable[[], Awaitable[Outcome]],
    *,
    edit: bool,
    defer_first: bool = False,
    ephemeral: bool = True,
    budget: float | None = None,
) -> Outcome | None:
    """Run `work` and show its outcome (`edit`: on the component's message, else a new one),
    deferring when it takes longer than the budget; a failure shows a short apology."""
    edit = edit and interaction.message is not None
    task = asyncio.ensure_future(work())
    deferred = False
    try:
        left = (DEFER_AFTER if budget is None else budget) - age(interaction)
        if defer_first or not await within(task, left):
            deferred = True
            if not interaction.response.is_done():
                await (interaction.response.defer() if edit else
                       interaction.response.defer(ephemeral=ephemeral, thinking=True))
                acknowledged()
        try:
            outcome = await task
        except Exception:
            log.exception("handling a Discord interaction failed")
            outcome = Outcome(view=text_layout(SORRY)) if edit else Outcome(embed=embed_for("", SORRY))
        await _deliver(interaction, outcome, edit=edit, deferred=deferred)
        return outcome
    except discord.HTTPException as exc:
        # 40060 already acknowledged / 10062 unknown interaction: a duplicate or a late one.
        log.warning("could not answer interaction %s: %s", interaction.id, exc)
        return None
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _deliver(
    interaction: discord.Interaction, out: Outcome, *, edit: bool, deferred: bool
) -> None:
    if out.modal is not None:
        if deferred or interaction.response.is_done():
            await interaction.followup.send(embed=embed_for("", TOO_LATE), ephemeral=True,
                                            allowed_mentions=NO_MENTIONS)
            return
        out.modal.stop()  # a finished modal is not kept in memory: submits go to our listener
        await interaction.response.send_modal(out.modal)
        acknowledged()
        return
    kwargs: dict = {"allowed_mentions": NO_MENTIONS}
    kwargs.update({k: v for k, v in (("view", out.view), ("embed", out.embed)) if v is not None})
    if out.files:
        kwargs["attachments" if edit else "files"] = out.files
    send: Callable[..., Awaitable[Any]]
    if edit:  # the message the component sits on
        send = interaction.edit_original_response if deferred else interaction.response.edit_message
    else:
        kwargs["ephemeral"] = out.ephemeral
        send = interaction.followup.send if deferred else interaction.response.send_message
    await send(**kwargs)
    if not deferred:
        acknowledged()
