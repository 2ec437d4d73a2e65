"""Charts of the analyses beside a summary: the cross-tab heatmap, the ranking of grid rows
and the histogram of a number question (matplotlib object API on the Agg canvas, the
palette and framing of analytics.charts). Every chart writes its numbers on it; hidden
cells and bins are drawn grey and say "hidden"."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.colors import LinearSegmentedColormap

from analytics.charts import (
    BLUE,
    GREY,
    INK,
    LABEL_PT,
    LIGHT,
    MUTED,
    ORANGE,
    SKY,
    VALUE_PT,
    WIDTH,
    _axes,
    _draw_frame,
    _esc,
    _figure,
    _Frame,
    _line_in,
    _lines,
    _percent_axis,
    _png,
    _text_width_in,
    _upper,
    _wrap,
)

if TYPE_CHECKING:
    from analytics.crosstab import CrossTab

log = logging.getLogger(__name__)

HEAT = LinearSegmentedColormap.from_list("stateof-heat", ["#FFFFFF", SKY, BLUE])
HIDDEN_FILL = "#DDDDDD"
SYNTHETIC = "Synthetic demo data."


def _footnote(synthetic: bool, *notes: str) -> str:
    parts = [n for n in notes if n]
    if synthetic:
        parts.append(SYNTHETIC)
    return _wrap(" ".join(parts), 120, 4)


def crosstab_heatmap(tab: CrossTab) -> bytes:
    """Options down, groups across; each cell's share of its column's base written in it."""
    fig = _figure()
    options = list(tab.options)
    cols = tab.columns
    frame = _Frame(
        title=_wrap(f"{tab.title} by {tab.by_title}", 70),
        subtitle=_wrap(f"{tab.wave}: share of each column's {tab.base_word()} (n above each column)", 110),
        footnote=_footnote(tab.synthetic, f"Cells of fewer than {tab.k} people are hidden (grey), with "
                                          "as many others as keep them from being worked out from totals."),
    )
    labels = [_wrap(_esc(tab.options[o]), 28, 2) for o in options]
    left = min(3.2, 0.3 + _text_width_in(fig, labels, LABEL_PT))
    rows_in = sum(max(0.42, _line_in(LABEL_PT, _lines(lab)) + 0.12) for lab in labels)
    col_labels = [_wrap(f"{_esc(c.label)}\nn={c.base:,}", 14, 3) for c in cols]
    head_in = max(_line_in(VALUE_PT, _lines(lab)) for lab in col_labels) + 0.25
    height = frame.top_in + head_in + rows_in + frame.bottom_in
    _draw_frame(fig, frame, height)
    ax = _axes(fig, frame, height - head_in, left, 0.3)
    ax.spines["bottom"].set_visible(False)
    values = [[c.share(o) if o not in c.hidden else None for c in cols] for o in options]
    upper = max((v for row in values for v in row if v is not None), default=1.0) or 1.0
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            y = len(options) - 1 - i
            fill: object
            if value is None:
                fill, text, colour = HIDDEN_FILL, "hidden" if options[i] in cols[j].hidden else "–", MUTED
            else:
                fill = HEAT(value / upper)
                text = f"{value * 100:.0f}%" if value * 100 >= 1 or value == 0 else f"{value * 100:.1f}%"
                colour = "white" if value / upper > 0.6 else INK
            ax.add_patch(_rect(j, y, fill))
            ax.text(j + 0.5, y + 0.5, text, ha="center", va="center", fontsize=VALUE_PT, color=colour,
                    fontweight="bold" if value is not None and value == max(
                        (v for v in (r[j] for r in values) if v is not None), default=-1) else "normal")
    ax.set_xlim(0, len(cols))
    ax.set_ylim(0, len(options))
    ax.set_yticks([len(options) - 1 - i + 0.5 for i in range(len(options))], labels, fontsize=LABEL_PT,
                  color=INK)
    ax.xaxis.set_ticks_position("top")
    ax.set_xticks([j + 0.5 for j in range(len(cols))], col_labels, fontsize=VALUE_PT, color=INK)
    ax.tick_params(axis="x", colors=INK, length=0)
    return _png(fig)


def _rect(x: float, y: float, fill: object):  # type: ignore[no-untyped-def]
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=fill, edgecolor="white", linewidth=1.5)


def ranked_bars(
    *, title: str, subtitle: str, labels: Sequence[str], shares: Sequence[float | None],
    intervals: Sequence[tuple[float, float] | None], notes: Sequence[str], synthetic: bool, footnote: str,
) -> bytes:
    """Horizontal bars, largest first, with 95% whiskers; a hidden row is drawn as a note."""
    fig = _figure()
    frame = _Frame(title=_wrap(title, 70), subtitle=_wrap(subtitle, 110),
                   footnote=_footnote(synthetic, footnote))
    texts = [_wrap(_esc(lab), 30, 2) for lab in labels]
    left = min(3.2, 0.3 + _text_width_in(fig, texts, LABEL_PT))
    height = frame.top_in + frame.bottom_in + 0.42 * max(1, len(labels)) + 0.2
    _draw_frame(fig, frame, height)
    ax = _axes(fig, frame, height, left, 0.4)
    top = max((hi for b in intervals if b for _, hi in [b]), default=0.0)
    upper = _upper(max([top, *(s for s in shares if s is not None)], default=0.1))
    n = len(labels)
    for i, (share, bounds, note) in enumerate(zip(shares, intervals, notes, strict=True)):
        y = n - 1 - i
        if share is None:
            ax.text(0.005, y, note or "hidden", va="center", ha="left", fontsize=VALUE_PT, color=MUTED)
            continue
        ax.barh(y, share, height=0.62, color=BLUE if i == 0 else SKY, zorder=2)
        if bounds:
            ax.errorbar(share, y, xerr=[[share - bounds[0]], [bounds[1] - share]], fmt="none",
                        ecolor=INK, elinewidth=0.9, capsize=3, zorder=3)
        right = bounds[1] if bounds else share
        ax.text(right + upper * 0.01, y, f"{share * 100:.0f}%" + (f" {note}" if note else ""),
                va="center", ha="left", fontsize=VALUE_PT, color=INK, zorder=4)
    ax.set_yticks(range(n), list(reversed(texts)), fontsize=LABEL_PT, color=INK)
    ax.set_ylim(-0.6, n - 0.4)
    _percent_axis(ax, upper, "share of those asked (95% interval)")
    return _png(fig)


def histogram(
    *, title: str, subtitle: str, edges: Sequence[float], series: Sequence[tuple[str, Sequence[int | None]]],
    synthetic: bool, footnote: str,
) -> bytes:
    """Bins side by side per wave (this wave first); a hidden bin is a grey stub marked 'hidden'."""
    fig = _figure()
    frame = _Frame(title=_wrap(title, 70), subtitle=_wrap(subtitle, 110),
                   footnote=_footnote(synthetic, footnote),
                   legend_rows=1 if len(series) > 1 else 0)
    height = frame.top_in + frame.bottom_in + 3.0
    _draw_frame(fig, frame, height)
    ax = _axes(fig, frame, height, 0.7, 0.3)
    bins = len(edges) - 1
    width = 0.8 / max(1, len(series))
    colours = [BLUE, SKY, "#B8B8B8", ORANGE]
    top = max((c for _, counts in series for c in counts if c is not None), default=1) or 1
    total = {label: sum(c for c in counts if c) or 1 for label, counts in series}
    for s, (label, counts) in enumerate(series):
        for b, count in enumerate(counts):
            x = b - 0.4 + width * (s + 0.5)
            if count is None:
                ax.bar(x, top * 0.04, width=width * 0.95, color=HIDDEN_FILL, zorder=2)
                ax.text(x, top * 0.05, "hidden", rotation=90, ha="center", va="bottom", fontsize=VALUE_PT - 1,
                        color=MUTED)
                continue
            ax.bar(x, count / total[label], width=width * 0.95, color=colours[s % len(colours)], zorder=2,
                   label=_esc(label) if b == 0 else None)
    tops = [c / total[lab] for lab, counts in series for c in counts if c is not None]
    ax.set_ylim(0, (max(tops, default=0.1) or 0.1) * 1.2)
    ax.set_yticks(ax.get_yticks(), [f"{t * 100:.0f}%" for t in ax.get_yticks()], fontsize=VALUE_PT,
                  color=MUTED)
    ax.yaxis.grid(True, color=LIGHT, linewidth=0.8)
    ax.set_xticks(range(bins), [f"{edges[b]:g}–{edges[b + 1]:g}" for b in range(bins)], fontsize=VALUE_PT,
                  color=INK)
    ax.set_xlabel("value (bins include their lower edge)", fontsize=LABEL_PT, color=MUTED)
    if len(series) > 1:
        ax.legend(loc="upper right", fontsize=VALUE_PT, frameon=False)
    return _png(fig)


__all__ = ["crosstab_heatmap", "ranked_bars", "histogram", "WIDTH", "GREY"]
