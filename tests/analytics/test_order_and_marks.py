"""One option order in table, chart and chat; intervals and significance marks on charts; a
hidden comparison wave named as hidden; `ordered` in the questionnaire schema."""

from __future__ import annotations

import pytest
from matplotlib.container import ErrorbarContainer

from analytics.charts import question_figure
from analytics.compare import adjust_significance, result_changes
from analytics.model import ChoiceResult, QuestionSummary, Summary, WaveInfo
from analytics.ordering import option_order
from analytics.report import chat_lines, report_blocks, to_markdown
from surveys.catalog import Catalog, QuestionnaireError, parse_questionnaire


def _cell(counts: dict[str, int], base: int) -> ChoiceResult:
    return ChoiceResult(answered=sum(counts.values()), shares={o: n / base for o, n in counts.items()},
                        counts=dict(counts), base=base)


def _summary(*, ordered: bool, hide_2025: bool = False) -> Summary:
    # listed small → large; by share the order is 51_200, 1000_plus, 11_50, 1_10, other
    now = _cell({"1_10": 10, "11_50": 20, "51_200": 60, "1000_plus": 40, "other": 5}, 150)
    then = _cell({"1_10": 30, "11_50": 20, "51_200": 25, "1000_plus": 20, "other": 5}, 110)
    size = QuestionSummary("size", "single", "Company size", {"2026": now, "2025": then}, ordered=ordered)
    size.changes["2025"] = result_changes("size", then, now, "2025")
    significance = adjust_significance(size.changes["2025"])
    labels = {"size": {"title": "Company size", "text": "How many people work at your company?", "options": {
        "1_10": "1-10", "11_50": "11-50", "51_200": "51-200", "1000_plus": "More than 1,000",
        "other": "Other"}}}
    return Summary(survey="s", title="S", wave="2026", compare=["2025"], min_group_size=5,
                   waves={"2026": WaveInfo("2026", 150, 150), "2025": WaveInfo("2025", 110, 110,
                                                                                 suppressed=hide_2025)},
                   questions=[size], labels=labels, significance=significance)


def _table_order(summary: Summary) -> list[str]:
    table = next(b for b in report_blocks(summary) if b.kind == "table")
    return [row[0] for row in table.rows]


def _chart_order(summary: Summary) -> list[str]:
    ax = question_figure(summary, "size").axes[0]
    return [t.get_text() for t in ax.get_yticklabels()]


def _chat_order(summary: Summary) -> list[str]:
    lines = chat_lines(summary, question="size")
    return [line[2:].split(" ")[0] for line in lines if line.startswith("• ") and "→" not in line]


@pytest.mark.parametrize(("ordered", "expected"), [
    (True, ["1-10", "11-50", "51-200", "More than 1,000", "Other"]),
    (False, ["51-200", "More than 1,000", "11-50", "1-10", "Other"]),
])
def test_table_chart_and_chat_list_options_in_one_order(ordered, expected):
    summary = _summary(ordered=ordered)
    assert [summary.option_label("size", o) for o in option_order(summary, summary.questions[0])] == expected
    assert _table_order(summary) == expected
    assert _chart_order(summary) == expected
    assert _chat_order(summary) == [label.split(" ")[0] for label in expected]


def test_charts_draw_intervals_and_mark_significant_changes():
    summary = _summary(ordered=True)
    fig = question_figure(summary, "size")
    (whiskers,) = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(whiskers.lines[2][0].get_segments()) == 10  # every share of both waves
    drawn = [t.get_text() for t in fig.axes[0].texts]
    significant = {c.option for c in summary.questions[0].changes["2025"] if c.significant}
    assert significant == {"1_10", "51_200"}
    assert "7% ↓" in drawn and "40% ↑" in drawn  # 1-10: 27% → 7%; 51-200: 23% → 40%
    assert "13% ↑" not in drawn and "13%" in drawn  # 11-50 did not change significantly
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "95% interval (Wilson)" in notes and "Benjamini–Hochberg" in notes


def test_a_hidden_comparison_wave_is_named_not_reported_as_no_change():
    summary = _summary(ordered=True, hide_2025=True)
    summary.questions[0].changes = {}
    summary.where = {"role": ["lead"]}
    lines = chat_lines(summary)
    hidden = "2025 hidden (fewer than 5 respondents in this segment), so there is nothing to compare with."
    assert hidden in lines
    assert not any("No significant changes" in line for line in lines)
    text = to_markdown(summary)
    assert "2025 hidden (fewer than 5" in text and "No significant changes" not in text


def test_ordered_is_a_schema_field_and_numeric_ranges_are_ordered_by_default():
    qn = Catalog().get("state-of-mlops", version=1)
    assert [q.id for q in qn.questions if q.is_ordered] == ["company_size", "ml_headcount", "team_outlook"]
    ranges = parse_questionnaire("""
id: r
title: R
questions:
  - id: salary
    type: single
    text: Salary
    options: [{id: a, label: "Under $50k"}, {id: b, label: "$50k-$100k"}, {id: c, label: "More than $100k"}]
  - id: tools
    type: multi
    text: Tools
    options: [{id: s3, label: S3}, {id: ec2, label: EC2}]
  - id: colour
    type: single
    text: Colour
    ordered: false
    options: [{id: a, label: "1 red"}, {id: b, label: "2 blue"}]
""")
    assert [q.is_ordered for q in ranges.questions] == [True, False, False]
    with pytest.raises(QuestionnaireError, match=r"questions\[0\]\.ordered: only single and multi"):
        parse_questionnaire("""
id: r
title: R
questions:
  - {id: notes, type: text, text: Notes, ordered: true}
""")
