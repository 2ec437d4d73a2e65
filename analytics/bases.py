"""The base of a conditional question: how many of a wave's (or segment's) respondents it was
shown to, i.e. whose earlier answer matched its `when`.

The answer flow drops an answer whose condition stops holding, so these people are exactly
those the question was asked. Single-choice (and country) conditions are read off the counts
already loaded; a multi-choice condition needs distinct respondents (one query each).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from analytics.frames import WaveFrames, WaveQuery, distinct_choosers, run_parallel
from surveys.db import Database
from surveys.models import Wave
from surveys.schema import Question, Questionnaire, QuestionType
from surveys.waves import questionnaire_of

log = logging.getLogger(__name__)


def condition_ids(wave_qn: Questionnaire, q: Question) -> tuple[str, tuple[str, ...]] | None:
    """(question id, every stored option id that meets the condition) of the wave's own
    version of `q`, or None when that version is not conditional."""
    if q.when is None or not wave_qn.has_question(q.when.question):
        return None
    target = wave_qn.question(q.when.question)
    ids: set[str] = set()
    for wanted in q.when.in_:
        opt = target.option(wanted)
        ids |= {wanted} if opt is None else {opt.id, *opt.previously}
    return target.id, tuple(sorted(ids))


def _from_counts(frames: WaveFrames, question_id: str, ids: Sequence[str]) -> int | None:
    """Respondents meeting a single-choice condition, from the loaded counts (None: not loaded)."""
    counts = frames.counts
    sub = counts[counts["question_id"] == question_id]
    if sub.empty:
        return None
    return int(sub.loc[sub["option_id"].astype(str).isin(ids), "n"].sum())


async def conditional_bases(
    db: Database, planned: Sequence[tuple[Wave, WaveQuery, Sequence[Question]]],
    frames: Sequence[WaveFrames],
) -> dict[tuple[int, str], int]:
    """(wave id, question id) → those the question was shown to, for each conditional
    question a wave asked (in the wave's segment)."""
    out: dict[tuple[int, str], int] = {}
    jobs: list[Any] = []
    keys: list[tuple[int, str]] = []
    for (wave, query, asked), frame in zip(planned, frames, strict=True):
        wave_qn = questionnaire_of(wave)
        for q in asked:
            if not wave_qn.has_question(q.id):
                continue
            found = condition_ids(wave_qn, wave_qn.question(q.id))
            if found is None:
                continue
            target_id, ids = found
            target = wave_qn.question(target_id)
            if target.type is not QuestionType.multi:
                n = _from_counts(frame, target_id, ids)
                if n is not None or frame.respondents == 0:
                    out[(wave.id, q.id)] = n or 0
                    continue
            keys.append((wave.id, q.id))
            jobs.append(lambda s, w=wave.id, t=target_id, i=ids, seg=query.segment:
                        distinct_choosers(s, w, t, i, seg))
    for key, n in zip(keys, await run_parallel(db, jobs), strict=True):
        out[key] = n
    return out
