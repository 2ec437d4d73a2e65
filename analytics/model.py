"""The summary model: results per question and wave, changes between waves, and the JSON shape.

Everything here is plain data. Counts behind the shares are kept (the significance test
and the intervals need them) but never published: `to_dict` writes shares, their 95% Wilson
intervals and bases, and nothing under the minimum group size (see analytics.privacy).

A share is a fraction of its **base**: the people the question (or grid row) was asked in
that wave — the wave's (or segment's) respondents, or for a conditional question (`when`)
those it was shown to. `answered` is how many of them answered it; for multi choice that
is those who picked at least one option. See docs/analytics.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from analytics.stats import FDR_Q, METHOD_NAME, METHOD_TEXT, TEST_NAME, wilson_interval

log = logging.getLogger(__name__)

OTHER = "other"


def _share(value: float) -> float:
    return round(value, 4)


def _p(value: float) -> float:
    return float(f"{value:.4g}")


def _bound(value: float) -> float:
    return round(value, 4)


@dataclass
class ChoiceResult:
    """Shares of one single/multi/country question (or one grid row) in one wave.

    `shares` maps the options this wave offered to the share of the `base` choosing them;
    options under the minimum group size are merged into "other" (`merged`) or left out
    (`hidden`); an option the wave did not offer has no entry.
    """

    answered: int
    shares: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    suppressed: bool = False
    base: int = 0
    published: bool = False  # a report's published figures: an option missing is "not published"

    def interval(self, option: str) -> tuple[float, float] | None:
        """The 95% Wilson interval of an option's share (None when it has no share)."""
        if option not in self.shares or self.base <= 0:
            return None
        return wilson_interval(min(self.counts.get(option, 0), self.base), self.base)

    @property
    def ci(self) -> dict[str, tuple[float, float]]:
        """95% Wilson intervals keyed like `shares`."""
        out = {}
        for option in self.shares:
            bounds = self.interval(option)
            if bounds is not None:
                out[option] = bounds
        return out

    def to_dict(self) -> dict[str, Any]:
        if self.suppressed:
            return {"suppressed": True}
        out: dict[str, Any] = {
            "base": self.base,
            "answered": self.answered,
            "shares": {k: _share(v) for k, v in self.shares.items()},
            "ci": {k: [_bound(lo), _bound(hi)] for k, (lo, hi) in self.ci.items()},
        }
        if self.merged:
            out["merged_into_other"] = list(self.merged)
        if self.hidden:
            out["hidden"] = list(self.hidden)
        return out


@dataclass
class GridResult:
    """Per grid row, the share of respondents at each scale point."""

    rows: dict[str, ChoiceResult] = field(default_factory=dict)
    suppressed: bool = False

    def to_dict(self) -> dict[str, Any]:
        if self.suppressed:
            return {"suppressed": True}
        return {"rows": {row: r.to_dict() for row, r in self.rows.items()}}


@dataclass
class NumberResult:
    answered: int
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    suppressed: bool = False
    base: int = 0

    def to_dict(self) -> dict[str, Any]:
        if self.suppressed:
            return {"suppressed": True}
        return {"base": self.base, "answered": self.answered, "median": self.median, "q1": self.q1,
                "q3": self.q3}


@dataclass
class TextResult:
    """Free text: how many answered. The texts themselves never leave the database here."""

    answered: int
    suppressed: bool = False
    base: int = 0

    def to_dict(self) -> dict[str, Any]:
        if self.suppressed:
            return {"suppressed": True}
        return {"base": self.base, "answered": self.answered}


Result = ChoiceResult | GridResult | NumberResult | TextResult


def suppressed_like(result: Result) -> Result:
    """The same kind of result with nothing in it but `suppressed`."""
    if isinstance(result, GridResult):
        return GridResult(suppressed=True)
    return type(result)(answered=0, suppressed=True)


@dataclass
class Significance:
    """How changes are called significant: the test, and Benjamini–Hochberg at q across all
    `tests` changes of the summary (`raw_below_q`: how many had a raw p-value below q)."""

    q: float = FDR_Q
    tests: int = 0
    discoveries: int = 0
    raw_below_q: int = 0
    test: str = TEST_NAME
    method: str = METHOD_NAME

    def to_dict(self) -> dict[str, Any]:
        return {"test": self.test, "method": self.method, "q": self.q, "tests": self.tests,
                "significant": self.discoveries}

    def footer(self) -> str:
        """One sentence naming the method, for every output's footer."""
        return (f"“Significant” means the change's p-value stays below {self.q:g} after the {METHOD_TEXT} "
                f"correction for all {self.tests} changes tested in this summary (false discovery rate "
                f"{self.q:.0%}; a {self.test}-test per change).")


@dataclass
class Change:
    """The change of one share from a compared wave (`before`) to the summarised wave (`after`).

    `p_value` is the raw two-proportion z-test; `p_adjusted` the Benjamini–Hochberg value over
    every change of the summary, and `significant` means it is below q."""

    question: str
    option: str
    compare: str
    before: float
    after: float
    delta: float
    p_value: float
    significant: bool = False
    row: str = ""
    p_adjusted: float | None = None

    @property
    def key(self) -> str:
        return f"{self.row}.{self.option}" if self.row else self.option

    def to_dict(self) -> dict[str, Any]:
        return {"from": _share(self.before), "to": _share(self.after), "delta": _share(self.delta),
                "p_value": _p(self.p_value),
                "p_adjusted": None if self.p_adjusted is None else _p(self.p_adjusted),
                "significant": self.significant}


@dataclass
class Mover:
    """A significant change with the labels to show it."""

    change: Change
    question_label: str
    option_label: str
    row_label: str = ""

    @property
    def label(self) -> str:
        """`Monitoring models in production`, or `Model monitoring: Established tooling today`."""
        return f"{self.row_label}: {self.option_label}" if self.row_label else self.option_label

    question = property(lambda self: self.change.question)
    option = property(lambda self: self.change.option)
    row = property(lambda self: self.change.row)
    compare = property(lambda self: self.change.compare)
    before = property(lambda self: self.change.before)
    after = property(lambda self: self.change.after)
    delta = property(lambda self: self.change.delta)
    p_value = property(lambda self: self.change.p_value)
    p_adjusted = property(lambda self: self.change.p_adjusted)

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.change.question, "row": self.change.row or None,
                "option": self.change.option, "compare": self.change.compare,
                **self.change.to_dict(), "question_label": self.question_label,
                "option_label": self.option_label, "row_label": self.row_label or None}


@dataclass
class QuestionSummary:
    """One question: its results per wave (a wave that did not ask it has no entry) and changes.

    `ordered`: its options are a scale (sizes, ranges, `ordered: true`) shown in their natural
    order; `conditional`: it was shown only to some (`when`), so its base is "those asked"."""

    id: str
    type: str
    title: str
    results: dict[str, Result] = field(default_factory=dict)
    changes: dict[str, list[Change]] = field(default_factory=dict)  # compare label → changes
    ordered: bool = False
    conditional: bool = False

    def base_text(self, result: Result | None, row: str = "") -> str:
        """'of 380 respondents' or 'of 334 asked' (a conditional question), '' when unknown."""
        cell = result.rows.get(row) if isinstance(result, GridResult) else result
        base = getattr(cell, "base", 0)
        if not base or getattr(cell, "suppressed", False):
            return ""
        return f"of {base:,} asked" if self.conditional else f"of {base:,} respondents"

    def to_dict(self, first_compare: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "type": self.type, "title": self.title,
            "ordered": self.ordered, "conditional": self.conditional,
            "results": {label: r.to_dict() for label, r in self.results.items()},
        }
        if first_compare is not None and first_compare in self.changes:
            out["changes"] = _changes_dict(self.changes[first_compare])
        if self.changes:
            out["changes_by_wave"] = {label: _changes_dict(ch) for label, ch in self.changes.items()}
        return out


def _changes_dict(changes: list[Change]) -> dict[str, Any]:
    """Option → change; for a grid, row → option → change (mirroring `results`)."""
    out: dict[str, Any] = {}
    for ch in changes:
        if ch.row:
            out.setdefault(ch.row, {})[ch.option] = ch.to_dict()
        else:
            out[ch.option] = ch.to_dict()
    return out


@dataclass
class WaveInfo:
    label: str
    respondents: int
    completed: int | None  # None: hidden (a segment where 1..k-1 people have not completed)
    invited: int = 0
    suppressed: bool = False
    synthetic: bool = False
    imported: bool = False
    status: str = ""
    # an open wave is counted on its released snapshot (analytics.releases): respondents it
    # covers, its number, and whether it is held back after a member withdrew
    covers: int | None = None
    release: int | None = None
    held: bool = False
    # a reference wave: a report's published figures (surveys.reference), not the community's
    published: bool = False
    source: str = ""

    @property
    def tested(self) -> bool:
        """Whether its shares can be tested: a published wave needs its base."""
        return not self.published or self.respondents > 0

    def published_text(self) -> str:
        """'published figures, n=100' or 'published figures, base not published: not tested'."""
        if self.tested:
            return f"published figures, n={self.respondents:,}"
        return "published figures, base not published: not tested"

    def snapshot(self) -> dict[str, Any] | None:
        if self.covers is None:
            return None
        return {"release": self.release, "covers": self.covers, "held": self.held}


@dataclass
class Summary:
    """The summary of one wave compared with earlier ones (see DESIGN.md, summary JSON)."""

    survey: str
    title: str
    wave: str
    compare: list[str]
    min_group_size: int
    waves: dict[str, WaveInfo]
    questions: list[QuestionSummary]
    labels: dict[str, dict[str, Any]]
    where: dict[str, list[str]] = field(default_factory=dict)
    platform: str | None = None
    significance: Significance = field(default_factory=Significance)
    # analyses beside the questions (cross-tabs, rankings, numbers: analytics.sections), each
    # with its JSON, report blocks, chat lines and charts
    analyses: list[Any] = field(default_factory=list)

    # -- reading ---------------------------------------------------------------------
    @property
    def respondents(self) -> dict[str, int]:
        """Respondents per wave label (raw counts; `to_dict` hides those of suppressed waves)."""
        return {label: info.respondents for label, info in self.waves.items()}

    @property
    def labels_in_order(self) -> list[str]:
        return [self.wave, *self.compare]

    def suppressed(self, label: str) -> bool:
        """Whether the wave (or the segment in it) is below the minimum group size."""
        info = self.waves.get(label)
        return True if info is None else info.suppressed

    def question(self, question_id: str) -> QuestionSummary | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def segmented(self) -> bool:
        return bool(self.where or self.platform)

    def question_label(self, question_id: str) -> str:
        return str(self.labels.get(question_id, {}).get("title", question_id))

    def option_label(self, question_id: str, option_id: str) -> str:
        entry = self.labels.get(question_id, {})
        return str(entry.get("options", {}).get(option_id, option_id))

    def row_label(self, question_id: str, row_id: str) -> str:
        entry = self.labels.get(question_id, {})
        return str(entry.get("rows", {}).get(row_id, row_id))

    def movers(self, limit: int = 5, compare: str | None = None) -> list[Mover]:
        """Significant changes against the first compared wave, largest |delta| first."""
        against = compare or (self.compare[0] if self.compare else None)
        if against is None:
            return []
        found = [
            ch for q in self.questions for ch in q.changes.get(against, [])
            if ch.significant and ch.option != OTHER
        ]
        found.sort(key=lambda ch: (-abs(ch.delta), ch.p_value, ch.question, ch.row, ch.option))
        return [
            Mover(ch, self.question_label(ch.question), self.option_label(ch.question, ch.option),
                  self.row_label(ch.question, ch.row) if ch.row else "")
            for ch in found[:limit]
        ]

    # -- JSON ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        first = self.compare[0] if self.compare else None
        out = {
            "survey": self.survey,
            "title": self.title,
            "wave": self.wave,
            "compare": list(self.compare),
            "where": {k: list(v) for k, v in self.where.items()},
            "platform": self.platform,
            "respondents": {
                label: (None if info.suppressed else info.respondents) for label, info in self.waves.items()
            },
            "completed": {
                label: (None if info.suppressed else info.completed) for label, info in self.waves.items()
            },
            "suppressed": {label: info.suppressed for label, info in self.waves.items()},
            "snapshot": {label: info.snapshot() for label, info in self.waves.items()
                         if info.snapshot() is not None},
            "synthetic": any(info.synthetic for info in self.waves.values()),
            "published": {label: {"source": info.source, "base": info.respondents or None,
                                  "tested": info.tested}
                          for label, info in self.waves.items() if info.published},
            "min_group_size": self.min_group_size,
            "significance": self.significance.to_dict(),
            "questions": [q.to_dict(first) for q in self.questions],
            "movers": [m.to_dict() for m in self.movers(limit=10)],
            "labels": self.labels,
        }
        if self.analyses:
            out["analyses"] = [a.to_dict() for a in self.analyses]
        return out
