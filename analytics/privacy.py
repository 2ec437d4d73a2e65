"""Minimum group size: nobody can be singled out by slicing the results.

Rules (k = the minimum group size, STATEOF_MIN_GROUP_SIZE, default 5):
- a wave or segment with fewer than k respondents is suppressed: no shares at all;
- a question (or grid row) answered by fewer than k is suppressed the same way;
- single choice, country and grid rows: options chosen by 1..k-1 people are merged into
  "other" (together with a real "other" option). When that group is still under k, the next
  smallest options join it, so no count under k can be read off the rest by subtraction;
- multi choice (each option is its own yes/no): options chosen by 1..k-1 people are hidden;
- zero counts are shown: "nobody chose this" singles nobody out;
- in a segment (`--where`, platform), an option is also treated as small when the rest of
  the wave (whole wave minus segment) holds 1..k-1 people with it, and a segment whose rest
  is 1..k-1 people is suppressed: otherwise subtracting the segment from the whole wave (or
  from its complement) would show a small group. Intersections of several segments can still
  be compared with each other; results are meant for a community's moderators and members,
  not as an anonymisation guarantee (see docs/analytics.md).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence

log = logging.getLogger(__name__)

OTHER = "other"


def too_small(n: int, k: int) -> bool:
    """A group of n people is shown only from k up (an empty group reveals nobody)."""
    return 0 < n < k


def merge_small(
    counts: Mapping[str, int], k: int, order: Sequence[str] = (), other: str = OTHER,
    extra: Collection[str] = (),
) -> tuple[dict[str, int], list[str]]:
    """Counts with every option under k merged into `other`; returns (counts, merged ids).

    The merged group grows by the next smallest options until it reaches k (or holds every
    option, in which case the caller suppresses the whole question).
    """
    small = {o for o, n in counts.items() if too_small(n, k) or (n > 0 and o in extra)}
    if not small:
        return dict(counts), []
    group = set(small)
    if counts.get(other, 0) > 0:
        group.add(other)
    total = sum(counts[o] for o in group)
    rank = {o: i for i, o in enumerate(order)}
    while too_small(total, k):
        rest = sorted(
            ((n, rank.get(o, len(rank)), o) for o, n in counts.items() if o not in group and n > 0),
        )
        if not rest:
            break
        n, _, o = rest[0]
        group.add(o)
        total += n
    merged_counts = {o: n for o, n in counts.items() if o not in group}
    merged_counts[other] = total
    merged = sorted(group - {other}, key=lambda o: (rank.get(o, len(rank)), o))
    return merged_counts, merged


def hide_small(
    counts: Mapping[str, int], k: int, extra: Collection[str] = ()
) -> tuple[dict[str, int], list[str]]:
    """Counts without the options under k (or listed in `extra`); returns (counts, hidden ids)."""
    hidden = sorted(o for o, n in counts.items() if too_small(n, k) or (n > 0 and o in extra))
    return {o: n for o, n in counts.items() if o not in hidden}, hidden


def rest_too_small(segment: Mapping[str, int], whole: Mapping[str, int], k: int) -> set[str]:
    """Options whose count outside the segment (whole minus segment) is 1..k-1."""
    return {o for o, n in segment.items() if too_small(whole.get(o, 0) - n, k)}


def open_data_values(counts: Mapping[str, int], k: int, has_other: bool) -> dict[str, str | None]:
    """For a public release: each rare value's replacement ("other", or None = blank).

    Values held by fewer than k respondents become "other" when the question has an
    "other" option and the resulting "other" group reaches k; otherwise they are blanked.
    """
    rare = {v for v, n in counts.items() if too_small(n, k)}
    if not rare:
        return {}
    if has_other:
        group = sum(counts[v] for v in rare if v != OTHER) + counts.get(OTHER, 0)
        if group >= k:
            return {v: OTHER for v in rare if v != OTHER}
    return dict.fromkeys(rare)
