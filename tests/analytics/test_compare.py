"""Two-proportion z-test and changes: known answers computed by hand."""

from __future__ import annotations

import math

import pytest

from analytics.compare import adjust_significance, choice_changes, result_changes, two_proportion_test
from analytics.model import Change, ChoiceResult, GridResult
from analytics.stats import benjamini_hochberg, wilson_interval


def test_z_test_matches_hand_calculation():
    # 2020: 26 of 200 (13%), 2021: 31 of 100 (31%). pooled p = 57/300 = 0.19,
    # se = sqrt(0.19 * 0.81 * (1/200 + 1/100)) = 0.048047, z = 0.18 / se = 3.7463.
    z, p = two_proportion_test(26, 200, 31, 100)
    assert z == pytest.approx(3.7463, abs=1e-4)
    assert p == pytest.approx(0.00017943, rel=1e-3)


def test_small_change_is_not_significant():
    z, p = two_proportion_test(10, 100, 12, 100)
    assert z == pytest.approx(0.45198, abs=1e-4)
    assert p == pytest.approx(0.65128, abs=1e-4)


def test_no_variance_means_no_evidence():
    assert two_proportion_test(0, 50, 0, 80) == (0.0, 1.0)
    assert two_proportion_test(50, 50, 80, 80) == (0.0, 1.0)
    with pytest.raises(ValueError):
        two_proportion_test(0, 0, 1, 10)


def test_choice_changes_from_counts_and_shares():
    before = ChoiceResult(answered=194, shares={"monitoring": 0.13, "deploy": 0.40},
                          counts={"monitoring": 26, "deploy": 80}, base=200)
    after = ChoiceResult(answered=97, shares={"monitoring": 0.31, "deploy": 0.41, "new": 0.2},
                         counts={"monitoring": 31, "deploy": 41, "new": 20}, base=100)
    changes = {c.option: c for c in choice_changes("focus", before, after, "2020")}
    assert set(changes) == {"monitoring", "deploy"}  # an option only one wave had: no change
    mon = changes["monitoring"]
    assert (mon.before, mon.after) == (0.13, 0.31)
    assert mon.delta == pytest.approx(0.18)
    assert mon.p_value == pytest.approx(0.00017943, rel=1e-3)
    assert not mon.significant  # nothing is significant before the summary-wide correction
    significance = adjust_significance(changes.values())
    assert significance.tests == 2 and significance.discoveries == 1
    assert mon.significant and mon.p_adjusted == pytest.approx(2 * 0.00017943, rel=1e-3)
    assert not changes["deploy"].significant
    assert mon.to_dict() == {"from": 0.13, "to": 0.31, "delta": 0.18, "p_value": 0.0001794,
                             "p_adjusted": 0.0003589, "significant": True}


def test_other_groups_made_of_different_options_are_not_compared():
    before = ChoiceResult(answered=20, shares={"a": 0.5, "other": 0.2}, counts={"a": 10, "other": 4},
                          merged=["b"], base=20)
    after = ChoiceResult(answered=20, shares={"a": 0.5, "other": 0.2}, counts={"a": 10, "other": 4},
                         merged=["c"], base=20)
    assert [c.option for c in choice_changes("q", before, after, "x")] == ["a"]


def test_grid_changes_per_row_and_suppressed_results_have_none():
    row_before = ChoiceResult(answered=100, shares={"established": 0.3}, counts={"established": 30},
                              base=100)
    row_after = ChoiceResult(answered=100, shares={"established": 0.5}, counts={"established": 50},
                             base=100)
    before = GridResult(rows={"ml_pipeline": row_before})
    after = GridResult(rows={"ml_pipeline": row_after, "new_row": row_after})
    changes = result_changes("tooling", before, after, "2025")
    assert [(c.row, c.option) for c in changes] == [("ml_pipeline", "established")]
    pooled = 0.4
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * 0.02)
    assert changes[0].p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert result_changes("tooling", GridResult(suppressed=True), after, "2025") == []


def test_changes_are_tested_on_each_waves_base_not_its_respondents():
    # a conditional question: 30 of 60 asked (50%) → 60 of 100 asked (60%); the waves had 200
    # and 300 respondents, which would make the shares 15% → 20% and the test far stronger
    before = ChoiceResult(answered=55, shares={"grow": 0.5}, counts={"grow": 30}, base=60)
    after = ChoiceResult(answered=95, shares={"grow": 0.6}, counts={"grow": 60}, base=100)
    (change,) = choice_changes("team_outlook", before, after, "2025")
    assert change.p_value == pytest.approx(two_proportion_test(30, 60, 60, 100)[1])
    assert change.p_value > 0.2


def test_wilson_interval_matches_hand_calculation():
    # 31 of 100: centre = (0.31 + 1.9208/100) / 1.038415 = 0.31703,
    # half = 1.96 sqrt(0.2139/100 + 3.8415/40000) / 1.038415 = 0.08926
    lo, hi = wilson_interval(31, 100)
    assert lo == pytest.approx(0.22777, abs=2e-4) and hi == pytest.approx(0.40629, abs=2e-4)
    lo, hi = wilson_interval(0, 50)  # never an empty interval at 0%
    assert lo == 0.0 and hi == pytest.approx(0.07135, abs=2e-4)
    assert wilson_interval(50, 50)[1] == 1.0 and wilson_interval(50, 50)[0] < 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_benjamini_hochberg_matches_the_step_up_rule():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # sorted: 0.005 0.01 0.03 0.04 0.5 → ×5/rank: 0.025 0.025 0.05 0.05 0.5 (running minimum)
    assert benjamini_hochberg(p) == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert benjamini_hochberg([]) == []
    assert benjamini_hochberg([0.9, 0.95]) == pytest.approx([0.95, 0.95])  # capped, monotone


def test_many_tests_raw_p_below_005_are_not_all_significant():
    changes = [Change("q", f"o{i}", "2025", 0.1, 0.2, 0.1, p) for i, p in
               enumerate([0.0001, 0.004, 0.02, 0.03, 0.045] + [0.5] * 75)]
    significance = adjust_significance(changes)
    assert significance.raw_below_q == 5 and significance.tests == 80
    assert [c.option for c in changes if c.significant] == ["o0"]  # 0.004 × 80 / 2 = 0.16
    assert significance.to_dict() == {"test": "two-proportion z", "method": "benjamini-hochberg",
                                      "q": 0.05, "tests": 80, "significant": 1}
