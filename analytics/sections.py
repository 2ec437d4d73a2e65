"""Analyses shown beside a summary's questions: cross-tabs (`--by`), rankings of grid rows
(`--rank`) and number statistics. Each is a `Section` in `Summary.analyses`: the report, the
HTML page, the JSON, chat and the chart renderer ask it for its own part."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from analytics.model import Summary
from surveys.db import Database

log = logging.getLogger(__name__)


class Section(Protocol):
    """One analysis of a summary."""

    def to_dict(self) -> dict[str, Any]: ...

    def blocks(self, charts: set[str]) -> list[Any]: ...

    def chat_lines(self) -> list[str]: ...

    def charts(self) -> dict[str, bytes]: ...


def crosstab_targets(summary: Summary, by: str, questions: Sequence[str] | None) -> list[str]:
    """The questions to cross-tab by `by`: those asked for, else every single, multi and
    country question of the summary except `by` itself."""
    from analytics.crosstab import TARGETS

    if questions:
        return [q for q in questions if q != by] or list(questions)
    kinds = {t.value for t in TARGETS}
    return [qs.id for qs in summary.questions if qs.type in kinds and qs.id != by]


async def add_crosstabs(
    db: Database, summary: Summary, *, community_id: int, by: str, questions: Sequence[str] | None = None,
) -> None:
    """Append the cross-tab of each target question by `by` to the summary's analyses."""
    from analytics.crosstab import build_crosstab

    for qid in crosstab_targets(summary, by, questions):
        summary.analyses.append(await build_crosstab(db, summary, community_id=community_id,
                                                     question=qid, by=by))


def rank_questions(specs: Sequence[str]) -> list[str]:
    """The grid questions `--rank` specs name (`tooling:looking` → tooling)."""
    return list(dict.fromkeys(spec.partition(":")[0] for spec in specs))


def add_rankings(summary: Summary, specs: Sequence[str]) -> None:
    """Append the ranking of each `GRID:POINT[/POINT]` spec to the summary's analyses."""
    from analytics.rankings import build_ranking

    for spec in specs:
        summary.analyses.append(build_ranking(summary, spec))


async def add_number_stats(
    db: Database, summary: Summary, *, community_id: int, questions: Sequence[str] | None = None,
) -> None:
    """Append the distribution (histogram, quartiles across waves) of every number question of
    the summary (or of those listed) to its analyses."""
    from analytics.numbers import build_number_stats

    for qs in summary.questions:
        if qs.type == "number" and (questions is None or qs.id in questions):
            summary.analyses.append(await build_number_stats(db, summary, community_id=community_id,
                                                             question=qs.id))


__all__ = ["Section", "add_crosstabs", "add_number_stats", "add_rankings", "crosstab_targets",
           "rank_questions"]
