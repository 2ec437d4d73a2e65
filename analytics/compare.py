"""Wave-over-wave changes of shares, with a two-proportion z-test (pooled, two-sided, 95%)."""

from __future__ import annotations

import logging
import math

from analytics.model import OTHER, Change, ChoiceResult, GridResult, Result

log = logging.getLogger(__name__)

ALPHA = 0.05


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p-value) for H0: p1 == p2, with the pooled standard error.

    p = (x1 + x2) / (n1 + n2); se = sqrt(p (1 - p) (1/n1 + 1/n2)); z = (x2/n2 - x1/n1) / se.
    When se is 0 (both shares 0 or both 1) there is no evidence of a change: (0, 1).
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both groups need respondents")
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def choice_changes(
    question: str, before: ChoiceResult, after: ChoiceResult, n_before: int, n_after: int,
    compare: str, row: str = "", alpha: float = ALPHA,
) -> list[Change]:
    """Changes for every option shown in both waves (a merged "other" only when it merged alike)."""
    if before.suppressed or after.suppressed:
        return []
    out = []
    for option, share_after in after.shares.items():
        if option not in before.shares:
            continue
        if option == OTHER and before.merged != after.merged:
            continue  # different groups of options: not comparable
        x1, x2 = before.counts.get(option, 0), after.counts.get(option, 0)
        _, p_value = two_proportion_test(x1, n_before, x2, n_after)
        share_before = before.shares[option]
        out.append(Change(
            question=question, option=option, compare=compare, before=share_before, after=share_after,
            delta=share_after - share_before, p_value=p_value, significant=p_value < alpha, row=row,
        ))
    return out


def result_changes(
    question: str, before: Result, after: Result, n_before: int, n_after: int, compare: str
) -> list[Change]:
    """Changes between two results of the same question (choice questions and grids only)."""
    if isinstance(before, ChoiceResult) and isinstance(after, ChoiceResult):
        return choice_changes(question, before, after, n_before, n_after, compare)
    if isinstance(before, GridResult) and isinstance(after, GridResult):
        if before.suppressed or after.suppressed:
            return []
        out = []
        for row, res in after.rows.items():
            if row in before.rows:
                out += choice_changes(question, before.rows[row], res, n_before, n_after, compare, row)
        return out
    return []
