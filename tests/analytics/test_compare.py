"""Two-proportion z-test and changes: known answers computed by hand."""

from __future__ import annotations

import math

import pytest

from analytics.compare import choice_changes, result_changes, two_proportion_test
from analytics.model import ChoiceResult, GridResult


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
                          counts={"monitoring": 26, "deploy": 80})
    after = ChoiceResult(answered=97, shares={"monitoring": 0.31, "deploy": 0.41, "new": 0.2},
                         counts={"monitoring": 31, "deploy": 41, "new": 20})
    changes = {c.option: c for c in choice_changes("focus", before, after, 200, 100, "2020")}
    assert set(changes) == {"monitoring", "deploy"}  # an option only one wave had: no change
    mon = changes["monitoring"]
    assert (mon.before, mon.after) == (0.13, 0.31)
    assert mon.delta == pytest.approx(0.18)
    assert mon.significant and mon.p_value == pytest.approx(0.00017943, rel=1e-3)
    assert not changes["deploy"].significant
    assert mon.to_dict() == {"from": 0.13, "to": 0.31, "delta": 0.18, "p_value": 0.0001794,
                             "significant": True}


def test_other_groups_made_of_different_options_are_not_compared():
    before = ChoiceResult(answered=20, shares={"a": 0.5, "other": 0.2}, counts={"a": 10, "other": 4},
                          merged=["b"])
    after = ChoiceResult(answered=20, shares={"a": 0.5, "other": 0.2}, counts={"a": 10, "other": 4},
                         merged=["c"])
    assert [c.option for c in choice_changes("q", before, after, 20, 20, "x")] == ["a"]


def test_grid_changes_per_row_and_suppressed_results_have_none():
    row_before = ChoiceResult(answered=100, shares={"established": 0.3}, counts={"established": 30})
    row_after = ChoiceResult(answered=100, shares={"established": 0.5}, counts={"established": 50})
    before = GridResult(rows={"ml_pipeline": row_before})
    after = GridResult(rows={"ml_pipeline": row_after, "new_row": row_after})
    changes = result_changes("tooling", before, after, 100, 100, "2025")
    assert [(c.row, c.option) for c in changes] == [("ml_pipeline", "established")]
    pooled = 0.4
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * 0.02)
    assert changes[0].p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert result_changes("tooling", GridResult(suppressed=True), after, 100, 100, "2025") == []
