"""The statistics behind a summary: Wilson intervals for shares, the two-proportion z-test
for changes, and Benjamini–Hochberg control of the false discovery rate across them.

Pure functions on counts; the summary model and the comparisons call them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

log = logging.getLogger(__name__)

Z95 = 1.959963984540054  # the two-sided 95% point of the standard normal
FDR_Q = 0.05
TEST_NAME = "two-proportion z"
METHOD_NAME = "benjamini-hochberg"
METHOD_TEXT = "Benjamini–Hochberg"


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the share successes / n (95% by default).

    centre = (p + z²/2n) / (1 + z²/n); half = z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    Unlike p ± z·se it stays inside [0, 1] and is not empty at 0% or 100%.
    """
    if n <= 0:
        raise ValueError("an interval needs at least one person in the base")
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} of {n} is not a share")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


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


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values, in the order given.

    Sorted ascending, p_(i) becomes min over j >= i of p_(j) · m / j (capped at 1). The
    step-up rule "reject the i smallest, i the largest with p_(i) <= i q / m" rejects exactly
    the tests whose adjusted p-value is <= q; a summary calls a change significant when it
    is below q (DESIGN.md), which differs only at exact ties.
    """
    m = len(p_values)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted
