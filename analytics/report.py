"""A summary as JSON, as a Markdown report (key findings first), and as short chat lines.

Labels come from community questionnaires (untrusted text): Markdown output escapes the
characters that would change a table or inject markup; chat lines are plain text that the
platform adapters escape for their own markup.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass

from analytics.model import (
    OTHER,
    Change,
    ChoiceResult,
    GridResult,
    Mover,
    NumberResult,
    QuestionSummary,
    Result,
    Summary,
    TextResult,
)
from analytics.ordering import option_order
from analytics.stats import METHOD_TEXT

log = logging.getLogger(__name__)

SHARES_NOTE = (
    "Shares are of each question's base: the wave's respondents (“of N respondents”), or for a "
    "question shown only to some, those it was asked (“of N asked”). So totals can be below 100% "
    "where people skipped a question, and above 100% where they could pick several options "
    "(multi-choice shares are of everyone asked too, not only of those who picked something). "
    "In brackets: the 95% interval (Wilson) of each share."
)


def to_json(summary: Summary, indent: int | None = 2) -> str:
    """The summary JSON of DESIGN.md."""
    return json.dumps(summary.to_dict(), indent=indent, ensure_ascii=False)


def pct(share: float | None) -> str:
    """0.312 → '31%'; shares under 1% keep one decimal so a small group is not shown as 0%."""
    if share is None:
        return "–"
    value = share * 100
    if 0 < value < 1:
        return f"{value:.1f}%"
    return f"{value:.0f}%"


def interval(bounds: tuple[float, float] | None) -> str:
    """(0.227, 0.407) → '23–41%'; '' when there is none."""
    if bounds is None:
        return ""
    lo, hi = (pct(b).removesuffix("%") for b in bounds)
    return f"{lo}–{hi}%"


def share_text(cell: ChoiceResult, option: str) -> str:
    """'31% (23–41%)': a share with its 95% interval."""
    bounds = interval(cell.interval(option))
    return f"{pct(cell.shares[option])} ({bounds})" if bounds else pct(cell.shares[option])


def comparison_note(summary: Summary) -> str | None:
    """Why nothing is compared although a wave was asked for: '2025 hidden (fewer than 5)'."""
    if not summary.compare:
        return None
    against = summary.compare[0]
    if not summary.suppressed(against):
        return None
    where = " in this segment" if summary.segmented else ""
    return (f"{against} hidden (fewer than {summary.min_group_size} respondents{where}), so there is "
            f"nothing to compare with.")


def points(delta: float) -> str:
    """0.18 → '+18 pts'."""
    value = delta * 100
    if abs(value) < 0.05:
        return "±0 pts"
    return f"{value:+.0f} pts" if abs(value) >= 0.95 else f"{value:+.1f} pts"


def direction(change: Change | Mover) -> str:
    """'a significant rise' / 'a significant fall' / 'no significant change' (significant:
    after the Benjamini–Hochberg correction over every change of the summary)."""
    survives = change.significant if isinstance(change, Change) else change.change.significant
    if not survives:
        return "no significant change"
    return "a significant rise" if change.delta > 0 else "a significant fall"


def mover_line(mover: Mover) -> str:
    """The question, the option (or grid row), both shares, the change and what it means:
    'Focus — Monitoring models in production: 13% → 31% since 2020 (+18 pts), a significant rise'."""
    shares = f"{pct(mover.before)} → {pct(mover.after)} since {mover.compare}"
    return f"{mover.question_label} — {mover.label}: {shares} ({points(mover.delta)}), {direction(mover)}"


def segment_text(summary: Summary) -> str:
    """'role = models_and_infra, models; platform = slack' or '' for everyone."""
    parts = [f"{key} = {', '.join(values)}" for key, values in summary.where.items()]
    if summary.platform:
        parts.append(f"platform = {summary.platform}")
    return "; ".join(parts)


def _column(summary: Summary, label: str) -> str:
    """A table column's title: the wave's label, marked when it is a report's published figures."""
    info = summary.waves.get(label)
    return f"{label} (published)" if info is not None and info.published else label


PUBLISHED_NOTE = ("Columns marked “published” are a report's published figures (stateof import-reference), "
                  "not this community's answers; they are compared with the same test when the report "
                  "gives their base, and shown untested when it does not.")


def wave_line(summary: Summary, label: str) -> str:
    """'2026: 380 respondents (352 completed, 41% of 927 invited)', for a live wave '2026: based
    on the first 40 respondents (…)', or a suppression note."""
    info = summary.waves[label]
    k = summary.min_group_size
    if info.held:
        return (f"{label}: live results held back until at least {k} more respondents complete "
                "(a member withdrew their answers)")
    if info.suppressed:
        return f"{label}: fewer than {k} respondents, results hidden"
    if info.published:
        return f"{label}: {info.published_text()}" + (f" ({info.source})" if info.source else "")
    parts = [] if info.completed is None else [f"{info.completed} completed"]
    if info.invited and not summary.segmented:  # invitations are not known per segment
        if info.respondents <= info.invited:
            parts.append(f"{info.respondents / info.invited:.0%} of {info.invited} invited")
        else:  # members who joined the channel after the launch, or answered from elsewhere
            parts.append(f"{info.invited} invited, {info.respondents - info.invited} more answered "
                         "without an invitation")
    if info.covers is not None:  # an open wave: its released snapshot (analytics.releases)
        text = f"{label}: based on the first {info.covers} respondents"
        if info.respondents != info.covers:
            text += f", {info.respondents} of them in this segment"
        parts.append(f"live results advance in steps of at least {k}")
    else:
        text = f"{label}: {info.respondents} respondents"
    text += f" ({', '.join(parts)})" if parts else ""
    tags = [t for t, on in (("imported", info.imported), ("synthetic", info.synthetic)) if on]
    return text + (f" [{', '.join(tags)}]" if tags else "")


# -- chat ---------------------------------------------------------------------------------
def _half_width(cell: ChoiceResult) -> str:
    """'±5 pts': the widest 95% interval of a row, for lines too short to give each one."""
    widths = [(hi - lo) / 2 for lo, hi in cell.ci.values()]
    return f"±{max(widths) * 100:.0f} pts" if widths else ""


def _question_chat(summary: Summary, qs: QuestionSummary) -> list[str]:
    result = qs.results.get(summary.wave)
    if result is None:
        return [f"{qs.title}: not asked in {summary.wave}."]
    if getattr(result, "suppressed", False):
        return [f"{qs.title}: fewer than {summary.min_group_size} answers, hidden."]
    base = qs.base_text(result)
    lines = [f"{qs.title} ({summary.wave}{', ' + base if base else ''}):"]
    if isinstance(result, ChoiceResult):
        shown = [o for o in option_order(summary, qs, limit=8) if o in result.shares]
        lines += [f"• {summary.option_label(qs.id, o)} {share_text(result, o)}" for o in shown]
    elif isinstance(result, GridResult):
        for row, cell in result.rows.items():
            if cell.suppressed:
                lines.append(f"• {summary.row_label(qs.id, row)}: hidden (few answers)")
            else:
                shares = ", ".join(f"{summary.option_label(qs.id, o)} {pct(cell.shares[o])}"
                                   for o in option_order(summary, qs, row) if o in cell.shares)
                lines.append(f"• {summary.row_label(qs.id, row)} ({cell.answered} answered): {shares} "
                             f"({_half_width(cell)})")
    elif isinstance(result, NumberResult):
        lines.append(f"• median {result.median:g} (middle half {result.q1:g}–{result.q3:g}), "
                     f"{result.answered} answers" if result.median is not None else "• no answers yet")
    elif isinstance(result, TextResult):
        lines.append(f"• {result.answered} written answers (texts are not shown in summaries)")
    against = summary.compare[0] if summary.compare else None
    significant = [c for c in qs.changes.get(against or "", []) if c.significant and c.option != OTHER]
    for ch in sorted(significant, key=lambda c: -abs(c.delta))[:3]:
        label = summary.option_label(qs.id, ch.option)
        if ch.row:
            label = f"{summary.row_label(qs.id, ch.row)}: {label}"
        lines.append(f"• {label}: {pct(ch.before)} → {pct(ch.after)} since {ch.compare} "
                     f"({points(ch.delta)}), {direction(ch)}")
    return lines


def chat_lines(summary: Summary, question: str | None = None, max_movers: int = 5) -> list[str]:
    """A few plain lines for a chat message: who answered, the biggest movers (or one question)."""
    lines = [wave_line(summary, summary.wave)]
    if summary.segmented:
        lines.append(f"Segment: {segment_text(summary)}")
    if summary.suppressed(summary.wave):
        return lines
    if question:
        qs = summary.question(question)
        if qs is None:
            return [*lines, f"'{question}' is not in this summary."]
        hidden = comparison_note(summary)
        extra = [line for analysis in summary.analyses for line in analysis.chat_lines()]
        return (lines + _question_chat(summary, qs) + extra + ([hidden] if hidden else [])
                + _chat_footer(summary))
    if summary.analyses:  # a ranking or cross-tab asked for in chat: it is the answer
        return lines + [line for a in summary.analyses for line in a.chat_lines()] + _chat_footer(summary)
    hidden = comparison_note(summary)
    movers = summary.movers(limit=max_movers)
    if hidden:
        lines.append(hidden)
    elif movers:
        lines.append(f"Biggest significant changes since {summary.compare[0]}:")
        lines += [f"• {mover_line(m)}" for m in movers]
    elif summary.compare:
        lines.append(f"No significant changes since {summary.compare[0]}.")
    else:
        lines.append("No earlier wave to compare with yet.")
    lines += _chat_footer(summary)
    return lines


def _chat_footer(summary: Summary) -> list[str]:
    lines = []
    if summary.significance.tests:
        lines.append(summary.significance.footer())
    if any(summary.waves[label].synthetic for label in summary.waves):
        lines.append("(synthetic demo data)")
    return lines


# -- the report document ------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """One piece of the report, rendered by `to_markdown` here and `analytics.html.to_html`.

    kind: h1 h2 h3 p note quote ul ol table img; `text` is plain (unescaped) text, `items`
    list items, `head`/`rows` a table and `caption` what it shows, `src` an image file name.
    """

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()
    head: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    src: str = ""
    caption: str = ""


def _change_cell(changes: dict[str, Change], key: str) -> str:
    ch = changes.get(key)
    if ch is None:
        return ""
    mark = " ↑" if ch.significant and ch.delta > 0 else " ↓" if ch.significant else ""
    return f"{points(ch.delta)}{mark}"


def _result_cell(result: Result | None, option: str, row: str = "") -> str:
    if result is None:
        return "not asked"
    if getattr(result, "suppressed", False):
        return "hidden"
    cell = result.rows.get(row) if isinstance(result, GridResult) else result
    if not isinstance(cell, ChoiceResult):
        return "not asked"
    if cell.suppressed:
        return "hidden"
    if option in cell.shares:
        return share_text(cell, option)
    if option in cell.merged:
        return "in other"
    if option in cell.hidden:
        return "hidden"
    return "not offered"  # this wave's questionnaire did not have the option


def _published(summary: Summary, label: str) -> bool:
    info = summary.waves.get(label)
    return info is not None and info.published


def _published_cell(result: Result | None, option: str, row: str = "") -> str:
    """A report's published share, or "not published" (never "not offered": we do not know)."""
    cell = result.rows.get(row) if isinstance(result, GridResult) else result
    if isinstance(cell, ChoiceResult) and option in cell.shares:
        return share_text(cell, option)
    return "not published"


def _choice_table(summary: Summary, qs: QuestionSummary, waves: list[str], row: str = "") -> Block:
    what = f"{qs.title}, {summary.row_label(qs.id, row)}" if row else qs.title
    against = summary.compare[0] if summary.compare else None
    changes = {c.option: c for c in qs.changes.get(against or "", []) if c.row == row}
    options = option_order(summary, qs, row)
    head = ("Option", *(_column(summary, label) for label in waves)) + (
        (f"Change vs {against}",) if changes else ())
    rows = []
    for option in options:
        cells = [summary.option_label(qs.id, option)]
        cells += [_published_cell(qs.results.get(label), option, row) if _published(summary, label)
                  else _result_cell(qs.results.get(label), option, row) for label in waves]
        if changes:
            cells.append(_change_cell(changes, option))
        rows.append(tuple(cells))
    return Block("table", head=head, rows=tuple(rows),
                 caption=f"{what}: share of each wave's base, with the 95% interval")


def _number_table(qs: QuestionSummary, asked: list[str]) -> Block:
    rows = []
    for label in asked:
        r = qs.results[label]
        if isinstance(r, NumberResult) and not r.suppressed and r.median is not None:
            rows.append((label, f"{r.median:g}", f"{r.q1:g}–{r.q3:g}", str(r.answered)))
        else:
            rows.append((label, "hidden", "", ""))
    return Block("table", head=("Wave", "Median", "Middle half", "Answered"), rows=tuple(rows),
                 caption=f"{qs.title}: median and middle half of the answers by wave")


def _question_blocks(
    summary: Summary, qs: QuestionSummary, waves: list[str], charts: set[str]
) -> list[Block]:
    blocks = [Block("h3", qs.title)]
    text = summary.labels.get(qs.id, {}).get("text")
    if text and text != qs.title:
        blocks.append(Block("note", str(text)))
    asked = [label for label in waves if label in qs.results]
    if not asked:
        return [*blocks, Block("p", "Not asked in these waves.")]
    answered = []
    for label in asked:
        res = qs.results[label]
        if _published(summary, label):
            answered.append(f"{label}: {summary.waves[label].published_text()}")
        elif getattr(res, "suppressed", False):
            answered.append(f"{label}: hidden")
        elif not isinstance(res, GridResult):
            answered.append(f"{label}: {res.answered} answered {qs.base_text(res)}".rstrip())
    if answered:
        blocks.append(Block("p", "Answers — " + "; ".join(answered)))
    if qs.type == "text":
        blocks.append(Block("p", "Free-text answers are counted here, never quoted."))
    elif qs.type == "number":
        blocks.append(_number_table(qs, asked))
    elif qs.type == "grid":
        rows: list[str] = []
        for label in asked:
            res = qs.results[label]
            if isinstance(res, GridResult):
                rows += [r for r in res.rows if r not in rows]
        for row in rows:
            bases = []
            for label in asked:
                res = qs.results[label]
                cell = res.rows.get(row) if isinstance(res, GridResult) else None
                if _published(summary, label):
                    bases.append(f"{label}: {summary.waves[label].published_text()}")
                elif cell is None:
                    bases.append(f"{label}: not asked")
                elif cell.suppressed or res.suppressed:
                    bases.append(f"{label}: hidden")
                else:
                    bases.append(f"{label}: {cell.answered} answered {qs.base_text(res, row)}".rstrip())
            blocks += [Block("h4", summary.row_label(qs.id, row)),
                       Block("p", "Answers — " + "; ".join(bases)), _choice_table(summary, qs, asked, row)]
    else:
        blocks.append(_choice_table(summary, qs, asked))
    src = _chart_src(charts, qs.id)
    if src:
        blocks.append(Block("img", qs.title, src=src))
    return blocks


def _chart_src(names: set[str], name: str) -> str:
    """The file of a chart among those rendered (PNG or SVG), or ''."""
    return next((f"{name}.{ext}" for ext in ("png", "svg") if f"{name}.{ext}" in names), "")


def report_blocks(summary: Summary, charts: Collection[str] = ()) -> list[Block]:
    """The report: headline numbers, biggest movers, then every question (charts linked)."""
    names = set(charts)
    waves = [label for label in summary.labels_in_order if label in summary.waves]
    blocks = [Block("h1", f"{summary.title} — {summary.wave}")]
    if any(summary.waves[label].synthetic for label in waves):
        blocks.append(Block("quote", "Synthetic data. These answers were generated by the stateof demo; "
                                     "they describe no real community."))
    if summary.segmented:
        blocks.append(Block("p", f"Segment: {segment_text(summary)}"))
    blocks += [Block("h2", "Who answered"), Block("ul", items=tuple(wave_line(summary, w) for w in waves)),
               Block("note", f"{SHARES_NOTE} Groups smaller than {summary.min_group_size} are hidden "
                             "or merged into “other”.")]
    if any(summary.waves[label].published for label in waves):
        blocks.append(Block("note", PUBLISHED_NOTE))
    if summary.suppressed(summary.wave):
        return [*blocks, Block("p", "Too few respondents in this wave to show results.")]
    blocks.append(Block("h2", "Key findings"))
    movers = summary.movers(limit=10)
    hidden = comparison_note(summary)
    sig = summary.significance
    method = (f"two-proportion z-test; {METHOD_TEXT} over all {sig.tests} changes of this summary, "
              f"false discovery rate {sig.q:.0%}")
    if hidden:
        blocks.append(Block("p", hidden))
    elif movers:
        blocks += [Block("p", f"Biggest significant changes since {summary.compare[0]} ({method}):"),
                   Block("ol", items=tuple(mover_line(m) for m in movers))]
        if _chart_src(names, "movers"):
            blocks.append(Block("img", "Biggest movers", src=_chart_src(names, "movers")))
    elif summary.compare:
        blocks.append(Block("p", f"No significant changes since {summary.compare[0]} ({method})."))
    else:
        blocks.append(Block("p", "This is the first wave: nothing to compare with yet."))
    blocks.append(Block("h2", "Questions"))
    for qs in summary.questions:
        blocks += _question_blocks(summary, qs, waves, names)
    if summary.analyses:  # cross-tabs, rankings, numbers (analytics.sections)
        blocks.append(Block("h2", "Analyses"))
        for analysis in summary.analyses:
            blocks += analysis.blocks(names)
    blocks.append(Block("h2", "How to read the numbers"))
    notes = []
    if sig.tests:
        notes.append(f"{sig.footer()} ↑ and ↓ mark those changes. {sig.raw_below_q} of the {sig.tests} "
                     f"changes had a raw p-value below {sig.q:g}; {sig.discoveries} remain significant after "
                     "the correction.")
    notes.append("An option a wave's questionnaire did not offer is “not offered” there: no 0%, no change.")
    return [*blocks, Block("note", " ".join(notes))]


# -- markdown -----------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def md(text: str) -> str:
    """Escape text from a questionnaire for Markdown (tables included); newlines become spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _md_block(block: Block) -> list[str]:
    kind = block.kind
    if kind in ("h1", "h2", "h3"):
        return [f"{'#' * int(kind[1])} {md(block.text)}", ""]
    if kind == "h4":
        return [f"**{md(block.text)}**", ""]
    if kind == "note":
        return [f"_{md(block.text)}_", ""]
    if kind == "quote":
        return [f"> {md(block.text)}", ""]
    if kind in ("ul", "ol"):
        marks = [f"{i}." if kind == "ol" else "-" for i in range(1, len(block.items) + 1)]
        return [f"{m} {md(item)}" for m, item in zip(marks, block.items, strict=True)] + [""]
    if kind == "table":
        lines = ["| " + " | ".join(md(h) for h in block.head) + " |", "|" + "---|" * len(block.head)]
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in block.rows]
        return [*lines, ""]
    if kind == "img":
        return [f"![{md(block.text)}]({block.src})", ""]
    return [md(block.text), ""]


def to_markdown(summary: Summary, charts: Collection[str] = ()) -> str:
    """The report as Markdown, charts linked as files next to it."""
    lines = [line for block in report_blocks(summary, charts) for line in _md_block(block)]
    return "\n".join(lines).rstrip() + "\n"
