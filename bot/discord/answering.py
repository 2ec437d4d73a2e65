"""Answering a survey inside Discord: ephemeral pages of selects, buttons and modals.

A page (`surveys.paging`, at most five fields) is one ephemeral message in Discord's
layout components: each field shows its question and one action row — a string select
(at most 25 options; `max_values` for "up to N"; one select per grid row), a first-letters
picker followed by a select for longer lists such as countries, or a button that opens a
modal with a Label-wrapped text input for numbers and free text. Every pick is saved at
once through `AnswerFlow.submit` (answering again replaces), Next/Back move between pages,
and pressing "Take the survey" again resumes at the first unanswered page.

A pick, a modal or Next that had to be deferred (the database was slow) is saved with
retries (`bot.saving`) until it lands; after the deadline the page comes back with the
member's pick still shown and a "could not save" notice, never a false "saved".

Components keep their state in their custom_id (`bot.discord.items`), so an open page
keeps working after the bot restarts.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import discord

from bot.discord.items import (
    MODAL,
    PREFIX,
    AnswerSelect,
    NavButton,
    RangeSelect,
    WriteButton,
)
from bot.discord.render import clip, safe
from bot.discord.respond import Outcome, answer, text_layout
from bot.saving import SaveFailed, SavePolicy, save_with_retries
from bot.services import Services
from surveys.errors import PageInvalid, SurveyError
from surveys.flow import Progress
from surveys.identity import Member
from surveys.models import Wave
from surveys.paging import Page, PageField, opening_page, paginate, resume_page
from surveys.schema import Option, Question, Questionnaire, QuestionType
from surveys.waves import questionnaire_of, wave_by_id

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_FIELDS = 5  # fields per page: Discord shows them as rows of one page
MAX_OPTIONS = 25  # options per select
MAX_COMPONENTS = 40  # components in one message (layout views count every item)
FRAME_COMPONENTS = 4  # the header text and the Back/Next row (a row and two buttons)
MAX_TEXT = 3900  # characters of text in one message (Discord allows 4000)


def field_components(pf: PageField) -> int:
    """Components one field takes on a page: its text, then a row with one select or button;
    a long multi-choice list takes a row and select per group of options."""
    q = pf.question
    if q.type is QuestionType.multi and pf.row is None:
        return 1 + 2 * len(chunks(q.choices, MAX_OPTIONS))
    return 3


def pages_of(progress: Progress) -> list[Page]:
    """The answer pages, none over Discord's component limit."""
    return paginate(progress, MAX_FIELDS, weight=field_components,
                    budget=MAX_COMPONENTS - FRAME_COMPONENTS)


def fit_text(view: discord.ui.LayoutView, limit: int = MAX_TEXT) -> None:
    """Shorten the page's texts alike when together they pass the message limit (long
    questions and help from a community's own questionnaire)."""
    texts = [item for item in view.walk_children() if isinstance(item, discord.ui.TextDisplay)]
    total = sum(len(t.content) for t in texts)
    if total <= limit:
        return
    ratio = limit / total
    for item in texts:
        item.content = clip(item.content, max(40, int(len(item.content) * ratio) - 1))
MODAL_READ_BUDGET = 1.0  # seconds to read an answer to prefill a modal; it must open within 3 s
OTHER_RANGE = "~ranges"  # the "other letters" option of a long-list select
RANGE_PICKER = -1
T = TypeVar("T")


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
    """A long option list in balanced consecutive groups of at most `size`."""
    if len(options) <= MAX_OPTIONS:
        return [options]
    groups = math.ceil(len(options) / size)
    per = math.ceil(len(options) / groups)
    return [options[i:i + per] for i in range(0, len(options), per)]


def range_label(group: list[Option]) -> str:
    first, last = group[0].label, group[-1].label
    return clip(f"{first} – {last}" if first != last else first, 100)


def page_of(pages: list[Page], key: str) -> int:
    for page in pages:
        if any(f.key == key for f in page.fields):
            return page.index
    return 0


# -- rendering -------------------------------------------------------------------------
@dataclass
class Screen:
    """Everything one answer page shows."""

    wave_id: int
    space: str
    title: str
    progress: Progress
    index: int = 0
    notice: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, int] = field(default_factory=dict)  # field key → chosen letters group

    @property
    def pages(self) -> list[Page]:
        return pages_of(self.progress)

    def cid(self, kind: str, code: str) -> str:
        return f"{PREFIX}:{kind}:{self.wave_id}:{self.space}:{code}"


def _option(opt: Option, chosen: bool) -> discord.SelectOption:
    return discord.SelectOption(label=clip(opt.label, 100), value=opt.id, default=chosen)


def _question_text(number: int, q: Question, *, hint: str = "") -> str:
    text = f"**{number}. {safe(q.text, 500)}**"
    if q.help:
        text += f"\n-# {safe(q.help, 250)}"
    if hint:
        text += f"\n-# {hint}"
    return text


def _multi_hint(q: Question) -> str:
    if q.max_choices:
        return f"Choose up to {q.max_choices}."
    return "Choose all that apply."


def render_page(screen: Screen) -> discord.ui.LayoutView:
    """One page as a layout view: the questions, one select or button each, Back/Next."""
    progress = screen.progress
    qn = progress.questionnaire
    pages = screen.pages
    index = min(max(screen.index, 0), max(len(pages) - 1, 0))
    view = discord.ui.LayoutView(timeout=None)
    done, total = progress.position
    header = f"## {safe(screen.title, 200)}\n-# Page {index + 1} of {max(len(pages), 1)} · " \
             f"{done} of {total} questions answered · saved as you go"
    if screen.notice:
        header += f"\n{safe(screen.notice, 400)}"
    view.add_item(discord.ui.TextDisplay(header))
    if not pages:
        view.add_item(discord.ui.TextDisplay("There are no questions for you in this survey."))
        return view
    page = pages[index]
    numbers = {q.id: i + 1 for i, q in enumerate(progress.visible())}
    shown_question: set[str] = set()
    for pf in page.fields:
        q = pf.question
        code = field_code(qn, pf)
        text = ""
        if q.id not in shown_question:
            hint = _multi_hint(q) if q.type is QuestionType.multi else ""
            text = _question_text(numbers.get(q.id, 0), q, hint=hint)
            shown_question.add(q.id)
        if pf.row is not None:
            text = (text + "\n" if text else "") + safe(pf.row.label, 150)
        error = screen.errors.get(pf.key)
        if error:
            text += f"\n⚠️ {safe(error, 300)}"
        for item in _field_items(screen, pf, code, text):
            view.add_item(item)
    view.add_item(_nav_row(screen, pages, index))
    fit_text(view)
    return view


def _field_items(screen: Screen, pf: PageField, code: str, text: str) -> list[discord.ui.Item]:
    q = pf.question
    value = screen.progress.answers.get(pf.key)
    items: list[discord.ui.Item] = []
    if q.type in (QuestionType.number, QuestionType.text):
        shown = "-# Not answered yet." if value is None else "> " + safe(clip(str(value), 300))
        items.append(discord.ui.TextDisplay(f"{text}\n{shown}"))
        label = "Write your answer" if value is None else "Change your answer"
        items.append(discord.ui.ActionRow(WriteButton(screen.cid("write", code), label=label)))
        return items
    items.append(discord.ui.TextDisplay(text))
    if q.type is QuestionType.grid:
        options = [_option(s, value == s.id) for s in q.scale[:MAX_OPTIONS]]
        items.append(discord.ui.ActionRow(AnswerSelect(
            screen.cid("pick", code), options=options, placeholder="Choose one",
        )))
    elif q.type is QuestionType.multi:
        chosen = set(value or [])
        groups = chunks(q.choices, MAX_OPTIONS)
        for part, group in enumerate(groups):
            cid = screen.cid("pick", code) + (f"~{part}" if len(groups) > 1 else "")
            limit = min(q.max_choices or len(group), len(group))
            items.append(discord.ui.ActionRow(AnswerSelect(
                cid, options=[_option(o, o.id in chosen) for o in group],
                min_values=0, max_values=limit,
                placeholder=clip(_multi_hint(q), 150) if len(groups) == 1 else
                clip(f"{range_label(group)}: choose", 150),
            )))
    else:  # single or country
        items.append(discord.ui.ActionRow(_single_select(screen, pf, code, value)))
    return items


def _single_select(screen: Screen, pf: PageField, code: str, value: Any) -> discord.ui.Item:
    choices = pf.question.choices
    if len(choices) <= MAX_OPTIONS:
        return AnswerSelect(
            screen.cid("pick", code), options=[_option(o, o.id == value) for o in choices],
            placeholder="Choose one",
        )
    groups = chunks(choices)
    chosen = screen.ranges.get(pf.key)
    if chosen is None and value is not None:
        chosen = next((i for i, g in enumerate(groups) if any(o.id == value for o in g)), None)
    if chosen is None or chosen == RANGE_PICKER or not 0 <= chosen < len(groups):
        return RangeSelect(
            screen.cid("range", code),
            options=[discord.SelectOption(label=range_label(g), value=str(i))
                     for i, g in enumerate(groups)],
            placeholder="First, pick where your answer is in the alphabet",
        )
    options = [_option(o, o.id == value) for o in groups[chosen]]
    options.append(discord.SelectOption(label="Other letters…", value=OTHER_RANGE, emoji="↩️"))
    return AnswerSelect(
        screen.cid("pick", code), options=options, placeholder=clip(range_label(groups[chosen]), 150),
    )


def _nav_row(screen: Screen, pages: list[Page], index: int) -> discord.ui.ActionRow:
    anchor = field_code(screen.progress.questionnaire, pages[index].fields[0])
    nav = screen.cid("nav", anchor)
    row = discord.ui.ActionRow(
        NavButton(f"{nav}:b", label="Back", style=discord.ButtonStyle.secondary, disabled=index == 0)
    )
    if index < len(pages) - 1:
        row.add_item(NavButton(f"{nav}:n", label="Next"))
    else:
        row.add_item(NavButton(f"{nav}:f", label="Finish", style=discord.ButtonStyle.success))
    return row


def render_thanks(screen: Screen) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(discord.ui.TextDisplay(
        f"## Thank you!\nYour answers to {safe(screen.title, 200)} are saved under a pseudonym. "
        "You can change them until the survey closes, and see or delete them with "
        "`/survey my-data`."
    ))
    pages = screen.pages
    if pages:
        anchor = field_code(screen.progress.questionnaire, pages[0].fields[0])
        view.add_item(discord.ui.ActionRow(NavButton(
            screen.cid("nav", anchor) + ":s", label="Review or change my answers",
            style=discord.ButtonStyle.secondary,
        )))
    return view


def render_modal(screen: Screen, pf: PageField, code: str) -> discord.ui.Modal:
    """A modal with one Label-wrapped text input for a number or free-text question."""
    q = pf.question
    value = screen.progress.answers.get(pf.key)
    modal = discord.ui.Modal(title=clip(screen.title, 45), custom_id=screen.cid("modal", code))
    if q.type is QuestionType.number:
        hint = _range_hint(q)
        text_input = discord.ui.TextInput(
            custom_id=code, style=discord.TextStyle.short, required=q.required, max_length=32,
            placeholder=clip(hint, 100), default=None if value is None else _number_text(value),
        )
    else:
        text_input = discord.ui.TextInput(
            custom_id=code, style=discord.TextStyle.paragraph, required=q.required,
            max_length=min(q.max_length, 4000), default=None if value is None else clip(str(value), 4000),
        )
    label = clip(q.short or q.text, 45)
    description = clip(q.text, 100) if q.text != label else (clip(q.help, 100) if q.help else None)
    modal.add_item(discord.ui.Label(text=label, description=description, component=text_input))
    return modal


def _range_hint(q: Question) -> str:
    if q.min is not None and q.max is not None:
        return f"A number from {q.min:g} to {q.max:g}"
    if q.min is not None:
        return f"A number, at least {q.min:g}"
    if q.max is not None:
        return f"A number, at most {q.max:g}"
    return "A number"


def _number_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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


UNSAVED_PICK = ("We could not save your answer: our database is not answering right now. It is still "
                "shown below; choose it again in a minute.")
UNSAVED_PAGE = ("We could not save this page: our database is not answering right now. The answers "
                "you picked before are kept; please press the button again in a minute.")


# -- handling ------------------------------------------------------------------------------
class AnswerUI:
    """Turns component clicks and modal submits into `AnswerFlow` calls and answer pages."""

    def __init__(self, services: Services):
        self.services = services
        self.flow = services.flow
        self._waves: dict[int, tuple[str, Questionnaire]] = {}
        self._gate = services.answer_gate  # one member at a time; SQLite: one writer
        self.save_policy = SavePolicy()

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def member(interaction: discord.Interaction, space: str) -> Member:
        guild = interaction.guild_id
        return Member(PLATFORM, str(guild) if guild else space, str(interaction.user.id))

    async def _db(self, member: Member, call: Callable[[], Awaitable[T]]) -> T:
        """One member's database work, in order (see bot.serial)."""
        return await self._gate.run(member, call)

    async def _wave_info(self, wave_id: int, wave: Wave | None = None) -> tuple[str, Questionnaire]:
        """Title and questionnaire of a wave (both fixed once the wave exists), cached."""
        if wave_id not in self._waves:
            if wave is None:
                async with self.services.db.session() as session:
                    wave = await wave_by_id(session, wave_id)
            qn = questionnaire_of(wave)
            self._waves[wave_id] = (f"{qn.title} {wave.label}", qn)
        return self._waves[wave_id]

    async def _wave_and_community(self, wave_id: int, space: str) -> tuple[Wave, int]:
        """The wave, and the community this guild belongs to."""
        async with self.services.db.session() as session:
            wave = await wave_by_id(session, wave_id)
        community = await self.services.community_for(PLATFORM, space)
        return wave, community.id

    async def title(self, wave_id: int, wave: Wave | None = None) -> str:
        return (await self._wave_info(wave_id, wave))[0]

    async def _screen(self, wave_id: int, space: str, progress: Progress, **kw: Any) -> Screen:
        return Screen(wave_id, space, await self.title(wave_id), progress, **kw)

    # -- entry points (called by the dynamic items and the modal listener) -------------------
    async def take(self, interaction: discord.Interaction, wave_id: int, space: str) -> None:
        member = self.member(interaction, space)

        async def work() -> Outcome:
            try:
                wave, community_id = await self._db(member, lambda: self._wave_and_community(
                    wave_id, member.space))
                if community_id != wave.community_id:
                    return Outcome(view=text_layout("This survey belongs to another community."))
                progress = await self._db(member, lambda: self.flow.start(wave_id, member))
            except SurveyError as exc:
                return Outcome(view=text_layout(str(exc)))
            index, notice = opening_page(progress, pages_of(progress))
            screen = Screen(wave_id, member.space, await self.title(wave_id, wave), progress,
                            index=index, notice=notice)
            return Outcome(view=render_page(screen))

        await answer(interaction, work, edit=False)

    async def pick(
        self, interaction: discord.Interaction, wave_id: int, space: str, code: str,
        part: int | None, values: list[str],
    ) -> None:
        member = self.member(interaction, space)

        async def work() -> Outcome:
            if OTHER_RANGE in values:
                progress = await self._db(member, lambda: self.flow.progress(wave_id, member))
                pf = field_of(progress.questionnaire, code)
                screen = await self._screen(wave_id, member.space, progress,
                                            ranges={pf.key: RANGE_PICKER})
                screen.index = page_of(screen.pages, pf.key)
                return Outcome(view=render_page(screen))
            return await self._save(member, wave_id, code, part, values)

        await answer(interaction, work, edit=True)

    async def _save(
        self, member: Member, wave_id: int, code: str, part: int | None, values: list[str]
    ) -> Outcome:
        async def submit() -> tuple[Progress, str, dict[str, str]]:
            progress = None
            if part is not None:  # a long multi list split into several selects
                progress = await self.flow.progress(wave_id, member)
            qn = (progress.questionnaire if progress else await self._questionnaire(wave_id))
            pf = field_of(qn, code)
            raw: Any = _raw_value(pf, part, values, progress)
            try:
                result = await self.flow.submit(wave_id, member, {pf.key: raw})
                return result.progress, pf.key, {}
            except PageInvalid as exc:
                return await self.flow.progress(wave_id, member), pf.key, exc.errors

        try:
            progress, key, errors = await save_with_retries(
                lambda: self._db(member, submit), policy=self.save_policy, what="saving a Discord answer")
        except SurveyError as exc:
            return Outcome(view=text_layout(str(exc)))
        except SaveFailed:
            return await self._unsaved(member, wave_id, code, part, values)
        screen = await self._screen(wave_id, member.space, progress, errors=errors)
        screen.index = page_of(screen.pages, key)
        return Outcome(view=render_page(screen))

    async def _unsaved(
        self, member: Member, wave_id: int, code: str, part: int | None, values: list[str]
    ) -> Outcome:
        """The page again with what the member picked or typed still shown, and why it was not saved."""
        qn = await self._questionnaire(wave_id)
        pf = field_of(qn, code)
        typed = Progress(wave_id, qn, {pf.key: _raw_value(pf, part, values, None)})
        screen = await self._screen(wave_id, member.space, typed, notice=UNSAVED_PICK)
        screen.index = page_of(screen.pages, pf.key)
        return Outcome(view=render_page(screen))

    async def _questionnaire(self, wave_id: int) -> Questionnaire:
        return (await self._wave_info(wave_id))[1]

    async def pick_range(
        self, interaction: discord.Interaction, wave_id: int, space: str, code: str,
        values: list[str],
    ) -> None:
        member = self.member(interaction, space)

        async def work() -> Outcome:
            try:
                progress = await self._db(member, lambda: self.flow.progress(wave_id, member))
            except SurveyError as exc:
                return Outcome(view=text_layout(str(exc)))
            pf = field_of(progress.questionnaire, code)
            chosen = int(values[0]) if values and values[0].isdigit() else RANGE_PICKER
            screen = await self._screen(wave_id, member.space, progress, ranges={pf.key: chosen})
            screen.index = page_of(screen.pages, pf.key)
            return Outcome(view=render_page(screen))

        await answer(interaction, work, edit=True)

    async def write(
        self, interaction: discord.Interaction, wave_id: int, space: str, code: str
    ) -> None:
        member = self.member(interaction, space)

        async def work() -> Outcome:
            # A modal cannot follow a deferral: when the database is busy, it opens empty
            # rather than late (the saved answer is still replaced only on submit).
            read = asyncio.ensure_future(self._db(member, lambda: self.flow.progress(wave_id, member)))
            done, _ = await asyncio.wait({read}, timeout=MODAL_READ_BUDGET)
            if done:
                try:
                    progress = read.result()
                except SurveyError as exc:
                    return Outcome(view=text_layout(str(exc)))
            else:  # let the read finish on its own: cancelling mid-query helps nobody
                read.add_done_callback(lambda task: task.cancelled() or task.exception())
                log.info("opening a modal without the saved answer: the database is busy")
                progress = Progress(wave_id, await self._questionnaire(wave_id))
            pf = field_of(progress.questionnaire, code)
            screen = await self._screen(wave_id, member.space, progress)
            return Outcome(modal=render_modal(screen, pf, code))

        await answer(interaction, work, edit=True, budget=2.5)

    async def modal_submit(self, interaction: discord.Interaction) -> bool:
        """Handle one of our modals; False when the modal is not ours."""
        data: dict = interaction.data or {}  # type: ignore[assignment]
        match = MODAL.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return False
        wave_id, code = int(match["wave"]), match["field"]
        member = self.member(interaction, match["space"])
        value = modal_values(data.get("components", [])).get(code, "")

        async def work() -> Outcome:
            return await self._save(member, wave_id, code, None, [value])

        await answer(interaction, work, edit=True)
        return True

    async def navigate(
        self, interaction: discord.Interaction, wave_id: int, space: str, anchor: str, direction: str
    ) -> None:
        member = self.member(interaction, space)

        async def work() -> Outcome:
            try:
                return await save_with_retries(
                    lambda: self._db(member, lambda: self._navigate(member, wave_id, anchor, direction)),
                    policy=self.save_policy, what="moving to another Discord survey page")
            except SurveyError as exc:
                return Outcome(view=text_layout(str(exc)))
            except SaveFailed:
                return Outcome(view=text_layout(UNSAVED_PAGE))

        await answer(interaction, work, edit=True)

    async def _navigate(self, member: Member, wave_id: int, anchor: str, direction: str) -> Outcome:
        progress = await self.flow.progress(wave_id, member)
        key = field_of(progress.questionnaire, anchor).key
        pages = pages_of(progress)
        current = page_of(pages, key)
        if direction == "s":
            return Outcome(view=render_page(await self._screen(wave_id, member.space, progress)))
        if direction == "b":
            screen = await self._screen(wave_id, member.space, progress, index=current - 1)
            return Outcome(view=render_page(screen))
        # Next / Finish: what is left blank on this page counts as skipped (saved as such).
        blank = {f.key: None for f in pages[current].fields if f.key not in progress.answers}
        finish = direction == "f"
        try:
            if blank or finish:
                progress = (await self.flow.submit(wave_id, member, blank, finish=finish)).progress
        except PageInvalid as exc:
            screen = await self._screen(wave_id, member.space, progress, index=current,
                                        errors=exc.errors, notice="Please answer the required "
                                        "questions marked below.")
            return Outcome(view=render_page(screen))
        screen = await self._screen(wave_id, member.space, progress)
        pages = screen.pages
        if finish or current >= len(pages) - 1:
            if progress.completed:
                return Outcome(view=render_thanks(screen))
            screen.index = resume_page(progress, pages)
            screen.notice = "A few required questions are still open."
            return Outcome(view=render_page(screen))
        screen.index = page_of(pages, key) + 1
        return Outcome(view=render_page(screen))


def _raw_value(pf: PageField, part: int | None, values: list[str], progress: Progress | None) -> Any:
    q = pf.question
    if q.type is QuestionType.multi:
        if part is None or progress is None:
            return values
        groups = chunks(q.choices, MAX_OPTIONS)
        in_part = {o.id for o in groups[part]} if 0 <= part < len(groups) else set()
        kept = [v for v in (progress.answers.get(pf.key) or []) if v not in in_part]
        return kept + values
    return values[0] if values else None
