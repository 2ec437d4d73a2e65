"""Complementary cell suppression: hide small cells of a table so that no hidden cell can be
worked out from the totals that are published next to it.

A table is a set of cells (any hashable key → a count) and a set of **lines**: groups of
cells whose sum is published (a row's total is the option's count in the whole wave, a
column's total is the group's base, a segment cell plus the rest of the wave is the whole
wave's cell). Hiding a cell of 1..k-1 people (the **primary** suppression) is not enough:
if it is the only hidden cell of a line, the line's total minus the shown cells gives it
back. So, line by line until nothing changes, a line holding hidden cells must hold at least
two, and together they must hold at least k people (otherwise their sum, read off the total,
is itself a small group); the smallest shown non-zero cells are hidden next (**secondary**
suppression), those that are never displayed first (they cost nothing).

Two hidden cells per line is not always enough (two cycles of hidden cells joined by one
cell leave that cell fixed by the totals). So the hidden cells are then **audited**: a
hidden cell is recoverable exactly when its indicator vector lies in the span of the lines'
indicator vectors restricted to the hidden cells (the totals minus the shown cells are
known, so linear algebra gives it back). While one is, the smallest shown cell of its lines
is hidden as well. Cells of zero stay shown (nobody is singled out), and a line whose every
non-zero cell is hidden is left as it is: its total is all it gives away.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np

from analytics.privacy import too_small

log = logging.getLogger(__name__)


def suppress(
    counts: Mapping[Hashable, int], lines: Iterable[Sequence[Hashable]], k: int, *,
    primary: Iterable[Hashable] = (), undisplayed: Iterable[Hashable] = (),
) -> set[Hashable]:
    """The cells to hide: every cell of 1..k-1 people, the extra `primary` ones (e.g. a
    multi-choice cell whose "did not choose" group is small), and the secondary cells that
    keep them from being recovered through `lines` (see the module docstring).

    `undisplayed` cells are part of the table (their lines are published) but not shown;
    they are preferred as secondary cells. The result may include undisplayed cells."""
    lines = [tuple(line) for line in lines]
    hidden = {cell for cell, n in counts.items() if too_small(n, k)}
    hidden |= {cell for cell in primary if counts.get(cell, 0) > 0}
    free = set(undisplayed)
    changed = True
    while changed:
        changed = False
        for line in lines:
            inside = [cell for cell in line if cell in hidden]
            if not inside:
                continue
            held = sum(counts.get(cell, 0) for cell in inside)
            if len(inside) >= 2 and not too_small(held, k):
                continue
            shown = [cell for cell in line if cell not in hidden and counts.get(cell, 0) > 0]
            if not shown:
                continue  # every non-zero cell is hidden: the total is all the line gives away
            pick = min(shown, key=lambda cell: (cell not in free, counts.get(cell, 0), repr(cell)))
            hidden.add(pick)
            changed = True
        if not changed:
            pick = _audit_pick(counts, lines, hidden, free)
            if pick is not None:
                hidden.add(pick)
                changed = True
    log.debug("suppressed %d of %d cells", len(hidden), len(counts))
    return hidden


def recoverable(
    counts: Mapping[Hashable, int], lines: Sequence[Sequence[Hashable]], hidden: set[Hashable]
) -> list[Hashable]:
    """The hidden non-zero cells whose value follows from the published line totals and the
    shown cells (linear algebra over the hidden cells; see the module docstring)."""
    cells = sorted((c for c in hidden if counts.get(c, 0) > 0), key=repr)
    if not cells:
        return []
    index = {c: i for i, c in enumerate(cells)}
    rows = []
    for line in lines:
        row = np.zeros(len(cells))
        for cell in line:
            if cell in index:
                row[index[cell]] = 1.0
        if row.any():
            rows.append(row)
    if not rows:
        return []
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    out = []
    for cell, i in index.items():
        probe = np.zeros(len(cells))
        probe[i] = 1.0
        if np.linalg.matrix_rank(np.vstack([matrix, probe])) == rank:
            out.append(cell)
    return out


def _audit_pick(
    counts: Mapping[Hashable, int], lines: Sequence[Sequence[Hashable]], hidden: set[Hashable],
    free: set[Hashable],
) -> Hashable | None:
    """A shown cell to hide so that a recoverable hidden cell stops being so (None: none is)."""
    for cell in recoverable(counts, lines, hidden):
        shown = [c for line in lines if cell in line for c in line
                 if c not in hidden and counts.get(c, 0) > 0]
        if shown:
            return min(shown, key=lambda c: (c not in free, counts.get(c, 0), repr(c)))
    return None


__all__ = ["suppress", "recoverable"]
