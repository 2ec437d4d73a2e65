"""Each chart in words, with its numbers: the text alternative of the HTML report's images.

A screen reader (or anyone who cannot see the picture) gets what the chart shows: the waves
drawn with their base, every share drawn (the same options, in the same order, as the bars),
the significant changes, and the waves left out and why. Labels are plain text; the HTML
escapes them.
"""

from __future__ import annotations

import logging

from analytics.model import OTHER, ChoiceResult, GridResult, NumberResult, QuestionSummary, Summary
from analytics.ordering import option_order
from analytics.report import comparison_note, mover_line, pct, points

log = logging.getLogger(__name__)

CHART_OPTIONS = 15  # the options a choice chart draws (analytics.charts.MAX_OPTIONS)


def _shown(summary: Summary, qs: QuestionSummary, row: str = "") -> tuple[list[str], list[str]]:
    """The waves whose results are drawn and a note for each wave left out."""
    drawn, missing = [], []
    for label in summary.labels_in_order:
        result = qs.results.get(label)
        if summary.suppressed(label) or getattr(result, "suppressed", False):
            missing.append(f"{label} hidden (fewer than {summary.min_group_size})")
        elif result is None:
            missing.append(f"{label} not asked")
        else:
            cell = result.rows.get(row) if row and isinstance(result, GridResult) else result
            if cell is None or getattr(cell, "suppressed", False):
                missing.append(f"{label} hidden (fewer than {summary.min_group_size})")
            else:
                drawn.append(label)
    return drawn, missing


def _base(qs: QuestionSummary, label: str, row: str = "") -> str:
    result = qs.results[label]
    cell = result.rows.get(row) if isinstance(result, GridResult) else result
    answered = getattr(cell, "answered", None)
    base = qs.base_text(result, row) if row else qs.base_text(result)
    if answered is None:
        return base
    return f"{answered} answered {base}".rstrip()


def _changes(summary: Summary, qs: QuestionSummary) -> str:
    against = summary.compare[0] if summary.compare else None
    significant = [c for c in qs.changes.get(against or "", []) if c.significant and c.option != OTHER]
    if not against or not significant:
        return ""
    parts = []
    for ch in sorted(significant, key=lambda c: -abs(c.delta)):
        label = summary.option_label(qs.id, ch.option)
        if ch.row:
            label = f"{summary.row_label(qs.id, ch.row)}, {label}"
        rise = "rise" if ch.delta > 0 else "fall"
        parts.append(f"{label} {pct(ch.before)} to {pct(ch.after)} "
                     f"({points(ch.delta)}, a significant {rise})")
    return f"Significant changes since {against}: {'; '.join(parts)}."


def _shares(summary: Summary, qs: QuestionSummary, cell: ChoiceResult, row: str = "",
            limit: int | None = None) -> str:
    options = [o for o in option_order(summary, qs, row, limit=limit) if o in cell.shares]
    return ", ".join(f"{summary.option_label(qs.id, o)} {pct(cell.shares[o])}" for o in options)


def question_text(summary: Summary, qs: QuestionSummary) -> str:
    """One question's chart in words, e.g. 'Bar chart, Focus. 2021 (97 answered of 100
    respondents): Deploying 41%, Monitoring models in production 31%. …'."""
    drawn, missing = _shown(summary, qs)
    parts: list[str] = []
    if qs.type == "grid":
        parts.append(f"Stacked bars per row, {qs.title}, shares of those who answered the row.")
        rows: list[str] = []
        for label in drawn:
            res = qs.results[label]
            if isinstance(res, GridResult):
                rows += [r for r in res.rows if r not in rows]
        for row in rows:
            row_waves, _ = _shown(summary, qs, row)
            for label in row_waves:
                cell = qs.results[label].rows[row]  # type: ignore[union-attr]
                parts.append(f"{summary.row_label(qs.id, row)}, {label} ({_base(qs, label, row)}): "
                             f"{_shares(summary, qs, cell, row)}.")
    elif qs.type == "number":
        parts.append(f"Median and middle half, {qs.title}.")
        for label in drawn:
            res = qs.results[label]
            if isinstance(res, NumberResult) and res.median is not None:
                parts.append(f"{label}: median {res.median:g}, middle half {res.q1:g} to {res.q3:g} "
                             f"({res.answered} answers).")
    else:
        parts.append(f"Bar chart, {qs.title}.")
        for label in drawn:
            res = qs.results[label]
            if isinstance(res, ChoiceResult) and res.shares:
                shares = _shares(summary, qs, res, limit=CHART_OPTIONS)
                parts.append(f"{label} ({_base(qs, label)}): {shares}.")
    changes = _changes(summary, qs)
    if changes:
        parts.append(changes)
    if missing:
        parts.append(f"Not shown: {', '.join(missing)}.")
    return " ".join(parts)


def movers_text(summary: Summary, limit: int = 8) -> str:
    """The movers chart in words: each significant change with both shares, or why there is none."""
    hidden = comparison_note(summary)
    if hidden:
        return hidden
    movers = summary.movers(limit=limit)
    if not summary.compare:
        return "No earlier wave to compare with."
    if not movers:
        return f"No significant changes since {summary.compare[0]}."
    return (f"Biggest significant changes since {summary.compare[0]}: "
            + "; ".join(mover_line(m) for m in movers) + ".")
