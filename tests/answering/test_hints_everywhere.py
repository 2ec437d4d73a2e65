"""Every renderer says a question's limits in the one wording of `bot.answering.screens.hint`.

Before: the Slack modal said "A number from 0 to any." for a number with only a minimum,
the terminal knew only min-and-max ("A number" otherwise), Discord had its own four
wordings ("A number, at least 0"), and the DM message its own copy of the modal's.
"""

from __future__ import annotations

import pytest

from bot.answering.conversation import one_at_a_time
from bot.answering.screens import PageScreen, hint
from bot.discord.answering import field_code, pages_of, render_modal, render_page
from bot.slack.dm_render import question_message
from bot.slack.modals import modal_pages, page_view
from surveys.flow import Progress
from surveys.paging import PageField
from surveys.schema import Questionnaire

QN = Questionnaire.model_validate({"id": "limits", "title": "Limits", "questions": [
    {"id": "low", "type": "number", "text": "At least?", "min": 0},
    {"id": "high", "type": "number", "text": "Up to?", "max": 10, "integer": False},
    {"id": "both", "type": "number", "text": "Between?", "min": 0, "max": 10},
    {"id": "free", "type": "number", "text": "Any?", "integer": False},
    {"id": "three", "type": "multi", "text": "Three?", "max_choices": 3,
     "options": [{"id": f"o{i}", "label": f"Option {i}"} for i in range(12)]},
]})
WORDS = {"low": "A whole number of at least 0.", "high": "A number up to 10.",
         "both": "A whole number from 0 to 10.", "free": "A number.", "three": "Choose up to 3."}


@pytest.mark.parametrize("qid", list(WORDS))
def test_one_wording_on_every_renderer(qid):
    q = QN.question(qid)
    assert hint(q) == WORDS[qid] and "any" not in hint(q)
    progress = Progress(1, QN)
    # the Slack modal: the input block's hint
    pages = modal_pages(progress)
    index = next(p.index for p in pages if any(f.key == qid for f in p.fields))
    view = page_view(PageScreen(1, "Limits 1", progress, pages, index), "T1")
    (block,) = [b for b in view["blocks"] if b.get("block_id") == qid]
    assert block["hint"]["text"] == WORDS[qid]
    # a Slack DM question: the context under the question
    dm = question_message("Limits 1", progress, PageField(q))
    context = [e["text"] for b in dm["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert any(text.startswith(WORDS[qid]) for text in context), context
    # Discord: a number's modal placeholder, a multi question's line on the page
    if q.type.value == "number":
        modal = render_modal("Limits 1", PageField(q), field_code(QN, PageField(q)), 1, "42")
        assert modal.to_dict()["components"][0]["component"]["placeholder"] == WORDS[qid]
    else:
        discord_pages = pages_of(progress)
        at = next(p.index for p in discord_pages if any(f.key == qid for f in p.fields))
        page = render_page(PageScreen(1, "Limits 1", progress, discord_pages, at), "42")
        assert any(WORDS[qid] in getattr(item, "content", "") for item in page.walk_children())
    # the terminal and the in-memory front end print the field's hint
    one = PageScreen(1, "Limits 1", progress, one_at_a_time(progress))
    assert any(f.hint == WORDS[qid] for p in one.pages for f in
               PageScreen(1, "Limits 1", progress, one.pages, p.index).fields)


async def test_the_terminal_says_the_same_and_refuses_out_of_range(services):
    import io

    from rich.console import Console

    from bot.console import ConsoleChat

    services.catalog.add(QN)
    script = iter(["-1", "3", "11", "", "5", "", "", "q"])
    out = io.StringIO()
    chat = ConsoleChat(services, Console(file=out, width=200, color_system=None), lambda _p: next(script),
                       user="ada")
    outcome = await chat.run("limits")
    text = out.getvalue()
    for qid in ("low", "high", "both"):
        assert WORDS[qid] in text
    assert "-1 is out of range" in text and "at least 0" in text  # asked again, then 3
    assert "11 is out of range" in text
    assert outcome.answered == 2 and outcome.completed  # high, free and three skipped
