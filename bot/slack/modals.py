"""The conversation's pages as Slack modals (Block Kit built with slack_sdk's models, so limits hold).

A page (at most `MAX_FIELDS` fields) is one view of input blocks keyed by field key:
single → radio buttons (≤10) or a static select (groups of 100, e.g. countries); multi →
checkboxes, or a multi-select with `max_selected_items` for "up to N"; a grid → the
question, then one select per row; number → a number input; text → a multi-line input.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

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
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.answering.conversation import at_most
from bot.answering.options import range_label, split
from bot.answering.screens import (
    NO_QUESTIONS,
    Field,
    PageScreen,
    Screen,
    draw,
    number_text,
    thanks_text,
    typed_text,
)
from bot.slack.render import pt
from bot.slack.text import clip
from surveys.schema import Option as SurveyOption
from surveys.schema import QuestionType

log = logging.getLogger(__name__)

PAGE_CALLBACK = "stateof_page"
BACK_ACTION = "stateof_back"
VALUE_ACTION = "value"
MAX_FIELDS = 5
MODAL_TITLE = 24
OPTION_TEXT = 75
RADIO_MAX = 10
CHECKBOX_MAX = 10
SELECT_MAX = 100
LABEL_TEXT = 2000
HINT_TEXT = 2000
modal_pages = at_most(MAX_FIELDS)  # the modal's pages: at most `MAX_FIELDS` inputs each


@dataclass(frozen=True)
class Meta:
    """A view's `private_metadata`: a dataclass as JSON with a letter a field (`KEYS`, in
    order; Slack allows 3,000 characters), so a submission is understood without a session."""

    KEYS: ClassVar[str] = ""

    def dump(self) -> str:
        return json.dumps({k: getattr(self, f.name) for k, f in zip(self.KEYS, fields(self), strict=True)},
                          separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> Self:
        """The metadata of `text`; ValueError/TypeError when it is not ours."""
        data = json.loads(text or "{}")
        return cls(**{f.name: tuple(data[k]) if isinstance(data[k], list) else data[k]
                      for k, f in zip(cls.KEYS, fields(cls), strict=True) if k in data})


@dataclass(frozen=True)
class PageMeta(Meta):
    """What a page view carries: the wave, the workspace, the page's field keys."""

    KEYS = "wtkil"

    wave_id: int
    team: str
    keys: tuple[str, ...] = ()
    index: int = 0
    last: bool = False  # the last page when it was shown (its submit finishes the survey)

    @property
    def anchor(self) -> str:
        return self.keys[0] if self.keys else ""


def _option(opt: SurveyOption) -> Option:
    return Option(value=opt.id, text=pt(opt.label, OPTION_TEXT))


def options_select(options: list[SurveyOption], placeholder: str, *, action_id: str = VALUE_ACTION,
                   value: Any = None) -> StaticSelectElement:
    """A static select of `options` (groups of `SELECT_MAX` for longer lists, e.g. countries)."""
    built = {o.id: _option(o) for o in options}
    groups = [OptionGroup(label=pt(range_label(part), OPTION_TEXT), options=[built[o.id] for o in part])
              for part in split(options, SELECT_MAX, balanced=False)] if len(options) > SELECT_MAX else None
    return StaticSelectElement(
        action_id=action_id, placeholder=pt(placeholder, 150), option_groups=groups,
        options=None if groups else list(built.values()),
        initial_option=built.get(value) if isinstance(value, str) else None,
    )


def multi_element(f: Field, *, action_id: str = VALUE_ACTION, limit_in_menu: bool = True) -> Any:
    """Checkboxes for a short list, else a multi-select with "up to N". With `limit_in_menu`
    a list with a limit is always the multi-select, so the menu itself enforces it."""
    q, choices, picked = f.question, f.options, set(f.value or [])
    built = [_option(o) for o in choices]
    initial = [b for b, o in zip(built, choices, strict=True) if o.id in picked] or None
    if len(choices) <= CHECKBOX_MAX and not (limit_in_menu and q.max_choices):
        return CheckboxesElement(action_id=action_id, options=built, initial_options=initial)
    return StaticMultiSelectElement(
        action_id=action_id, placeholder=pt(f.hint or "Choose", 150), options=built, initial_options=initial,
        max_selected_items=min(q.max_choices, len(choices)) if q.max_choices else None,
    )


def element_for(f: Field, *, typed: bool = False) -> Any:
    """The input element of one field, pre-filled with the member's current answer; `typed`:
    a country is written (the one-field modal of DMs), not chosen."""
    q = f.question
    if q.type is QuestionType.country and typed:
        return PlainTextInputElement(action_id=VALUE_ACTION, max_length=100,
                                     initial_value=typed_text(q, f.value))
    if q.type is QuestionType.single and f.row is None and len(f.options) <= RADIO_MAX:
        built = [_option(o) for o in f.options]
        initial = next((b for b, o in zip(built, f.options, strict=True) if o.id == f.value), None)
        return RadioButtonsElement(action_id=VALUE_ACTION, options=built, initial_option=initial)
    if f.row is not None or q.type in (QuestionType.single, QuestionType.country):
        return options_select(f.options, "Choose one", value=f.value)
    if q.type is QuestionType.multi:
        return multi_element(f)
    if q.type is QuestionType.number:
        return NumberInputElement(
            action_id=VALUE_ACTION, is_decimal_allowed=not q.integer,
            min_value=None if q.min is None else number_text(q.min),
            max_value=None if q.max is None else number_text(q.max), initial_value=typed_text(q, f.value),
        )
    return PlainTextInputElement(action_id=VALUE_ACTION, multiline=True, max_length=min(q.max_length, 3000),
                                 initial_value=clip(typed_text(q, f.value), 3000) or None)


def input_block(f: Field, label: str, element: Any, hint: str, *, optional: bool) -> InputBlock:
    """One field as an input block: its `block_id` is the field key, so per-field errors map
    straight onto `response_action: errors`."""
    return InputBlock(block_id=f.key, label=pt(label, LABEL_TEXT), element=element, optional=optional,
                      hint=pt(hint, HINT_TEXT) if hint else None)


def page_blocks(screen: PageScreen) -> list[Block]:
    """The blocks of one page: progress, notice, the fields, and Back."""
    blocks: list[Block] = [ContextBlock(elements=[pt(f"{screen.where} · saved at every page", 2000)])]
    if screen.notice:
        blocks.append(SectionBlock(text=pt(screen.notice, 3000)))
    if screen.errors:  # a page shown again (not an errors response): say what to fix
        blocks.append(SectionBlock(text=pt("Please check: " + " ".join(screen.errors.values()), 3000)))
    for f in screen.fields:
        q = f.question
        if f.row is not None and f.first_of_question:
            blocks.append(SectionBlock(text=pt(f.heading + (f"\n{q.help}" if q.help else ""), 3000)))
        blocks.append(input_block(f, f.row.label if f.row else f.heading, element_for(f),
                                  "" if f.row else f.hint, optional=not q.required))
    if not screen.first:
        blocks.append(ActionsBlock(block_id="nav", elements=[ButtonElement(
            action_id=BACK_ACTION, text=pt("Back", 75), value=str(screen.index))]))
    return blocks


def page_view(screen: PageScreen, team: str) -> dict[str, Any]:
    """The modal of one page."""
    if not screen.pages:
        return message_view(screen.title, NO_QUESTIONS)
    meta = PageMeta(screen.wave_id, team, screen.keys, screen.index, screen.last)
    return View(
        type="modal", callback_id=PAGE_CALLBACK, title=pt(screen.title, MODAL_TITLE),
        submit=pt("Finish" if screen.last else "Next", 24), close=pt("Close", 24),
        notify_on_close=True, private_metadata=meta.dump(), blocks=page_blocks(screen),
    ).to_dict()


def message_view(title: str, text: str, *, close: str = "Close") -> dict[str, Any]:
    """A modal that only shows text (thanks, loading, a closed wave)."""
    return View(
        type="modal", title=pt(title, MODAL_TITLE), close=pt(close, 24),
        blocks=[SectionBlock(text=pt(text, 3000))],
    ).to_dict()


def view_of(screen: Screen, team: str) -> dict[str, Any]:
    """Any screen of the conversation as a modal view."""
    return draw(screen, page=lambda page: page_view(page, team),
                thanks=lambda s: message_view(s.title, thanks_text(s.title), close="Done"),
                notice=lambda text, title: message_view(title, text))


def field_errors(errors: dict[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """Problems as `response_action: errors` takes them: on the form's own fields, else all
    of them on its first field."""
    on_form = {k: clip(v, 150) for k, v in errors.items() if k in keys}
    return on_form or {keys[0]: clip(" ".join(errors.values()), 150)}


def state_value(entry: dict[str, Any] | None) -> Any:
    """The raw answer in one `state.values[block][action]` entry (None when blank)."""
    entry = entry or {}
    if "selected_options" in entry:  # checkboxes, multi-selects
        return [o.get("value") for o in entry["selected_options"] or []]
    if "selected_option" in entry:  # radio buttons, selects
        return (entry["selected_option"] or {}).get("value")
    return entry.get("value") or None  # text and number inputs


def state_values(view: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Raw answers for the page's fields from a submitted view (blank ones as None)."""
    values = (view.get("state") or {}).get("values") or {}
    return {key: state_value((values.get(key) or {}).get(VALUE_ACTION)) for key in keys}

