"""Answering inside Discord: the conversation's screens as ephemeral layout views.

A page shows each field's question and one action row: a string select (≤25 options,
`max_values` for "up to N", one per grid row), a first-letters picker then a select for
longer lists (countries), or a button opening a modal for numbers and free text. Pages are
cut by component count (`pages_of`); components keep their state in their custom_id
(`bot.discord.items`), so an open page keeps working after a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any

import discord

from bot.answering import screens
from bot.answering.conversation import PREFILL_BUDGET, Conversation, Front, Picked, at_most, or_notice
from bot.answering.events import navigation
from bot.answering.options import picked, range_label, split
from bot.answering.screens import Field, Notice, PageScreen, Screen, hint
from bot.discord.items import MODAL, PREFIX, AnswerButton, AnswerSelect
from bot.discord.render import clip, safe
from bot.discord.respond import Outcome, answer, text_layout
from bot.services import Services
from surveys.identity import Member
from surveys.paging import PageField
from surveys.schema import Option, Questionnaire, QuestionType

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_FIELDS = 5  # fields per page: Discord shows them as rows of one page
MAX_OPTIONS = 25  # options per select
MAX_COMPONENTS = 40  # components in one message (layout views count every item)
FRAME_COMPONENTS = 4  # the header text and the Back/Next row (a row and two buttons)
MAX_TEXT = 3900  # characters of text in one message (Discord allows 4000)
MODAL_READ_BUDGET = PREFILL_BUDGET  # a modal cannot follow a deferral (tests shorten it)
OTHER_RANGE = "~ranges"  # the "other letters" option of a long-list select
RANGE_PICKER = -1


def field_components(pf: PageField) -> int:
    """Components one field takes on a page: its text, then a row with one select or button;
    a long multi-choice list takes a row and select per group of options."""
    long = pf.question.type is QuestionType.multi and pf.row is None
    return 1 + 2 * len(chunks(pf.question.choices, MAX_OPTIONS)) if long else 3


pages_of = at_most(MAX_FIELDS, weight=field_components, budget=MAX_COMPONENTS - FRAME_COMPONENTS)


def fit_text(view: discord.ui.LayoutView, limit: int = MAX_TEXT) -> None:
    """Shorten the page's texts alike when together they pass the message limit (long
    questions and help from a community's own questionnaire)."""
    texts = [item for item in view.walk_children() if isinstance(item, discord.ui.TextDisplay)]
    total = sum(len(t.content) for t in texts)
    for item in texts if total > limit else ():
        item.content = clip(item.content, max(40, int(len(item.content) * limit / total) - 1))


# -- fields and their codes ------------------------------------------------------------
def field_code(qn: Questionnaire, pf: PageField) -> str:
    """`3` or `6.4`: question (and grid row) position, stable for a wave's questionnaire."""
    qi = next(i for i, q in enumerate(qn.questions) if q.id == pf.question.id)
    if pf.row is None:
        return str(qi)
    ri = next(i for i, r in enumerate(pf.question.rows) if r.id == pf.row.id)
    return f"{qi}.{ri}"


def field_of(qn: Questionnaire, code: str) -> PageField:
    qi, _, ri = code.partition(".")
    q = qn.questions[int(qi)]
    return PageField(q, q.rows[int(ri)] if ri else None)


def chunks(options: list[Option], size: int = MAX_OPTIONS - 1) -> list[list[Option]]:
    """A long option list in balanced consecutive groups of at most `size` (one select each)."""
    return [options] if len(options) <= MAX_OPTIONS else split(options, size)


def cid(wave_id: int, space: str, kind: str, code: str) -> str:
    """A component's custom_id (`bot.discord.items`)."""
    return f"{PREFIX}:{kind}:{wave_id}:{space}:{code}"


# -- rendering -------------------------------------------------------------------------
Ids = Callable[[str, str], str]  # (kind, field code) → custom_id on one page (its wave and guild)


def _option(opt: Option, chosen: bool) -> discord.SelectOption:
    return discord.SelectOption(label=clip(opt.label, 100), value=opt.id, default=chosen)


def _question_text(f: Field) -> str:
    """The question in bold, its help and a multi question's limit in small print."""
    q = f.question
    limit = hint(q, with_help=False) if q.type is QuestionType.multi else ""
    notes = [note for note in (safe(q.help, 250) if q.help else "", limit) if note]
    return "\n-# ".join([f"**{f.number}. {safe(q.text, 500)}**", *notes])


def render_page(
    screen: PageScreen, space: str, ranges: dict[str, int] | None = None
) -> discord.ui.LayoutView:
    """One page as a layout view: the questions, one select or button each, Back/Next."""
    ids: Ids = partial(cid, screen.wave_id, space)
    view = discord.ui.LayoutView(timeout=None)
    header = f"## {safe(screen.title, 200)}\n-# {screen.where} · saved as you go"
    view.add_item(discord.ui.TextDisplay(header + (f"\n{safe(screen.notice, 400)}" if screen.notice else "")))
    if not screen.pages:
        view.add_item(discord.ui.TextDisplay(screens.NO_QUESTIONS))
        return view
    qn = screen.progress.questionnaire
    for f in screen.fields:
        text = _question_text(f) if f.first_of_question else ""
        if f.row is not None:
            text = (text + "\n" if text else "") + safe(f.row.label, 150)
        if f.error:
            text += f"\n⚠️ {safe(f.error, 300)}"
        for item in _field_items(ids, ranges or {}, f, field_code(qn, PageField(f.question, f.row)), text):
            view.add_item(item)
    nav = ids("nav", field_code(qn, screen.pages[screen.index].fields[0]))
    view.add_item(discord.ui.ActionRow(
        AnswerButton(f"{nav}:b", label="Back", style=discord.ButtonStyle.secondary, disabled=screen.first),
        AnswerButton(f"{nav}:f", label="Finish", style=discord.ButtonStyle.success) if screen.last
        else AnswerButton(f"{nav}:n", label="Next")))
    fit_text(view)
    return view


def _field_items(ids: Ids, ranges: dict[str, int], f: Field, code: str, text: str) -> list[discord.ui.Item]:
    q, value = f.question, f.value
    if q.type in (QuestionType.number, QuestionType.text):
        shown = "-# Not answered yet." if value is None else "> " + safe(clip(str(value), 300))
        label = "Write your answer" if value is None else "Change your answer"
        return [discord.ui.TextDisplay(f"{text}\n{shown}"), discord.ui.ActionRow(AnswerButton(
            ids("write", code), label=label, emoji="✏️", style=discord.ButtonStyle.secondary))]
    if q.type is not QuestionType.multi or f.row is not None:  # single, country, a grid row
        return [discord.ui.TextDisplay(text), discord.ui.ActionRow(_single_select(ids, ranges, f, code))]
    chosen, said = set(value or []), hint(q, with_help=False)
    groups = chunks(q.choices, MAX_OPTIONS)
    rows: list[discord.ui.Item] = [discord.ui.ActionRow(AnswerSelect(
        ids("pick", code) + (f"~{part}" if len(groups) > 1 else ""),
        options=[_option(o, o.id in chosen) for o in group], min_values=0,
        max_values=min(q.max_choices or len(group), len(group)),
        placeholder=clip(f"{range_label(group)}: choose" if len(groups) > 1 else said, 150),
    )) for part, group in enumerate(groups)]
    return [discord.ui.TextDisplay(text), *rows]


def _single_select(ids: Ids, ranges: dict[str, int], f: Field, code: str) -> discord.ui.Item:
    """One select of the options; a long list first asks for its letters group."""
    choices, value = f.options, f.value
    if len(choices) <= MAX_OPTIONS:
        return AnswerSelect(ids("pick", code), options=[_option(o, o.id == value) for o in choices],
                            placeholder="Choose one")
    groups = chunks(choices)
    chosen = ranges.get(f.key)
    if chosen is None and value is not None:
        chosen = next((i for i, g in enumerate(groups) if any(o.id == value for o in g)), None)
    if chosen is None or chosen == RANGE_PICKER or not 0 <= chosen < len(groups):
        return AnswerSelect(
            ids("range", code), placeholder="First, pick where your answer is in the alphabet",
            options=[discord.SelectOption(label=clip(range_label(g), 100), value=str(i))
                     for i, g in enumerate(groups)],
        )
    options = [_option(o, o.id == value) for o in groups[chosen]]
    options.append(discord.SelectOption(label="Other letters…", value=OTHER_RANGE, emoji="↩️"))
    return AnswerSelect(ids("pick", code), options=options,
                        placeholder=clip(range_label(groups[chosen]), 150))


def render_thanks(screen: screens.Thanks, space: str) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    thanks = screens.thanks_text(safe(screen.title, 200), command="`/survey my-data`")
    view.add_item(discord.ui.TextDisplay(thanks))
    if pages := pages_of(screen.progress):
        anchor = field_code(screen.progress.questionnaire, pages[0].fields[0])
        view.add_item(discord.ui.ActionRow(AnswerButton(
            cid(screen.wave_id, space, "nav", anchor) + ":s", label="Review or change my answers",
            style=discord.ButtonStyle.secondary,
        )))
    return view


def view_of(screen: Screen, space: str, ranges: dict[str, int] | None = None) -> discord.ui.LayoutView:
    """Any screen of the conversation as a layout view."""
    return screens.draw(screen, page=lambda page: render_page(page, space, ranges),
                thanks=lambda s: render_thanks(s, space), notice=lambda text, _title: text_layout(text))


def render_modal(title: str, pf: PageField, code: str, wave_id: int, space: str,
                 value: Any = None) -> discord.ui.Modal:
    """A modal with one Label-wrapped text input for a number or free-text question."""
    q = pf.question
    number = q.type is QuestionType.number
    text_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=code, style=discord.TextStyle.short if number else discord.TextStyle.paragraph,
        required=q.required, max_length=32 if number else min(q.max_length, 4000),
        placeholder=clip(hint(q, with_help=False), 100) if number else None,
        default=clip(screens.typed_text(q, value) or "", 4000) or None,
    )
    label = clip(q.short or q.text, 45)
    description = clip(q.text, 100) if q.text != label else (clip(q.help, 100) if q.help else None)
    modal = discord.ui.Modal(title=clip(title, 45), custom_id=cid(wave_id, space, "modal", code))
    modal.add_item(discord.ui.Label(text=label, description=description, component=text_input))
    return modal


def modal_values(components: list[dict]) -> dict[str, str]:
    """custom_id → value of the text inputs in a modal submit (Labels and action rows)."""
    found: dict[str, str] = {}
    for comp in components or []:
        if comp.get("type") == 18 and comp.get("component"):
            found.update(modal_values([comp["component"]]))
        elif comp.get("type") == 1:
            found.update(modal_values(comp.get("components", [])))
        elif comp.get("custom_id") is not None and "value" in comp:
            found[comp["custom_id"]] = comp["value"]
    return found


def picked_value(pf: PageField, part: int | None, values: list[str]) -> Any:
    """What a select gave, as the conversation takes it (one of several menus of a long
    multi list merges with the others' stored choices)."""
    if pf.question.type is QuestionType.multi:
        return picked(chunks(pf.question.choices, MAX_OPTIONS), part, values)
    return values[0] if values else None


# -- handling ------------------------------------------------------------------------------
class AnswerUI(Front):
    """Turns component clicks and modal submits into conversation events and answer pages."""

    def __init__(self, services: Services):
        # a second "Take the survey" opens a second private page: no double-click window
        self.conversation = Conversation(services, PLATFORM, pages_of, double_click=0)

    @staticmethod
    def member(interaction: discord.Interaction, space: str) -> Member:
        return Member(PLATFORM, str(interaction.guild_id or space), str(interaction.user.id))

    async def _show(self, interaction: discord.Interaction, space: str,
                    work: Callable[[Member, dict[str, int]], Awaitable[Screen | Picked | None]],
                    *, edit: bool = True) -> None:
        """Answer the interaction with the screen `work` leads to (a pick: its page); `work`
        may fill in the letters group to show for a long list."""
        member = self.member(interaction, space)

        async def outcome() -> Outcome:
            ranges: dict[str, int] = {}
            shown = await or_notice(work(member, ranges))  # an old button's unknown wave: its notice
            if isinstance(shown, Picked):
                # refused: the stored answer (a select may not hold four defaults of "up to 3")
                shown = replace(shown.page, draft={}) if shown.page.errors else shown.page
            return Outcome(view=view_of(shown or Notice(screens.ALREADY_OPEN), member.space, ranges))

        await answer(interaction, outcome, edit=edit)

    async def _field(self, wave_id: int, code: str) -> PageField:
        return field_of((await self.conversation.book.wave(wave_id)).questionnaire, code)

    # -- entry points (called by the dynamic items and the modal listener) -------------------
    async def take(self, interaction: discord.Interaction, wave_id: int, space: str) -> None:
        await self._show(interaction, space, lambda m, _r: self.conversation.take(m, wave_id), edit=False)

    async def component(
        self, interaction: discord.Interaction, match: re.Match[str], values: list[str]
    ) -> None:
        """A select or button of an answer page (`bot.discord.items`): its event, its page."""
        wave_id, code, kind = int(match["wave"]), match["field"], match["kind"]
        if kind == "write":
            await self.write(interaction, wave_id, match["space"], code)
            return

        async def work(member: Member, ranges: dict[str, int]) -> Screen | Picked | None:
            pf = await self._field(wave_id, code)
            if kind == "range" or OTHER_RANGE in values:  # a letters group, or back to the picker
                ranges[pf.key] = int(values[0]) if kind == "range" and values[0].isdigit() else RANGE_PICKER
                return await self.conversation.show(member, wave_id, pf.key)
            if kind == "pick":
                part = int(match["part"]) if match["part"] is not None else None
                return await self.conversation.pick(member, wave_id, pf.key, picked_value(pf, part, values))
            return await self.conversation.handle(member, navigation(match["dir"], wave_id, pf.key))

        await self._show(interaction, match["space"], work)

    async def write(self, interaction: discord.Interaction, wave_id: int, space: str, code: str) -> None:
        """Open the modal of a number or text question, holding the saved answer if it is
        read in time (a modal cannot follow a deferral: it opens empty rather than late)."""
        member = self.member(interaction, space)

        async def work() -> Outcome:
            pf = await or_notice(self._field(wave_id, code))  # an old button's unknown wave: its notice
            opened = pf if isinstance(pf, Notice) else await or_notice(
                self.conversation.opening(member, wave_id, pf.key, MODAL_READ_BUDGET))
            if isinstance(opened, Notice):
                return Outcome(view=text_layout(opened.text))
            title, pf, value = opened
            return Outcome(modal=render_modal(title, pf, code, wave_id, member.space, value))

        await answer(interaction, work, edit=True, budget=2.5)

    async def modal_submit(self, interaction: discord.Interaction) -> bool:
        """Handle one of our modals; False when the modal is not ours."""
        data: dict = interaction.data or {}  # type: ignore[assignment]  # a modal's TypedDict, read as a dict
        match = MODAL.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return False
        wave_id, code = int(match["wave"]), match["field"]
        value = modal_values(data.get("components", [])).get(code, "")

        async def work(member: Member, _ranges: dict[str, int]) -> Picked | Notice:
            key = (await self._field(wave_id, code)).key
            return await self.conversation.pick(member, wave_id, key, value)

        await self._show(interaction, match["space"], work)
        return True
