"""The order options are listed in, the same in every table, chart and chat reply.

- An ordered scale (company size, headcount, `ordered: true`, numeric ranges) and a grid's
  scale keep their natural order, the questionnaire's.
- Other options sort by their share in the summarised wave, largest first (options that wave
  does not show follow, by their largest share elsewhere); ties keep the questionnaire order.
- "Other" and "Prefer not to say" always come last.
"""

from __future__ import annotations

import logging

from analytics.model import OTHER, ChoiceResult, GridResult, QuestionSummary, Summary
from surveys.schema import PREFER_NOT_TO_SAY

log = logging.getLogger(__name__)

LAST = (OTHER, PREFER_NOT_TO_SAY)


def cells(qs: QuestionSummary, row: str = "") -> dict[str, ChoiceResult]:
    """Wave label → the question's (or grid row's) shown result in that wave."""
    out: dict[str, ChoiceResult] = {}
    for label, result in qs.results.items():
        cell = result.rows.get(row) if isinstance(result, GridResult) else result
        if isinstance(cell, ChoiceResult) and not cell.suppressed:
            out[label] = cell
    return out


def option_order(summary: Summary, qs: QuestionSummary, row: str = "", limit: int | None = None) -> list[str]:
    """The options with a share in any wave, in display order; `limit` keeps the largest
    (by share in the summarised wave, then elsewhere) and still lists them in display order."""
    shown = cells(qs, row)
    present: list[str] = []
    for cell in shown.values():
        present += [o for o in cell.shares if o not in present]
    known = list(summary.labels.get(qs.id, {}).get("options", {}))
    rank = {o: i for i, o in enumerate(known)}
    main = shown.get(summary.wave)

    def size(option: str) -> tuple[float, float]:
        now = main.shares.get(option, -1.0) if main is not None else -1.0
        return -now, -max((c.shares.get(option, 0.0) for c in shown.values()), default=0.0)

    by_size = sorted(present, key=lambda o: (o in LAST, *size(o), rank.get(o, len(rank)), o))
    if limit is not None and len(by_size) > limit:
        keep = set(by_size[:limit])
        present = [o for o in present if o in keep]
    natural = bool(row) or qs.ordered
    if natural:
        ordered = sorted(present, key=lambda o: (o in LAST, rank.get(o, len(rank)), o))
    else:
        ordered = [o for o in by_size if o in present]
    return sorted(ordered, key=lambda o: LAST.index(o) if o in LAST else -1)
