"""Number questions across waves: median and quartiles (the summary's), a histogram on bins
shared by every wave, and the change of the distribution against the first compared wave
(Mann–Whitney U, normal approximation with the tie correction).

Privacy (k = the minimum group size): a bin of 1..k-1 answers is hidden, and as many other
bins as it takes that its count cannot be read off the published number of answers (the
histogram's total) minus the shown bins (analytics.suppression); in a segment the rest of
the wave's bins count too. Values are read from the released snapshot of an open wave, and
a wave (or segment) the summary hides is hidden here too. No value beyond the summary's
median and quartiles is shown: bin edges are round numbers spaced evenly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.frames import Segment, WaveQuery, number_values
from analytics.model import NumberResult, Summary
from analytics.report import Block, pct
from analytics.suppression import suppress
from surveys.db import Database
from surveys.waves import get_wave, questionnaire_of

log = logging.getLogger(__name__)

MAX_BINS = 8


def nice_edges(values: Sequence[float], integer: bool, bins: int = MAX_BINS) -> list[float]:
    """Evenly spaced round edges covering the values: steps of 1, 2, 2.5 or 5 × 10^n (whole
    numbers for an integer question), at most about `bins` bins; each bin holds its lower edge,
    the last one its upper edge too."""
    lo, hi = float(min(values)), float(max(values))
    span = max(hi - lo, 1e-9)
    raw = span / bins
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    start = math.floor(lo / step) * step
    edges = [start]
    while edges[-1] <= hi - 1e-12 or len(edges) < 2:
        edges.append(edges[-1] + step)
    return [round(e, 10) for e in edges]


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=np.asarray(edges, dtype=float))
    return [int(c) for c in counts]


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of the Mann–Whitney U test (normal approximation, ties corrected);
    None when either sample is empty or every value is the same."""
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        return None
    pooled = np.concatenate([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    order = pooled.argsort(kind="mergesort")
    ranks = np.empty(len(pooled))
    sorted_values = pooled[order]
    i = 0
    ties = 0.0
    while i < len(pooled):  # average ranks over ties
        j = i
        while j + 1 < len(pooled) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return None
    z = (u1 - n1 * n2 / 2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass
class WaveNumbers:
    label: str
    result: NumberResult | None  # the summary's (None: not asked)
    counts: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)  # bin indexes
    suppressed: bool = False

    @property
    def shown(self) -> bool:
        return self.result is not None and not self.suppressed and not self.result.suppressed

    def share(self, i: int) -> float | None:
        if not self.shown or i in self.hidden or self.result is None or not self.result.answered:
            return None
        return self.counts[i] / self.result.answered


@dataclass
class NumberStats:
    question: str
    title: str
    edges: list[float]
    waves: list[WaveNumbers]
    compare: str | None
    p_value: float | None = None
    k: int = 5
    synthetic: bool = False

    @property
    def chart_file(self) -> str:
        return f"numbers-{self.question}.png"

    def bin_label(self, i: int) -> str:
        return f"{self.edges[i]:g}–{self.edges[i + 1]:g}"

    def change_text(self) -> str:
        main, before = self._wave(self.waves[0].label), self._wave(self.compare)
        if main is None or before is None or not (main.shown and before.shown):
            return ""
        assert main.result is not None and before.result is not None
        if main.result.median is None or before.result.median is None:
            return ""
        delta = main.result.median - before.result.median
        p = "" if self.p_value is None else f"; Mann–Whitney p = {self.p_value:.2g}"
        return (f"Median {before.result.median:g} in {before.label} → {main.result.median:g} in "
                f"{main.label} ({delta:+g}{p}; a raw p-value, outside the summary's correction)")

    def _wave(self, label: str | None) -> WaveNumbers | None:
        return next((w for w in self.waves if w.label == label), None)

    def alt_text(self) -> str:
        parts = []
        for w in self.waves:
            if not w.shown:
                parts.append(f"{w.label}: hidden")
                continue
            bins = ", ".join(f"{self.bin_label(i)} {'hidden' if i in w.hidden else pct(w.share(i))}"
                             for i in range(len(self.edges) - 1))
            assert w.result is not None
            parts.append(f"{w.label} (n={w.result.answered:,}, median {w.result.median:g}): {bins}")
        return f"Histogram of {self.title}, share of answers per bin. " + "; ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        waves: dict[str, Any] = {}
        for w in self.waves:
            if not w.shown:
                waves[w.label] = {"suppressed": True}
                continue
            assert w.result is not None
            waves[w.label] = {**w.result.to_dict(), "bins": [
                None if i in w.hidden else round(w.share(i) or 0.0, 4) for i in range(len(self.edges) - 1)]}
        return {"kind": "numbers", "question": self.question, "edges": self.edges, "waves": waves,
                "compare": self.compare,
                "mann_whitney_p": None if self.p_value is None else float(f"{self.p_value:.4g}")}

    def blocks(self, charts: set[str]) -> list[Block]:
        rows = []
        for w in self.waves:
            if not w.shown or w.result is None or w.result.median is None:
                rows.append((w.label, "hidden", "", ""))
                continue
            rows.append((w.label, f"{w.result.median:g}", f"{w.result.q1:g}–{w.result.q3:g}",
                         f"{w.result.answered:,}"))
        bins = [(self.bin_label(i), *("hidden" if w.shown and i in w.hidden else
                                      pct(w.share(i)) if w.shown else "–" for w in self.waves))
                for i in range(len(self.edges) - 1)]
        blocks = [Block("h3", f"{self.title}: distribution"),
                  Block("table", head=("Wave", "Median", "Middle half", "Answered"), rows=tuple(rows)),
                  Block("table", head=("Bin", *(w.label for w in self.waves)), rows=tuple(bins)),
                  Block("note", f"Share of each wave's answers per bin; bins of fewer than {self.k} "
                                "answers are hidden, with as many others as keep them from being worked "
                                "out from the total.")]
        change = self.change_text()
        if change:
            blocks.append(Block("p", change + "."))
        if self.chart_file in charts:
            blocks.append(Block("img", self.alt_text(), src=self.chart_file))
        return blocks

    def chat_lines(self) -> list[str]:
        lines = [f"{self.title}, share of answers per bin:"]
        for w in self.waves:
            if not w.shown:
                lines.append(f"• {w.label}: hidden")
                continue
            bins = ", ".join(f"{self.bin_label(i)} {'hidden' if i in w.hidden else pct(w.share(i))}"
                             for i in range(len(self.edges) - 1))
            lines.append(f"• {w.label}: {bins}")
        change = self.change_text()
        return [*lines, *([change + "."] if change else [])]

    def charts(self) -> dict[str, bytes]:
        shown = [w for w in self.waves if w.shown]
        if not shown:
            return {}
        from analytics.charts_analyses import histogram

        series = [(w.label, [None if i in w.hidden else c for i, c in enumerate(w.counts)]) for w in shown]
        return {self.chart_file: histogram(
            title=f"{self.title}: distribution", subtitle="Share of each wave's answers per bin",
            edges=self.edges, series=series, synthetic=self.synthetic,
            footnote=f"Bins of fewer than {self.k} answers are hidden.")}


def protect_bins(counts: Sequence[int], rest: Sequence[int] | None, k: int) -> list[int]:
    """Indexes of bins to hide (see the module docstring)."""
    cells: dict[Hashable, int] = {("in", i): n for i, n in enumerate(counts)}
    lines: list[list[Hashable]] = [[("in", i) for i in range(len(counts))]]
    undisplayed: list[Hashable] = []
    if rest is not None:
        cells.update({("rest", i): n for i, n in enumerate(rest)})
        undisplayed = [("rest", i) for i in range(len(rest))]
        lines.append([*lines[0], *undisplayed])
        lines += [[("in", i), ("rest", i)] for i in range(len(counts))]
    hidden = suppress(cells, lines, k, undisplayed=undisplayed)
    return sorted(i for side, i in (c for c in hidden if isinstance(c, tuple)) if side == "in")


async def _values(db: Database, summary: Summary, community_id: int, label: str, question: str,
                  whole: bool) -> list[float] | None:
    from analytics.service import counted_release, wave_segment

    async with db.session() as session:
        wave = await get_wave(session, community_id, label, summary.survey)
    qn = questionnaire_of(wave)
    if not qn.has_question(question):
        return None
    release = await counted_release(db, wave, summary.min_group_size)
    segment = Segment() if whole else wave_segment(qn, wave, summary.where, summary.platform)
    if segment is None:
        return []
    query = WaveQuery(wave_id=wave.id, choice=(), multi=(), free=(question,), number=(question,),
                      segment=segment, released=release is not None)
    async with db.session() as session:
        frame = await number_values(session, query)
    return [float(v) for v in frame["number"]]


async def build_number_stats(
    db: Database, summary: Summary, *, community_id: int, question: str
) -> NumberStats:
    """The distribution of a number question in the summary's waves."""
    qs = summary.question(question)
    if qs is None or qs.type != "number":
        raise ValueError(f"'{question}' is not a number question of this summary")
    k = summary.min_group_size
    labels = [label for label in summary.labels_in_order if label in summary.waves]
    values: dict[str, list[float]] = {}
    rests: dict[str, list[float]] = {}
    for label in labels:
        result = qs.results.get(label)
        if result is None or summary.suppressed(label) or getattr(result, "suppressed", False):
            continue
        got = await _values(db, summary, community_id, label, question, whole=False)
        if got is None:
            continue
        values[label] = got
        if summary.segmented:
            whole = await _values(db, summary, community_id, label, question, whole=True) or []
            rests[label] = _minus(whole, got)
    pooled = [v for vs in values.values() for v in vs]
    integer = all(float(v).is_integer() for v in pooled)
    edges = nice_edges(pooled, integer) if pooled else [0.0, 1.0]
    out = NumberStats(question=question, title=qs.title, edges=edges, waves=[],
                      compare=summary.compare[0] if summary.compare else None, k=k,
                      synthetic=any(w.synthetic for w in summary.waves.values()))
    for label in labels:
        result = qs.results.get(label)
        wave = WaveNumbers(label=label, result=result if isinstance(result, NumberResult) else None)
        if label not in values:
            wave.suppressed = True
        else:
            wave.counts = bin_counts(values[label], edges)
            rest = bin_counts(rests[label], edges) if label in rests else None
            wave.hidden = protect_bins(wave.counts, rest, k)
        out.waves.append(wave)
    if out.compare in values and summary.wave in values:
        out.p_value = mann_whitney(values[summary.wave], values[out.compare])
    return out


def _minus(whole: list[float], part: list[float]) -> list[float]:
    """The values of `whole` not in `part` (as multisets)."""
    left: dict[float, int] = {}
    for v in part:
        left[v] = left.get(v, 0) + 1
    out = []
    for v in whole:
        if left.get(v, 0):
            left[v] -= 1
        else:
            out.append(v)
    return out


__all__ = ["NumberStats", "build_number_stats", "mann_whitney", "nice_edges", "protect_bins"]
