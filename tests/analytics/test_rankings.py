"""Rankings of grid rows (`--rank tooling:looking`) and the ratio of two scale points per
row, with its interval; hidden points never ranked; the one-line refusals."""

from __future__ import annotations

import csv
import math

import pytest

from analytics.rankings import RankingRefused, build_ranking, ratio
from analytics.report import to_markdown
from analytics.service import build_summary
from surveys.importer import import_csv
from surveys.waves import ensure_community

SURVEY = "state-of-mlops"
# row → (looking, established, not relevant) of 60 respondents
GRID = {"model_monitoring": (30, 15, 15), "feature_store": (20, 30, 10), "code_repository": (2, 50, 8)}


def write_grid(path, grid=GRID, n=60) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["title", *(f"tooling.{row}" for row in grid)])
        for i in range(n):
            cells = []
            for looking, established, _ in grid.values():
                cells.append("looking" if i < looking else "established" if i < looking + established
                             else "not_relevant")
            out.writerow(["researcher", *cells])


async def _summary(services, tmp_path, compare=()):
    path = tmp_path / "w.csv"
    write_grid(path)
    async with services.db.session() as session:
        community = await ensure_community(session, "slack", "T1")
    await import_csv(services.db, community_id=community.id, questionnaire=services.catalog.get(SURVEY),
                     wave_label="2021", path=path)
    return await build_summary(services.db, community_id=community.id, survey_id=SURVEY, wave="2021")


def _wilson(x: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_ratio_interval_is_the_conditional_wilson_interval():
    r = ratio(30, 15)
    lo, hi = _wilson(30, 45)
    assert r.value == 2.0
    assert r.low == pytest.approx(lo / (1 - lo)) and r.high == pytest.approx(hi / (1 - hi))
    assert r.low < 2.0 < r.high and r.text().startswith("2.0× (")
    assert math.isinf(ratio(5, 0).value) and ratio(0, 0) is None


async def test_rows_ranked_by_one_point_with_the_ratio_to_another(services, tmp_path):
    summary = await _summary(services, tmp_path)
    ranking = build_ranking(summary, "tooling:Looking for a solution in the next 3 months/established")
    assert [r.row for r in ranking.rows] == ["model_monitoring", "feature_store", "code_repository"]
    first, second, small = ranking.rows
    assert first.share == 0.5 and first.base == 60 and first.ratio.value == 2.0
    assert second.share == pytest.approx(20 / 60) and second.ratio.value == pytest.approx(20 / 30)
    assert small.share is None and small.ratio is None  # 2 looking: merged, never ranked
    assert ranking.finding() == (
        "Most often “Looking for a solution in the next 3 months” in Tooling (2021): "
        "Model monitoring (50%) and Feature store (33%).")
    assert ranking.ratio_lines()[0].startswith(
        "Model monitoring: about twice as many answered “Looking for a solution in the next 3 months” as "
        "“Established tooling today” (2.0× (")
    data = ranking.to_dict()
    assert data["rows"][0]["ratio"]["value"] == 2.0 and data["rows"][2]["hidden"] is True
    summary.analyses.append(ranking)
    report = to_markdown(summary, {ranking.chart_file: b"png"})
    assert "| 1 | Model monitoring | 50% (38–62%) | 2.0× (1.1–3.7×) |" in report
    assert "| | Code repository | hidden |" in report.replace("|  |", "| |")
    assert "![Bar chart: rows of Tooling ranked by the share answering" in report
    assert "Code repository" in ranking.alt_text() and "hidden: Code repository" in ranking.alt_text()
    png = ranking.charts()[ranking.chart_file]
    assert png.startswith(b"\x89PNG")


async def test_rank_refusals_are_one_line(services, tmp_path):
    summary = await _summary(services, tmp_path)
    for text, words in [("tooling", "is not GRID:POINT"), ("title:researcher", "rank the rows of a grid"),
                        ("tooling:maybe", "is not a point of 'Tooling'"),
                        ("tooling:looking/looking", "two different points"), ("nope:x", "is not a question")]:
        with pytest.raises(Exception, match=words) as err:
            build_ranking(summary, text)
        assert "\n" not in str(err.value)
        assert isinstance(err.value, RankingRefused) or "nope" in text
