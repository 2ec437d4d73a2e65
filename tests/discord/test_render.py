"""Rendering without a connection: limits, escaping, long lists, modal parsing."""

from __future__ import annotations

import discord

from bot.answering.screens import PageScreen
from bot.discord.answering import (
    MAX_FIELDS,
    chunks,
    field_code,
    field_of,
    modal_values,
    pages_of,
    render_modal,
    render_page,
)
from bot.discord.render import clip, embed_for, safe
from surveys.catalog import Catalog
from surveys.flow import Progress
from surveys.paging import paginate
from surveys.schema import Option, QuestionType


def page_screen(title: str, progress: Progress, index: int = 0) -> PageScreen:
    """A page of the answering conversation, paged as on Discord."""
    return PageScreen(1, title, progress, pages_of(progress), index)


def mlops_progress(**answers) -> Progress:
    qn = Catalog().get("state-of-mlops")
    return Progress(1, qn, dict(answers))


def test_safe_escapes_markdown_and_mentions():
    assert safe("**x** @everyone <@123456789012345678>") == \
        "\\*\\*x\\*\\* @\u200beveryone <@\u200b123456789012345678>"
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"


def test_embed_respects_limits():
    embed = embed_for("t" * 300, "d" * 5000, [("n" * 300, "v" * 2000)] * 30)
    assert len(embed.title) == 256 and len(embed.description) == 4096
    assert len(embed.fields) <= 25 and len(embed) <= 6000


def test_chunks_keep_selects_under_25_options():
    countries = [Option(id=f"c{i}", label=f"Country {i:03d}") for i in range(249)]
    groups = chunks(countries)
    assert all(len(g) <= 24 for g in groups) and len(groups) <= 25
    assert [o for g in groups for o in g] == countries
    assert chunks(countries[:25]) == [countries[:25]]


def test_field_codes_round_trip():
    progress = mlops_progress()
    qn = progress.questionnaire
    for page in paginate(progress, MAX_FIELDS):
        for pf in page.fields:
            assert field_of(qn, field_code(qn, pf)) == pf


def test_every_page_fits_discord_layout_limits():
    progress = mlops_progress(title="ml_engineer", role="lead")
    pages = paginate(progress, MAX_FIELDS)
    for index in range(len(pages)):
        view = render_page(page_screen("State of MLOps 2026", progress, index), "42")
        payload = view.to_components()
        assert view.total_children_count <= 40
        assert sum(len(c.content) for c in view.walk_children()
                   if isinstance(c, discord.ui.TextDisplay)) <= 4000
        ids = [c.custom_id for c in view.walk_children() if hasattr(c, "custom_id")]
        assert len(ids) == len(set(ids)) and all(len(i) <= 100 for i in ids)
        assert payload


def test_multi_select_allows_up_to_max_choices():
    progress = mlops_progress()
    qn = progress.questionnaire
    pages = paginate(progress, MAX_FIELDS)
    index = next(p.index for p in pages if any(f.question.id == "focus" for f in p.fields))
    view = render_page(page_screen("t", progress, index), "42")
    focus = next(f for f in pages[index].fields if f.question.id == "focus")
    code = field_code(qn, focus)
    select = next(c for c in view.walk_children()
                  if getattr(c, "custom_id", "").endswith(f":{code}") and c.type.value == 3)
    assert select.item.max_values == 3 and select.item.min_values == 0


def test_modal_wraps_text_input_in_a_label():
    progress = mlops_progress()
    qn = progress.questionnaire
    text_q = next(q for q in qn.questions if q.type is QuestionType.text)
    pf = next(f for p in paginate(progress, MAX_FIELDS) for f in p.fields if f.question is text_q)
    modal = render_modal("x" * 60, pf, field_code(qn, pf), 1, "42")
    data = modal.to_dict()
    assert len(data["title"]) <= 45
    (label,) = data["components"]
    assert label["type"] == 18 and len(label["label"]) <= 45
    assert label["component"]["type"] == 4 and label["component"]["max_length"] == 1000


def test_modal_values_reads_labels_and_rows():
    components = [
        {"type": 18, "id": 1, "component": {"type": 4, "custom_id": "10", "value": "hello"}},
        {"type": 1, "components": [{"type": 4, "custom_id": "11", "value": "42"}]},
    ]
    assert modal_values(components) == {"10": "hello", "11": "42"}


def test_a_communitys_long_questionnaire_still_fits_every_page():
    """Long texts and help, three 100-option multi questions and a 500-option list: each page
    stays within 40 components and 4000 characters, whatever the community wrote."""
    from surveys.catalog import parse_questionnaire

    def many(n: int, prefix: str) -> str:
        return "".join(f"      - {{id: {prefix}{i}, label: '{prefix.upper()} option {i:03d} ' }}\n"
                       for i in range(n))

    long_text, long_help = "Q" * 495, "H" * 295
    qn = parse_questionnaire(
        "id: big\ntitle: Big\nquestions:\n"
        + "".join(f"  - id: m{k}\n    type: multi\n    text: {long_text}\n    help: {long_help}\n"
                  f"    options:\n{many(100, f'm{k}x')}" for k in range(3))
        + f"  - id: pick\n    type: single\n    text: {long_text}\n    options:\n{many(500, 'p')}"
        + "".join(f"  - id: t{k}\n    type: text\n    text: {long_text}\n    help: {long_help}\n"
                  for k in range(4))
    )
    progress = Progress(1, qn, {})
    pages = pages_of(progress)
    assert max(len(p.fields) for p in pages) <= MAX_FIELDS
    for index in range(len(pages)):
        view = render_page(page_screen("Big 2026", progress, index), "42")
        assert view.total_children_count <= 40, index
        assert sum(len(c.content) for c in view.walk_children()
                   if isinstance(c, discord.ui.TextDisplay)) <= 4000, index
        assert view.to_components()
