"""The report as one self-contained HTML page: charts embedded, nothing fetched from outside."""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Mapping

from analytics.model import Summary
from analytics.report import Block, report_blocks

log = logging.getLogger(__name__)

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 56rem;
       margin: 2rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5; }
h1 { font-size: 1.8rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f8fa; }
.note { color: #57606a; font-style: italic; }
blockquote { border-left: 4px solid #e69f00; margin: 1rem 0; padding: .25rem 1rem; background: #fff8e6; }
img { max-width: 100%; height: auto; display: block; margin: 1rem 0; }
.up { color: #0072b2; font-weight: 600; } .down { color: #d55e00; font-weight: 600; }
"""


def _cell(text: str, tag: str) -> str:
    cls = ' class="up"' if text.endswith("↑") else ' class="down"' if text.endswith("↓") else ""
    return f"<{tag}{cls}>{html.escape(text)}</{tag}>"


def _image(block: Block, charts: Mapping[str, bytes]) -> str:
    data = charts.get(block.src)
    if data is None:
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(block.text)}" src="data:image/png;base64,{encoded}">'


def _render(block: Block, charts: Mapping[str, bytes]) -> str:
    esc = html.escape
    kind = block.kind
    if kind in ("h1", "h2", "h3", "h4"):
        return f"<{kind}>{esc(block.text)}</{kind}>"
    if kind == "note":
        return f'<p class="note">{esc(block.text)}</p>'
    if kind == "quote":
        return f"<blockquote>{esc(block.text)}</blockquote>"
    if kind in ("ul", "ol"):
        items = "".join(f"<li>{esc(item)}</li>" for item in block.items)
        return f"<{kind}>{items}</{kind}>"
    if kind == "table":
        head = "".join(_cell(h, "th") for h in block.head)
        rows = "".join("<tr>" + "".join(_cell(c, "td") for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if kind == "img":
        return _image(block, charts)
    return f"<p>{esc(block.text)}</p>"


def to_html(summary: Summary, charts: Mapping[str, bytes] | None = None) -> str:
    """The same report as the Markdown, as one HTML file with the charts inside it."""
    charts = charts or {}
    body = "\n".join(part for part in (_render(b, charts) for b in report_blocks(summary, charts)) if part)
    title = html.escape(f"{summary.title} — {summary.wave}")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
