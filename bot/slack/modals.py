"""Answer pages as Slack modals (Block Kit built with slack_sdk's models, so limits hold).

One page (`surveys.paging`, at most `MAX_FIELDS` fields) is one modal view. Each field is
an input block whose `block_id` is the field key (`focus`, `tooling.ml_pipeline`), so the
flow's per-field errors map straight onto `response_action: errors`:

- single: radio buttons (≤10 options) or a static select (≤100 options, else option
  groups of ≤100 each, e.g. countries);
- multi: a multi-select with `max_selected_items` for "up to N", checkboxes otherwise
  (≤10 options);
- grid: the question as a section, then one static select per row;
- number: a number input with the question's min/max; text: a multi-line text input.

The view's `private_metadata` carries the wave, the workspace and the page's field keys,
so a submission is understood without any server-side session.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
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
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.render import pt
from bot.slack.text import clip
from surveys.flow import Progress
from surveys.paging import Page, PageField, paginate
from surveys.schema import Option as SurveyOption
from surveys.schema import Question, QuestionType

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


@dataclass(frozen=True)
class PageMeta:
    """What a page view carries in `private_metadata`."""

    wave_id: int
    team: str
    keys: tuple[str, ...] = ()
    index: int = 0
    last: bool = False  # the last page when it was shown (its submit finishes the survey)

    def dump(self) -> str:
        return json.dumps({"w": self.wave_id, "t": self.team, "k": list(self.keys), "i": self.index,
                           "l": int(self.last)}, separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> PageMeta:
        data = json.loads(text or "{}")
        return cls(int(data["w"]), str(data["t"]), tuple(data.get("k", [])), int(data.get("i", 0)),
                   bool(data.get("l", 0)))


@dataclass
class Screen:
    """Everything one answer page shows."""

    wave_id: int
    team: str
    title: str
    progress: Progress
    index: int = 0
    notice: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> list[Page]:
        return paginate(self.progress, MAX_FIELDS)


def page_of(pages: list[Page], key: str) -> int:
    """The index of the page holding field `key` (0 when it is not shown any more)."""
    for page in pages:
        if any(f.key == key for f in page.fields):
            return page.index
    return 0


def _option(opt: SurveyOption) -> Option:
    return Option(value=opt.id, text=pt(opt.label, OPTION_TEXT))


def _hint(q: Question) -> str:
    parts = []
    if q.type is QuestionType.multi:
        parts.append(f"Choose up to {q.max_choices}." if q.max_choices else "Choose all that apply.")
    if q.type is QuestionType.number and (q.min is not None or q.max is not None):
        low = f"{q.min:g}" if q.min is not None else "any"
        high = f"{q.max:g}" if q.max is not None else "any"
        parts.append(f"A number from {low} to {high}.")
    if q.help:
        parts.append(q.help)
    return " ".join(parts)


def _select(options: list[SurveyOption], value: Any, placeholder: str) -> StaticSelectElement:
    built = {o.id: _option(o) for o in options}
    initial = built.get(value) if isinstance(value, str) else None
    if len(options) <= SELECT_MAX:
        return StaticSelectElement(
            action_id=VALUE_ACTION, placeholder=pt(placeholder, 150), options=list(built.values()),
            initial_option=initial,
        )
    groups = []
    ids = [o.id for o in options]
    for start in range(0, len(ids), SELECT_MAX):
        part = options[start:start + SELECT_MAX]
        label = f"{part[0].label[:1]}–{part[-1].label[:1]}"
        groups.append(OptionGroup(label=pt(label, OPTION_TEXT), options=[built[o.id] for o in part]))
    return StaticSelectElement(
        action_id=VALUE_ACTION, placeholder=pt(placeholder, 150), option_groups=groups,
        initial_option=initial,
    )


def element_for(pf: PageField, value: Any) -> Any:
    """The input element of one field, pre-filled with the member's current answer."""
    q = pf.question
    if pf.row is not None:  # a grid row: one of the scale
        return _select(q.scale, value, "Choose one")
    if q.type in (QuestionType.single, QuestionType.country):
        choices = q.choices
        if len(choices) <= RADIO_MAX and q.type is QuestionType.single:
            built = [_option(o) for o in choices]
            initial = next((b for b, o in zip(built, choices, strict=True) if o.id == value), None)
            return RadioButtonsElement(action_id=VALUE_ACTION, options=built, initial_option=initial)
        return _select(choices, value, "Choose one")
    if q.type is QuestionType.multi:
        choices = q.choices
        built = [_option(o) for o in choices]
        chosen = set(value or [])
        initial = [b for b, o in zip(built, choices, strict=True) if o.id in chosen] or None
        if q.max_choices is None and len(choices) <= CHECKBOX_MAX:
            return CheckboxesElement(action_id=VALUE_ACTION, options=built, initial_options=initial)
        return StaticMultiSelectElement(
            action_id=VALUE_ACTION, placeholder=pt(_hint(q) or "Choose", 150),
            options=built, initial_options=initial,
            max_selected_items=min(q.max_choices, len(choices)) if q.max_choices else None,
        )
    if q.type is QuestionType.number:
        return NumberInputElement(
            action_id=VALUE_ACTION, is_decimal_allowed=not q.integer,
            min_value=_num(q.min), max_value=_num(q.max),
            initial_value=_num(value) if value is not None else None,
        )
    return PlainTextInputElement(
        action_id=VALUE_ACTION, multiline=True, max_length=min(q.max_length, 3000),
        initial_value=clip(str(value), 3000) if value is not None else None,
    )


def _num(value: Any) -> str | None:
    if value is None:
        return None
    number = float(value)
    return str(int(number)) if number == int(number) else f"{number:g}"


def page_blocks(screen: Screen, page: Page) -> list[Block]:
    """The blocks of one page: progress, notice, the fields, and Back."""
    progress = screen.progress
    pages = screen.pages
    done, total = progress.position
    blocks: list[Block] = [ContextBlock(elements=[pt(
        f"Page {page.index + 1} of {len(pages)} · {done} of {total} questions answered · "
        "saved at every page", 2000)])]
    if screen.notice:
        blocks.append(SectionBlock(text=pt(screen.notice, 3000)))
    numbers = {q.id: i + 1 for i, q in enumerate(progress.visible())}
    keys = {f.key for f in page.fields}
    stray = [msg for key, msg in screen.errors.items() if key not in keys]
    if stray:
        blocks.append(SectionBlock(text=pt("Please check: " + " ".join(stray), 3000)))
    shown: set[str] = set()
    for pf in page.fields:
        q = pf.question
        value = progress.answers.get(pf.key)
        number = numbers.get(q.id, 0)
        if pf.row is not None:
            if q.id not in shown:
                hint = f"\n{q.help}" if q.help else ""
                blocks.append(SectionBlock(text=pt(f"{number}. {q.text}{hint}", 3000)))
                shown.add(q.id)
            label = pf.row.label
            hint_text = ""
        else:
            label = f"{number}. {q.text}"
            hint_text = _hint(q)
        blocks.append(InputBlock(
            block_id=pf.key, label=pt(label, LABEL_TEXT), element=element_for(pf, value),
            optional=not q.required, hint=pt(hint_text, HINT_TEXT) if hint_text else None,
        ))
    if page.index > 0:
        blocks.append(ActionsBlock(block_id="nav", elements=[ButtonElement(
            action_id=BACK_ACTION, text=pt("Back", 75), value=str(page.index))]))
    return blocks


def page_view(screen: Screen) -> dict[str, Any]:
    """The modal for `screen.index` (clamped to the pages there are)."""
    pages = screen.pages
    if not pages:
        return message_view(screen.title, "There are no questions for you in this survey.")
    index = min(max(screen.index, 0), len(pages) - 1)
    page = pages[index]
    last = index == len(pages) - 1
    meta = PageMeta(screen.wave_id, screen.team, tuple(f.key for f in page.fields), index, last)
    view = View(
        type="modal", callback_id=PAGE_CALLBACK, title=pt(screen.title, MODAL_TITLE),
        submit=pt("Finish" if last else "Next", 24), close=pt("Close", 24),
        notify_on_close=True, private_metadata=meta.dump(), blocks=page_blocks(screen, page),
    )
    return view.to_dict()


def message_view(title: str, text: str, *, close: str = "Close") -> dict[str, Any]:
    """A modal that only shows text (thanks, loading, a closed wave)."""
    return View(
        type="modal", title=pt(title, MODAL_TITLE), close=pt(close, 24),
        blocks=[SectionBlock(text=pt(text, 3000))],
    ).to_dict()


def thanks_view(screen: Screen) -> dict[str, Any]:
    return message_view(
        screen.title,
        f"Thank you! Your answers to {screen.title} are saved under a pseudonym. You can "
        "change them until the survey closes (press \"Take the survey\" again), and see or "
        "delete them with /survey my-data.",
        close="Done",
    )


def loading_view(title: str) -> dict[str, Any]:
    return message_view(title, "One moment: loading your survey…")


def state_value(entry: dict[str, Any] | None) -> Any:
    """The raw answer in one `state.values[block][action]` entry (None when blank)."""
    if not entry:
        return None
    kind = entry.get("type")
    if kind in ("radio_buttons", "static_select", "external_select"):
        selected = entry.get("selected_option")
        return selected.get("value") if selected else None
    if kind in ("multi_static_select", "checkboxes", "multi_external_select"):
        return [o.get("value") for o in entry.get("selected_options") or []]
    if kind in ("plain_text_input", "number_input"):
        value = entry.get("value")
        return value if value not in ("",) else None
    return entry.get("value")


def state_values(view: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Raw answers for the page's fields from a submitted view (blank ones as None)."""
    values = (view.get("state") or {}).get("values") or {}
    return {key: state_value((values.get(key) or {}).get(VALUE_ACTION)) for key in keys}

