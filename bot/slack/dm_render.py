"""The conversation's one-field screens as DM messages (Block Kit via slack_sdk's models).

single → a button per option (≤ `BUTTONS_MAX`), else a select; multi → checkboxes or a
multi-select, with "Save"; a grid row → a button per scale point; number, text, country →
"Write answer", a one-field modal. Optional questions get "Skip", every question "Stop
for now". A button carries a `Ref` (wave, field key, option) in its value, a select in its
block id, so any click is understood without server state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock, SectionBlock
from slack_sdk.models.views import View

from bot.answering.screens import (
    Field,
    PageScreen,
    Screen,
    answer_text,
    draw,
    hint,
    stopped_text,
    thanks_text,
)
from bot.slack.modals import MODAL_TITLE, Meta, element_for, input_block, multi_element, options_select
from bot.slack.render import ANSWER_IN_DM, BUTTON_TEXT, fallback_text, message_blocks, pt
from bot.slack.text import clip
from surveys.flow import Progress
from surveys.paging import Page, PageField
from surveys.ports import TAKE_SURVEY, Button
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
class WriteMeta(Meta):
    """The one-field modal's `private_metadata`: the field and the message to update."""

    KEYS = "wtkcm"

    wave_id: int
    team: str
    key: str
    channel: str
    ts: str


def writes(q: Question) -> bool:
    """Whether the member types the answer (in the one-field modal)."""
    return q.type in (QuestionType.number, QuestionType.text, QuestionType.country)


# -- pieces --------------------------------------------------------------------------------
def _header(screen: PageScreen, f: Field) -> list[Block]:
    where = " · ".join(part for part in (screen.title, screen.asking(f)) if part)
    text = f.heading + (f"\n\n{f.row.label}" if f.row is not None else "")
    return [ContextBlock(elements=[pt(where, 2000)]), SectionBlock(text=pt(text, 3000))]


def _dm_hint(q: Question) -> str:
    said = hint(q, typed=True)
    return f"{said} Then press Save." if q.type is QuestionType.multi else said


def _nav(wave_id: int, f: Field) -> ActionsBlock:
    q, ref = f.question, Ref(wave_id, f.key).dump()
    shown = [("Save", DM_SAVE, q.type is QuestionType.multi), ("Write answer", DM_WRITE, writes(q)),
             ("Skip", DM_SKIP, not q.required)]
    buttons = [ButtonElement(text=pt(label, BUTTON_TEXT), action_id=action, value=ref,
                             style=None if action == DM_SKIP else "primary")
               for label, action, on in shown if on]
    buttons.append(ButtonElement(text=pt("Stop for now", BUTTON_TEXT), action_id=DM_STOP, value=str(wave_id)))
    return ActionsBlock(block_id="stateof_dm_nav", elements=buttons)


def _payload(fallback: str, blocks: list[Block]) -> dict[str, Any]:
    return {"text": fallback_text("", fallback), "blocks": [b.to_dict() for b in blocks]}


# -- messages ------------------------------------------------------------------------------
def asked_message(screen: PageScreen) -> dict[str, Any]:
    """chat.postMessage / replace arguments asking the screen's field (with its problem)."""
    (f,) = screen.fields
    q, wave_id = f.question, screen.wave_id
    blocks = ([SectionBlock(text=pt(screen.notice, 3000))] if screen.notice else []) + _header(screen, f)
    if _dm_hint(q):
        blocks.append(ContextBlock(elements=[pt(_dm_hint(q), 2000)]))
    if f.error:
        blocks.append(SectionBlock(text=pt(f":warning: {clip(f.error, 500)}", 3000)))
    block_id = INPUT_PREFIX + Ref(wave_id, f.key).dump()
    if f.row is not None or (q.type is QuestionType.single and len(f.options) <= BUTTONS_MAX):
        blocks.append(ActionsBlock(block_id="stateof_dm_choices", elements=[
            ButtonElement(text=pt(o.label, BUTTON_TEXT), action_id=f"{DM_CHOOSE}:{i}",
                          value=Ref(wave_id, f.key, o.id).dump()) for i, o in enumerate(f.options)]))
    elif q.type in (QuestionType.single, QuestionType.multi):
        menu = (options_select(f.options, "Choose one", action_id=DM_SELECT) if q.type is QuestionType.single
                else multi_element(f, action_id=DM_MULTI, limit_in_menu=False))
        blocks.append(ActionsBlock(block_id=block_id, elements=[menu]))
    blocks.append(_nav(wave_id, f))
    return _payload(f"{screen.title}: {q.text}" + (f" ({f.row.label})" if f.row else ""), blocks)


def question_message(title: str, progress: Progress, f: PageField, **kw: Any) -> dict[str, Any]:
    """`asked_message` for one field of `progress` (notice, errors, draft as keywords)."""
    return asked_message(PageScreen(progress.wave_id, title, progress, [Page(0, (f,))], **kw))


def answered_message(screen: PageScreen) -> dict[str, Any]:
    """The question with the member's answer and no buttons (replaces the asked message)."""
    (f,) = screen.fields
    answer = clip(answer_text(f.question, f.value, f.row), ANSWER_TEXT) if f.stored else "Saved"
    blocks = _header(screen, f) + [SectionBlock(text=pt(f":white_check_mark: {answer}", 3000))]
    return _payload(f"{screen.title}: {answer}", blocks)


def notice_message(text: str, *buttons: Button) -> dict[str, Any]:
    """A plain message (the wave closed, the thank-you…), with any buttons."""
    return {"text": fallback_text("", text), "blocks": message_blocks("", text, buttons=buttons)}


def message_of(screen: Screen) -> dict[str, Any]:
    """Any screen of the conversation as a DM message: a question, or a notice whose button
    reviews the answers in the modal (the thank-you) or continues in DMs (stopped)."""
    return draw(screen, page=asked_message, notice=lambda text, _title: notice_message(text),
                thanks=lambda s: notice_message(thanks_text(s.title, again=s.again), Button(
                    "Review or change answers", TAKE_SURVEY, str(s.wave_id))),
                stopped=lambda s: notice_message(
                    f"{stopped_text(s.title)} Press \"Answer in DMs\" whenever you like to continue.",
                    Button("Answer in DMs", DM_START, str(s.wave_id))))


def write_view(title: str, f: PageField, value: Any, meta: WriteMeta) -> dict[str, Any]:
    """The one-field modal behind "Write answer" (block id = the field key; a country typed)."""
    q = f.question
    field = Field(f.key, q, f.row, 0, value, value is not None)
    return View(
        type="modal", callback_id=WRITE_CALLBACK, title=pt(title, MODAL_TITLE),
        submit=pt("Save", 24), close=pt("Cancel", 24), private_metadata=meta.dump(),
        blocks=[input_block(field, q.text, element_for(field, typed=True), _dm_hint(q), optional=False)],
    ).to_dict()
