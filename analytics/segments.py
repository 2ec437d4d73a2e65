"""Which segments (`--where`, `--platform`) may be shown: none that differs from another
reachable one by 1..k-1 people.

With 30 "models", 30 "infra" and 1 "lead", `role=models` and `role=models,lead` differ by the
lead alone: subtracting the two summaries gives the lead's answers. Checking a segment
against the whole wave (analytics.privacy) does not catch that. So before a segment is
counted, the wave's respondents (its released snapshot when the wave is open) are checked:

1. Every question a filter uses separates the wave into groups: one per option (single,
   country, grid row), chosen / not chosen for each listed option (multi), and "did not
   answer". Options with 1..k-1 people are merged with the next smallest options into one
   group of at least k (as in the results, analytics.privacy.merge_small); a filter must list
   all of such a group or none of it. A "did not answer" group of 1..k-1 people, or a
   multi-choice option chosen (or not chosen) by 1..k-1, refuses the filter.
2. `--platform` separates the wave by platform: each platform holds 0 or at least k.
3. The filter's conditions together cut the wave into cells: for each condition, which of its
   listed options a respondent holds (or none), and on or off the platform. Every non-empty
   cell holds at least k, so a filter with one option or one condition fewer, or the
   complement, differs by 0 or at least k people.

4. Against every one-condition filter on another question: a segment is refused when some
   filter `Q=OPTIONS` on another choice question (or `Q=OPTION` on a multi-choice one) would
   hold almost the same people, differing by 1..k-1 (e.g. `region=europe` against
   `role=infra,lead` when all but 3 of the infra people and leads are in Europe). Found from
   the option counts of the segment and of the wave (a subset-sum over the options' groups).

A refused filter is a SegmentRefused error naming the small group (never its size). Two
filters of several conditions each can still be compared (see docs/analytics.md).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.derived import DerivedSpec, derived_values_query, is_derived, spec_for
from analytics.frames import (
    CHOICES,
    RELEASED_CHOICES,
    RELEASED_MEMBERS,
    RESPONSES,
    Segment,
    WaveQuery,
    count_choices,
    count_derived,
)
from analytics.privacy import OTHER, merge_small, too_small
from analytics.summaries import option_map, question_counts, row_map
from surveys.db import Database
from surveys.errors import SurveyError
from surveys.schema import Question, Questionnaire, QuestionType

log = logging.getLogger(__name__)

OUT = "\0out"  # a cell value: none of the condition's options


class SegmentRefused(SurveyError):
    """A segment that could be compared with a neighbouring one to single out a small group."""


@dataclass(frozen=True)
class Clause:
    """One `--where` condition in current ids: `key` is `QUESTION` or `QUESTION.ROW`."""

    key: str
    question: Question
    row: str
    options: tuple[str, ...]

    @property
    def multi(self) -> bool:
        return self.question.type is QuestionType.multi

    def option_label(self, option: str) -> str:
        if self.question.type is QuestionType.grid:
            found = next((s for s in self.question.scale if s.id == option), None)
        else:
            found = self.question.option(option)
        return found.label if found is not None else option

    @property
    def name(self) -> str:
        title = self.question.title
        if self.row:
            row = self.question.row(self.row)
            title = f"{title}: {row.label if row else self.row}"
        return f"'{title}'"


def clauses(canonical: Questionnaire, where: Mapping[str, Sequence[str]]) -> list[Clause]:
    out = []
    for key, options in where.items():
        qid, _, row = key.partition(".")
        out.append(Clause(key, canonical.question(qid), row, tuple(options)))
    return out


async def _people(
    session: AsyncSession, wave_id: int, released: bool, wanted: Sequence[Clause],
    specs: Sequence[DerivedSpec] = (),
) -> tuple[dict[int, str], list[tuple[int, str, str, str]]]:
    """(respondent → platform, [(respondent, question, row, option)]) for the filter questions;
    a derived field's value counts as the respondent's answer to it."""
    if released:
        m = RELEASED_MEMBERS.c
        members = select(m.respondent_id, m.platform).where(m.wave_id == wave_id)
    else:
        r = RESPONSES.c
        members = select(r.respondent_id, r.platform).where(r.wave_id == wave_id, r.answered.is_(True))
    platforms = {rid: platform or "" for rid, platform in (await session.execute(members)).all()}
    c = (RELEASED_CHOICES if released else CHOICES).c
    questions = sorted({cl.question.id for cl in wanted})
    rows = (await session.execute(
        select(c.respondent_id, c.question_id, c.row_id, c.option_id)
        .where(c.wave_id == wave_id, c.question_id.in_(questions))
    )).all()
    out = [(int(a), str(b), str(d), str(e)) for a, b, d, e in rows]
    for spec in specs:
        values = (await session.execute(derived_values_query(spec, wave_id, released))).all()
        out += [(int(rid), spec.question_id, "", str(value)) for rid, value in values if value is not None]
    return platforms, out


def _values(
    clause: Clause, choices: list[tuple[int, str, str, str]], people: set[int]
) -> dict[int, set[str]]:
    """respondent → current option ids chosen for the clause's question (or grid row)."""
    options = option_map(clause.question)
    rows = row_map(clause.question) if clause.row else {}
    out: dict[int, set[str]] = defaultdict(set)
    for rid, qid, row, option in choices:
        if qid != clause.question.id or rid not in people:
            continue
        if clause.row and rows.get(row, row) != clause.row:
            continue
        out[rid].add(options.get(option, option))
    return out


def _check_question(clause: Clause, values: dict[int, set[str]], everyone: int, k: int) -> dict[str, str]:
    """Rule 1: the groups one filter question separates; returns option → its group's name for
    options merged into one group (they count as one value in rule 3)."""
    q = clause.question
    if too_small(everyone - len(values), k):
        raise SegmentRefused(
            f"where: fewer than {k} respondents left {clause.name} unanswered, so a filter on it "
            f"would let someone single them out by comparing it with the whole wave; filter on "
            f"another question")
    counts: Counter[str] = Counter()
    for chosen in values.values():
        counts.update(chosen)
    if clause.multi:
        for option in clause.options:
            chosen = counts.get(option, 0)
            if too_small(chosen, k) or too_small(len(values) - chosen, k):
                which = "chose" if too_small(chosen, k) else "did not choose"
                raise SegmentRefused(
                    f"where: fewer than {k} respondents {which} '{clause.option_label(option)}' in "
                    f"{clause.name}, so a filter on it could single them out; leave it out")
        return {}
    order = [s.id for s in q.scale] if q.type is QuestionType.grid else [o.id for o in q.choices]
    _, merged = merge_small(dict(counts), k, order)
    group = set(merged)
    if merged and counts.get(OTHER, 0) > 0:
        group.add(OTHER)
    listed = set(clause.options)
    if group & listed and not group <= listed:
        def rank(o: str) -> tuple[int, str]:
            return (order.index(o) if o in order else len(order), o)

        labels = ", ".join(f"'{clause.option_label(o)}'" for o in sorted(group, key=rank))
        wanted = ",".join(sorted(group | listed, key=rank))
        raise SegmentRefused(
            f"where: in {clause.name}, {labels} count as one group for filtering (an option chosen "
            f"by fewer than {k} respondents is merged with the next smallest); comparing part of it "
            f"with the rest would single someone out. Use {clause.key}={wanted}, or leave them out")
    name = "+".join(sorted(group))
    return dict.fromkeys(group, name)


def _check_platform(platforms: Mapping[int, str], platform: str, k: int) -> None:
    """Rule 2: each platform holds 0 or at least k respondents."""
    for name, n in Counter(platforms.values()).items():
        if too_small(n, k):
            shown = name or "an unknown platform"
            raise SegmentRefused(
                f"platform: fewer than {k} respondents answered on {shown}, so splitting by platform "
                f"could single them out; ask without the platform filter")


def _cell_key(
    clauses_: Sequence[Clause], values: Sequence[dict[int, set[str]]], groups: Sequence[dict[str, str]],
    rid: int,
) -> tuple[object, ...]:
    key: list[object] = []
    for clause, by_person, group in zip(clauses_, values, groups, strict=True):
        chosen = by_person.get(rid) or set()  # not answering is outside the filter too
        if clause.multi:
            key.append(frozenset(chosen & set(clause.options)) or OUT)
        else:
            hit = sorted({group.get(o, o) for o in chosen & set(clause.options)})
            key.append(hit[0] if hit else OUT)
    return tuple(key)


def _describe(clauses_: Sequence[Clause], cell: tuple[object, ...], platform: str | None) -> str:
    parts = []
    for clause, value in zip(clauses_, cell, strict=True):
        listed = ",".join(clause.options)
        if value == OUT:
            parts.append(f"{clause.key} not in {listed}")
        elif isinstance(value, frozenset):
            parts.append(f"{clause.key} = {'+'.join(sorted(value))}")
        else:
            parts.append(f"{clause.key} = {value}")
    if platform is not None:
        parts.append(f"{'on' if cell[-1] else 'not on'} {platform}")
    return "; ".join(parts)


def _near(items: Sequence[tuple[int, int]], base: int, k: int) -> bool:
    """Whether choosing, per group, its count outside (a, when the other filter takes the
    group) or inside the segment (b, when it leaves it), with at least one group taken, can
    make base + the sum fall in 1..k-1."""
    states = {(0, False)}
    for a, b in items:
        nxt = set()
        for total, taken in states:
            for add, took in ((a, True), (b, False)):
                if base + total + add < k:
                    nxt.add((total + add, taken or took))
        states = nxt
        if not states:
            return False
    return any(taken and base + total >= 1 for total, taken in states)


def _check_other_filters(
    canonical: Questionnaire, wave_qn: Questionnaire, own: set[str], seg: Any, whole: Any,
    inside: int, everyone: int, k: int,
) -> None:
    """Rule 4 (see above): `seg`/`whole` are option counts of the segment and of the wave."""
    for q in canonical.questions:
        if q.id in own or not wave_qn.has_question(q.id) or not q.is_choice:
            continue
        seg_rows, whole_rows = question_counts(seg, q), question_counts(whole, q)
        if q.type is QuestionType.multi:  # G = chose the option: |not F and o| + |F and not o|
            for option, n in whole_rows.get("", {}).items():
                mine = seg_rows.get("", {}).get(option, 0)
                if too_small((n - mine) + (inside - mine), k):
                    _refuse_near(q, f"{q.id}={option}", k)
            continue
        order = [s.id for s in q.scale] if q.type is QuestionType.grid else [o.id for o in q.choices]
        rows = [r.id for r in q.rows] if q.type is QuestionType.grid else [""]
        for row in rows:
            whole_by, seg_by = whole_rows.get(row, {}), seg_rows.get(row, {})
            if too_small(everyone - sum(whole_by.values()), k):
                continue  # not usable as a filter (rule 1)
            _, merged = merge_small(dict(whole_by), k, order)
            group = set(merged) | ({OTHER} if merged and whole_by.get(OTHER, 0) > 0 else set())
            items: list[tuple[int, int]] = []
            if group:
                items.append((sum(whole_by.get(o, 0) - seg_by.get(o, 0) for o in group),
                              sum(seg_by.get(o, 0) for o in group)))
            items += [(n - seg_by.get(o, 0), seg_by.get(o, 0)) for o, n in whole_by.items() if o not in group]
            if _near(items, inside - sum(seg_by.values()), k):
                _refuse_near(q, f"{q.id}.{row}" if row else q.id, k)


def _refuse_near(q: Question, key: str, k: int) -> None:
    raise SegmentRefused(
        f"where: not shown, because a filter on {key} ('{q.title}') would pick out almost the same "
        f"respondents: the two would differ by fewer than {k}, and subtracting them would single "
        f"those out; choose a larger segment")


async def check_segment(
    db: Database, wave_id: int, *, released: bool, canonical: Questionnaire,
    where: Mapping[str, Sequence[str]], platform: str | None, k: int,
    segment: Segment | None = None, wave_qn: Questionnaire | None = None,
) -> None:
    """Raise SegmentRefused when the segment could be compared with a neighbouring one (or
    with the whole wave) to single out fewer than k respondents of this wave (see above)."""
    if not where and platform is None:
        return
    wanted = clauses(canonical, where)
    specs = []
    for clause in wanted:
        if is_derived(canonical, clause.question.id):
            spec = spec_for(canonical, wave_qn or canonical, clause.question.id)
            if spec is not None:
                specs.append(spec)
    async with db.session() as session:
        platforms, choices = await _people(session, wave_id, released, wanted, specs)
    people = set(platforms)
    values = [_values(clause, choices, people) for clause in wanted]
    groups = [_check_question(clause, by_person, len(people), k)
              for clause, by_person in zip(wanted, values, strict=True)]
    if platform is not None:
        _check_platform(platforms, platform, k)
    cells: Counter[tuple[object, ...]] = Counter()
    for rid in people:
        key = _cell_key(wanted, values, groups, rid)
        if platform is not None:
            key = (*key, platforms[rid] == platform)
        cells[key] += 1
    for cell, n in cells.items():
        if too_small(n, k):
            raise SegmentRefused(
                f"where: not shown, because a filter with one option or one condition fewer (or the "
                f"rest of the wave) would differ from it by fewer than {k} respondents: the group "
                f"'{_describe(wanted, cell, platform)}' is that small")
    if segment is None or wave_qn is None:
        return
    inside = sum(n for cell, n in cells.items() if _matches(wanted, cell, platform))
    choice_ids = tuple(q.id for q in wave_qn.questions if q.is_choice)
    # derived fields are filters too: their values are counted like a single question's
    all_specs = tuple(spec for field in canonical.derived
                      if (spec := spec_for(canonical, wave_qn, field.id)) is not None)
    seg_query = WaveQuery(wave_id=wave_id, choice=choice_ids, multi=(), free=(), number=(),
                          all_choice=True, segment=segment, released=released, derived=all_specs)
    whole_query = WaveQuery(wave_id=wave_id, choice=choice_ids, multi=(), free=(), number=(),
                            all_choice=True, released=released, derived=all_specs)
    async with db.session() as session:
        seg = _with_derived(await count_choices(session, seg_query), await count_derived(session, seg_query))
        whole = _with_derived(await count_choices(session, whole_query),
                              await count_derived(session, whole_query))
    own = {clause.question.id for clause in wanted}
    asked = wave_qn.model_copy(update={"questions": [
        *wave_qn.questions, *(canonical.question(spec.question_id) for spec in all_specs)]})
    _check_other_filters(canonical, asked, own, seg, whole, inside, len(people), k)


def _with_derived(counts: Any, derived: Any) -> Any:
    if not len(derived):
        return counts
    import pandas as pd

    out = pd.concat([counts, derived], ignore_index=True)
    for col in ("question_id", "row_id", "option_id"):
        out[col] = out[col].astype(str).astype("category")
    return out


def _matches(wanted: Sequence[Clause], cell: tuple[object, ...], platform: str | None) -> bool:
    """Whether a cell is inside the segment (every condition met, on the platform)."""
    if platform is not None and not cell[-1]:
        return False
    return all(value != OUT for value in cell[: len(wanted)])


__all__ = ["SegmentRefused", "check_segment", "clauses"]
