"""JSON, Markdown and chat lines from a hand-built summary."""

from __future__ import annotations

import json

from analytics.compare import adjust_significance, result_changes
from analytics.model import ChoiceResult, GridResult, QuestionSummary, Summary, TextResult, WaveInfo
from analytics.report import chat_lines, md, pct, points, to_json, to_markdown


def _summary(suppressed: bool = False) -> Summary:
    before = ChoiceResult(
        answered=194, shares={"monitoring": 0.13, "deploy": 0.40}, counts={"monitoring": 26, "deploy": 80},
        base=200,
    )
    after = ChoiceResult(
        answered=97, shares={"monitoring": 0.31, "deploy": 0.41}, counts={"monitoring": 31, "deploy": 41},
        base=100,
    )
    focus = QuestionSummary("focus", "multi", "Focus", {"2021": after, "2020": before})
    focus.changes["2020"] = result_changes("focus", before, after, "2020")
    significance = adjust_significance(focus.changes["2020"])
    grid = QuestionSummary(
        "tooling",
        "grid",
        "Tooling",
        {
            "2021": GridResult(
                rows={"ml_pipeline": ChoiceResult(answered=93, shares={"established": 0.5, "looking": 0.33},
                                                  counts={"established": 50, "looking": 33}, base=100)}
            )
        },
    )
    notes = QuestionSummary("notes", "text", "Notes | pipes", {"2021": TextResult(answered=12)})
    return Summary(
        survey="state-of-mlops",
        title="State of MLOps",
        wave="2021",
        compare=["2020"],
        min_group_size=5,
        waves={
            "2021": WaveInfo("2021", 100, 90, invited=250, suppressed=suppressed),
            "2020": WaveInfo("2020", 200, 180, imported=True),
        },
        questions=[focus, grid, notes],
        labels={
            "focus": {
                "title": "Focus",
                "options": {"monitoring": "Monitoring models in production", "deploy": "Deploying"},
            },
            "tooling": {
                "title": "Tooling",
                "rows": {"ml_pipeline": "ML pipeline"},
                "options": {"established": "Established", "looking": "Looking"},
            },
            "notes": {"title": "Notes | pipes", "options": {}},
        },
        significance=significance,
    )


def test_formatting_helpers():
    assert pct(0.312) == "31%" and pct(0.004) == "0.4%" and pct(0) == "0%" and pct(None) == "–"
    assert points(0.18) == "+18 pts" and points(-0.005) == "-0.5 pts"
    assert md("a|b *c*\nd") == "a\\|b \\*c\\* d"


def test_json_has_the_design_shape():
    data = json.loads(to_json(_summary()))
    assert data["respondents"] == {"2021": 100, "2020": 200}
    focus = data["questions"][0]
    assert focus["changes"]["monitoring"]["significant"] is True
    assert focus["changes"]["monitoring"]["p_adjusted"] == 0.0003589
    assert focus["results"]["2021"]["base"] == 100
    assert focus["results"]["2021"]["ci"]["monitoring"] == [0.2278, 0.4063]
    assert data["significance"]["method"] == "benjamini-hochberg"
    assert data["movers"][0]["option"] == "monitoring"
    assert json.loads(to_json(_summary(suppressed=True)))["respondents"]["2021"] is None


def test_markdown_reads_like_key_findings():
    text = to_markdown(_summary(), {"movers.png": b"", "focus.png": b""})
    assert text.startswith("# State of MLOps — 2021")
    assert "2021: 100 respondents (90 completed, 40% of 250 invited)" in text
    findings = text.index("## Key findings")
    assert (
        text.index("Focus — Monitoring models in production: 13% → 31% since 2020 (+18 pts), a significant rise")  # noqa: E501
        > findings
    )
    assert "![Biggest movers](movers.png)" in text and "![Focus](focus.png)" in text
    assert "| Monitoring models in production | 31% (23–41%) | 13% (9–18%) | +18 pts ↑ |" in text
    assert "**ML pipeline**" in text and "| Established | 50% (40–60%) |" in text
    assert "Answers — 2021: 93 answered of 100 respondents" in text
    assert "Benjamini–Hochberg correction for all 2 changes" in text
    assert "Notes \\| pipes" in text and "never quoted" in text
    assert "totals can be below 100%" in text
    hidden = to_markdown(_summary(suppressed=True))
    assert "Too few respondents" in hidden and "Key findings" not in hidden


def test_chat_lines_lead_with_movers_or_one_question():
    lines = chat_lines(_summary())
    assert lines[0].startswith("2021: 100 respondents")
    assert lines[1] == "Biggest significant changes since 2020:"
    rise = "Focus — Monitoring models in production: 13% → 31% since 2020 (+18 pts), a significant rise"
    assert lines[2] == f"• {rise}"
    one = chat_lines(_summary(), question="tooling")
    assert "• ML pipeline (93 answered): Established 50%, Looking 33% (±10 pts)" in one
    assert one[-1].startswith("“Significant” means the change's p-value stays below 0.05 after the "
                              "Benjamini–Hochberg correction")
    assert chat_lines(_summary(), question="nope")[-1] == "'nope' is not in this summary."
    assert len(chat_lines(_summary(suppressed=True))) == 1


def test_html_is_one_self_contained_page():
    from analytics.html import to_html

    png = b"\x89PNG\r\n\x1a\nfake"
    page = to_html(_summary(), {"movers.png": png, "focus.png": png})
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("data:image/png;base64,") == 2 and "src=\"movers.png\"" not in page
    assert "Notes | pipes" in page and "<script" not in page
    assert '<td class="up">+18 pts ↑</td>' in page
    hostile = _summary()
    hostile.labels["focus"]["options"]["monitoring"] = "<script>alert(1)</script>"
    assert "<script>" not in to_html(hostile) and "&lt;script&gt;" in to_html(hostile)


def test_a_segment_shows_no_response_rate():
    segment = _summary()
    segment.where = {"role": ["models"]}
    lines = chat_lines(segment)
    assert lines[0] == "2021: 100 respondents (90 completed)" and lines[1] == "Segment: role = models"


def test_html_reads_without_the_picture_and_at_aa_contrast():
    """A table of contents, captions and header scopes, chart numbers in the text alternative,
    and no colour pair in the page or the chart palette below WCAG AA (#D55E00 was 3.87:1)."""
    import re

    from analytics import palette
    from analytics.html import STYLE, html_report
    from tests.analytics.test_charts import make_summary

    page = html_report(make_summary())
    assert '<nav aria-label="Contents">' in page and 'href="#key-findings"' in page
    assert 'id="key-findings"' in page and page.count("<caption>") == page.count("<table>") > 0
    assert '<th scope="col">Option</th>' in page and '<th scope="row">Under $50k</th>' in page
    assert page.count("data:image/svg+xml;base64,") == 7 and "data:image/png" not in page
    alts = re.findall(r'<img alt="([^"]*)"', page)
    focus = next(a for a in alts if a.startswith("Bar chart, Focus."))
    assert "Monitoring models in production 31%" in focus and "13% to 31%" in focus
    assert "2024 hidden (fewer than 5)" in focus
    years = next(a for a in alts if "Years of experience" in a)
    assert "2026: median 5, middle half 3 to 9 (100 answers)" in years
    colours = set(re.findall(r"#[0-9a-fA-F]{6}\b", STYLE))
    assert "#d55e00" not in {c.lower() for c in colours}
    text_pairs = [(palette.DOWN, "#ffffff"), (palette.UP, "#ffffff"), (palette.MUTED, "#ffffff"),
                  (palette.INK, "#f6f8fa"), (palette.INK, "#fff8e6")]
    assert all(palette.contrast(fg, bg) >= palette.AA_TEXT for fg, bg in text_pairs)
    from analytics.charts import SCALE_COLOURS, WAVE_COLOURS
    for fill in {*SCALE_COLOURS, *WAVE_COLOURS}:  # percentages written on the bars
        assert palette.contrast(palette.text_on(fill), fill) >= palette.AA_TEXT, fill


def test_out_folder_holds_what_the_docs_say(tmp_path):
    """docs/analytics.md: `--out` writes summary.md (or .json) with a PNG per chart, or one
    self-contained summary.html."""
    from analytics.output import write_summary
    from tests.analytics.test_charts import make_summary

    page = write_summary(make_summary(), tmp_path / "html", "html")
    assert [p.name for p in page] == ["summary.html"]
    assert [p.name for p in (tmp_path / "html").iterdir()] == ["summary.html"]
    md = write_summary(make_summary(), tmp_path / "md", "md")
    assert md[0].name == "summary.md" and "movers.png" in {p.name for p in md}
    assert all(p.suffix == ".png" for p in md[1:])


def test_more_respondents_than_invited_is_no_percentage_above_100():
    """Before: members who answered without being on the invitation list (they joined the
    channel after the launch, or answered from another channel) gave "1333% of 3 invited"."""
    from dataclasses import replace

    from analytics.report import wave_line

    summary = _summary()
    summary.waves["2021"] = replace(summary.waves["2021"], invited=3)
    line = wave_line(summary, "2021")
    assert "%" not in line.split("completed", 1)[1], line
    assert "3 invited, 97 more answered without an invitation" in line
