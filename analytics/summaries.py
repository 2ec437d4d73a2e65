"""Pure functions: tidy frames of counts → results per question (shares, quartiles, privacy).

Shares are fractions of the question's base: the wave's respondents (those with at least one
answer in the wave, or in the segment), or for a conditional question those it was shown to,
so a question some skip totals below 100%. Options (and grid rows or scale points) the wave's
version of the questionnaire did not offer get no entry. Nothing here touches the database;
tests feed hand-built frames and check the numbers by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.model import (
    OTHER,
    ChoiceResult,
    GridResult,
    NumberResult,
    QuestionSummary,
    Result,
    Summary,
    TextResult,
)
from analytics.privacy import hide_small, merge_small, rest_too_small, too_small
from surveys.schema import Question, QuestionType

log = logging.getLogger(__name__)

__all__ = [
    "Summary", "QuestionSummary", "choice_result", "grid_result", "number_result", "text_result",
    "question_result", "option_map", "row_map", "question_counts", "wave_suppressed", "offered_options",
]


def wave_suppressed(respondents: int, k: int) -> bool:
    """A wave or segment is shown from k respondents up (an empty one has nothing to show)."""
    return respondents < k


def option_map(q: Question) -> dict[str, str]:
    """Stored option id (current or former, `previously`) → current id; scale points for grids."""
    if q.type is QuestionType.country:
        return {}  # ISO codes do not get renamed
    options = q.scale if q.type is QuestionType.grid else q.choices
    out: dict[str, str] = {}
    for opt in options:
        out[opt.id] = opt.id
        for old in opt.previously:
            out.setdefault(old, opt.id)
    return out


def offered_options(q: Question, asked: Question | None) -> list[str]:
    """The current ids of the options (grid: scale points) a wave's version `asked` of `q`
    offered, in `q`'s order then the ones `q` no longer has; all of `q`'s when unknown."""
    grid = q.type is QuestionType.grid
    current = [o.id for o in (q.scale if grid else q.choices)]
    if asked is None:
        return current
    mapping = option_map(q)
    offered = list(dict.fromkeys(mapping.get(o.id, o.id) for o in (asked.scale if grid else asked.choices)))
    return [o for o in current if o in offered] + [o for o in offered if o not in current]


def row_map(q: Question) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in q.rows:
        out[row.id] = row.id
        for old in row.previously:
            out.setdefault(old, row.id)
    return out


def question_counts(
    counts: pd.DataFrame, q: Question, options: Mapping[str, str] | None = None,
    rows: Mapping[str, str] | None = None,
) -> dict[str, dict[str, int]]:
    """row id ("" outside grids) → option id → respondents, with former ids mapped and summed."""
    options = option_map(q) if options is None else options
    rows = row_map(q) if rows is None else rows
    sub = counts[counts["question_id"] == q.id]
    out: dict[str, dict[str, int]] = {}
    for row_id, option_id, n in zip(sub["row_id"], sub["option_id"], sub["n"], strict=True):
        row = rows.get(row_id, row_id) if row_id else ""
        opt = options.get(option_id, option_id)
        cell = out.setdefault(row, {})
        cell[opt] = cell.get(opt, 0) + int(n)
    return out


def _ordered_shares(
    shown: Mapping[str, int], base: int, order: Sequence[str], skip: Iterable[str],
    keep_zero: bool,
) -> dict[str, float]:
    skip = set(skip)
    keys = [o for o in order if o not in skip and (keep_zero or shown.get(o, 0) > 0)]
    keys += [o for o in shown if o not in keys and o != OTHER and shown[o] > 0]
    if OTHER in shown and OTHER not in keys:
        keys.append(OTHER)
    return {o: shown.get(o, 0) / base for o in keys}


def choice_result(
    counts: Mapping[str, int], answered: int, base: int, *, order: Sequence[str], k: int,
    multi: bool = False, keep_zero: bool = True, whole: Mapping[str, int] | None = None,
) -> ChoiceResult:
    """Shares of the base (those asked) per option; options under k merged into "other"
    (single) or hidden (multi); fewer than k answering → suppressed. `order`: the options
    the wave offered (each gets an entry, 0% when nobody chose it, unless `keep_zero` is
    off). `whole`: the whole wave's counts when `counts` are a segment's (options with 1..k-1
    people outside the segment count as small)."""
    if answered > base:  # data imported without its condition: everyone who answered was asked
        log.warning("%d answered but only %d were asked; using %d as the base", answered, base, answered)
        base = answered
    if base <= 0 or too_small(answered, k):
        return ChoiceResult(answered=answered, suppressed=True, base=base)
    raw = {o: int(n) for o, n in counts.items() if n}
    extra = rest_too_small(raw, whole, k) if whole is not None else set()
    if multi:
        shown, hidden = hide_small(raw, k, extra)
        merged: list[str] = []
    else:
        shown, merged = merge_small(raw, k, order, extra=extra)
        hidden = []
    shares = _ordered_shares(shown, base, order, [*hidden, *merged], keep_zero)
    return ChoiceResult(answered=answered, shares=shares, counts=shown, merged=merged, hidden=hidden,
                        base=base)


def grid_result(
    by_row: Mapping[str, Mapping[str, int]], base: int, *, rows: Sequence[str],
    scale: Sequence[str], k: int, whole: Mapping[str, Mapping[str, int]] | None = None,
) -> GridResult:
    """Per row (each asked row, in order): shares of the base (everyone the grid was asked)
    per scale point; answered = the row's total."""
    out = GridResult()
    for row in rows:
        counts = by_row.get(row, {})
        out.rows[row] = choice_result(counts, sum(counts.values()), base, order=scale, k=k,
                                      whole=None if whole is None else whole.get(row, {}))
    return out


def number_result(values: Sequence[float] | np.ndarray, k: int, base: int = 0) -> NumberResult:
    """Median and quartiles (linear interpolation, as pandas and numpy compute them)."""
    arr = np.asarray(values, dtype=float)
    if too_small(len(arr), k):
        return NumberResult(answered=len(arr), suppressed=True)
    if len(arr) == 0:
        return NumberResult(answered=0, base=base)
    q1, median, q3 = (float(v) for v in np.percentile(arr, [25, 50, 75]))
    return NumberResult(answered=len(arr), median=median, q1=q1, q3=q3, base=max(base, len(arr)))


def text_result(answered: int, base: int = 0) -> TextResult:
    return TextResult(answered=answered, base=max(base, answered))


def _answered(answered: pd.DataFrame, question_id: str) -> int:
    sub = answered.loc[answered["question_id"] == question_id, "answered"]
    return int(sub.sum()) if len(sub) else 0


def question_result(
    q: Question, *, counts: pd.DataFrame, answered: pd.DataFrame, numbers: pd.DataFrame,
    respondents: int, k: int, asked_rows: Sequence[str] | None = None,
    exact: Mapping[str, int] | None = None, whole: pd.DataFrame | None = None,
    whole_exact: Mapping[str, int] | None = None, base: int | None = None,
    asked: Question | None = None,
) -> Result:
    """The result of one question in one wave from that wave's frames.

    `asked_rows`: the grid rows this wave asked (current ids); `exact`: distinct respondents
    for options merged from several former ids of a multi question (see service); `whole`
    (and `whole_exact`): the whole wave's counts when this is a segment (see privacy);
    `base`: those a conditional question was shown to (default: `respondents`); `asked`: the
    wave's own version of the question (options it did not offer get no entry).
    """
    base = respondents if base is None else base
    if q.type is QuestionType.text:
        return text_result(_answered(answered, q.id), base)
    if q.type is QuestionType.number:
        values = numbers.loc[numbers["question_id"] == q.id, "number"].to_numpy(dtype=float)
        return number_result(values, k, base)
    by_row = question_counts(counts, q)
    whole_rows = question_counts(whole, q) if whole is not None else None
    offered = offered_options(q, asked)
    if q.type is QuestionType.grid:
        rows = list(asked_rows) if asked_rows is not None else [r.id for r in q.rows]
        return grid_result(by_row, base, rows=rows, scale=offered, k=k, whole=whole_rows)
    cell = dict(by_row.get("", {}))
    if exact:
        cell.update(exact)
    whole_cell = None
    if whole_rows is not None:
        whole_cell = {**whole_rows.get("", {}), **(whole_exact or {})}
    multi = q.type is QuestionType.multi
    total = _answered(answered, q.id) if multi else sum(cell.values())
    country = q.type is QuestionType.country
    order = [] if country else offered
    return choice_result(cell, total, base, order=order, k=k, multi=multi, keep_zero=not country,
                         whole=whole_cell)
