"""The conversation's one-field screens as DM messages (Block Kit via slack_sdk's models).

The element fits the question: single → a button per option (≤ `BUTTONS_MAX`), else a
static select; multi → checkboxes (≤ 10 options) or a multi-select, with "Save"; a grid row
→ a button per scale point; number, text, country → "Write answer", a one-field modal
(countries are typed: ~250 are over Slack's limits). Optional questions get "Skip", every
question "Stop for now". A button carries a `Ref` (wave, field key, option) in its value, a
select or checkboxes in their block id, so any click is understood without server state.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.answering.screens import Field, PageScreen, answer_text, hint, stopped_text, thanks_text
from bot.slack.modals import (
    MODAL_TITLE,
    VALUE_ACTION,
    multi_element,
    number_element,
    options_select,
    text_element,
)
from bot.slack.render import ANSWER_IN_DM, BUTTON_TEXT, fallback_text, pt
from bot.slack.text import clip
from surveys.flow import Progress
from surveys.paging import Page, PageField
from surveys.ports import TAKE_SURVEY
from surveys.schema import Option as SurveyOption
from surveys.schema import Question, QuestionType

log = logging.getLogger(__name__)

DM_START = ANSWER_IN_DM  # "Answer in DMs": post the next unanswered question
DM_CHOOSE = "stateof_dm_choose"  # a single option or a grid scale point (button)
DM_SELECT = "stateof_dm_select"  # a single option from a static select
DM_MULTI = "stateof_dm_multi"  # ticking checkboxes / a multi-select (saves nothing)
DM_SAVE = "stateof_dm_save"  # save the ticked options of a multi question
DM_WRITE = "stateof_dm_write"  # open the one-field modal (number, text, country)
DM_SKIP = "stateof_dm_skip"  # skip an optional question (or grid row)
DM_STOP = "stateof_dm_stop"  # stop for now
WRITE_CALLBACK = "stateof_dm_answer"  # the one-field modal's submission
INPUT_PREFIX = "stateof_dm|"  # block id of a select / checkboxes: prefix + Ref
BUTTONS_MAX = 5
ANSWER_TEXT = 500
DMField = PageField  # what one message asks: a question, or one row of a grid


@dataclass(frozen=True)
class Ref:
    """What a DM element carries: the wave, the field key, and (a choice) the option id."""

    wave_id: int
    key: str
    option: str = ""

    def dump(self) -> str:
        return "|".join([str(self.wave_id), self.key] + ([self.option] if self.option else []))

    @classmethod
    def load(cls, text: str) -> Ref:
        parts = str(text).split("|", 2)
        if len(parts) < 2 or not parts[1]:
            raise ValueError("not a DM answer reference")
        return cls(int(parts[0]), parts[1], parts[2] if len(parts) > 2 else "")

    @classmethod
    def from_block(cls, block_id: str) -> Ref:
        if not block_id.startswith(INPUT_PREFIX):
            raise ValueError("not a DM answer block")
        return cls.load(block_id[len(INPUT_PREFIX):])


@dataclass(frozen=True)
class WriteMeta:
    """The one-field modal's `private_metadata`: the field and the message to update."""

    wave_id: int
    team: str
    key: str
    channel: str
    ts: str

    def dump(self) -> str:
        return json.dumps({"w": self.wave_id, "t": self.team, "k": self.key, "c": self.channel,
                           "m": self.ts}, separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> WriteMeta:
        data = json.loads(text or "{}")
        return cls(int(data["w"]), str(data["t"]), str(data["k"]), str(data.get("c", "")),
                   str(data.get("m", "")))


def writes(q: Question) -> bool:
    """Whether the member types the answer (in the one-field modal)."""
    return q.type in (QuestionType.number, QuestionType.text, QuestionType.country)


def field_screen(title: str, progress: Progress, f: PageField, **kw: Any) -> PageScreen:
    """A screen asking just `f` (what the conversation shows in DMs is one field a page)."""
    return PageScreen(progress.wave_id, title, progress, [Page(0, (f,))], **kw)


# -- pieces --------------------------------------------------------------------------------
def _header(screen: PageScreen, f: Field) -> list[Block]:
    where = " · ".join(part for part in (screen.title, screen.asking(f)) if part)
    text = f"{f.number}. {f.question.text}" if f.number else f.question.text
    if f.row is not None:
        text += f"\n\n{f.row.label}"
    return [ContextBlock(elements=[pt(where, 2000)]), SectionBlock(text=pt(text, 3000))]


def _dm_hint(q: Question) -> str:
    said = hint(q, typed=True)
    return f"{said} Then press Save." if q.type is QuestionType.multi else said


def _choice_buttons(wave_id: int, key: str, options: list[SurveyOption]) -> ActionsBlock:
    return ActionsBlock(block_id="stateof_dm_choices", elements=[
        ButtonElement(text=pt(o.label, BUTTON_TEXT), action_id=f"{DM_CHOOSE}:{i}",
                      value=Ref(wave_id, key, o.id).dump())
        for i, o in enumerate(options)
    ])


def _nav(wave_id: int, f: Field) -> ActionsBlock:
    q = f.question
    ref = Ref(wave_id, f.key).dump()
    buttons = []
    if q.type is QuestionType.multi:
        buttons.append(ButtonElement(text=pt("Save", BUTTON_TEXT), action_id=DM_SAVE, value=ref,
                                     style="primary"))
    if writes(q):
        buttons.append(ButtonElement(text=pt("Write answer", BUTTON_TEXT), action_id=DM_WRITE,
                                     value=ref, style="primary"))
    if not q.required:
        buttons.append(ButtonElement(text=pt("Skip", BUTTON_TEXT), action_id=DM_SKIP, value=ref))
    buttons.append(ButtonElement(text=pt("Stop for now", BUTTON_TEXT), action_id=DM_STOP,
                                 value=str(wave_id)))
    return ActionsBlock(block_id="stateof_dm_nav", elements=buttons)


def _payload(fallback: str, blocks: list[Block]) -> dict[str, Any]:
    return {"text": fallback_text("", fallback), "blocks": [b.to_dict() for b in blocks]}


# -- messages ------------------------------------------------------------------------------
def asked_message(screen: PageScreen) -> dict[str, Any]:
    """chat.postMessage / replace arguments asking the screen's field (with its problem)."""
    (f,) = screen.fields
    q = f.question
    wave_id = screen.wave_id
    blocks = _header(screen, f)
    if screen.notice:
        blocks.insert(0, SectionBlock(text=pt(screen.notice, 3000)))
    if _dm_hint(q):
        blocks.append(ContextBlock(elements=[pt(_dm_hint(q), 2000)]))
    if f.error:
        blocks.append(SectionBlock(text=pt(f":warning: {clip(f.error, 500)}", 3000)))
    block_id = INPUT_PREFIX + Ref(wave_id, f.key).dump()
    if f.row is not None:
        blocks.append(_choice_buttons(wave_id, f.key, q.scale))
    elif q.type is QuestionType.single:
        choices = q.choices
        blocks.append(_choice_buttons(wave_id, f.key, choices) if len(choices) <= BUTTONS_MAX
                      else ActionsBlock(block_id=block_id, elements=[
                          options_select(choices, "Choose one", action_id=DM_SELECT)]))
    elif q.type is QuestionType.multi:
        blocks.append(ActionsBlock(block_id=block_id, elements=[
            multi_element(f, f.value, action_id=DM_MULTI, limit_in_menu=False)]))
    blocks.append(_nav(wave_id, f))
    return _payload(f"{screen.title}: {q.text}" + (f" ({f.row.label})" if f.row else ""), blocks)


def question_message(title: str, progress: Progress, f: PageField, **kw: Any) -> dict[str, Any]:
    """`asked_message` for one field of `progress` (notice, errors, draft as keywords)."""
    return asked_message(field_screen(title, progress, f, **kw))


def answered_message(screen: PageScreen) -> dict[str, Any]:
    """The question with the member's answer and no buttons (replaces the asked message)."""
    (f,) = screen.fields
    answer = clip(answer_text(f.question, f.value, f.row), ANSWER_TEXT) if f.stored else "Saved"
    blocks = _header(screen, f)
    blocks.append(SectionBlock(text=pt(f":white_check_mark: {answer}", 3000)))
    return _payload(f"{screen.title}: {answer}", blocks)


def _buttons(*elements: ButtonElement) -> ActionsBlock:
    return ActionsBlock(block_id="stateof_dm_next", elements=list(elements))


def review_button(wave_id: int) -> ButtonElement:
    return ButtonElement(text=pt("Review or change answers", BUTTON_TEXT), action_id=TAKE_SURVEY,
                         value=str(wave_id))


def thanks_message(title: str, wave_id: int, *, again: bool = False) -> dict[str, Any]:
    """Every question answered; a button opens the modal to review or change answers."""
    text = thanks_text(title, again=again)
    return _payload(text, [SectionBlock(text=pt(text, 3000)), _buttons(review_button(wave_id))])


def stopped_message(title: str, wave_id: int) -> dict[str, Any]:
    """"Stop for now": what is answered stays saved; a button continues later."""
    text = f"{stopped_text(title)} Press \"Answer in DMs\" whenever you like to continue."
    resume = ButtonElement(text=pt("Answer in DMs", BUTTON_TEXT), action_id=DM_START,
                           value=str(wave_id))
    return _payload(text, [SectionBlock(text=pt(text, 3000)), _buttons(resume)])


def notice_message(text: str) -> dict[str, Any]:
    """A plain message (the wave closed, another community's survey…), no buttons."""
    return _payload(text, [SectionBlock(text=pt(text, 3000))])


def write_view(title: str, f: PageField, value: Any, meta: WriteMeta) -> dict[str, Any]:
    """The one-field modal behind "Write answer" (block id = the field key)."""
    q = f.question
    if q.type is QuestionType.number:
        element: Any = number_element(q, value)
    elif q.type is QuestionType.country:
        opt = q.option(str(value)) if value is not None else None
        element = PlainTextInputElement(action_id=VALUE_ACTION, max_length=100,
                                        initial_value=opt.label if opt else None)
    else:
        element = text_element(q, value)
    said = _dm_hint(q)
    block = InputBlock(block_id=f.key, label=pt(q.text, 2000), element=element,
                       hint=pt(said, 2000) if said else None)
    return View(
        type="modal", callback_id=WRITE_CALLBACK, title=pt(title, MODAL_TITLE),
        submit=pt("Save", 24), close=pt("Cancel", 24), private_metadata=meta.dump(), blocks=[block],
    ).to_dict()
