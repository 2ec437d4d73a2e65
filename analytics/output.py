"""Write a summary to a folder: `summary.md` or `summary.json` with one PNG per chart next
to it, or one self-contained `summary.html` (its charts inside it, as SVG)."""

from __future__ import annotations

import logging
from pathlib import Path

from analytics.charts import render_charts
from analytics.html import html_report, to_html
from analytics.model import Summary
from analytics.report import to_json, to_markdown

log = logging.getLogger(__name__)

FORMATS = ("md", "json", "html")


def write_summary(summary: Summary, out_dir: Path | str, fmt: str = "md", charts: bool = True) -> list[Path]:
    """Write the report and its charts into `out_dir` (created); returns the files written,
    the report first. The HTML page carries its charts, so it is written alone. Raises
    ValueError for an unknown format."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}' (use {' or '.join(FORMATS)})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = render_charts(summary) if charts and fmt != "html" else {}
    report = out / f"summary.{fmt}"
    if fmt == "md":
        text = to_markdown(summary, pngs)
    elif fmt == "html":
        text = html_report(summary) if charts else to_html(summary)
    else:
        text = to_json(summary) + "\n"
    report.write_text(text, encoding="utf-8")
    written = [report]
    for name, data in pngs.items():
        path = out / name
        path.write_bytes(data)
        written.append(path)
    log.info("summary of %s %s written to %s (%d files)", summary.survey, summary.wave, out, len(written))
    return written
