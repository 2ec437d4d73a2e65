"""Cross-tabs: a question's shares in each group of another question (`--by company_size`).

"Even among the companies with 1000+ employees, 11–30 employees working on ML was the most
common answer" is a cross-tab of `ml_headcount` by `company_size`: one column per company
size, each with its base, every share with its 95% Wilson interval.

Privacy (k = the minimum group size), the rules of segments applied to every column:
- the groups are the options of the `--by` question; an option held by 1..k-1 respondents
  (or whose rest of the wave is that small, in a segment) is merged with the next smallest
  into one column of at least k, as a `--where` on it would be;
- a cell of 1..k-1 people is hidden, and so is a multi-choice cell whose "did not choose"
  group in that column is that small;
- hidden cells are protected by complementary suppression (analytics.suppression): the
  option's count in the whole wave (a row total), each column's base (a column total), the
  group's people who skipped the question or the group question, and in a segment the
  whole wave's cell, are all treated as published, so no hidden cell can be worked out
  from them;
- an open wave is counted on its released snapshot; a held-back wave shows nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from analytics.bases import condition_ids
from analytics.crosstab_counts import NO_GROUP, GroupCounts, group_counts
from analytics.frames import Segment
from analytics.model import ChoiceResult, Summary
from analytics.privacy import OTHER, merge_small, too_small
from analytics.report import Block, pct, share_text
from analytics.stats import wilson_interval
from analytics.summaries import option_map
from analytics.suppression import suppress
from surveys.db import Database
from surveys.errors import SurveyError, UnknownQuestion
from surveys.schema import Question, Questionnaire, QuestionType
from surveys.waves import get_wave, questionnaire_of

log = logging.getLogger(__name__)

NO_ANSWER = "\0skipped"  # a row: in the column but did not answer the question
TARGETS = (QuestionType.single, QuestionType.multi, QuestionType.country)
GROUPINGS = (QuestionType.single, QuestionType.country)


class CrossTabRefused(SurveyError):
    """A cross-tab that cannot be made as asked (the message says why and what works)."""


@dataclass
class Column:
    """One group of the `--by` question: its base and the question's shares in it."""

    key: str  # the option id, or ids joined by '+' for merged small groups
    label: str
    base: int
    counts: dict[str, int] = field(default_factory=dict)  # shown cells only
    hidden: list[str] = field(default_factory=list)
    additive: bool = True  # single choice: the hidden cells share what the shown ones leave

    def share(self, option: str) -> float | None:
        if option not in self.counts or self.base <= 0:
            return None
        return self.counts[option] / self.base

    def interval(self, option: str) -> tuple[float, float] | None:
        if option not in self.counts or self.base <= 0:
            return None
        return wilson_interval(min(self.counts[option], self.base), self.base)

    def top(self) -> str | None:
        """The most common shown option (None when a hidden one could be larger)."""
        if not self.counts:
            return None
        best = max(self.counts, key=lambda o: (self.counts[o], o != OTHER))
        room = self.base - sum(self.counts.values()) if self.additive else self.base
        if self.hidden and room >= self.counts[best]:
            return None  # a hidden cell could hold as many
        return best

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.key, "label": self.label, "base": self.base,
            "shares": {o: round(n / self.base, 4) for o, n in self.counts.items() if self.base},
            "ci": {o: [round(b, 4) for b in self.interval(o) or ()] for o in self.counts if self.base},
            "hidden": list(self.hidden),
        }


@dataclass
class CrossTab:
    """The shares of `question` in each group of `by`, in the summarised wave."""

    question: str
    title: str
    by: str
    by_title: str
    wave: str
    options: dict[str, str]  # option id → label, in display order
    columns: list[Column] = field(default_factory=list)
    total: ChoiceResult | None = None  # the question in the whole wave (or segment)
    conditional: bool = False
    suppressed: str = ""  # why nothing is shown
    k: int = 5
    synthetic: bool = False

    @property
    def name(self) -> str:
        return f"crosstab-{self.question}-by-{self.by}"

    @property
    def chart_file(self) -> str:
        return f"{self.name}.png"

    def base_word(self) -> str:
        return "asked" if self.conditional else "respondents"

    def cell_text(self, column: Column, option: str) -> str:
        if option in column.hidden:
            return "hidden"
        share = column.share(option)
        if share is None:
            return "–"
        lo_hi = column.interval(option)
        return f"{pct(share)} ({pct(lo_hi[0]).removesuffix('%')}–{pct(lo_hi[1])})" if lo_hi else pct(share)

    def findings(self) -> list[str]:
        """One sentence per column: its most common answer with share, interval and base."""
        out = []
        for col in self.columns:
            top = col.top()
            if top is None:
                out.append(f"{col.label}: no single most common answer can be shown (some cells are hidden).")
                continue
            out.append(f"{col.label} (n={col.base:,} {self.base_word()}): {self.options.get(top, top)} "
                       f"is the most common answer, {self.cell_text(col, top)}.")
        return out

    def alt_text(self) -> str:
        """The chart's alt text: every number it shows."""
        if self.suppressed:
            return f"{self.title} by {self.by_title}: {self.suppressed}"
        parts = []
        for col in self.columns:
            cells = ", ".join(f"{self.options[o]} {'hidden' if o in col.hidden else pct(col.share(o))}"
                              for o in self.options if o in col.counts or o in col.hidden)
            parts.append(f"{col.label} (n={col.base:,}): {cells}")
        return (f"Heatmap of {self.title} by {self.by_title}, {self.wave}, share of each column's "
                f"{self.base_word()}. " + "; ".join(parts) + ".")

    # -- outputs ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "crosstab", "question": self.question, "by": self.by,
                               "wave": self.wave, "title": self.title, "by_title": self.by_title}
        if self.suppressed:
            return {**out, "suppressed": True, "reason": self.suppressed}
        out["options"] = dict(self.options)
        out["columns"] = [c.to_dict() for c in self.columns]
        if self.total is not None:
            out["total"] = self.total.to_dict()
        return out

    def table(self) -> Block:
        head = ("Option", *(f"{c.label} (n={c.base:,})" for c in self.columns))
        if self.total is not None and not self.total.suppressed:
            head = (*head, f"All (n={self.total.base:,})")
        rows = []
        for option, label in self.options.items():
            cells = [label, *(self.cell_text(c, option) for c in self.columns)]
            if self.total is not None and not self.total.suppressed:
                cells.append(share_text(self.total, option) if option in self.total.shares else
                             "in other" if option in self.total.merged else "hidden")
            rows.append(tuple(cells))
        return Block("table", head=head, rows=tuple(rows))

    def blocks(self, charts: set[str]) -> list[Block]:
        blocks = [Block("h3", f"{self.title} by {self.by_title}")]
        if self.suppressed:
            return [*blocks, Block("p", self.suppressed)]
        blocks += [
            Block("p", f"One column per answer to “{self.by_title}” in {self.wave}: the share of each "
                       f"column's {self.base_word()} choosing each option, 95% interval in brackets. "
                       f"Cells of fewer than {self.k} people are hidden, and so are as many others as "
                       "it takes that no hidden cell can be worked out from the totals."),
            self.table(),
            Block("ul", items=tuple(self.findings())),
        ]
        if self.chart_file in charts:
            blocks.append(Block("img", self.alt_text(), src=self.chart_file))
        return blocks

    def chat_lines(self) -> list[str]:
        if self.suppressed:
            return [f"{self.title} by {self.by_title}: {self.suppressed}"]
        lines = [f"{self.title} by {self.by_title} ({self.wave}, share of each group's {self.base_word()}):"]
        for col in self.columns:
            cells = ", ".join(f"{self.options[o]} {self.cell_text(col, o)}" for o in self.options
                              if o in col.counts or o in col.hidden)
            lines.append(f"• {col.label} (n={col.base:,}): {cells}")
        lines += [f"• {line}" for line in self.findings() if "is the most common" in line]
        return lines

    def charts(self) -> dict[str, bytes]:
        if self.suppressed or not self.columns:
            return {}
        from analytics.charts_analyses import crosstab_heatmap

        return {self.chart_file: crosstab_heatmap(self)}


# -- building -----------------------------------------------------------------------------
def check_pair(qn: Questionnaire, question: str, by: str) -> tuple[Question, Question]:
    """The two questions of a cross-tab, or a one-line error saying what would work."""
    for qid in (question, by):
        if not qn.has_question(qid):
            known = ", ".join(q.id for q in qn.questions)
            raise UnknownQuestion(f"'{qid}' is not a question of {qn.id} (known: {known})")
    target, group = qn.question(question), qn.question(by)
    if target.id == group.id:
        raise CrossTabRefused(f"a cross-tab needs two different questions ('{question}' by itself)")
    if target.type not in TARGETS:
        hint = (" its texts are never shown; code them into themes with `stateof themes`"
                if target.type is QuestionType.text else
                " rank its rows with --rank" if target.type is QuestionType.grid else "")
        raise CrossTabRefused(f"'{question}' is a {target.type.value} question; a cross-tab shows a "
                              f"single, multi or country question.{hint}")
    if group.type not in GROUPINGS:
        raise CrossTabRefused(f"by: '{by}' is a {group.type.value} question; group by a single-choice "
                              "or country question (each respondent in one group)")
    return target, group


def _current(counts: GroupCounts, target: Question, group: Question) -> GroupCounts:
    """Stored (former) option ids mapped to the current ones."""
    opts, groups = option_map(target), option_map(group)
    cells: dict[tuple[str, str], int] = {}
    for (g, o), n in counts.cells.items():
        key = (groups.get(g, g), opts.get(o, o))
        cells[key] = cells.get(key, 0) + n
    bases: dict[str, int] = {}
    for g, n in counts.bases.items():
        bases[groups.get(g, g)] = bases.get(groups.get(g, g), 0) + n
    answered: dict[str, int] = {}
    for g, n in counts.answered.items():
        answered[groups.get(g, g)] = answered.get(groups.get(g, g), 0) + n
    return GroupCounts(bases=bases, cells=cells, answered=answered)


def _columns(group: Question, seg: GroupCounts, whole: GroupCounts | None, k: int) -> dict[str, str]:
    """Group option → its column key: small groups (or groups whose rest of the wave is small)
    merged with the next smallest, as for a `--where` on the group question."""
    sizes = {g: n for g, n in seg.bases.items() if g != NO_GROUP}
    extra: set[str] = set()
    if whole is not None:
        extra = {g for g, n in sizes.items() if too_small(whole.bases.get(g, 0) - n, k)}
    order = [o.id for o in group.choices]
    _, merged = merge_small(sizes, k, order, extra=extra)
    together = set(merged)
    if merged and sizes.get(OTHER, 0) > 0:
        together.add(OTHER)
    name = "+".join(sorted(together, key=lambda o: (order.index(o) if o in order else len(order), o)))
    return {g: (name if g in together else g) for g in sizes}


def _cell_table(
    target: Question, columns: dict[str, str], sides: dict[str, GroupCounts], options: list[str],
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int]]:
    """(side, column, option) → count and (side, column) → base, small groups merged; the
    NO_GROUP column holds those who skipped the group question."""
    cells: dict[tuple[str, str, str], int] = {}
    bases: dict[tuple[str, str], int] = {}
    for side, counts in sides.items():
        for g, n in counts.bases.items():
            col = columns.get(g, NO_GROUP if g == NO_GROUP else g)
            bases[(side, col)] = bases.get((side, col), 0) + n
        for (g, o), n in counts.cells.items():
            col = columns.get(g, NO_GROUP if g == NO_GROUP else g)
            cells[(side, col, o)] = cells.get((side, col, o), 0) + n
        if target.type is not QuestionType.multi:  # the column's people who skipped the question
            for (s, col), base in list(bases.items()):
                if s == side:
                    answered = sum(cells.get((side, col, o), 0) for o in options)
                    cells[(side, col, NO_ANSWER)] = max(0, base - answered)
    return cells, bases


def protect(
    target: Question, cells: dict[tuple[str, str, str], int], bases: dict[tuple[str, str], int],
    sides: list[str], columns: list[str], options: list[str], k: int,
) -> set[tuple[str, str, str]]:
    """The cells to hide (analytics.suppression) with every total a reader could know."""
    multi = target.type is QuestionType.multi
    rows = options if multi else [*options, NO_ANSWER]
    cols = [*columns, NO_GROUP]
    lines: list[list[Hashable]] = []
    for r in rows:  # the whole wave's count of each option (and of those who skipped)
        lines.append([(s, c, r) for s in sides for c in cols])
        if len(sides) > 1:
            lines.append([("in", c, r) for c in cols])  # the segment's count
            lines += [[(s, c, r) for s in sides] for c in cols]  # the whole wave's cell
    if not multi:  # a column's base: its options and those who skipped
        lines += [[(s, c, r) for r in rows] for s in sides for c in cols]
        if len(sides) > 1:
            lines += [[(s, c, r) for s in sides for r in rows] for c in cols]
    primary: list[Hashable] = []
    if multi:  # each option is a yes/no: a small "did not choose" group is hidden too
        primary = [(s, c, r) for s in sides for c in cols for r in rows
                   if too_small(bases.get((s, c), 0) - cells.get((s, c, r), 0), k)]
    undisplayed: list[Hashable] = [(s, c, r) for s in sides for c in cols for r in rows
                   if s != "in" or c == NO_GROUP or r == NO_ANSWER]
    table: dict[Hashable, int] = {(s, c, r): cells.get((s, c, r), 0)
                                  for s in sides for c in cols for r in rows}
    return {cell for cell in suppress(table, lines, k, primary=primary, undisplayed=undisplayed)
            if isinstance(cell, tuple) and len(cell) == 3}  # type: ignore[misc]


def _label(group: Question, key: str) -> str:
    parts = []
    for part in key.split("+"):
        opt = group.option(part)
        parts.append(opt.label if opt is not None else part)
    return " + ".join(parts)


async def build_crosstab(
    db: Database, summary: Summary, *, community_id: int, question: str, by: str,
) -> CrossTab:
    """The cross-tab of `question` by `by` in the summarised wave of `summary` (its segment
    and snapshot). Raises UnknownQuestion or CrossTabRefused with one line."""
    from analytics.service import counted_release, wave_segment

    k = summary.min_group_size
    async with db.session() as session:
        wave = await get_wave(session, community_id, summary.wave, summary.survey)
    qn = questionnaire_of(wave)
    target, group = check_pair(qn, question, by)
    qs = summary.question(target.id)
    total = qs.results.get(summary.wave) if qs is not None else None
    out = CrossTab(question=target.id, title=target.title, by=group.id, by_title=group.title,
                   wave=wave.label, options={}, total=total if isinstance(total, ChoiceResult) else None,
                   conditional=target.when is not None, k=k, synthetic=wave.synthetic)
    if summary.suppressed(summary.wave):
        out.suppressed = f"fewer than {k} respondents in {wave.label}: hidden."
        return out
    release = await counted_release(db, wave, k)
    if release is not None and release.held:
        out.suppressed = "live results held back until more respondents complete."
        return out
    released = release is not None
    segment = wave_segment(qn, wave, summary.where, summary.platform)
    if segment is None:
        out.suppressed = f"the segment's question was not asked in {wave.label}."
        return out
    found = condition_ids(qn, target)
    async with db.session() as session:
        seg = _current(await group_counts(session, wave_id=wave.id, question=target.id, by=group.id,
                                          segment=segment, released=released, condition=found), target, group)
        whole = None
        if segment != Segment():
            whole = _current(await group_counts(session, wave_id=wave.id, question=target.id, by=group.id,
                                                segment=Segment(), released=released, condition=found),
                             target, group)
    columns = _columns(group, seg, whole, k)
    order = [o.id for o in group.choices]
    keys = sorted(set(columns.values()), key=lambda c: min(
        (order.index(p) if p in order else len(order)) for p in c.split("+")))
    if not group.is_ordered and group.type is not QuestionType.country:
        keys.sort(key=lambda c: -sum(n for g, n in seg.bases.items() if columns.get(g) == c))
    if len(keys) < 2:
        out.suppressed = (f"fewer than two groups of '{group.title}' hold {k} or more respondents, so "
                          "there is nothing to compare.")
        return out
    option_ids = [o.id for o in target.choices] if target.type is not QuestionType.country else sorted(
        {o for side in (seg, whole) if side for (_, o) in side.cells})
    sides = {"in": seg, **({"rest": _minus(whole, seg)} if whole is not None else {})}
    cells, bases = _cell_table(target, columns, sides, option_ids)
    hidden = protect(target, cells, bases, list(sides), keys, option_ids, k)
    shown_options = [o for o in option_ids if any(cells.get(("in", c, o), 0) for c in keys)
                     or target.type is not QuestionType.country]
    if qs is not None and summary.labels.get(target.id):
        from analytics.ordering import option_order

        ranked = option_order(summary, qs)
        shown_options.sort(key=lambda o: ranked.index(o) if o in ranked else len(ranked))
    for o in shown_options:
        opt = target.option(o) if target.type is not QuestionType.country else None
        out.options[o] = opt.label if opt is not None else summary.option_label(target.id, o)
    for key in keys:
        col = Column(key=key, label=_label(group, key), base=bases.get(("in", key), 0),
                     additive=target.type is not QuestionType.multi)
        for o in shown_options:
            if ("in", key, o) in hidden:
                col.hidden.append(o)
            else:
                col.counts[o] = cells.get(("in", key, o), 0)
        out.columns.append(col)
    log.info("cross-tab %s by %s in wave %s: %d columns, %d hidden cells", target.id, group.id,
             wave.label, len(keys), sum(len(c.hidden) for c in out.columns))
    return out


def _minus(whole: GroupCounts | None, seg: GroupCounts) -> GroupCounts:
    """The rest of the wave: whole minus segment."""
    assert whole is not None
    return GroupCounts(
        bases={g: n - seg.bases.get(g, 0) for g, n in whole.bases.items()},
        cells={key: n - seg.cells.get(key, 0) for key, n in whole.cells.items()},
        answered={g: n - seg.answered.get(g, 0) for g, n in whole.answered.items()},
    )


__all__ = ["CrossTab", "CrossTabRefused", "Column", "build_crosstab", "check_pair", "protect"]
