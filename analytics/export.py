"""Export a wave's answers per pseudonymous respondent, in the import format.

One row per respondent who answered anything; the header holds question ids (grid rows as
`QUESTION.ROW`), multi answers are option ids joined by `;`, an empty cell is "not
answered", and a `respondent` column holds the pseudonym (never a platform user id: the
answer tables do not know one). The CSV re-imports with `stateof import`.

`open_data=True` prepares a public release (Kaggle style):
- free-text questions are dropped;
- rows are shuffled afresh for every release and numbered 1..n, so neither the order nor
  the numbers link a row to the same member in another release or wave, or to the bot's
  pseudonyms;
- options held by fewer than `min_group_size` people are merged into "other" or blanked
  (analytics.privacy.open_data_values), and numbers are coarsened into groups of at least
  `min_group_size` neighbouring values, each shown as its group's lowest value;
- the release is k-anonymous on its quasi-identifiers (QUASI_IDENTIFIERS below): values are
  generalised until every combination of them is held by at least k rows, and the few rows
  still alone are left out (see `k_anonymise`); what was generalised is reported.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from analytics.frames import not_null_value
from analytics.privacy import OTHER, open_data_values
from surveys.db import Database
from surveys.errors import SurveyError
from surveys.models import Answer, Respondent, Response
from surveys.schema import Question, Questionnaire, QuestionType
from surveys.validation import field_key
from surveys.waves import get_wave, questionnaire_of

log = logging.getLogger(__name__)

RESPONDENT_COLUMN = "respondent"
FORMATS = ("csv", "parquet")

Rows = dict[int, dict[str, Any]]  # respondent id → field key → canonical value


def columns_of(qn: Questionnaire, *, open_data: bool = False) -> list[str]:
    """Field columns in questionnaire order (grid rows as `QUESTION.ROW`)."""
    cols: list[str] = []
    for q in qn.questions:
        if open_data and q.type is QuestionType.text:
            continue
        if q.type is QuestionType.grid:
            cols += [field_key(q.id, row.id) for row in q.rows]
        else:
            cols.append(q.id)
    return cols


async def _load(db: Database, community_id: int, survey_id: str, wave: str) -> tuple[
    Questionnaire, dict[int, str], Rows
]:
    async with db.session() as session:
        w = await get_wave(session, community_id, wave, survey_id)
        qn = questionnaire_of(w)
        names = select(Respondent.id, Respondent.pseudonym).join(
            Response, Response.respondent_id == Respondent.id
        ).where(Response.wave_id == w.id)
        pseudonyms = {rid: alias for rid, alias in (await session.execute(names)).all()}
        stmt = (
            select(Answer.respondent_id, Answer.question_id, Answer.row_id, Answer.value)
            .where(Answer.wave_id == w.id, not_null_value())
            .order_by(Answer.respondent_id)
        )
        rows: Rows = {}
        for rid, qid, row_id, value in (await session.execute(stmt)).all():
            if value is None:
                continue
            rows.setdefault(rid, {})[field_key(qid, row_id)] = value
    return qn, pseudonyms, rows


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(q: Question, value: Any) -> str:
    """The import-format text of one canonical value."""
    if value is None:
        return ""
    if q.type is QuestionType.multi:
        return ";".join(str(v) for v in value)
    if q.type is QuestionType.number:
        number = float(value)
        # digits only, never 1e-05: the importer (like a member) refuses exponents
        return str(int(number)) if number.is_integer() else np.format_float_positional(number, trim="-")
    if q.type is QuestionType.text:
        return formula_safe(str(value))
    return str(value)


def formula_safe(text: str) -> str:
    """Free text that a spreadsheet would run as a formula gets a leading apostrophe (the
    importer strips it again, so the round trip is exact). A text that itself starts with
    that apostrophe and a formula character gets a leading space instead: the importer keeps
    an apostrophe not at the very start and strips the space (stored texts are stripped)."""
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    if text[:1] == "'" and text[1:2] in FORMULA_STARTS:
        return " " + text
    return text


def _question_of(qn: Questionnaire, key: str) -> Question:
    return qn.question(key.partition(".")[0])


def _coarsen_choices(qn: Questionnaire, rows: Rows, k: int) -> None:
    """Merge or blank option values held by fewer than k respondents (in place)."""
    for q in qn.questions:
        if q.type in (QuestionType.single, QuestionType.country):
            _coarsen_field(rows, q.id, k, has_other=q.option(OTHER) is not None)
        elif q.type is QuestionType.grid:
            for row in q.rows:
                _coarsen_field(rows, field_key(q.id, row.id), k, has_other=False)
        elif q.type is QuestionType.multi:
            _coarsen_multi(rows, q, k)


def _coarsen_field(rows: Rows, key: str, k: int, *, has_other: bool) -> None:
    counts = Counter(r[key] for r in rows.values() if r.get(key) is not None)
    replace = open_data_values(counts, k, has_other)
    if not replace:
        return
    for r in rows.values():
        if key in r and r[key] in replace:
            new = replace[r[key]]
            if new is None:
                del r[key]
            else:
                r[key] = new


def _coarsen_multi(rows: Rows, q: Question, k: int) -> None:
    counts: Counter[str] = Counter()
    for r in rows.values():
        counts.update(r.get(q.id) or [])
    replace = open_data_values(counts, k, q.option(OTHER) is not None)
    if not replace:
        return
    order = [o.id for o in q.choices]
    for r in rows.values():
        chosen = r.get(q.id)
        if not chosen:
            continue
        kept = {replace.get(v, v) for v in chosen} - {None}
        picked = [o for o in order if o in kept]
        if picked:
            r[q.id] = picked
        else:
            del r[q.id]


def number_groups(values: Iterable[float], k: int) -> dict[float, float]:
    """Each value → the smallest value of its group, where groups are runs of neighbouring
    values (in sorted order, equal values together) held by at least k respondents."""
    counts = sorted(Counter(values).items())
    groups: list[list[tuple[float, int]]] = []
    current: list[tuple[float, int]] = []
    size = 0
    for value, n in counts:
        current.append((value, n))
        size += n
        if size >= k:
            groups.append(current)
            current, size = [], 0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            return {}  # fewer than k values in all: the caller blanks them
    return {value: group[0][0] for group in groups for value, _ in group}


def _coarsen_numbers(qn: Questionnaire, rows: Rows, k: int) -> None:
    """Replace number answers by the lowest value of their group of at least k (see above)."""
    for q in qn.questions:
        if q.type is not QuestionType.number:
            continue
        values = [float(r[q.id]) for r in rows.values() if r.get(q.id) is not None]
        mapping = number_groups(values, k)
        for r in rows.values():
            if r.get(q.id) is None:
                continue
            if mapping:
                r[q.id] = mapping[float(r[q.id])]
            else:
                del r[q.id]


QUASI_IDENTIFIERS = (QuestionType.single, QuestionType.country)
"""Every single-choice and country question is a quasi-identifier of an open-data release:
facts a colleague may know about a member (for the built-in survey: title, role, company
size, ML headcount, team outlook, industry, region). Multi-choice, grid, number and free-text
answers are not combined into the check (see docs/analytics.md)."""


def _ordered(q: Question) -> bool:
    return bool(getattr(q, "ordered", False))


def _classes(rows: Rows, qis: list[Question]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(_qi(r, q) for q in qis) for r in rows.values())


def _qi(row: dict[str, Any], q: Question) -> Any:
    value = row.get(q.id)
    return None if value is None else str(value)


def _generalise_once(rows: Rows, q: Question) -> str | None:
    """One step up the question's hierarchy; a description, or None when at the top.

    Ordered options: the smallest bucket merges with its smaller neighbour ("11_50+51_200").
    Unordered: the rarest value becomes "other". At the top the column is left blank."""
    counts = Counter(_qi(r, q) for r in rows.values() if _qi(r, q) is not None)
    if len(counts) <= 1:
        if not counts:
            return None
        for r in rows.values():
            r.pop(q.id, None)
        return f"{q.id}: left blank (no grouping of it keeps every combination at k)"
    if _ordered(q):
        order = [o.id for o in q.choices]

        def position(value: str) -> int:
            first = value.split("+")[0]
            return order.index(first) if first in order else len(order)

        values = sorted(counts, key=position)
        i = min(range(len(values)), key=lambda j: (counts[values[j]], j))
        if i == 0:
            j = 1
        elif i == len(values) - 1:
            j = i - 1
        else:
            j = i - 1 if counts[values[i - 1]] <= counts[values[i + 1]] else i + 1
        a, b = sorted((values[i], values[j]), key=position)
        merged = f"{a}+{b}"
        for r in rows.values():
            if _qi(r, q) in (a, b):
                r[q.id] = merged
        return f"{q.id}: {a} and {b} merged into {merged}"
    rare = min((v for v in counts if v != OTHER), key=lambda v: (counts[v], v))
    for r in rows.values():
        if _qi(r, q) == rare:
            r[q.id] = OTHER
    return f"{q.id}: {rare} shown as {OTHER}"


def k_anonymise(qn: Questionnaire, rows: Rows, k: int) -> list[str]:
    """Generalise the quasi-identifiers until every combination of them is held by at least
    k rows (in place); returns what was done, one line each.

    Greedy, as Datafly: while more than max(k, 1% of rows) rows sit in combinations under k,
    the quasi-identifier with the most distinct values goes one step up its hierarchy; the
    rows still in small combinations after that are left out of the release."""
    qis = [q for q in qn.questions if q.type in QUASI_IDENTIFIERS]
    done: list[str] = []
    allowed = max(k, len(rows) // 100)
    while qis:
        classes = _classes(rows, qis)
        outliers = sum(n for n in classes.values() if n < k)
        if outliers <= allowed:
            break
        distinct = {q.id: len({_qi(r, q) for r in rows.values()} - {None}) for q in qis}
        candidates = [q for q in qis if distinct[q.id] > 0]
        if not candidates:
            break
        target = max(candidates, key=lambda q: (distinct[q.id], -qis.index(q)))
        step = _generalise_once(rows, target)
        if step is not None:
            done.append(step)
    classes = _classes(rows, qis)
    small = [rid for rid, r in rows.items() if classes[tuple(_qi(r, q) for q in qis)] < k]
    for rid in small:
        del rows[rid]
    if small:
        done.append(f"{len(small)} row(s) left out: their combination stayed under {k}")
    return done


def _records(
    qn: Questionnaire, pseudonyms: dict[int, str], rows: Rows, columns: list[str], open_data: bool
) -> Iterable[list[str]]:
    ids = [rid for rid, answers in rows.items() if answers]
    if open_data:
        # a fresh random order for every release, then plain numbers: nothing stable across
        # releases or waves (an order by a hash of the pseudonym would pair the rows up)
        secrets.SystemRandom().shuffle(ids)
        names = {rid: str(i) for i, rid in enumerate(ids, start=1)}
    else:
        ids.sort()
        names = {rid: pseudonyms.get(rid, f"respondent-{rid}") for rid in ids}
    questions = {c: _question_of(qn, c) for c in columns}
    for rid in ids:
        answers = rows[rid]
        yield [names[rid], *(_cell(questions[c], answers.get(c)) for c in columns)]


def _csv_bytes(header: list[str], records: Iterable[list[str]]) -> bytes:
    """CSV with "\n" line ends. Python's csv quotes a field holding a character of the line
    terminator only, so a row with a lone "\r" in a field is written with every field quoted
    (a reader would otherwise end the record at that "\r")."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for record in records:
        (quoted if any("\r" in cell for cell in record) else writer).writerow(record)
    return buf.getvalue().encode("utf-8")


def _parquet_bytes(qn: Questionnaire, header: list[str], records: Iterable[list[str]]) -> bytes:
    frame = pd.DataFrame(list(records), columns=header, dtype="string")
    frame = frame.replace("", pd.NA)
    for col in header[1:]:
        if _question_of(qn, col).type is QuestionType.number:
            frame[col] = pd.to_numeric(frame[col]).astype("Float64")
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue()


async def export_wave(
    db: Database,
    *,
    community_id: int,
    survey_id: str,
    wave: str,
    fmt: str = "csv",
    open_data: bool = False,
    min_group_size: int = 5,
    generalised: list[str] | None = None,
) -> bytes:
    """The wave's answers as CSV or Parquet bytes (UnknownWave for an unknown label).

    With `open_data`, what was generalised for k-anonymity is appended to `generalised`."""
    if fmt not in FORMATS:
        raise SurveyError(f"unknown export format '{fmt}' (use {' or '.join(FORMATS)})")
    qn, pseudonyms, rows = await _load(db, community_id, survey_id, wave)
    k = max(1, int(min_group_size))
    if open_data:
        if 0 < len(rows) < k:
            raise SurveyError(
                f"wave '{wave}' has {len(rows)} respondents; an open-data release needs at "
                f"least {k} (STATEOF_MIN_GROUP_SIZE)"
            )
        _coarsen_choices(qn, rows, k)
        _coarsen_numbers(qn, rows, k)
        steps = k_anonymise(qn, rows, k)
        if any(s.endswith(f"stayed under {k}") for s in steps):  # rows left out: check again
            _coarsen_choices(qn, rows, k)
            _coarsen_numbers(qn, rows, k)
        if generalised is not None:
            generalised.extend(steps)
    columns = columns_of(qn, open_data=open_data)
    header = [RESPONDENT_COLUMN, *columns]
    records = _records(qn, pseudonyms, rows, columns, open_data)
    log.info("export of %s %s: %d respondents, %s%s", survey_id, wave, len(rows), fmt,
             " (open data)" if open_data else "")
    if fmt == "parquet":
        return _parquet_bytes(qn, header, records)
    return _csv_bytes(header, records)
