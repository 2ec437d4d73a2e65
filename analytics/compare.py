"""Wave-over-wave changes of shares: a two-proportion z-test per change (pooled, two-sided),
then Benjamini–Hochberg across every change of a summary (see analytics.stats)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from analytics.model import OTHER, Change, ChoiceResult, GridResult, Result, Significance
from analytics.stats import FDR_Q, benjamini_hochberg, two_proportion_test

log = logging.getLogger(__name__)

__all__ = ["two_proportion_test", "choice_changes", "result_changes", "adjust_significance"]


def choice_changes(
    question: str, before: ChoiceResult, after: ChoiceResult, compare: str, row: str = ""
) -> list[Change]:
    """Changes for every option both waves offered and show (a merged "other" only when it
    merged alike), tested on each wave's base (those the question, or row, was asked).

    `p_adjusted` and `significant` are set later, across the whole summary
    (`adjust_significance`); until then nothing is significant."""
    if before.suppressed or after.suppressed or before.base <= 0 or after.base <= 0:
        return []
    out = []
    for option, share_after in after.shares.items():
        if option not in before.shares:
            continue  # one wave did not offer it (or hid it): no change, never from 0%
        if option == OTHER and before.merged != after.merged:
            continue  # different groups of options: not comparable
        x1, x2 = before.counts.get(option, 0), after.counts.get(option, 0)
        _, p_value = two_proportion_test(x1, before.base, x2, after.base)
        share_before = before.shares[option]
        out.append(Change(
            question=question, option=option, compare=compare, before=share_before, after=share_after,
            delta=share_after - share_before, p_value=p_value, row=row,
        ))
    return out


def result_changes(question: str, before: Result, after: Result, compare: str) -> list[Change]:
    """Changes between two results of the same question (choice questions and grids only)."""
    if isinstance(before, ChoiceResult) and isinstance(after, ChoiceResult):
        return choice_changes(question, before, after, compare)
    if isinstance(before, GridResult) and isinstance(after, GridResult):
        if before.suppressed or after.suppressed:
            return []
        out = []
        for row, res in after.rows.items():
            if row in before.rows:
                out += choice_changes(question, before.rows[row], res, compare, row)
        return out
    return []


def adjust_significance(changes: Iterable[Change], q: float = FDR_Q) -> Significance:
    """Benjamini–Hochberg over `changes` (every change a summary makes, against every compared
    wave): sets each one's `p_adjusted` and `significant` (adjusted p below q) in place."""
    family = list(changes)
    for change, adjusted in zip(family, benjamini_hochberg([c.p_value for c in family]), strict=True):
        change.p_adjusted = adjusted
        change.significant = adjusted < q
    found = sum(c.significant for c in family)
    log.debug("%d of %d changes significant after Benjamini-Hochberg (q=%g)", found, len(family), q)
    return Significance(q=q, tests=len(family), discoveries=found,
                        raw_below_q=sum(c.p_value < q for c in family))
