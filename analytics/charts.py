"""Summary → PNG or SVG charts (matplotlib object API on the Agg canvas; no pyplot).

`render_charts(summary)` returns PNG bytes keyed by file name (``fmt="svg"``: SVG, ``.svg``):
- ``movers.png``: the biggest significant changes against the first compared wave, as a
  dumbbell per item (earlier share → this wave's share, with an arrow and the change in
  points). When the waves could be compared but nothing changed significantly, the chart
  says so in words ("No significant changes …") so a weekly post always has its picture.
  It is left out only when no comparison is possible: no compared wave, or the summarised
  wave (or every compared wave) is suppressed.
- ``<question_id>.png`` for each question with something to draw: grouped horizontal bars
  (single, multi, country), 100%-stacked bars per grid row with the waves side by side,
  median and quartiles for numbers. Free text is never charted.

Rules every chart follows: about 800 px wide (8 in at 100 dpi); the Okabe-Ito colour-blind
safe palette of analytics.palette (text at WCAG AA contrast, on bars too); percentages
written on the bars; the wave labels with the question's base n (those asked) in the legend
or subtitle; whiskers for the 95% Wilson interval of each share
and ↑/↓ on the changes that are significant after Benjamini–Hochberg; options in the order
of analytics.ordering (natural order for scales, else by share); long labels wrapped;
suppressed waves (or waves that did not ask a question) are not drawn and are named in the
subtitle; synthetic data is marked in the footnote. Labels
are community text: `$` is escaped so mathtext never interprets them. The PNG metadata is
fixed, so the same summary gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analytics.model import OTHER, Change, ChoiceResult, GridResult, NumberResult, QuestionSummary, Summary
from analytics.ordering import option_order
from analytics.palette import (
    BLUE,
    GREEN,
    GREY,
    INK,
    LIGHT,
    MUTED,
    ORANGE,
    PURPLE,
    SKY,
    VERMILLION,
    YELLOW,
    text_on,
)
from analytics.stats import METHOD_TEXT

log = logging.getLogger(__name__)

__all__ = [
    "render_charts", "question_chart", "question_figure", "movers_chart", "movers_figure",
    "MOVERS_FILE", "MOVERS_LIMIT", "lead_chart", "chart_file", "CHART_FORMATS",
]

MOVERS_FILE = "movers.png"
MOVERS_LIMIT = 8
MAX_OPTIONS = 15  # single/multi/country: the largest options beyond this are not drawn

DPI = 100
WIDTH = 8.0  # inches → 800 px
# Waves: this wave dark, earlier ones lighter (works in grey scale too), then distinct hues.
WAVE_COLOURS = [BLUE, SKY, "#B8B8B8", ORANGE, GREEN, PURPLE, VERMILLION, YELLOW]
SCALE_COLOURS = [BLUE, ORANGE, SKY, GREEN, VERMILLION, PURPLE, YELLOW]
NO_ANSWER = "#EFEFEF"

TITLE_PT, SUB_PT, LABEL_PT, VALUE_PT, NOTE_PT = 14, 9.5, 9.5, 8.5, 8
PNG_METADATA = {"Software": "stateof"}
SVG_METADATA = {"Creator": "stateof", "Date": None}
CHART_FORMATS = ("png", "svg")


# -- text ----------------------------------------------------------------------------------
@functools.cache
def _glyphs() -> frozenset[int]:
    """Code points the default font can draw (others would show as empty boxes)."""
    path = font_manager.findfont(font_manager.FontProperties())
    return frozenset(FT2Font(path).get_charmap())


def _esc(text: object) -> str:
    """Community text rendered as written: `$` would otherwise start mathtext, and characters
    the font lacks (emoji) are dropped instead of drawn as boxes."""
    glyphs = _glyphs()
    kept = "".join(c for c in str(text) if c == "\n" or ord(c) in glyphs)
    return re.sub(r"(?<!\\)\$", r"\\$", kept)  # idempotent: an escaped `$` stays as it is


def _wrap(text: object, width: int, max_lines: int = 3) -> str:
    lines = textwrap.wrap(str(text), width=width, break_long_words=True) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, width - 1)].rstrip() + "…"
    return _esc("\n".join(lines))


def _pct(share: float) -> str:
    if share <= 0:
        return "0%"
    if share < 0.005:
        return "<1%"
    return f"{share * 100:.0f}%"


def _lines(text: str) -> int:
    return text.count("\n") + 1 if text else 0


def _line_in(pt: float, lines: int) -> float:
    """Height in inches of `lines` lines of `pt`-point text."""
    return lines * pt * 1.3 / 72


# -- figure scaffolding ---------------------------------------------------------------------
@dataclass
class _Frame:
    """Header and footer text of a chart, laid out in inches."""

    title: str
    subtitle: str = ""
    footnote: str = ""
    legend_rows: int = 0

    @property
    def top_in(self) -> float:
        h = 0.18 + _line_in(TITLE_PT, _lines(self.title))
        if self.subtitle:
            h += 0.06 + _line_in(SUB_PT, _lines(self.subtitle))
        if self.legend_rows:
            h += 0.1 + _line_in(LABEL_PT, self.legend_rows) + 0.05
        return h + 0.15

    @property
    def bottom_in(self) -> float:
        return 0.55 + (0.12 + _line_in(NOTE_PT, _lines(self.footnote)) if self.footnote else 0)


def _figure() -> Figure:
    """A figure on its own Agg canvas; its height is set once the layout is known."""
    fig = Figure(figsize=(WIDTH, 4.0), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _draw_frame(fig: Figure, frame: _Frame, height_in: float) -> None:
    """Set the figure's height, then draw the title, subtitle and footnote."""
    fig.set_size_inches(WIDTH, height_in)
    y = height_in - 0.18
    fig.text(0.02, y / height_in, frame.title, ha="left", va="top", fontsize=TITLE_PT,
             fontweight="bold", color=INK)
    y -= _line_in(TITLE_PT, _lines(frame.title))
    if frame.subtitle:
        y -= 0.06
        fig.text(0.02, y / height_in, frame.subtitle, ha="left", va="top", fontsize=SUB_PT,
                 color=MUTED, linespacing=1.3)
        y -= _line_in(SUB_PT, _lines(frame.subtitle))
    if frame.footnote:
        fig.text(0.02, 0.1 / height_in, frame.footnote, ha="left", va="bottom", fontsize=NOTE_PT,
                 color=MUTED, linespacing=1.3)


def _axes(fig: Figure, frame: _Frame, height_in: float, left_in: float, right_in: float):
    bottom = frame.bottom_in
    top = height_in - frame.top_in
    ax = fig.add_axes((left_in / WIDTH, bottom / height_in, (WIDTH - left_in - right_in) / WIDTH,
                       max(0.1, top - bottom) / height_in))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GREY)
    ax.tick_params(axis="x", labelsize=VALUE_PT, colors=MUTED, length=0, pad=4)
    ax.tick_params(axis="y", length=0)
    ax.set_axisbelow(True)
    return ax


def _text_width_in(fig: Figure, texts: Sequence[str], fontsize: float) -> float:
    """The width in inches of the widest of `texts` as drawn on `fig`."""
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        raise TypeError("charts are drawn on an Agg canvas (see _figure)")
    renderer = canvas.get_renderer()
    widest = 0.0
    for text in texts:
        probe = fig.text(0, 0, text, fontsize=fontsize)
        widest = max(widest, probe.get_window_extent(renderer).width / fig.dpi)
        probe.remove()
    return widest


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata=PNG_METADATA)
    return buf.getvalue()


def _svg(fig: Figure) -> bytes:
    """The figure as SVG: text drawn as paths (it looks the same without the font, and stays
    sharp at any size), fixed ids and no date, so the same summary gives the same bytes."""
    buf = io.BytesIO()
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "stateof"}):
        fig.savefig(buf, format="svg", facecolor="white", metadata=SVG_METADATA)
    return buf.getvalue()


def _encode(fig: Figure | None, fmt: str) -> bytes | None:
    if fig is None:
        return None
    if fmt not in CHART_FORMATS:
        raise ValueError(f"unknown chart format '{fmt}' (use {' or '.join(CHART_FORMATS)})")
    return _svg(fig) if fmt == "svg" else _png(fig)


def _percent_axis(ax, upper: float, label: str) -> None:
    """x from 0 to `upper` (a share), ticks as percentages, light vertical grid."""
    step = next(s for s in (0.05, 0.1, 0.2, 0.25, 0.5) if upper / s <= 6)
    ticks = [i * step for i in range(int(upper / step + 1e-9) + 1)]
    ax.set_xlim(0, upper)
    ax.set_xticks(ticks, [f"{t * 100:.0f}%" for t in ticks])
    ax.xaxis.grid(True, color=LIGHT, linewidth=0.8)
    ax.set_xlabel(label, fontsize=LABEL_PT, color=MUTED, labelpad=6)


def _upper(share: float) -> float:
    """An x limit with room for the value labels right of the longest bar."""
    return max(0.1, min(1.0, share) * 1.12 + 0.03)


# -- wave notes -----------------------------------------------------------------------------
def _wave_n(summary: Summary, label: str) -> str:
    info = summary.waves.get(label)
    if info is not None and info.published:
        return f"{_esc(label)} ({info.published_text()})"
    return f"{_esc(label)} (n={info.respondents:,})" if info is not None else _esc(label)


def _base_n(summary: Summary, qs: QuestionSummary, label: str, row: str = "") -> str:
    """'2026 (n=334 asked)' for a conditional question, '2026 (n=380)' otherwise: the base
    the shares are of, not the wave's respondents."""
    result = qs.results.get(label)
    cell = result.rows.get(row) if isinstance(result, GridResult) and row else result
    base = getattr(cell, "base", 0)
    if not base and isinstance(result, GridResult):
        base = next((c.base for c in result.rows.values() if c.base), 0)
    info = summary.waves.get(label)
    if not base or (info is not None and info.published):
        return _wave_n(summary, label)
    return f"{_esc(label)} (n={base:,}{' asked' if qs.conditional else ''})"


def _significant(summary: Summary, qs: QuestionSummary) -> dict[tuple[str, str], Change]:
    """(row, option) → the significant change against the first compared wave."""
    against = summary.compare[0] if summary.compare else ""
    return {(c.row, c.option): c for c in qs.changes.get(against, []) if c.significant}


def _arrow(change: Change | None) -> str:
    return "" if change is None else " ↑" if change.delta > 0 else " ↓"


class _Whiskers:
    """95% intervals collected while drawing, then drawn in one call (one errorbar per bar
    would cost more than the bars themselves)."""

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []
        self.low: list[float] = []
        self.high: list[float] = []

    def add(self, share: float, y: float, bounds: tuple[float, float] | None) -> float:
        """Remember one interval; returns where it ends (for the value label)."""
        if bounds is None:
            return share
        self.x.append(share)
        self.y.append(y)
        self.low.append(max(0.0, share - bounds[0]))
        self.high.append(max(0.0, bounds[1] - share))
        return max(share, bounds[1])

    def draw(self, ax) -> None:
        if self.x:
            ax.errorbar(self.x, self.y, xerr=[self.low, self.high], fmt="none", ecolor=INK,
                        elinewidth=0.9, capsize=2.5, capthick=0.9, alpha=0.75)


def _method_note(summary: Summary, marked: bool) -> str:
    """What the whiskers and arrows mean (empty when the chart compares nothing)."""
    text = "Whiskers: 95% interval (Wilson)."
    if marked and summary.compare:
        text += (f" ↑ ↓: significant change since {_esc(summary.compare[0])} ({METHOD_TEXT}, "
                 f"false discovery rate {summary.significance.q:.0%}).")
    return text


def _segment_line(summary: Summary) -> str:
    parts = []
    for key, options in summary.where.items():
        qid, _, row = key.partition(".")
        name = summary.question_label(qid) + (f" / {summary.row_label(qid, row)}" if row else "")
        parts.append(f"{name}: {', '.join(summary.option_label(qid, o) for o in options)}")
    if summary.platform:
        parts.append(f"platform: {summary.platform}")
    return _wrap("Segment — " + "; ".join(parts), 105, 2) if parts else ""


def _footnote(summary: Summary, *notes: str) -> str:
    lines = [n for n in notes if n]
    if any(info.synthetic for info in summary.waves.values()):
        lines.append("Synthetic data (demo), not real survey answers.")
    return "\n".join(_wrap(line, 130, 2) for line in lines)


@dataclass
class _Waves:
    """Which waves a question chart draws, and why the others are missing."""

    drawn: list[str]
    notes: list[str]


def _waves_for(summary: Summary, results: dict, usable) -> _Waves:
    drawn: list[str] = []
    notes: list[str] = []
    k = summary.min_group_size
    for label in summary.labels_in_order:
        result = results.get(label)
        if summary.suppressed(label):
            notes.append(f"{_esc(label)}: fewer than {k} respondents, not shown")
        elif result is None and getattr(summary.waves.get(label), "published", False):
            notes.append(f"{_esc(label)}: no published figures")
        elif result is None:
            notes.append(f"{_esc(label)}: question not asked")
        elif getattr(result, "suppressed", False):
            notes.append(f"{_esc(label)}: fewer than {k} answered, not shown")
        elif usable(result):
            drawn.append(label)
        else:
            notes.append(f"{_esc(label)}: no answers")
    return _Waves(drawn, notes)


def _question_title(summary: Summary, question_id: str) -> str:
    """'Focus for the next three months — 2026 (n=380)': the question, the wave and its base
    ('n=334 asked' for a conditional question)."""
    info = summary.waves.get(summary.wave)
    if info is None or info.suppressed:
        return summary.question_label(question_id)
    qs = summary.question(question_id)
    if qs is None or summary.wave not in qs.results:
        return f"{summary.question_label(question_id)} — {summary.wave} (n={info.respondents})"
    return f"{summary.question_label(question_id)} — {_base_n(summary, qs, summary.wave)}"


def _subtitle(summary: Summary, question_id: str, waves: _Waves, lead: str = "") -> str:
    text = summary.labels.get(question_id, {}).get("text") or ""
    lines = []
    if text and text != summary.question_label(question_id):
        lines.append(_wrap(text, 95, 2))
    if lead:
        lines.append(lead)
    if waves.notes:
        lines.append(_wrap("; ".join(waves.notes), 105, 2))
    segment = _segment_line(summary)
    if segment:
        lines.append(segment)
    return "\n".join(lines)


@dataclass
class _LegendPlan:
    ncol: int
    lines: int  # text lines from the legend's top to its bottom


def _plan_legend(fig: Figure, labels: Sequence[str]) -> _LegendPlan:
    """As many columns as fit the width (entries read left to right, then down)."""
    em = LABEL_PT / 72
    entry = _text_width_in(fig, labels, LABEL_PT) + (1.2 + 0.8 + 1.4) * em
    ncol = max(1, min(len(labels), int((WIDTH - 0.4) // entry)))
    lines = sum(max(_lines(t) for t in labels[i:i + ncol]) for i in range(0, len(labels), ncol))
    return _LegendPlan(ncol, lines)


def _legend(fig: Figure, handles: list, frame: _Frame, height_in: float, plan: _LegendPlan) -> None:
    """The legend under the subtitle, flush with the title."""
    y = height_in - frame.top_in + 0.15 + 0.05 + _line_in(LABEL_PT, frame.legend_rows)
    n, ncol = len(handles), plan.ncol
    rows = math.ceil(n / ncol)
    # matplotlib fills column by column; reorder so that entries read row by row
    ordered = [handles[c + r * ncol] for c in range(ncol) for r in range(rows) if c + r * ncol < n]
    fig.legend(handles=ordered, loc="upper left", bbox_to_anchor=(0.2 / WIDTH, y / height_in),
               ncol=ncol, frameon=False, fontsize=LABEL_PT, handlelength=1.2, handleheight=0.9,
               columnspacing=1.4, borderaxespad=0, borderpad=0, labelcolor=INK)


# -- single / multi / country ---------------------------------------------------------------
def _option_order(summary: Summary, qs: QuestionSummary, results: list[ChoiceResult]) -> list[str]:
    """The options to draw, in the order every table and chat reply uses (analytics.ordering);
    at most MAX_OPTIONS of them (the largest)."""
    return [o for o in option_order(summary, qs, limit=MAX_OPTIONS) if any(o in r.shares for r in results)]


def _missing_note(result: ChoiceResult, option: str, k: int) -> str:
    """Why a wave has no bar for an option."""
    if option in result.hidden:
        return f"hidden (fewer than {k})"
    if option in result.merged:
        return "merged into Other"
    return "not published" if result.published else "not offered"


def _choice_figure(summary: Summary, question_id: str, qtype: str, results: dict) -> Figure | None:
    waves = _waves_for(summary, results, lambda r: isinstance(r, ChoiceResult) and bool(r.shares))
    if not waves.drawn:
        return None
    drawn = [results[w] for w in waves.drawn]
    qs = summary.question(question_id)
    if qs is None:
        return None
    options = _option_order(summary, qs, drawn)
    if not options:
        return None
    marks = _significant(summary, qs)
    n_w = len(waves.drawn)
    bar = 0.3 if n_w == 1 else 0.22 if n_w <= 3 else 0.17
    gap = 0.2
    group = n_w * bar + gap
    max_lines = max(1, min(4, int((group - 0.04) / _line_in(LABEL_PT, 1))))
    k = summary.min_group_size

    total_options = len({o for r in drawn for o in r.shares})
    notes = []
    of = "those it was asked (n in the legend)" if qs.conditional else "each wave's respondents"
    if qtype == "multi":
        notes.append(f"Several choices allowed, so bars can add up to more than 100%. Shares are of {of}.")
    else:
        notes.append(f"Shares of {of}; totals can be below 100% when some skip the question.")
    if any(r.ci for r in drawn):
        notes.append(_method_note(summary, bool(marks)))
    if total_options > len(options):
        notes.append(f"The {len(options)} largest of {total_options} answers are shown.")
    if any(r.merged for r in drawn):
        notes.append(f"Answers chosen by fewer than {k} people are merged into Other.")
    fig = _figure()
    handles = [Patch(facecolor=WAVE_COLOURS[summary.labels_in_order.index(w) % len(WAVE_COLOURS)],
                     label=_base_n(summary, qs, w)) for w in waves.drawn]
    plan = _plan_legend(fig, [str(h.get_label()) for h in handles])
    frame = _Frame(
        title=_wrap(_question_title(summary, question_id), 60, 2),
        subtitle=_subtitle(summary, question_id, waves),
        footnote=_footnote(summary, *notes),
        legend_rows=plan.lines,
    )
    plot_in = max(1.0, len(options) * group)
    height = frame.top_in + plot_in + frame.bottom_in
    _draw_frame(fig, frame, height)
    tick_labels = [_wrap(summary.option_label(question_id, o), 28, max_lines) for o in options]
    left_in = min(2.8, max(1.2, 0.3 + _text_width_in(fig, tick_labels, LABEL_PT)))
    ax = _axes(fig, frame, height, left_in, 0.25)

    top = max(max(r.shares.get(o, 0.0), (r.interval(o) or (0.0, 0.0))[1]) for r in drawn for o in options)
    upper = _upper(top)
    whiskers = _Whiskers()
    for i, option in enumerate(options):
        y0 = i * group
        for j, label in enumerate(waves.drawn):
            r = results[label]
            y = y0 + j * bar + bar / 2
            colour = WAVE_COLOURS[summary.labels_in_order.index(label) % len(WAVE_COLOURS)]
            share = r.shares.get(option)
            if share is None and qtype == "country" and option not in r.merged:
                share = 0.0  # countries nobody named are not listed
            if share is not None:
                ax.barh(y, share, height=bar * 0.88, color=colour, edgecolor="none")
                end = whiskers.add(share, y, r.interval(option))
                change = marks.get(("", option)) if label == summary.wave else None
                ax.text(end + upper * 0.008, y, _pct(share) + _arrow(change), va="center", ha="left",
                        fontsize=VALUE_PT, fontweight="bold" if j == 0 else "normal",
                        color=INK if change is None else BLUE if change.delta > 0 else VERMILLION)
            else:
                ax.text(upper * 0.008, y, _missing_note(r, option, k), va="center", ha="left",
                        fontsize=NOTE_PT, color=MUTED, style="italic")
    whiskers.draw(ax)
    centres = [i * group + n_w * bar / 2 for i in range(len(options))]
    ax.set_yticks(centres, tick_labels, fontsize=LABEL_PT, color=INK)
    ax.set_ylim(len(options) * group - gap / 2, -gap / 2)
    _percent_axis(ax, upper, "Share of respondents")
    _legend(fig, handles, frame, height, plan)
    return fig


# -- grid -----------------------------------------------------------------------------------
def _grid_figure(summary: Summary, question_id: str, results: dict) -> Figure | None:
    waves = _waves_for(summary, results, lambda r: isinstance(r, GridResult) and bool(r.rows))
    if not waves.drawn:
        return None
    entry = summary.labels.get(question_id, {})
    rows = [r for r in entry.get("rows", {}) if any(r in results[w].rows for w in waves.drawn)]
    rows += [r for w in waves.drawn for r in results[w].rows if r not in rows]
    rows = list(dict.fromkeys(rows))
    scale = [s for s in entry.get("options", {})
             if any(s in c.shares for w in waves.drawn for c in results[w].rows.values())]
    scale += [s for w in waves.drawn for c in results[w].rows.values() for s in c.shares if s not in scale]
    scale = list(dict.fromkeys(scale))
    if not rows or not scale:
        return None
    colours = {s: GREY if s == OTHER else SCALE_COLOURS[i % len(SCALE_COLOURS)] for i, s in enumerate(scale)}
    n_w = len(waves.drawn)
    bar = 0.24 if n_w == 1 else 0.2
    gap = 0.24
    group = n_w * bar + gap
    k = summary.min_group_size

    fig = _figure()
    handles = [Patch(facecolor=colours[s], label=_wrap(summary.option_label(question_id, s), 24, 2))
               for s in scale]
    handles.append(Patch(facecolor=NO_ANSWER, edgecolor="#CCCCCC", label="No answer"))
    plan = _plan_legend(fig, [str(h.get_label()) for h in handles])
    qs = summary.question(question_id)
    if qs is None:
        return None
    marks = _significant(summary, qs)
    asked = "of those it was asked" if qs.conditional else "of the wave's respondents"
    notes = [f"Each bar is 100% {asked} (n beside the waves above); 'No answer' is the share who skipped "
             "the row."]
    if any(c.merged for w in waves.drawn for c in results[w].rows.values()):
        notes.append(f"Scale points chosen by fewer than {k} people are merged into Other.")
    first = scale[0]
    if any(c.ci for w in waves.drawn for c in results[w].rows.values()):
        notes.append(_method_note(summary, bool(marks)).replace(
            "Whiskers: 95% interval (Wilson).",
            f"Whiskers: 95% interval (Wilson) of “{_esc(summary.option_label(question_id, first))}”."))
    lead = _wrap("Waves side by side: " + ", ".join(_base_n(summary, qs, w) for w in waves.drawn), 105, 2)
    frame = _Frame(
        title=_wrap(_question_title(summary, question_id), 60, 2),
        subtitle=_subtitle(summary, question_id, waves, lead=lead),
        footnote=_footnote(summary, *notes),
        legend_rows=plan.lines,
    )
    plot_in = max(1.0, len(rows) * group)
    height = frame.top_in + plot_in + frame.bottom_in
    _draw_frame(fig, frame, height)
    row_labels = [_wrap(summary.row_label(question_id, r), 20, 3) for r in rows]
    wave_in = 0.06 + _text_width_in(fig, [_esc(w) for w in waves.drawn], NOTE_PT) + 0.14
    left_in = min(3.4, max(1.4, 0.25 + _text_width_in(fig, row_labels, LABEL_PT) + wave_in))
    ax = _axes(fig, frame, height, left_in, 0.25)
    whiskers = _Whiskers()
    for i, row in enumerate(rows):
        y0 = i * group
        for j, label in enumerate(waves.drawn):
            y = y0 + j * bar + bar / 2
            ax.text(-0.06 / (WIDTH - left_in - 0.25), y, _esc(label), transform=ax.get_yaxis_transform(),
                    ha="right", va="center", fontsize=NOTE_PT, color=MUTED)
            cell = results[label].rows.get(row)
            if cell is None or cell.suppressed:
                why = "not asked" if cell is None else f"fewer than {k} answered"
                ax.text(0.01, y, why, va="center", ha="left", fontsize=NOTE_PT, color=MUTED, style="italic")
                continue
            x = 0.0
            whisker_end = (cell.interval(first) or (0.0, 0.0))[1]
            for s in scale:
                share = cell.shares.get(s, 0.0)
                if share <= 0:
                    continue
                ax.barh(y, share, left=x, height=bar * 0.86, color=colours[s], edgecolor="white",
                        linewidth=0.6)
                change = marks.get((row, s)) if label == summary.wave else None
                centre = x + share / 2
                if s != first and x < whisker_end and x + share - whisker_end >= 0.05:
                    centre = (whisker_end + x + share) / 2  # clear of the first point's whisker
                if share >= 0.06 or change is not None:
                    ax.text(centre, y, _pct(share) + _arrow(change), ha="center", va="center",
                            fontsize=VALUE_PT, fontweight="normal" if change is None else "bold",
                            color=text_on(colours[s]))
                x += share
            if x < 0.999:
                ax.barh(y, 1 - x, left=x, height=bar * 0.86, color=NO_ANSWER, edgecolor="white",
                        linewidth=0.6)
            if first in cell.shares:  # the first scale point starts at 0: its interval reads off the axis
                whiskers.add(cell.shares[first], y, cell.interval(first))
    whiskers.draw(ax)
    centres = [i * group + n_w * bar / 2 for i in range(len(rows))]
    ax.set_yticks(centres, row_labels, fontsize=LABEL_PT, color=INK)
    ax.tick_params(axis="y", pad=wave_in * 72)  # the wave labels sit between row labels and bars
    ax.set_ylim(len(rows) * group - gap / 2, -gap / 2)
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_xlabel("Share of respondents", fontsize=LABEL_PT, color=MUTED, labelpad=6)
    _legend(fig, handles, frame, height, plan)
    return fig


# -- number ---------------------------------------------------------------------------------
def _number_figure(summary: Summary, question_id: str, results: dict) -> Figure | None:
    waves = _waves_for(summary, results, lambda r: isinstance(r, NumberResult) and r.median is not None)
    if not waves.drawn:
        return None
    note = "Dot: median; bar: the middle half of the answers (first to third quartile)."
    frame = _Frame(
        title=_wrap(_question_title(summary, question_id), 60, 2),
        subtitle=_subtitle(summary, question_id, waves),
        footnote=_footnote(summary, note),
    )
    row = 0.45
    plot_in = max(1.0, len(waves.drawn) * row)
    height = frame.top_in + plot_in + frame.bottom_in
    fig = _figure()
    _draw_frame(fig, frame, height)
    tick_labels = [_wave_n(summary, w) for w in waves.drawn]
    left_in = min(3.0, max(1.0, 0.3 + _text_width_in(fig, tick_labels, LABEL_PT)))
    ax = _axes(fig, frame, height, left_in, 0.3)
    values = [v for w in waves.drawn for v in (results[w].q1, results[w].median, results[w].q3)
              if v is not None]
    lo, hi = min(values), max(values)
    span = (hi - lo) or max(1.0, abs(hi))
    for j, label in enumerate(waves.drawn):
        r = results[label]
        colour = WAVE_COLOURS[summary.labels_in_order.index(label) % len(WAVE_COLOURS)]
        q1 = r.q1 if r.q1 is not None else r.median
        q3 = r.q3 if r.q3 is not None else r.median
        ax.plot([q1, q3], [j, j], color=colour, linewidth=9, solid_capstyle="butt", alpha=0.55)
        ax.plot([r.median], [j], "o", color=colour, markersize=10, markeredgecolor="white")
        ax.text(q3 + span * 0.04, j, f"median {r.median:g} (quartiles {q1:g}–{q3:g})", va="center",
                fontsize=VALUE_PT, color=INK)
    ax.set_yticks(range(len(waves.drawn)), tick_labels, fontsize=LABEL_PT, color=INK)
    ax.set_ylim(len(waves.drawn) - 0.5, -0.5)
    ax.set_xlim(lo - span * 0.1, hi + span * 0.9)
    ax.xaxis.grid(True, color=LIGHT, linewidth=0.8)
    ax.set_xlabel("Answer", fontsize=LABEL_PT, color=MUTED, labelpad=6)
    return fig


# -- movers ---------------------------------------------------------------------------------
def _comparable(summary: Summary) -> str | None:
    """The compared wave the movers are measured against, or None when nothing can be compared."""
    if not summary.compare or summary.suppressed(summary.wave):
        return None
    against = summary.compare[0]
    return None if summary.suppressed(against) else against


def movers_figure(summary: Summary, limit: int = MOVERS_LIMIT,
                  questions: Sequence[str] | None = None) -> Figure | None:
    """The biggest significant changes as a dumbbell chart; None when no comparison is possible."""
    against = _comparable(summary)
    if against is None:
        return None
    movers = summary.movers(limit=10_000 if questions else limit)
    if questions:
        movers = [m for m in movers if m.question in questions][:limit]
    now, then = summary.wave, against
    title = f"Biggest movers: {_esc(now)} vs {_esc(then)}"
    lead = f"The largest significant changes in the share of respondents, {_esc(then)} → {_esc(now)}"
    segment = _segment_line(summary)
    sig = summary.significance
    method = (f"two-proportion z-test, {METHOD_TEXT} over all {sig.tests} changes of the summary, "
              f"false discovery rate {sig.q:.0%}")
    note = (f"Only significant changes are shown ({method}), largest first; pts = percentage points.")
    band = "Shares are of each question's base (those asked); light bands: 95% interval (Wilson)."
    if not movers:
        compared = f"{_wave_n(summary, then)} → {_wave_n(summary, now)}"
        tested = f"Every answer share was tested ({method})."
        frame = _Frame(title=title, subtitle="\n".join(x for x in (compared, segment) if x),
                       footnote=_footnote(summary, tested))
        height = frame.top_in + 1.4 + frame.bottom_in
        fig = _figure()
        _draw_frame(fig, frame, height)
        fig.text(0.5, (frame.bottom_in + 0.7) / height,
                 f"No significant changes between {_esc(then)} and {_esc(now)}",
                 ha="center", va="center", fontsize=TITLE_PT, color=MUTED)
        return fig

    fig = _figure()
    handles = [
        Line2D([], [], marker="o", linestyle="none", markerfacecolor="white", markeredgecolor=MUTED,
               markeredgewidth=1.6, markersize=8, label=_wave_n(summary, then)),
        Line2D([], [], marker="o", linestyle="none", color=BLUE, markersize=9,
               label=f"{_wave_n(summary, now)}: up"),
        Line2D([], [], marker="o", linestyle="none", color=VERMILLION, markersize=9,
               label=f"{_esc(now)}: down"),
    ]
    plan = _plan_legend(fig, [str(h.get_label()) for h in handles])
    frame = _Frame(title=title, subtitle="\n".join(x for x in (lead, segment) if x),
                   footnote=_footnote(summary, note, band), legend_rows=plan.lines)
    row = 0.62
    plot_in = len(movers) * row
    height = frame.top_in + plot_in + frame.bottom_in
    _draw_frame(fig, frame, height)
    labels = [_wrap(m.label, 42, 2) for m in movers]
    kickers = [_wrap(summary.question_label(m.question), 44, 1) for m in movers]
    widest = max(_text_width_in(fig, labels, LABEL_PT), _text_width_in(fig, kickers, NOTE_PT))
    left_in, right_in = min(3.3, max(1.5, 0.35 + widest)), 0.95
    ax = _axes(fig, frame, height, left_in, right_in)
    top = max(max(m.before, m.after) for m in movers)
    upper = _upper(top)
    ax.set_ylim(len(movers) - 0.5, -0.5)
    label_x = -0.1 / (WIDTH - left_in - right_in)
    lower = -upper * 0.08
    inches_per_share = (WIDTH - left_in - right_in) / (upper - lower)
    for i, (m, label, kicker) in enumerate(zip(movers, labels, kickers, strict=True)):
        colour = BLUE if m.delta > 0 else VERMILLION
        if abs(m.delta) * inches_per_share > 0.22:  # shorter arrows would point backwards
            ax.annotate("", xy=(m.after, i), xytext=(m.before, i),
                        arrowprops={"arrowstyle": "-|>,head_length=0.5,head_width=0.3", "color": colour,
                                    "linewidth": 2.2, "shrinkA": 5, "shrinkB": 6})
        for bounds, ink in ((_mover_interval(summary, m, then), MUTED),
                            (_mover_interval(summary, m, now), colour)):
            if bounds is not None:  # a light band, so the arrow stays readable
                ax.plot(bounds, [i, i], color=ink, linewidth=9, alpha=0.16, solid_capstyle="butt")
        ax.plot([m.before], [i], "o", markersize=8, markerfacecolor="white", markeredgecolor=MUTED,
                markeredgewidth=1.6)
        ax.plot([m.after], [i], "o", markersize=9, color=colour)
        ax.text(m.before, i - 0.2, _pct(m.before), ha="center", va="bottom", fontsize=VALUE_PT, color=MUTED)
        ax.text(m.after, i - 0.2, _pct(m.after), ha="center", va="bottom", fontsize=VALUE_PT + 0.5, color=INK,
                fontweight="bold")
        ax.text(1.02, i, f"{m.delta * 100:+.1f} pts",
                transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=LABEL_PT,
                color=colour, fontweight="bold")
        kicker_h, line_h = 0.24, 0.27  # in rows (a row is 0.62 in)
        block_top = i - (kicker_h + _lines(label) * line_h) / 2
        ax.text(label_x, block_top, kicker, transform=ax.get_yaxis_transform(), ha="right", va="top",
                fontsize=NOTE_PT, color=MUTED)
        ax.text(label_x, block_top + kicker_h, label, transform=ax.get_yaxis_transform(), ha="right",
                va="top", fontsize=LABEL_PT, color=INK, linespacing=1.15)
    ax.set_yticks([])
    ax.yaxis.grid(False)
    _percent_axis(ax, upper, "Share of respondents")
    ax.set_xlim(lower, upper)
    _legend(fig, handles, frame, height, plan)
    return fig


def _mover_interval(summary: Summary, mover, label: str) -> tuple[float, float] | None:
    qs = summary.question(mover.question)
    result = None if qs is None else qs.results.get(label)
    cell = result.rows.get(mover.row) if isinstance(result, GridResult) else result
    return cell.interval(mover.option) if isinstance(cell, ChoiceResult) else None


def movers_chart(summary: Summary, limit: int = MOVERS_LIMIT,
                 questions: Sequence[str] | None = None) -> bytes | None:
    """`movers_figure` as PNG bytes."""
    fig = movers_figure(summary, limit, questions)
    return None if fig is None else _png(fig)


# -- public API -----------------------------------------------------------------------------
def question_chart(summary: Summary, question_id: str) -> bytes | None:
    """The PNG of one question, or None when there is nothing to draw (free text, no
    answers, every wave suppressed or not asked, unknown question)."""
    fig = question_figure(summary, question_id)
    return None if fig is None else _png(fig)


def question_figure(summary: Summary, question_id: str) -> Figure | None:
    """The chart of one question as a matplotlib Figure (on an Agg canvas), or None."""
    qs = summary.question(question_id)
    if qs is None:
        return None
    if qs.type in ("single", "multi", "country"):
        return _choice_figure(summary, qs.id, qs.type, qs.results)
    if qs.type == "grid":
        return _grid_figure(summary, qs.id, qs.results)
    if qs.type == "number":
        return _number_figure(summary, qs.id, qs.results)
    return None


def lead_chart(summary: Summary, question: str | None = None) -> tuple[str, bytes] | None:
    """The one chart a chat post carries, drawn alone (rendering every chart would block the
    bot for seconds): the question's chart, else the movers chart, else the first question
    chart there is; as (file name, PNG bytes), or None when nothing can be drawn. A summary
    asked for an analysis (a cross-tab, a ranking) carries that analysis's chart."""
    for analysis in summary.analyses:
        drawn = analysis.charts()
        if drawn:
            return next(iter(drawn.items()))
    if question:
        png = question_chart(summary, question)
        if png is not None:
            return f"{question}.png", png
        movers = movers_chart(summary, questions=[question])
        return None if movers is None else (MOVERS_FILE, movers)
    movers = movers_chart(summary)
    if movers is not None:
        return MOVERS_FILE, movers
    for qs in summary.questions:
        png = question_chart(summary, qs.id)
        if png is not None:
            return f"{qs.id}.png", png
    return None


def render_charts(summary: Summary, questions: list[str] | None = None, fmt: str = "png") -> dict[str, bytes]:
    """Every chart of a summary by file name: ``movers.png`` (when a comparison is possible)
    then ``<question_id>.png`` per chartable question, in questionnaire order; with
    ``fmt="svg"`` the same charts as ``movers.svg`` and ``<question_id>.svg``.

    `questions` restricts the question charts (and the movers) to those ids.
    """
    out: dict[str, bytes] = {}
    movers = _encode(movers_figure(summary, questions=questions), fmt)
    if movers is not None:
        out[chart_file("movers", fmt)] = movers
    wanted = set(questions) if questions else None
    for qs in summary.questions:
        if wanted is not None and qs.id not in wanted:
            continue
        chart = _encode(question_figure(summary, qs.id), fmt)
        if chart is not None:
            out[chart_file(qs.id, fmt)] = chart
    for analysis in summary.analyses:  # cross-tabs, rankings, numbers (analytics.sections)
        out.update(analysis.charts())
    log.debug("rendered %d charts for %s %s", len(out), summary.survey, summary.wave)
    return out


def chart_file(name: str, fmt: str = "png") -> str:
    """The file name of a chart: 'movers' or a question id plus the format's extension."""
    return f"{name}.{fmt}"
