"""One survey question as a DM message (Block Kit via slack_sdk's models), and its outcomes.

A member who prefers chat to a modal answers in their DM with the app, one question (or
one grid row) per message. The interactive element fits the question:

- single: one button per option (≤ `BUTTONS_MAX` options), else a static select (option
  groups of ≤100 beyond 100 options);
- multi: checkboxes (≤ `CHECKBOX_MAX` options), else a multi-select with
  `max_selected_items` for "up to N"; both with a "Save" button (ticking saves nothing);
- grid: one message per row, a button per scale point;
- number, text, country: a "Write answer" button that opens a one-field modal (countries
  are typed, name or ISO code: a select of ~250 countries is over Slack's limits).

Optional questions get "Skip"; every question message has "Stop for now". What a button
carries is a `Ref` (wave, field key, option) in its value; a select or checkboxes carry it
in their block id, so any click is understood without server-side state. An answered
message is replaced by the question with the answer and no buttons.
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
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    NumberInputElement,
    Option,
    OptionGroup,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.modals import MODAL_TITLE, OPTION_TEXT, SELECT_MAX, VALUE_ACTION
from bot.slack.render import ANSWER_IN_DM, BUTTON_TEXT, fallback_text, pt
from bot.slack.text import clip
from surveys.flow import Progress
from surveys.ports import TAKE_SURVEY
from surveys.schema import Option as SurveyOption
from surveys.schema import Question, QuestionType
from surveys.validation import field_key, split_field

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
CHECKBOX_MAX = 10
ANSWER_TEXT = 500


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


@dataclass(frozen=True)
class DMField:
    """One thing asked in one message: a question, or one row of a grid."""

    question: Question
    row: SurveyOption | None = None

    @property
    def key(self) -> str:
        return field_key(self.question.id, self.row.id if self.row else "")


def next_field(progress: Progress) -> DMField | None:
    """The first shown question (grid: its first open row) not answered or skipped yet."""
    q = progress.next_question()
    if q is None:
        return None
    if q.type is QuestionType.grid:
        pending = progress.pending_rows(q)
        return DMField(q, q.row(pending[0])) if pending else DMField(q)
    return DMField(q)


def field_of(question: Question, key: str) -> DMField:
    _qid, row_id = split_field(key)
    return DMField(question, question.row(row_id) if row_id else None)


def writes(q: Question) -> bool:
    """Whether the member types the answer (in the one-field modal)."""
    return q.type in (QuestionType.number, QuestionType.text, QuestionType.country)


# -- pieces --------------------------------------------------------------------------------
def _header(title: str, progress: Progress, f: DMField) -> list[Block]:
    shown = progress.visible()
    number = next((i + 1 for i, q in enumerate(shown) if q.id == f.question.id), 0)
    where = f"{title} · question {number} of {len(shown)}" if number else title
    text = f"{number}. {f.question.text}" if number else f.question.text
    if f.row is not None:
        rows = f.question.rows
        index = next((i + 1 for i, r in enumerate(rows) if r.id == f.row.id), 0)
        where += f" · row {index} of {len(rows)}"
        text += f"\n\n{f.row.label}"
    return [ContextBlock(elements=[pt(where, 2000)]), SectionBlock(text=pt(text, 3000))]


def _hint(q: Question) -> str:
    parts = []
    if q.type is QuestionType.multi:
        parts.append(f"Choose up to {q.max_choices}, then Save." if q.max_choices
                     else "Choose all that apply, then Save.")
    if q.type is QuestionType.number and (q.min is not None or q.max is not None):
        low = f"{q.min:g}" if q.min is not None else "any"
        high = f"{q.max:g}" if q.max is not None else "any"
        parts.append(f"A number from {low} to {high}.")
    if q.type is QuestionType.country:
        parts.append("Type the country's name or its two-letter code (for example DE).")
    if q.help:
        parts.append(q.help)
    return " ".join(parts)


def _option(opt: SurveyOption) -> Option:
    return Option(value=opt.id, text=pt(opt.label, OPTION_TEXT))


def _choice_buttons(wave_id: int, key: str, options: list[SurveyOption]) -> ActionsBlock:
    return ActionsBlock(block_id="stateof_dm_choices", elements=[
        ButtonElement(text=pt(o.label, BUTTON_TEXT), action_id=f"{DM_CHOOSE}:{i}",
                      value=Ref(wave_id, key, o.id).dump())
        for i, o in enumerate(options)
    ])


def _select(block_id: str, options: list[SurveyOption]) -> ActionsBlock:
    built = [_option(o) for o in options]
    if len(built) <= SELECT_MAX:
        element = StaticSelectElement(action_id=DM_SELECT, placeholder=pt("Choose one", 150),
                                      options=built)
    else:
        groups = []
        for start in range(0, len(built), SELECT_MAX):
            part = options[start:start + SELECT_MAX]
            label = f"{part[0].label[:1]}–{part[-1].label[:1]}"
            groups.append(OptionGroup(label=pt(label, OPTION_TEXT),
                                      options=built[start:start + SELECT_MAX]))
        element = StaticSelectElement(action_id=DM_SELECT, placeholder=pt("Choose one", 150),
                                      option_groups=groups)
    return ActionsBlock(block_id=block_id, elements=[element])


def _multi(block_id: str, q: Question, chosen: list[str] | None) -> ActionsBlock:
    choices = q.choices
    built = [_option(o) for o in choices]
    picked = set(chosen or [])
    initial = [b for b, o in zip(built, choices, strict=True) if o.id in picked] or None
    if len(choices) <= CHECKBOX_MAX:
        element: Any = CheckboxesElement(action_id=DM_MULTI, options=built, initial_options=initial)
    else:
        element = StaticMultiSelectElement(
            action_id=DM_MULTI, placeholder=pt(_hint(q) or "Choose", 150), options=built,
            initial_options=initial,
            max_selected_items=min(q.max_choices, len(choices)) if q.max_choices else None,
        )
    return ActionsBlock(block_id=block_id, elements=[element])


def _nav(wave_id: int, f: DMField) -> ActionsBlock:
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
def question_message(
    title: str, progress: Progress, f: DMField, *, notice: str = "", error: str = "",
    chosen: list[str] | None = None,
) -> dict[str, Any]:
    """chat.postMessage / replace arguments asking `f` (with an error to fix, if any)."""
    q = f.question
    wave_id = progress.wave_id
    blocks = _header(title, progress, f)
    if notice:
        blocks.insert(0, SectionBlock(text=pt(notice, 3000)))
    hint = _hint(q)
    if hint:
        blocks.append(ContextBlock(elements=[pt(hint, 2000)]))
    if error:
        blocks.append(SectionBlock(text=pt(f":warning: {error}", 3000)))
    block_id = INPUT_PREFIX + Ref(wave_id, f.key).dump()
    if f.row is not None:
        blocks.append(_choice_buttons(wave_id, f.key, q.scale))
    elif q.type is QuestionType.single:
        choices = q.choices
        blocks.append(_choice_buttons(wave_id, f.key, choices) if len(choices) <= BUTTONS_MAX
                      else _select(block_id, choices))
    elif q.type is QuestionType.multi:
        blocks.append(_multi(block_id, q, chosen if chosen is not None else progress.answers.get(f.key)))
    blocks.append(_nav(wave_id, f))
    return _payload(f"{title}: {q.text}" + (f" ({f.row.label})" if f.row else ""), blocks)


def answer_text(f: DMField, value: Any) -> str:
    """How a stored value reads back to the member who gave it."""
    q = f.question
    if value is None:
        return "Skipped"
    if f.row is not None:
        scale = {o.id: o.label for o in q.scale}
        return scale.get(str(value), str(value))
    if q.type is QuestionType.multi:
        labels = {o.id: o.label for o in q.choices}
        return ", ".join(labels.get(v, v) for v in value)
    if q.type in (QuestionType.single, QuestionType.country):
        opt = q.option(str(value))
        return opt.label if opt else str(value)
    if q.type is QuestionType.number:
        number = float(value)
        return str(int(number)) if number == int(number) else f"{number:g}"
    return clip(str(value), ANSWER_TEXT)


def answered_message(title: str, progress: Progress, f: DMField) -> dict[str, Any]:
    """The question with the member's answer and no buttons (replaces the asked message)."""
    answer = answer_text(f, progress.answers.get(f.key)) if f.key in progress.answers else "Saved"
    blocks = _header(title, progress, f)
    blocks.append(SectionBlock(text=pt(f":white_check_mark: {answer}", 3000)))
    return _payload(f"{title}: {answer}", blocks)


def _buttons(*elements: ButtonElement) -> ActionsBlock:
    return ActionsBlock(block_id="stateof_dm_next", elements=list(elements))


def review_button(wave_id: int) -> ButtonElement:
    return ButtonElement(text=pt("Review or change answers", BUTTON_TEXT), action_id=TAKE_SURVEY,
                         value=str(wave_id))


def thanks_message(title: str, wave_id: int, *, again: bool = False) -> dict[str, Any]:
    """Every question answered; a button opens the modal to review or change answers."""
    lead = ("You have already answered every question of" if again
            else "Thank you! You answered every question of")
    text = (f"{lead} {title}. Your answers are saved under a pseudonym. You can review or "
            "change them until the survey closes, and see or delete them with /survey my-data.")
    return _payload(text, [SectionBlock(text=pt(text, 3000)), _buttons(review_button(wave_id))])


def stopped_message(title: str, wave_id: int) -> dict[str, Any]:
    """"Stop for now": what is answered stays saved; a button continues later."""
    text = (f"Stopped for now. Your answers to {title} so far are saved. Press \"Answer in "
            "DMs\" whenever you like to continue with the next open question.")
    resume = ButtonElement(text=pt("Answer in DMs", BUTTON_TEXT), action_id=DM_START,
                           value=str(wave_id))
    return _payload(text, [SectionBlock(text=pt(text, 3000)), _buttons(resume)])


def notice_message(text: str) -> dict[str, Any]:
    """A plain message (the wave closed, another community's survey…), no buttons."""
    return _payload(text, [SectionBlock(text=pt(text, 3000))])


def write_view(title: str, f: DMField, value: Any, meta: WriteMeta) -> dict[str, Any]:
    """The one-field modal behind "Write answer" (block id = the field key)."""
    q = f.question
    if q.type is QuestionType.number:
        number = None if value is None else answer_text(f, value)
        element: Any = NumberInputElement(
            action_id=VALUE_ACTION, is_decimal_allowed=not q.integer,
            min_value=None if q.min is None else f"{q.min:g}",
            max_value=None if q.max is None else f"{q.max:g}", initial_value=number,
        )
    elif q.type is QuestionType.country:
        opt = q.option(str(value)) if value is not None else None
        element = PlainTextInputElement(action_id=VALUE_ACTION, max_length=100,
                                        initial_value=opt.label if opt else None)
    else:
        element = PlainTextInputElement(
            action_id=VALUE_ACTION, multiline=True, max_length=min(q.max_length, 3000),
            initial_value=clip(str(value), 3000) if value is not None else None,
        )
    hint = _hint(q)
    block = InputBlock(block_id=f.key, label=pt(q.text, 2000), element=element,
                       hint=pt(hint, 2000) if hint else None)
    return View(
        type="modal", callback_id=WRITE_CALLBACK, title=pt(title, MODAL_TITLE),
        submit=pt("Save", 24), close=pt("Cancel", 24), private_metadata=meta.dump(), blocks=[block],
    ).to_dict()
