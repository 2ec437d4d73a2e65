"""Reference waves in a summary: a report's published shares beside the community's waves.

A published share with its base is a result like any other: its count is share × base, so
the same two-proportion test (and the same Benjamini–Hochberg family) compares it with the
summarised wave. Without a published base it is shown, marked, and never tested. Published
figures are aggregates of other people, so no minimum group size applies to them; the
community's own waves keep every privacy rule.
"""

from __future__ import annotations

import logging

from analytics.model import ChoiceResult, GridResult, Result, WaveInfo
from surveys.models import ReferenceWave
from surveys.schema import Question, QuestionType

log = logging.getLogger(__name__)


def published_info(ref: ReferenceWave) -> WaveInfo:
    return WaveInfo(label=ref.label, respondents=ref.base or 0, completed=None, published=True,
                    source=ref.source, imported=True)


def _cell(shares: dict[str, float], base: int | None) -> ChoiceResult:
    n = base or 0
    return ChoiceResult(answered=n, shares=dict(shares), counts={o: round(s * n) for o, s in shares.items()},
                        base=n, published=True)


def published_result(
    q: Question, shares: dict[tuple[str, str, str], float], base: int | None
) -> Result | None:
    """The published shares of `q` as a result (None when the report gives none for it)."""
    mine = {(row, option): share for (qid, row, option), share in shares.items() if qid == q.id}
    if not mine:
        return None
    if q.type is QuestionType.grid:
        rows: dict[str, dict[str, float]] = {}
        for (row, option), share in mine.items():
            rows.setdefault(row, {})[option] = share
        return GridResult(rows={row: _cell(cells, base) for row, cells in rows.items()})
    return _cell({option: share for (_, option), share in mine.items()}, base)


__all__ = ["published_info", "published_result"]
