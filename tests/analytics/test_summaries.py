"""Pure frame → result functions and the privacy rules, on hand-built frames."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.privacy import hide_small, merge_small, open_data_values, too_small
from analytics.summaries import choice_result, grid_result, number_result, question_result
from surveys.catalog import Catalog

QN = Catalog().get("state-of-mlops")


def _counts(rows):
    return pd.DataFrame(rows, columns=["question_id", "row_id", "option_id", "n"])


def _answered(rows):
    return pd.DataFrame(rows, columns=["question_id", "row_id", "answered"])


EMPTY_NUMBERS = pd.DataFrame({"question_id": [], "number": []})


def test_single_choice_shares_are_of_all_respondents():
    # 100 respondents, 90 answered: 50 / 30 / 10, 10 skipped → totals 90%.
    counts = _counts([("role", "", "models", 50), ("role", "", "infra", 30), ("role", "", "lead", 10)])
    res = question_result(
        QN.question("role"),
        counts=counts,
        answered=_answered([]),
        numbers=EMPTY_NUMBERS,
        respondents=100,
        k=5,
    )
    assert res.answered == 90
    assert res.shares == {"models_and_infra": 0.0, "models": 0.5, "infra": 0.3, "lead": 0.1, "none": 0.0}
    assert sum(res.shares.values()) == pytest.approx(0.9)


def test_multi_choice_uses_answered_and_hides_small_options():
    counts = _counts(
        [("focus", "", "monitoring", 31), ("focus", "", "deploy", 40), ("focus", "", "other", 3)]
    )
    res = question_result(
        QN.question("focus"),
        counts=counts,
        answered=_answered([("focus", "", 97)]),
        numbers=EMPTY_NUMBERS,
        respondents=100,
        k=5,
    )
    assert res.answered == 97
    assert res.shares["monitoring"] == 0.31 and res.shares["deploy"] == 0.40
    assert "other" not in res.shares and res.hidden == ["other"]
    assert res.shares["first_model"] == 0.0  # nobody chose it: a zero singles nobody out


def test_single_choice_merges_small_groups_until_the_group_reaches_k():
    counts = {"a": 20, "b": 2, "c": 1, "d": 7}
    merged, ids = merge_small(counts, 5, order=["a", "b", "c", "d"])
    # b + c = 3 < 5, so the next smallest (d, 7) joins: nobody can subtract their way to b or c
    assert merged == {"a": 20, "other": 10} and ids == ["b", "c", "d"]
    merged, ids = merge_small({"a": 20, "b": 2, "other": 4}, 5, order=["a", "b", "other"])
    assert merged == {"a": 20, "other": 6} and ids == ["b"]
    assert merge_small({"a": 5, "b": 0}, 5) == ({"a": 5, "b": 0}, [])


def test_threshold_exactly_k_is_shown_one_below_is_not():
    assert not too_small(5, 5) and too_small(4, 5) and not too_small(0, 5)
    assert hide_small({"x": 5, "y": 4}, 5) == ({"x": 5}, ["y"])
    assert choice_result({"x": 4}, 4, 4, order=["x"], k=5).suppressed
    shown = choice_result({"x": 5}, 5, 5, order=["x"], k=5)
    assert not shown.suppressed and shown.shares == {"x": 1.0}


def test_grid_rows_share_per_scale_point_and_small_rows_suppressed():
    by_row = {
        "ml_pipeline": {"established": 50, "looking": 33, "not_relevant": 10},
        "feature_store": {"looking": 3},
    }
    res = grid_result(
        by_row,
        100,
        rows=["ml_pipeline", "feature_store"],
        scale=["established", "looking", "not_relevant"],
        k=5,
    )
    assert res.rows["ml_pipeline"].answered == 93
    assert res.rows["ml_pipeline"].shares == {"established": 0.5, "looking": 0.33, "not_relevant": 0.1}
    assert res.rows["feature_store"].suppressed
    assert res.to_dict()["rows"]["feature_store"] == {"suppressed": True}


def test_number_median_and_quartiles():
    res = number_result([1, 2, 3, 4, 5, 6, 7, 8], k=5)
    assert (res.q1, res.median, res.q3) == (2.75, 4.5, 6.25)
    assert number_result([1, 2, 3], k=5).suppressed
    assert number_result([], k=5).median is None


def test_open_data_values_merge_into_other_or_blank():
    assert open_data_values({"a": 10, "b": 2, "other": 3}, 5, has_other=True) == {"b": "other"}
    assert open_data_values({"a": 10, "b": 2}, 5, has_other=True) == {"b": None}
    assert open_data_values({"a": 10, "b": 2}, 5, has_other=False) == {"b": None}
    assert open_data_values({"a": 10}, 5, has_other=True) == {}


def test_in_a_segment_options_with_few_people_outside_it_are_small_too():
    # whole wave: a 12, b 30; segment: a 10, b 8 → only 2 people outside the segment chose a,
    # so showing a here would reveal them by subtraction from the whole wave's figure
    multi = choice_result({"a": 10, "b": 8}, 18, 40, order=["a", "b"], k=5, multi=True,
                          whole={"a": 12, "b": 30})
    assert multi.hidden == ["a"] and set(multi.shares) == {"b"}
    single = choice_result({"a": 10, "b": 8, "c": 9}, 27, 27, order=["a", "b", "c"], k=5,
                           whole={"a": 12, "b": 30, "c": 40})
    assert single.merged == ["a"] and single.counts == {"b": 8, "c": 9, "other": 10}
    assert choice_result({"a": 10}, 10, 10, order=["a"], k=5, whole={"a": 10}).shares == {"a": 1.0}
