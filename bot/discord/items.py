"""Restart-proof Discord components: every button and select carries its state in its custom_id.

Each class is a `discord.ui.DynamicItem` registered once in `setup_hook`; discord.py matches
an incoming `custom_id` against the templates, rebuilds the item and calls `callback`, so
components keep working after the bot restarts (no in-memory views). The work is done by
`client.stateof` (`bot.discord.answering.AnswerUI` and the app-command handlers).

custom_id layout (at most 100 characters):
    stateof:take:WAVE:SPACE               "Take the survey" (announcements, reminders)
    stateof:pick:WAVE:SPACE:FIELD[~PART]  an answer select; FIELD = question index[.row index]
    stateof:range:WAVE:SPACE:FIELD        first-letters picker of a long list (countries)
    stateof:write:WAVE:SPACE:FIELD        opens the modal of a number or text question
    stateof:nav:WAVE:SPACE:FIELD:DIR      Next (n), Back (b), Finish (f), review (s); FIELD
                                          is the first field of the page the button sits on
    stateof:my:ACTION:SPACE               my-data buttons (delete, confirm, stop reminders)
Modals use `stateof:modal:WAVE:SPACE:FIELD` and are answered by a listener (`AnswerUI`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord.ui import DynamicItem

log = logging.getLogger(__name__)

PREFIX = "stateof"
_WS = r"(?P<wave>\d+):(?P<space>\d+)"
_FIELD = r"(?P<field>\d+(?:\.\d+)?)"
TAKE = rf"{PREFIX}:take:{_WS}"
SELECT = rf"{PREFIX}:(?P<kind>pick|range):{_WS}:{_FIELD}(?:~(?P<part>\d+))?"
BUTTON = rf"{PREFIX}:(?P<kind>write|nav):{_WS}:{_FIELD}(?::(?P<dir>[nbfs]))?"
MY = rf"{PREFIX}:my:(?P<action>[a-z_]+):(?P<space>\d+)"
MODAL = re.compile(rf"{PREFIX}:modal:{_WS}:{_FIELD}")


def _stateof(interaction: discord.Interaction) -> Any:
    return interaction.client.stateof  # type: ignore[attr-defined]  # set on our client (client.py)


class _Item(DynamicItem[Any], template=r"stateof:__never__"):
    """Shared behaviour: drop duplicate deliveries; hand the work to `client.stateof`."""

    @property
    def match(self) -> re.Match[str]:
        found = self.template.fullmatch(self.custom_id)
        assert found is not None
        return found

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return _stateof(interaction).first_delivery(interaction)


class TakeSurveyButton(_Item, template=TAKE):
    def __init__(self, wave: int, space: str, *, label: str = "Take the survey"):
        super().__init__(discord.ui.Button(
            label=label, style=discord.ButtonStyle.primary, custom_id=f"{PREFIX}:take:{wave}:{space}",
        ))

    @classmethod
    async def from_custom_id(cls, interaction, item, match, /):
        return cls(int(match["wave"]), match["space"], label=getattr(item, "label", None) or "Take")

    async def callback(self, interaction: discord.Interaction) -> None:
        await _stateof(interaction).answers.take(interaction, int(self.match["wave"]), self.match["space"])


class _Answering(_Item, template=r"stateof:__never__"):
    """An answer page's component: the conversation gets its kind, ids and any values."""

    @classmethod
    async def from_custom_id(cls, interaction, item, match, /):
        return cls(match.string)

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(getattr(self.item, "values", []))
        await _stateof(interaction).answers.component(interaction, self.match, values)


class AnswerSelect(_Answering, template=SELECT):
    """An answer select (`pick`), or the first-letters picker of a long list (`range`)."""

    def __init__(self, custom_id: str, **select: Any):
        super().__init__(discord.ui.Select(custom_id=custom_id, **select))


class AnswerButton(_Answering, template=BUTTON):
    """"Write your answer" (`write`, opens a modal) or Back/Next/Finish/review (`nav`)."""

    def __init__(self, custom_id: str, *, label: str = "Next",
                 style: discord.ButtonStyle = discord.ButtonStyle.primary, **button: Any):
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id, **button))


class MyDataButton(_Item, template=MY):
    def __init__(self, action: str, space: str, *, label: str = "Delete my answers"):
        danger = action.startswith("mydata_delete")
        super().__init__(discord.ui.Button(
            label=label, style=discord.ButtonStyle.danger if danger else discord.ButtonStyle.secondary,
            custom_id=f"{PREFIX}:my:{action}:{space}",
        ))

    @classmethod
    async def from_custom_id(cls, interaction, item, match, /):
        return cls(match["action"], match["space"], label=getattr(item, "label", None) or "OK")

    async def callback(self, interaction: discord.Interaction) -> None:
        await _stateof(interaction).my_data_action(interaction, self.match["action"], self.match["space"])


DYNAMIC_ITEMS = (TakeSurveyButton, AnswerSelect, AnswerButton, MyDataButton)
