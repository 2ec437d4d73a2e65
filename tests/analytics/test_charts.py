"""analytics.charts on hand-built Summary objects: which charts exist, what they draw (and
leave out), PNG size, determinism, speed, and no pyplot."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from matplotlib.patches import Rectangle

from analytics.charts import (
    MOVERS_FILE,
    movers_figure,
    question_chart,
    question_figure,
    render_charts,
)
from analytics.model import (
    Change,
    ChoiceResult,
    GridResult,
    NumberResult,
    QuestionSummary,
    Summary,
    TextResult,
    WaveInfo,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def choice(shares: dict[str, float], answered: int = 90, **kw) -> ChoiceResult:
    return ChoiceResult(answered=answered, shares=shares, **kw)


def make_summary(*, synthetic: bool = False, significant: bool = True) -> Summary:
    """Three waves: 2026 (n=120), 2025 (n=100) and 2024 (n=3, below the minimum of 5)."""
    waves = {
        "2026": WaveInfo("2026", 120, 110, synthetic=synthetic),
        "2025": WaveInfo("2025", 100, 95, synthetic=synthetic),
        "2024": WaveInfo("2024", 3, 3, suppressed=True, synthetic=synthetic),
    }
    salary = QuestionSummary("salary", "single", "Salary", results={
        "2026": choice({"low": 0.25, "mid": 0.45, "high": 0.2}),
        "2025": choice({"low": 0.4, "mid": 0.4, "high": 0.1}),
        "2024": ChoiceResult(answered=0, suppressed=True),
    }, changes={"2025": [
        Change("salary", "low", "2025", 0.4, 0.25, -0.15, 0.01, significant),
        Change("salary", "high", "2025", 0.1, 0.2, 0.1, 0.03, significant),
        Change("salary", "mid", "2025", 0.4, 0.45, 0.05, 0.4, False),
    ]})
    focus = QuestionSummary("focus", "multi", "Focus", results={
        "2026": choice({"deploy": 0.5, "monitoring": 0.31, "retraining": 0.3}),
        "2025": choice({"deploy": 0.45, "monitoring": 0.13}, hidden=["retraining"]),
        "2024": ChoiceResult(answered=0, suppressed=True),
    }, changes={"2025": [Change("focus", "monitoring", "2025", 0.13, 0.31, 0.18, 0.0002, significant)]})
    tooling = QuestionSummary("tooling", "grid", "Tooling", results={
        "2026": GridResult(rows={
            "pipeline": choice({"established": 0.5, "looking": 0.3, "not_relevant": 0.1}),
            "registry": choice({"established": 0.2, "looking": 0.4, "not_relevant": 0.35}),
        }),
        "2025": GridResult(rows={
            "pipeline": choice({"established": 0.3, "looking": 0.4, "not_relevant": 0.2}),
        }),
        "2024": GridResult(suppressed=True),
    }, changes={"2025": [
        Change("tooling", "established", "2025", 0.3, 0.5, 0.2, 0.001, significant, row="pipeline"),
    ]})
    new = QuestionSummary("new", "single", "New question", results={
        "2026": choice({"yes": 0.6, "no": 0.35}),
    })
    country = QuestionSummary("country", "country", "Country", results={
        "2026": choice({f"C{i:02d}": 0.04 + i / 1000 for i in range(20)}),
        "2025": choice({f"C{i:02d}": 0.05 for i in range(10)}),
    })
    years = QuestionSummary("years", "number", "Years of experience", results={
        "2026": NumberResult(answered=100, median=5, q1=3, q3=9),
        "2025": NumberResult(answered=90, median=4, q1=2, q3=7),
    })
    comment = QuestionSummary("comment", "text", "Comment", results={
        "2026": TextResult(answered=40), "2025": TextResult(answered=30),
    })
    labels = {
        "salary": {"title": "Salary", "text": "What do you earn?",
                   "options": {"low": "Under $50k", "mid": "$50k-$100k", "high": "$100k+"}},
        "focus": {"title": "Focus", "text": "What are you focusing on (up to 3)?",
                  "options": {"deploy": "Deploying models to production",
                              "monitoring": "Monitoring models in production",
                              "retraining": "Automating retraining of models"}},
        "tooling": {"title": "Tooling", "text": "Which tools?",
                    "rows": {"pipeline": "ML pipelines", "registry": "Model registry"},
                    "options": {"established": "Established tooling today",
                                "looking": "Looking for a solution in the next 3 months",
                                "not_relevant": "Not relevant at the moment"}},
        "new": {"title": "New question", "text": "Asked for the first time this year?",
                "options": {"yes": "Yes", "no": "No"}},
        "country": {"title": "Country", "options": {f"C{i:02d}": f"Country {i}" for i in range(20)}},
        "years": {"title": "Years of experience", "options": {}},
        "comment": {"title": "Comment", "options": {}},
    }
    return Summary(
        survey="demo", title="Demo", wave="2026", compare=["2025", "2024"], min_group_size=5,
        waves=waves, questions=[salary, focus, tooling, new, country, years, comment], labels=labels,
    )


def texts(fig) -> str:
    """Every piece of text drawn on a figure (wrapped lines re-joined), one per line."""
    found = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    return "\n".join(str(t).replace("\n", " ") for t in found)


def bars(fig) -> list[Rectangle]:
    """The data bars of a figure's main axes (legend patches and backgrounds excluded)."""
    return [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]


def test_a_png_per_chartable_question_and_movers():
    pngs = render_charts(make_summary())
    assert list(pngs) == [MOVERS_FILE, "salary.png", "focus.png", "tooling.png", "new.png",
                          "country.png", "years.png"]
    for name, data in pngs.items():
        width, height = png_size(data)
        assert width == 800, name
        assert 250 <= height <= 2000, name
        assert len(data) < 200_000, name


def test_free_text_is_never_charted():
    summary = make_summary()
    assert question_chart(summary, "comment") is None
    assert "comment.png" not in render_charts(summary)
    assert question_chart(summary, "no-such-question") is None


def test_suppressed_wave_is_not_drawn_but_named():
    summary = make_summary()
    fig = question_figure(summary, "salary")
    # 3 options x the 2 waves that can be shown; the suppressed 2024 draws no bar
    assert len(bars(fig)) == 6
    drawn = texts(fig)
    assert "2026 (n=120)" in drawn and "2025 (n=100)" in drawn
    assert "2024 (n=" not in drawn
    assert "2024: fewer than 5 respondents, not shown" in drawn


def test_grid_is_stacked_to_100_percent_per_wave_and_row():
    fig = question_figure(make_summary(), "tooling")
    by_bar: dict[float, float] = {}
    for patch in bars(fig):
        y = round(patch.get_y() + patch.get_height() / 2, 6)
        by_bar[y] = by_bar.get(y, 0.0) + patch.get_width()
    # pipeline in 2026 and 2025, registry in 2026 only (2025 did not ask that row)
    assert len(by_bar) == 3
    assert all(total == pytest.approx(1.0) for total in by_bar.values())
    drawn = texts(fig)
    assert "not asked" in drawn and "No answer" in drawn
    assert "50%" in drawn and "2024: fewer than 5 respondents" in drawn


def test_question_only_one_wave_asked():
    fig = question_figure(make_summary(), "new")
    assert len(bars(fig)) == 2
    drawn = texts(fig)
    assert "2025: question not asked" in drawn
    assert "60%" in drawn and "35%" in drawn


def test_hidden_option_is_marked_not_drawn_as_zero():
    fig = question_figure(make_summary(), "focus")
    assert len(bars(fig)) == 5  # retraining is hidden in 2025
    assert "hidden (fewer than 5)" in texts(fig)


def test_many_countries_are_capped_largest_first():
    fig = question_figure(make_summary(), "country")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 15
    assert labels[0] == "Country 19"  # the largest share this wave first
    assert "The 15 largest of 20 answers are shown." in texts(fig)


def test_dollar_signs_render_as_written():
    fig = question_figure(make_summary(), "salary")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert r"\$50k-\$100k" in labels  # escaped: mathtext would eat "$50k-$"
    assert question_chart(make_summary(), "salary")[:8] == PNG_SIGNATURE


def test_movers_show_significant_changes_only():
    fig = movers_figure(make_summary())
    drawn = texts(fig)
    assert "Biggest movers: 2026 vs 2025" in drawn
    assert "+18.0 pts" in drawn and "+20.0 pts" in drawn and "-15.0 pts" in drawn
    assert "+5.0 pts" not in drawn  # not significant
    assert "Monitoring models in production" in drawn and "ML pipelines: Established tooling today" in drawn


def test_no_significant_change_says_so():
    summary = make_summary(significant=False)
    fig = movers_figure(summary)
    assert "No significant changes between 2025 and 2026" in texts(fig)
    assert png_size(render_charts(summary)[MOVERS_FILE])[0] == 800


def test_no_movers_chart_without_a_comparison():
    summary = make_summary()
    summary.compare = []
    assert MOVERS_FILE not in render_charts(summary)
    summary = make_summary()
    summary.waves["2025"].suppressed = True
    assert movers_figure(summary) is None


def test_questions_filter():
    pngs = render_charts(make_summary(), ["focus"])
    assert set(pngs) == {MOVERS_FILE, "focus.png"}
    assert "Monitoring models in production" in texts(movers_figure(make_summary(), questions=["focus"]))
    assert "Under" not in texts(movers_figure(make_summary(), questions=["focus"]))


def test_synthetic_data_is_labelled():
    assert "Synthetic data" in texts(question_figure(make_summary(synthetic=True), "salary"))
    assert "Synthetic data" not in texts(question_figure(make_summary(), "salary"))


def test_segment_is_named():
    summary = make_summary()
    summary.where = {"salary": ["low", "mid"]}
    assert "Segment — Salary: Under \\$50k, \\$50k-\\$100k" in texts(question_figure(summary, "focus"))


def test_deterministic_and_pyplot_free_in_a_fresh_process():
    script = "\n".join([
        "import hashlib, json, sys",
        f"sys.path.insert(0, {str(ROOT)!r})",
        "from tests.analytics.test_charts import make_summary",
        "from analytics.charts import render_charts",
        "pngs = render_charts(make_summary(synthetic=True))",
        "print(json.dumps({k: hashlib.sha256(v).hexdigest() for k, v in pngs.items()}))",
        "print('matplotlib.pyplot' in sys.modules)",
    ])
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    hashes, pyplot = run.stdout.splitlines()
    assert pyplot == "False"
    here = {k: hashlib.sha256(v).hexdigest() for k, v in render_charts(make_summary(synthetic=True)).items()}
    again = {k: hashlib.sha256(v).hexdigest() for k, v in render_charts(make_summary(synthetic=True)).items()}
    assert here == again == json.loads(hashes)


def test_ten_questions_render_fast():
    summary = make_summary()
    base = [q for q in summary.questions if q.type != "text"]
    summary.questions = [QuestionSummary(f"{q.id}{i}", q.type, q.title, q.results, q.changes)
                         for i in range(2) for q in base][:10]
    summary.labels.update({f"{q.id}{i}": summary.labels[q.id] for i in range(2) for q in base})
    render_charts(summary, ["salary0"])  # warm up fonts
    started = time.process_time()  # CPU time: other processes on a busy machine do not count
    pngs = render_charts(summary)
    elapsed = time.process_time() - started
    assert len(pngs) == 11
    # about 2 s of CPU on an idle 2-core machine; CPU time still grows on a loaded one
    assert elapsed < 4.5, f"10 question charts and movers took {elapsed:.2f} s"


def test_community_text_is_escaped_once_and_unknown_glyphs_dropped():
    from analytics.charts import _esc

    assert _esc("$5-$10") == r"\$5-\$10"
    assert _esc(_esc("$5-$10")) == r"\$5-\$10"
    assert _esc("Ship it \N{ROCKET}") == "Ship it "


def test_lead_chart_draws_only_the_chart_a_chat_post_carries():
    from analytics.charts import lead_chart

    summary = make_summary()
    name, png = lead_chart(summary)
    assert name == MOVERS_FILE and png == render_charts(summary)[MOVERS_FILE]
    assert lead_chart(summary, "focus")[0] == "focus.png"
    assert lead_chart(summary, "comment")[0] == MOVERS_FILE  # free text has no chart of its own
    summary.compare = []
    assert lead_chart(summary)[0] == "salary.png"  # no comparison: the first question chart
