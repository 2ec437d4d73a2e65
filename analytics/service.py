"""Build the summary of a wave against earlier waves: the entry point bot and CLI call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from analytics.bases import conditional_bases
from analytics.cache import load_waves
from analytics.compare import adjust_significance, result_changes
from analytics.derived import DerivedCondition, is_derived, spec_for
from analytics.frames import (
    Condition,
    Segment,
    WaveFrames,
    WaveQuery,
    distinct_choosers,
    run_parallel,
)
from analytics.model import (
    OTHER,
    ChoiceResult,
    GridResult,
    QuestionSummary,
    Result,
    Summary,
    WaveInfo,
    suppressed_like,
)
from analytics.privacy import too_small
from analytics.published import published_info, published_result
from analytics.releases import Release, forget, live_release
from analytics.segments import SegmentRefused, check_segment
from analytics.summaries import option_map, question_result, row_map, wave_suppressed
from surveys.countries import COUNTRIES
from surveys.db import Database
from surveys.derived import as_question, usable_fields
from surveys.errors import UnknownOption, UnknownQuestion, UnknownWave
from surveys.models import ReferenceWave, Wave, WaveStatus
from surveys.reference import find_reference
from surveys.schema import Question, Questionnaire, QuestionType
from surveys.validation import find_option
from surveys.waves import get_wave, questionnaire_of

log = logging.getLogger(__name__)

OTHER_MERGED = "Other (small groups merged)"


def resolve_questions(qn: Questionnaire, questions: Sequence[str] | None) -> list[Question]:
    """The questions to summarise (all by default); UnknownQuestion naming the known ids."""
    if not questions:
        return list(qn.questions)
    out = []
    for qid in questions:
        if not qn.has_question(qid):
            known = ", ".join(q.id for q in qn.questions)
            raise UnknownQuestion(f"'{qid}' is not a question of {qn.id} (known: {known})")
        out.append(qn.question(qid))
    return out


def resolve_where(qn: Questionnaire, where: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """`{"role": ["models", "I build ML infrastructure"]}` → current option ids per key.

    Keys are question ids (single, multi, country) or `QUESTION.ROW` for a grid row; options
    are ids, former ids or labels (case-insensitive). Unknown ones raise a one-line error.
    """
    out: dict[str, list[str]] = {}
    for key, given in (where or {}).items():
        qid, _, row = key.partition(".")
        if not qn.has_question(qid):
            raise UnknownQuestion(f"where: '{qid}' is not a question of {qn.id}")
        q = qn.question(qid)
        if q.type is QuestionType.grid:
            if not row or q.row(row) is None:
                rows = ", ".join(f"{qid}.{r.id}" for r in q.rows)
                raise UnknownQuestion(f"where: '{key}' needs a row of '{q.title}' ({rows})")
            options = q.scale
            key = f"{qid}.{q.row(row).id}"  # type: ignore[union-attr]  # q.row(row) is checked above
        elif q.is_choice and not row:
            options = q.choices
        else:
            raise UnknownQuestion(f"where: '{key}' is a {q.type.value} question; filter on a choice question")
        ids: list[str] = []
        for item in given:
            opt = find_option(options, item)
            if opt is None:
                known = "ISO codes" if q.type is QuestionType.country else ", ".join(o.id for o in options)
                raise UnknownOption(key, f"where: '{item}' is not an option of '{q.title}' ({known})")
            if opt.id not in ids:
                ids.append(opt.id)
        if not ids:
            raise UnknownOption(key, f"where: no option given for '{key}'")
        out.setdefault(key, [])
        out[key] += [i for i in ids if i not in out[key]]
    return out


def _stored_ids(current: Question, wanted: Sequence[str]) -> tuple[str, ...]:
    """Every id a wave may have stored for the wanted current options (former ids included)."""
    mapping = option_map(current)
    return tuple(sorted({*wanted, *(old for old, new in mapping.items() if new in wanted)}))


def _segment(
    canonical: Questionnaire, wave_qn: Questionnaire, where: dict[str, list[str]], platform: str | None
) -> Segment | None:
    """The wave's segment; None when the wave did not ask a question the segment needs."""
    conditions: list[Condition | DerivedCondition] = []
    for key, wanted in where.items():
        qid, _, row = key.partition(".")
        if is_derived(canonical, qid):
            spec = spec_for(canonical, wave_qn, qid)
            if spec is None:
                return None
            conditions.append(DerivedCondition(spec, tuple(wanted)))
            continue
        if not wave_qn.has_question(qid):
            return None
        current = canonical.question(qid)
        rows: tuple[str, ...] = ("",)
        if row:
            rows = tuple(sorted({row, *(old for old, new in row_map(current).items() if new == row)}))
        conditions.append(Condition(qid, rows, _stored_ids(current, wanted)))
    return Segment(tuple(conditions), platform)


def _query(
    wave: Wave, canonical: Questionnaire, selected: list[Question], segment: Segment
) -> tuple[WaveQuery, list[Question]]:
    wave_qn = questionnaire_of(wave)
    specs = []
    for q in selected:
        spec = spec_for(canonical, wave_qn, q.id) if is_derived(canonical, q.id) else None
        if spec is not None:
            specs.append(spec)
    derived_ids = {spec.question_id for spec in specs}
    asked = [q for q in selected if wave_qn.has_question(q.id) or q.id in derived_ids]
    kinds: dict[str, list[str]] = {"choice": [], "multi": [], "free": [], "number": []}
    for q in asked:
        if q.id in derived_ids:
            continue
        if q.type in (QuestionType.text, QuestionType.number):
            kinds["free"].append(q.id)
            if q.type is QuestionType.number:
                kinds["number"].append(q.id)
        else:
            kinds["choice"].append(q.id)
            if q.type is QuestionType.multi:
                kinds["multi"].append(q.id)
    all_choice = {q.id for q in wave_qn.questions if q.type not in (QuestionType.text, QuestionType.number)}
    query = WaveQuery(
        wave_id=wave.id, choice=tuple(kinds["choice"]), multi=tuple(kinds["multi"]),
        free=tuple(kinds["free"]), number=tuple(kinds["number"]),
        all_choice=set(kinds["choice"]) == all_choice, segment=segment,
        keepable=wave.status == WaveStatus.closed.value and segment == Segment(), derived=tuple(specs),
    )
    return query, asked


async def _live(db: Database, wave: Wave, k: int) -> Release | None:
    """The released snapshot an open wave is counted on (None: a wave that is not open uses
    every answer, and any snapshot it kept is dropped). See analytics.releases."""
    if wave.status != WaveStatus.open.value:
        await forget(db, wave.id)
        return None
    free = [q.id for q in questionnaire_of(wave).questions
            if q.type in (QuestionType.text, QuestionType.number)]
    return await live_release(db, wave.id, k, free)


def wave_segment(
    canonical: Questionnaire, wave: Wave, where: dict[str, list[str]], platform: str | None
) -> Segment | None:
    """The segment of a summary in one wave (None: the wave did not ask a filter question);
    for the analyses counted beside a summary (analytics.crosstab, rankings, numbers)."""
    return _segment(canonical, questionnaire_of(wave), where, platform)


async def counted_release(db: Database, wave: Wave, k: int) -> Release | None:
    """The released snapshot a wave's results are counted on (None: every answer, closed wave)."""
    return await _live(db, wave, k)


async def _exact_merged(
    db: Database, waves: list[tuple[Wave, WaveQuery, list[Question]]], frames: list[WaveFrames]
) -> dict[tuple[int, str], dict[str, int]]:
    """Distinct respondents for multi options that several stored ids map to (merged renames):
    summing their counts would count a respondent who chose two of them twice."""
    jobs: list[Any] = []
    keys: list[tuple[int, str, str]] = []
    for (wave, query, asked), frame in zip(waves, frames, strict=True):
        for q in asked:
            if q.type is not QuestionType.multi:
                continue
            mapping = option_map(q)
            present = frame.counts.loc[frame.counts["question_id"] == q.id, "option_id"].astype(str)
            sources: dict[str, list[str]] = {}
            for stored in present:
                sources.setdefault(mapping.get(stored, stored), []).append(stored)
            for current, stored_ids in sources.items():
                if len(stored_ids) > 1:
                    keys.append((wave.id, q.id, current))
                    jobs.append(lambda s, w=wave.id, qid=q.id, ids=tuple(stored_ids), seg=query.segment,
                                live=query.released: distinct_choosers(s, w, qid, ids, seg, live))
    out: dict[tuple[int, str], dict[str, int]] = {}
    for (wave_id, qid, option), n in zip(keys, await run_parallel(db, jobs), strict=True):
        out.setdefault((wave_id, qid), {})[option] = n
    return out


def _labels(
    canonical: Questionnaire, selected: list[Question], waves: list[Wave]
) -> dict[str, dict[str, Any]]:
    """Display labels (untrusted text, returned raw) for every question, option and row."""
    labels: dict[str, dict[str, Any]] = {}
    wave_qns = [questionnaire_of(w) for w in waves]
    for q in selected:
        entry: dict[str, Any] = {"title": q.title, "text": q.text, "type": q.type.value}
        if q.type is QuestionType.grid:
            entry["rows"] = {r.id: r.label for r in q.rows}
            entry["options"] = {s.id: s.label for s in q.scale}
        elif q.type is not QuestionType.country and q.is_choice:
            entry["options"] = {o.id: o.label for o in q.choices}
        else:
            entry["options"] = {}
        for wq in wave_qns:  # ids only an earlier questionnaire knew
            if wq.has_question(q.id) and q.type is not QuestionType.country:
                old = wq.question(q.id)
                for opt in (old.scale if q.type is QuestionType.grid else old.choices):
                    entry["options"].setdefault(opt.id, opt.label)
                for row in old.rows:
                    entry.setdefault("rows", {}).setdefault(row.id, row.label)
        labels[q.id] = entry
    return labels


def _cells(result: Result) -> list[ChoiceResult]:
    if isinstance(result, GridResult):
        return list(result.rows.values())
    return [result] if isinstance(result, ChoiceResult) else []


def _add_result_labels(summary: Summary) -> None:
    """Labels for countries that appear, and for "other" groups made of merged small options."""
    for qs in summary.questions:
        entry = summary.labels[qs.id]
        options = entry.setdefault("options", {})
        merged = False
        for result in qs.results.values():
            for cell in _cells(result):
                if qs.type == QuestionType.country.value:
                    for key in cell.shares:
                        options.setdefault(key, COUNTRIES.get(key, key))
                merged = merged or bool(cell.merged)
        if merged:
            options[OTHER] = f"{options[OTHER]} (and small groups)" if OTHER in options else OTHER_MERGED


def _canonical(waves: list[Wave]) -> Questionnaire:
    """The questionnaire results are expressed in: the newest version among the waves (its
    `previously` maps every older id), plus any question only the summarised wave asked, plus
    its derived fields as single-choice questions (analytics.derived)."""
    main = questionnaire_of(waves[0])
    newest = max((questionnaire_of(w) for w in waves), key=lambda qn: qn.version)
    if newest.version <= main.version:
        newest = main
    extra = [q for q in main.questions if not newest.has_question(q.id)]
    merged = newest.model_copy(update={"questions": [*newest.questions, *extra]})
    usable = usable_fields(merged)  # a wave stored without some questions cannot compute every field
    return merged.model_copy(update={"questions": [*merged.questions, *(as_question(f) for f in usable)],
                                     "derived": usable})


def _asked(canonical: Questionnaire, wave: Wave, q: Question) -> Question:
    """The wave's own version of `q` (a derived field is the same in every wave)."""
    return q if is_derived(canonical, q.id) else questionnaire_of(wave).question(q.id)


async def build_summary(
    db: Database,
    *,
    community_id: int,
    survey_id: str,
    wave: str,
    compare: list[str] | None = None,
    where: dict[str, list[str]] | None = None,
    platform: str | None = None,
    min_group_size: int = 5,
    questions: list[str] | None = None,
) -> Summary:
    """The summary of wave `wave` of `survey_id`, compared with the `compare` waves.

    Raises UnknownWave, UnknownQuestion or UnknownOption (all SurveyError) with one line.
    """
    k = max(1, int(min_group_size))
    async with db.session() as session:
        main = await get_wave(session, community_id, wave, survey_id)
        others: list[Wave] = []
        references: list[tuple[ReferenceWave, dict[tuple[str, str, str], float]]] = []
        for label in dict.fromkeys(compare or []):
            if label != main.label:
                try:
                    others.append(await get_wave(session, community_id, label, survey_id))
                except UnknownWave:
                    found = await find_reference(session, community_id, main.survey_id, label)
                    if found is None:
                        raise
                    references.append(found)
    canonical = _canonical([main, *others])
    selected = resolve_questions(canonical, questions)
    # Significance is adjusted over every change the whole summary makes, so a view of one
    # question calls the same changes significant as the full report.
    family = selected + [q for q in canonical.questions if q not in selected and q.type not in
                         (QuestionType.text, QuestionType.number)]
    resolved_where = resolve_where(canonical, where)
    waves = [main, *others]

    planned: list[tuple[Wave, WaveQuery, list[Question]]] = []
    empty: set[int] = set()
    releases: dict[int, Release | None] = {}
    refused: set[int] = set()
    for w in waves:
        segment = _segment(canonical, questionnaire_of(w), resolved_where, platform)
        if segment is None:
            empty.add(w.id)
            segment = Segment((Condition("", ("",), ("",)),), platform)  # matches nobody
        query, asked = _query(w, canonical, family, segment)
        releases[w.id] = await _live(db, w, k)
        if w.id not in empty:
            try:  # no segment that a neighbouring one would single a small group out of
                await check_segment(db, w.id, released=releases[w.id] is not None, canonical=canonical,
                                    where=resolved_where, platform=platform, k=k, segment=segment,
                                    wave_qn=questionnaire_of(w))
            except SegmentRefused:
                if w is main:
                    raise
                refused.add(w.id)  # a compared wave: hidden, like a segment under k
        planned.append((w, replace(query, released=releases[w.id] is not None), asked))
    frames = await load_waves(db, [q for _, q, _ in planned])
    exact = await _exact_merged(db, planned, frames)
    bases = await conditional_bases(db, planned, frames)
    # A segment is also checked against the whole wave, so subtracting one from the other
    # shows no small group (see analytics.privacy).
    wholes: list[WaveFrames | None] = [None] * len(planned)
    whole_exact: dict[tuple[int, str], dict[str, int]] = {}
    if resolved_where or platform is not None:
        whole_plan = [(w, replace(q, segment=Segment(), keepable=w.status == WaveStatus.closed.value),
                       asked) for w, q, asked in planned]
        loaded = await load_waves(db, [q for _, q, _ in whole_plan])
        whole_exact = await _exact_merged(db, whole_plan, loaded)
        wholes = list(loaded)

    infos: dict[str, WaveInfo] = {}
    for ref, _ in references:
        infos[ref.label] = published_info(ref)
    for (w, _, _), f, whole in zip(planned, frames, wholes, strict=True):
        rest_small = whole is not None and too_small(whole.respondents - f.respondents, k)
        release = releases[w.id]
        held = release is not None and release.held
        completed: int | None = f.completed
        if whole is not None and (too_small(f.respondents - f.completed, k) or too_small(
                (whole.respondents - whole.completed) - (f.respondents - f.completed), k)):
            completed = None  # the segment's (or the rest's) unfinished would be a small group
        infos[w.label] = WaveInfo(
            label=w.label, respondents=f.respondents, completed=completed,
            invited=f.invited if release is None else release.invited,
            suppressed=wave_suppressed(f.respondents, k) or rest_small or held or w.id in refused,
            synthetic=w.synthetic,
            imported=w.imported, status=w.status,
            covers=None if release is None else release.covers,
            release=None if release is None else release.number, held=held,
        )

    summaries: list[QuestionSummary] = []
    for q in family:
        conditional = q.when is not None or any(
            a.id == q.id and _asked(canonical, w, q).when is not None
            for w, _, asked in planned for a in asked)
        qs = QuestionSummary(id=q.id, type=q.type.value, title=q.title, ordered=q.is_ordered,
                             conditional=conditional)
        for (w, _, asked), f, whole in zip(planned, frames, wholes, strict=True):
            if not any(a.id == q.id for a in asked):
                continue  # this wave did not ask the question: no entry, never zeros
            info = infos[w.label]
            asked_rows = None
            if q.type is QuestionType.grid:
                mapping = row_map(q)
                stored = {mapping.get(x.id, x.id) for x in questionnaire_of(w).question(q.id).rows}
                asked_rows = [r.id for r in q.rows if r.id in stored]
            result = question_result(
                q, counts=f.counts, answered=f.answered, numbers=f.numbers,
                respondents=f.respondents, k=k, asked_rows=asked_rows, exact=exact.get((w.id, q.id)),
                whole=None if whole is None else whole.counts, whole_exact=whole_exact.get((w.id, q.id)),
                base=bases.get((w.id, q.id)), asked=_asked(canonical, w, q),
            )
            qs.results[w.label] = suppressed_like(result) if info.suppressed else result
        main_result = qs.results.get(main.label)
        if main_result is not None:
            for other in others:
                before = qs.results.get(other.label)
                if before is None or infos[other.label].suppressed or infos[main.label].suppressed:
                    continue
                changes = result_changes(q.id, before, main_result, other.label)
                if changes:
                    qs.changes[other.label] = changes
        for ref, shares in references:  # a report's published figures, tested when their base is known
            published = published_result(q, shares, ref.base)
            if published is None:
                continue
            qs.results[ref.label] = published
            if main_result is not None and not infos[main.label].suppressed:
                changes = result_changes(q.id, published, main_result, ref.label)
                if changes:
                    qs.changes[ref.label] = changes
        summaries.append(qs)
    significance = adjust_significance(
        ch for qs in summaries for changes in qs.changes.values() for ch in changes
    )
    shown = {q.id for q in selected}
    summary = Summary(
        survey=canonical.id, title=canonical.title, wave=main.label,
        compare=[w.label for w in others] + [ref.label for ref, _ in references], min_group_size=k,
        waves=infos,
        questions=[qs for qs in summaries if qs.id in shown],
        labels=_labels(canonical, selected, waves), where=resolved_where, platform=platform,
        significance=significance,
    )
    _add_result_labels(summary)
    return summary


async def previous_labels(
    db: Database, *, community_id: int, survey_id: str, wave: str, limit: int = 2
) -> list[str]:
    """Labels of the waves of the same survey before `wave` (newest first by created_at, id);
    waves that never opened (still scheduled) are left out."""
    async with db.session() as session:
        current = await get_wave(session, community_id, wave, survey_id)
        stmt = (
            select(Wave.label, Wave.created_at, Wave.id)
            .where(Wave.community_id == community_id, Wave.survey_id == survey_id,
                   Wave.id != current.id, Wave.status != WaveStatus.scheduled.value)
            .order_by(Wave.created_at.desc(), Wave.id.desc())
        )
        rows = (await session.execute(stmt)).all()
    key = (current.created_at, current.id)
    return [label for label, created, wid in rows if (created, wid) < key][: max(0, limit)]


__all__ = ["build_summary", "previous_labels", "resolve_where", "resolve_questions", "UnknownWave",
           "wave_segment", "counted_release"]
