"""The report as one self-contained HTML page: charts embedded, nothing fetched from outside.

Made to be read on a phone (390 px) as well as a desktop: a table of contents, tables that
scroll sideways inside their own box (the page never does), charts as SVG that keep their
text at its drawn size (the chart box scrolls on a narrow screen), each chart's numbers in
its text alternative (analytics.chart_text), tables with a caption and header scopes, and
every colour pair at WCAG AA contrast (analytics.palette).
"""

from __future__ import annotations

import base64
import html
import logging
import re
from collections.abc import Mapping

from analytics.chart_text import movers_text, question_text
from analytics.model import Summary
from analytics.palette import DOWN, INK, MUTED, UP
from analytics.report import Block, report_blocks

log = logging.getLogger(__name__)

STYLE = f"""
*, *::before, *::after {{ box-sizing: border-box; }}
html {{ -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }}
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 56rem;
       margin: 0 auto; padding: 1rem; color: {INK}; background: #ffffff; line-height: 1.5;
       overflow-wrap: anywhere; }}
h1 {{ font-size: clamp(1.4rem, 5vw, 1.8rem); line-height: 1.25; }}
h2 {{ margin-top: 2.5rem; border-bottom: 1px solid #d0d7de; }}
a {{ color: {UP}; }}
nav ol {{ padding-left: 1.4rem; }} nav ol ol {{ padding-left: 1rem; }}
.scroll {{ max-width: 100%; overflow-x: auto; margin: .5rem 0 1rem; }}
.scroll:focus {{ outline: 2px solid {UP}; outline-offset: 2px; }}
table {{ border-collapse: collapse; overflow-wrap: normal; }}
caption {{ text-align: left; font-weight: 600; padding: .25rem 0; caption-side: top;
           position: sticky; left: 0; max-width: calc(100vw - 2rem); }}
th, td {{ border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: right; white-space: nowrap; }}
th[scope="row"] {{ text-align: left; white-space: normal; min-width: 8rem; font-weight: normal; }}
thead th {{ background: #f6f8fa; }}
.note {{ color: {MUTED}; font-style: italic; }}
blockquote {{ border-left: 4px solid #e69f00; margin: 1rem 0; padding: .25rem 1rem; background: #fff8e6; }}
figure {{ margin: 1rem 0; }}
figure img {{ display: block; width: 100%; min-width: 40rem; height: auto; }}
.up {{ color: {UP}; font-weight: 600; }} .down {{ color: {DOWN}; font-weight: 600; }}
"""

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
_SVG_SIZE = re.compile(rb'<svg[^>]*?\bwidth="([\d.]+)pt"[^>]*?\bheight="([\d.]+)pt"')


class _Ids:
    """Unique ids for headings (their links in the table of contents)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def make(self, text: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        ident, n = base, 2
        while ident in self.seen:
            ident, n = f"{base}-{n}", n + 1
        self.seen.add(ident)
        return ident


def _cell(text: str, tag: str, scope: str = "") -> str:
    cls = ' class="up"' if text.endswith("↑") else ' class="down"' if text.endswith("↓") else ""
    scoped = f' scope="{scope}"' if scope else ""
    return f"<{tag}{scoped}{cls}>{html.escape(text)}</{tag}>"


def _table(block: Block) -> str:
    esc = html.escape
    head = "".join(_cell(h, "th", "col") for h in block.head)
    rows = "".join("<tr>" + _cell(row[0], "th", "row") + "".join(_cell(c, "td") for c in row[1:]) + "</tr>"
                   for row in block.rows if row)
    caption = block.caption or (block.head[0] if block.head else "Table")
    return (f'<div class="scroll" role="region" tabindex="0" aria-label="{esc(caption)}">'
            f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def _media_type(data: bytes) -> str:
    return MEDIA_TYPES["png"] if data.startswith(b"\x89PNG") else MEDIA_TYPES["svg"]


def _size(data: bytes) -> str:
    """width/height attributes (CSS px) of an SVG, so the page does not jump while it loads."""
    found = _SVG_SIZE.search(data[:2000])
    if not found:
        return ""
    width, height = (round(float(v) * 4 / 3) for v in found.groups())
    return f' width="{width}" height="{height}"'


def _description(block: Block, summary: Summary) -> str:
    name = block.src.rsplit(".", 1)[0]
    if name == "movers":
        return f"{block.text}. {movers_text(summary)}"
    qs = summary.question(name)
    return question_text(summary, qs) if qs is not None else block.text


def _image(block: Block, charts: Mapping[str, bytes], summary: Summary) -> str:
    data = charts.get(block.src)
    if data is None:
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    alt = html.escape(_description(block, summary))
    return (f'<figure class="scroll" tabindex="0" aria-label="Chart: {html.escape(block.text)}">'
            f'<img alt="{alt}"{_size(data)} src="data:{_media_type(data)};base64,{encoded}"></figure>')


def _render(block: Block, charts: Mapping[str, bytes], summary: Summary, ids: _Ids) -> str:
    esc = html.escape
    kind = block.kind
    if kind in ("h2", "h3"):
        return f'<{kind} id="{ids.make(block.text)}">{esc(block.text)}</{kind}>'
    if kind in ("h1", "h4"):
        return f"<{kind}>{esc(block.text)}</{kind}>"
    if kind == "note":
        return f'<p class="note">{esc(block.text)}</p>'
    if kind == "quote":
        return f"<blockquote>{esc(block.text)}</blockquote>"
    if kind in ("ul", "ol"):
        items = "".join(f"<li>{esc(item)}</li>" for item in block.items)
        return f"<{kind}>{items}</{kind}>"
    if kind == "table":
        return _table(block)
    if kind == "img":
        return _image(block, charts, summary)
    return f"<p>{esc(block.text)}</p>"


def _contents(blocks: list[Block]) -> str:
    """The table of contents: the sections, with the questions under theirs."""
    ids = _Ids()  # the same sequence of ids `_render` makes
    sections: list[tuple[str, list[str]]] = []
    for block in blocks:
        if block.kind not in ("h2", "h3"):
            continue
        link = f'<a href="#{ids.make(block.text)}">{html.escape(block.text)}</a>'
        if block.kind == "h2" or not sections:
            sections.append((link, []))
        else:
            sections[-1][1].append(link)
    items = "".join(f"<li>{link}" + (f"<ol>{''.join(f'<li>{s}</li>' for s in subs)}</ol>" if subs else "")
                    + "</li>" for link, subs in sections)
    return f'<nav aria-label="Contents"><h2>Contents</h2><ol>{items}</ol></nav>' if items else ""


def to_html(summary: Summary, charts: Mapping[str, bytes] | None = None) -> str:
    """The same report as the Markdown, as one HTML file with the charts (PNG or SVG) inside it."""
    charts = charts or {}
    blocks = report_blocks(summary, list(charts))
    ids = _Ids()
    parts = [_render(b, charts, summary, ids) for b in blocks]
    if blocks and blocks[0].kind == "h1":
        parts.insert(1, _contents(blocks[1:]))
    body = "\n".join(part for part in parts if part)
    title = html.escape(f"{summary.title} — {summary.wave}")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n<main>\n{body}\n</main>\n"
            f"</body></html>\n")


def html_report(summary: Summary) -> str:
    """The HTML report with its charts drawn as SVG (what `summary --format html` writes)."""
    from analytics.charts import render_charts

    return to_html(summary, render_charts(summary, fmt="svg"))
