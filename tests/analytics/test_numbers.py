"""Number questions: median and quartiles across waves, a histogram whose small bins are hidden
(with a complement, so the total does not give them back), and the Mann–Whitney change."""

from __future__ import annotations

import csv
import math

import numpy as np

from analytics.numbers import bin_counts, build_number_stats, mann_whitney, nice_edges, protect_bins
from analytics.report import to_markdown
from analytics.service import build_summary
from bot.commands import Commands, Invocation
from surveys.catalog import parse_questionnaire
from surveys.importer import import_csv

TEAM = """
id: team-survey
version: 1
title: Team survey
questions:
  - {id: role, type: single, text: Role, options: [{id: models, label: Models}, {id: infra, label: Infra}]}
  - {id: years, type: number, text: Years of experience, short: Experience, min: 0, max: 50}
"""
# 2020: 40 people with 1..9 years; 2021: 50 people, most a little more senior, one with 45
WAVES = {
    "2020": [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 7, 7, 8] * 2,
    "2021": [3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19] * 2,
}
WAVES["2021"][-1] = 45


def write_wave(path, values) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["role", "years"])
        for i, v in enumerate(values):
            out.writerow(["models" if i % 2 else "infra", v])


async def imported(services, tmp_path) -> int:
    qn = parse_questionnaire(TEAM)
    services.catalog.add(qn)
    community = await services.community_for("slack", "T1")
    for label, values in WAVES.items():
        path = tmp_path / f"{label}.csv"
        write_wave(path, values)
        await import_csv(services.db, community_id=community.id, questionnaire=qn, wave_label=label,
                         path=path)
    return community.id


def test_edges_are_round_and_cover_every_value():
    assert nice_edges([1, 9], integer=True) == [1, 2, 3, 4, 5, 6, 7, 8, 9]  # the last bin holds 9
    edges = nice_edges([1, 45], integer=True)
    assert edges[0] <= 1 and edges[-1] >= 45 and len(edges) - 1 <= 9
    assert len({round(b - a, 9) for a, b in zip(edges, edges[1:], strict=False)}) == 1
    assert sum(bin_counts([0.3, 0.7, 2.2], nice_edges([0.3, 2.2], integer=False))) == 3


def test_a_lone_small_bin_gets_a_complement():
    assert protect_bins([10, 12, 3, 9], None, 5) == [2, 3]  # 3 alone: total minus the rest
    assert protect_bins([10, 0, 12], None, 5) == []
    assert protect_bins([10, 2, 2, 9], None, 5) == [1, 2, 3]  # 2 + 2 is still a small group


def test_mann_whitney_matches_the_textbook_normal_approximation():
    a, b = [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]
    # U = 0; mean 12.5; sd sqrt(5*5*11/12); two-sided p
    z = (0 - 12.5) / math.sqrt(25 * 11 / 12)
    assert mann_whitney(a, b) == math.erfc(abs(z) / math.sqrt(2))
    assert mann_whitney([1, 1], [1, 1]) is None and mann_whitney([], [1]) is None


async def test_histograms_across_waves_hide_small_bins(services, tmp_path):
    community_id = await imported(services, tmp_path)
    summary = await build_summary(services.db, community_id=community_id, survey_id="team-survey",
                                  wave="2021", compare=["2020"])
    stats = await build_number_stats(services.db, summary, community_id=community_id, question="years")
    now, before = stats.waves
    assert (now.label, before.label) == ("2021", "2020")
    assert now.result.median == float(np.median(WAVES["2021"]))
    assert sum(now.counts) == 50 and sum(before.counts) == 40
    top = len(stats.edges) - 2  # the bin holding 45: two people (45 and one other senior) or one
    for w in (now, before):
        small = [i for i, n in enumerate(w.counts) if 0 < n < 5]
        assert set(small) <= set(w.hidden)
        if w.hidden:  # never one hidden bin alone, and together at least k
            assert len(w.hidden) >= 2 and sum(w.counts[i] for i in w.hidden) >= 5
    assert top in now.hidden
    assert stats.p_value == mann_whitney(WAVES["2021"], WAVES["2020"]) and stats.p_value < 0.001
    summary.analyses.append(stats)
    report = to_markdown(summary, {stats.chart_file: b"png"})
    assert "### Experience: distribution" in report
    assert f"Median {np.median(WAVES['2020']):g} in 2020 → {np.median(WAVES['2021']):g} in 2021" in report
    assert "![Histogram of Experience, share of answers per bin. 2021 (n=50, median" in report
    assert "45" not in stats.alt_text().split("median")[1].split(";")[0].replace("45–", "")
    assert stats.charts()[stats.chart_file].startswith(b"\x89PNG")


async def test_results_for_a_number_question_in_chat(services, tmp_path):
    community_id = await imported(services, tmp_path)
    assert community_id
    reply = await Commands(services).run(Invocation("slack", "T1", "C1", "U_MOD", True, "results",
                                                    {"question": "years", "wave": "2021"}))
    assert "Experience, share of answers per bin:" in reply.text
    assert "• 2021: 0–10 64%, 10–20 hidden, 20–30 0%, 30–40 0%, 40–50 hidden" in reply.text
    assert "• 2020: 0–10 100%, 10–20 0%" in reply.text
    assert "Median 4.5 in 2020 → 8 in 2021 (+3.5; Mann–Whitney p = 1.5e-08" in reply.text
    (chart,) = reply.attachments
    assert chart.filename == "numbers-years.png" and chart.data.startswith(b"\x89PNG")

