"""Rankings of a grid's rows by one scale point (`--rank tooling:looking`), and the ratio of
two scale points per row (`--rank tooling:looking/established`).

"Most interested in new solutions are model monitoring (52%), model registry (43%) and
feature store" is the tooling grid's rows ranked by the share answering "looking for a
solution"; "twice as many are looking for monitoring as have it" is the ratio of "looking"
to "established" in the monitoring row.

Everything is read off the summary's own grid result, so the privacy rules of the summary
hold as they are: a scale point merged into "other" or a row under k is listed as hidden,
never ranked by a number. The ratio's 95% interval: among the row's people at either point,
the share at the first follows a binomial; its Wilson interval, p/(1-p) at each end, bounds
the ratio (the conditional method for a ratio of two multinomial shares).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from analytics.model import ChoiceResult, GridResult, Summary
from analytics.report import Block, pct, points
from analytics.stats import wilson_interval
from surveys.errors import SurveyError, UnknownQuestion

log = logging.getLogger(__name__)


class RankingRefused(SurveyError):
    """A ranking that cannot be made as asked (the message says what would work)."""


@dataclass(frozen=True)
class RankSpec:
    """`tooling:looking` or `tooling:looking/established`, in ids."""

    question: str
    point: str
    versus: str | None = None

    @property
    def text(self) -> str:
        return f"{self.question}:{self.point}" + (f"/{self.versus}" if self.versus else "")


@dataclass
class Ratio:
    value: float  # math.inf when nobody is at the second point
    low: float
    high: float

    def text(self) -> str:
        if math.isinf(self.value):
            return "nobody at the second point"
        high = "∞" if math.isinf(self.high) else f"{self.high:.1f}"
        return f"{self.value:.1f}× ({self.low:.1f}–{high}×)"

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isinf(x) else round(x, 3)
        return {"value": num(self.value), "ci": [num(self.low), num(self.high)]}


def ratio(first: int, second: int) -> Ratio | None:
    """first/second with its 95% interval (None when neither point has anyone)."""
    n = first + second
    if n == 0:
        return None
    lo, hi = wilson_interval(first, n)

    def odds(p: float) -> float:
        return math.inf if p >= 1 else p / (1 - p)
    return Ratio(math.inf if second == 0 else first / second, odds(lo), odds(hi))


@dataclass
class RankedRow:
    row: str
    label: str
    base: int
    share: float | None  # None: hidden (merged, or the row is under k)
    interval: tuple[float, float] | None = None
    ratio: Ratio | None = None
    before: float | None = None  # the first compared wave's share
    delta: float | None = None
    significant: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "label": self.label, "base": self.base,
                               "share": None if self.share is None else round(self.share, 4)}
        if self.interval:
            out["ci"] = [round(b, 4) for b in self.interval]
        if self.share is None:
            out["hidden"] = True
        if self.ratio is not None:
            out["ratio"] = self.ratio.to_dict()
        if self.before is not None:
            out["change"] = {"from": round(self.before, 4), "delta": round(self.delta or 0.0, 4),
                             "significant": self.significant}
        return out


@dataclass
class Ranking:
    spec: RankSpec
    title: str
    point_label: str
    versus_label: str
    wave: str
    compare: str | None
    rows: list[RankedRow] = field(default_factory=list)
    conditional: bool = False
    suppressed: str = ""
    k: int = 5
    synthetic: bool = False

    @property
    def chart_file(self) -> str:
        tail = f"-vs-{self.spec.versus}" if self.spec.versus else ""
        return f"rank-{self.spec.question}-{self.spec.point}{tail}.png"

    @property
    def ranked(self) -> list[RankedRow]:
        return [r for r in self.rows if r.share is not None]

    def finding(self) -> str:
        """'Most often “Looking …”: Model monitoring (52%), Model registry (43%) and Feature store (41%).'"""
        top = self.ranked[:3]
        if not top:
            return f"No row of {self.title} can be ranked (too few answers)."
        names = [f"{r.label} ({pct(r.share)})" for r in top]
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
        return f"Most often “{self.point_label}” in {self.title} ({self.wave}): {joined}."

    def ratio_lines(self) -> list[str]:
        out = []
        for r in self.ranked[:3]:  # the table gives every row's ratio
            if r.ratio is None:
                continue
            if math.isinf(r.ratio.value):
                out.append(f"{r.label}: nobody answered “{self.versus_label}”, "
                           f"{pct(r.share)} “{self.point_label}”.")
                continue
            word = _times(r.ratio.value)
            out.append(f"{r.label}: {word} as many answered “{self.point_label}” as “{self.versus_label}” "
                       f"({r.ratio.text()}, of {r.base:,} {self.base_word()}).")
        return out

    def base_word(self) -> str:
        return "asked" if self.conditional else "respondents"

    def alt_text(self) -> str:
        if self.suppressed:
            return f"{self.title}: {self.suppressed}"
        parts = [f"{r.label} {pct(r.share)}" + (f" ({r.ratio.text()})" if r.ratio else "")
                 for r in self.ranked]
        hidden = [r.label for r in self.rows if r.share is None]
        tail = f"; hidden: {', '.join(hidden)}" if hidden else ""
        return (f"Bar chart: rows of {self.title} ranked by the share answering “{self.point_label}”, "
                f"{self.wave}: " + ", ".join(parts) + tail + ".")

    # -- outputs ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "ranking", "question": self.spec.question, "point": self.spec.point,
                               "versus": self.spec.versus, "wave": self.wave, "compare": self.compare}
        if self.suppressed:
            return {**out, "suppressed": True, "reason": self.suppressed}
        return {**out, "rows": [r.to_dict() for r in self.rows]}

    def table(self) -> Block:
        head = ["#", "Row", f"“{self.point_label}”"]
        if self.spec.versus:
            head.append(f"× “{self.versus_label}”")
        if self.compare:
            head.append(f"Change vs {self.compare}")
        rows = []
        for i, r in enumerate(self.rows, start=1):
            share = "hidden" if r.share is None else f"{pct(r.share)} ({_interval(r.interval)})"
            cells = [str(i) if r.share is not None else "", r.label, share]
            if self.spec.versus:
                cells.append(r.ratio.text() if r.ratio else "")
            if self.compare:
                mark = " ↑" if r.significant and (r.delta or 0) > 0 else " ↓" if r.significant else ""
                cells.append("" if r.delta is None else f"{points(r.delta)}{mark}")
            rows.append(tuple(cells))
        return Block("table", head=tuple(head), rows=tuple(rows))

    def blocks(self, charts: set[str]) -> list[Block]:
        heading = f"{self.title}: rows ranked by “{self.point_label}”"
        if self.spec.versus:
            heading += f", and against “{self.versus_label}”"
        blocks = [Block("h3", heading)]
        if self.suppressed:
            return [*blocks, Block("p", self.suppressed)]
        blocks += [Block("p", f"Share of {self.base_word()} per row ({self.wave}), 95% interval in brackets; "
                              f"a row or point under {self.k} people is hidden, never ranked."),
                   self.table(), Block("ul", items=(self.finding(), *self.ratio_lines()))]
        if self.chart_file in charts:
            blocks.append(Block("img", self.alt_text(), src=self.chart_file))
        return blocks

    def chat_lines(self) -> list[str]:
        if self.suppressed:
            return [f"{self.title}: {self.suppressed}"]
        lines = [f"{self.title} ranked by “{self.point_label}” ({self.wave}):"]
        for i, r in enumerate(self.rows, start=1):
            if r.share is None:
                lines.append(f"• {r.label}: hidden (few answers)")
                continue
            extra = f", {r.ratio.text()} “{self.versus_label}”" if r.ratio else ""
            lines.append(f"{i}. {r.label} {pct(r.share)} ({_interval(r.interval)}){extra}")
        return [*lines, self.finding(), *self.ratio_lines()]

    def charts(self) -> dict[str, bytes]:
        if self.suppressed or not self.rows:
            return {}
        from analytics.charts_analyses import ranked_bars

        subtitle = f"{self.wave}: share of {self.base_word()} per row, 95% interval as whiskers"
        if self.spec.versus:
            subtitle += f"; after each bar: × “{self.versus_label}”"
        return {self.chart_file: ranked_bars(
            title=f"{self.title}: “{self.point_label}”", subtitle=subtitle,
            labels=[r.label for r in self.rows], shares=[r.share for r in self.rows],
            intervals=[r.interval for r in self.rows],
            notes=[(f"({r.ratio.value:.1f}×)" if r.ratio and not math.isinf(r.ratio.value) else "")
                   if r.share is not None else "hidden" for r in self.rows],
            synthetic=self.synthetic, footnote=f"Rows or points under {self.k} people are hidden.")}


def _interval(bounds: tuple[float, float] | None) -> str:
    if bounds is None:
        return ""
    return f"{pct(bounds[0]).removesuffix('%')}–{pct(bounds[1])}"


def _times(value: float) -> str:
    """2.04 → 'twice', 1.5 → '1.5 times', 0.5 → '0.5 times'."""
    if 1.9 <= value < 2.15:
        return "about twice"
    if 2.85 <= value < 3.15:
        return "about three times"
    return f"{value:.1f} times"


def parse_rank(summary: Summary, text: str) -> RankSpec:
    """`tooling:looking[/established]`, points by id or label (any case); one-line errors."""
    qid, sep, rest = text.partition(":")
    if not sep or not rest:
        raise RankingRefused(f"rank: '{text}' is not GRID:POINT, e.g. tooling:looking or "
                             "tooling:looking/established")
    entry = summary.labels.get(qid)
    if entry is None:
        raise UnknownQuestion(f"rank: '{qid}' is not a question of {summary.survey}")
    if entry.get("type") != "grid":
        raise RankingRefused(f"rank: '{qid}' is a {entry.get('type')} question; rank the rows of a grid "
                             "question, e.g. tooling:looking")
    options: dict[str, str] = entry.get("options", {})

    def point(word: str) -> str:
        for oid, label in options.items():
            if word.lower() in (oid.lower(), str(label).lower()):
                return oid
        raise RankingRefused(f"rank: '{word}' is not a point of '{entry.get('title')}' "
                             f"({', '.join(options)})")
    first, slash, second = rest.partition("/")
    spec = RankSpec(qid, point(first.strip()), point(second.strip()) if slash else None)
    if spec.versus == spec.point:
        raise RankingRefused("rank: a ratio needs two different points, e.g. tooling:looking/established")
    return spec


def build_ranking(summary: Summary, text: str) -> Ranking:
    """The ranking `text` asks for, from the summary's grid result of its wave."""
    spec = parse_rank(summary, text)
    qs = summary.question(spec.question)
    compare = summary.compare[0] if summary.compare else None
    out = Ranking(spec=spec, title=summary.question_label(spec.question),
                  point_label=summary.option_label(spec.question, spec.point),
                  versus_label=summary.option_label(spec.question, spec.versus) if spec.versus else "",
                  wave=summary.wave, compare=compare, k=summary.min_group_size,
                  synthetic=any(w.synthetic for w in summary.waves.values()))
    result = qs.results.get(summary.wave) if qs is not None else None
    if qs is None or result is None:
        out.suppressed = f"not asked in {summary.wave}."
        return out
    out.conditional = qs.conditional
    if not isinstance(result, GridResult) or result.suppressed:
        out.suppressed = f"fewer than {summary.min_group_size} answers in {summary.wave}: hidden."
        return out
    changes = {(c.row, c.option): c for c in qs.changes.get(compare or "", [])}
    for row, cell in result.rows.items():
        out.rows.append(_ranked_row(summary, spec, row, cell, changes.get((row, spec.point))))
    out.rows.sort(key=lambda r: (r.share is None, -(r.share or 0.0), r.label))
    return out


def _ranked_row(summary: Summary, spec: RankSpec, row: str, cell: ChoiceResult, change: Any) -> RankedRow:
    label = summary.row_label(spec.question, row)
    if cell.suppressed or spec.point not in cell.shares:
        return RankedRow(row=row, label=label, base=0 if cell.suppressed else cell.base, share=None)
    ranked = RankedRow(row=row, label=label, base=cell.base, share=cell.shares[spec.point],
                       interval=cell.interval(spec.point))
    if spec.versus and spec.versus in cell.shares:
        ranked.ratio = ratio(cell.counts.get(spec.point, 0), cell.counts.get(spec.versus, 0))
    if change is not None:
        ranked.before, ranked.delta, ranked.significant = change.before, change.delta, change.significant
    return ranked


__all__ = ["Ranking", "RankSpec", "RankingRefused", "build_ranking", "parse_rank", "ratio"]
