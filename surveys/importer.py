"""Import a past wave from a CSV export of a web form (`stateof import`).

Format (see DESIGN.md): one row per respondent, header = question ids; grid rows in columns
`QUESTION.ROW`; multi cells hold options separated by `;`; an empty cell is "not
answered"; a question with no column was not asked in that wave. Options may be given by
id, former id (`previously`) or label (case-insensitive). An optional `respondent` column
(as written by the export) is accepted and ignored: imported respondents get fresh random
pseudonyms that cannot be linked to anyone.

The whole file is validated first, with the same rules the answer flow applies
(`surveys.validation.normalize`); every problem is counted with its row (the header is
row 1) and column, and `ImportInvalid` lists the first `MAX_LISTED` and how many more:
nothing is written. The CSV is read strictly (a quote that is never closed is an error at
its row, not a cell that swallows the rest of the file); every row has the header's
cells; a file without respondents is refused; messages show invisible characters escaped. A valid file is
written in one transaction as the rows a chat answer produces (respondent, response,
answers, answer choices) so analytics sees imported and live waves alike.
"""

from __future__ import annotations

import csv
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from surveys.db import Database
from surveys.derived import without_questions
from surveys.errors import (
    InvalidAnswer,
    OutOfRange,
    SurveyError,
    TextTooLong,
    TooManyChoices,
    UnknownOption,
    WaveExists,
)
from surveys.invisible import shown
from surveys.models import (
    Answer,
    AnswerChoice,
    Community,
    Participation,
    Respondent,
    Response,
    Wave,
    WaveStatus,
    random_key,
    table_of,
    utcnow,
)
from surveys.schema import Question, Questionnaire, QuestionType
from surveys.validation import chosen_options, field_key, find_option, normalize
from surveys.waves import create_wave, find_wave

log = logging.getLogger(__name__)

RESPONDENT_COLUMN = "respondent"
IMPORT_PLATFORM = "import"
PSEUDONYM_PREFIX = "import:"
CHUNK = 1000  # respondents written per batch (progress is reported after each)
COPY_ON_POSTGRESQL = True  # False: executemany, as on SQLite (bench/bench_import.py compares)
MAX_LISTED = 50  # problems listed one by one; the rest are counted
SHOWN_VALUE = 300  # characters of a problem message shown (a cell may hold thousands)

ProgressCallback = Callable[[int, int], None]
# answers whose chosen options go to answer_choices (what analytics counts), as in the flow
_COUNTED = (QuestionType.single, QuestionType.multi, QuestionType.country, QuestionType.grid)

# Kinds of problem, stable for callers and tests.
UNKNOWN_COLUMN = "unknown_column"
DUPLICATE_COLUMN = "duplicate_column"
UNKNOWN_OPTION = "unknown_option"
TOO_MANY_CHOICES = "too_many_choices"
BAD_NUMBER = "bad_number"
OUT_OF_RANGE = "out_of_range"
TEXT_TOO_LONG = "text_too_long"
INVALID = "invalid"
BAD_ROW = "bad_row"
BAD_FILE = "bad_file"
NO_RESPONDENTS = "no_respondents"


# A text cell that export prefixed with "'" so spreadsheets do not run it as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ImportProblem:
    """One problem in the file: `row` counts the header as row 1; `column` as in the header."""

    row: int
    column: str
    message: str
    kind: str

    def __str__(self) -> str:
        """One line: invisible characters escaped, a long message cut."""
        where = f"row {self.row}, column {shown(self.column, 64)}" if self.row else "file"
        return f"{where}: {shown(self.message, SHOWN_VALUE)}"


class ImportInvalid(SurveyError):
    """The file cannot be imported; `problems` lists the first MAX_LISTED problems and `more`
    counts the others. Nothing was written."""

    def __init__(self, source: str, problems: list[ImportProblem], more: int = 0):
        self.source = source
        self.problems = problems[:MAX_LISTED]
        self.more = more + max(0, len(problems) - MAX_LISTED)
        total = len(self.problems) + self.more
        noun = "problem" if total == 1 else "problems"
        super().__init__(f"{shown(source, 200)}: {total:,} {noun}; nothing was imported")

    @property
    def total(self) -> int:
        return len(self.problems) + self.more


class _Problems:
    """The first MAX_LISTED problems, and a count of the rest (a bad 1M-row file is 1M problems)."""

    def __init__(self) -> None:
        self.listed: list[ImportProblem] = []
        self.more = 0

    def add(self, problem: ImportProblem) -> None:
        if len(self.listed) < MAX_LISTED:
            self.listed.append(problem)
        else:
            self.more += 1

    def extend(self, problems: list[ImportProblem]) -> None:
        for problem in problems:
            self.add(problem)

    def __bool__(self) -> bool:
        return bool(self.listed)


@dataclass
class ImportResult:
    """What an import wrote."""

    wave_id: int
    label: str
    survey_id: str
    respondents: int
    answers: int
    choices: int
    replaced: bool = False
    blank_rows: int = 0
    columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Column:
    index: int
    header: str
    question: Question
    row_id: str  # "" outside grids

    @property
    def key(self) -> str:
        return field_key(self.question.id, self.row_id)


@dataclass
class _Parsed:
    columns: list[_Column]
    rows: list[dict[str, Any]]  # field key → canonical value, per respondent
    blank_rows: int


def asked_questionnaire(qn: Questionnaire, columns: list[_Column]) -> Questionnaire:
    """`qn` reduced to what the file asked: questions with a column (grid: rows with a column).

    The wave stores this copy, so a question with no column has no entry for the wave in
    summaries (never zeros), and the export writes the same columns back.
    """
    given: dict[str, set[str]] = {}
    for col in columns:
        given.setdefault(col.question.id, set()).add(col.row_id)
    kept = []
    for q in qn.questions:
        if q.id not in given:
            continue
        changes: dict[str, Any] = {}
        if q.type is QuestionType.grid:
            changes["rows"] = [r for r in q.rows if r.id in given[q.id]]
        if q.when is not None and q.when.question not in given:
            changes["when"] = None
        kept.append(q.model_copy(update=changes) if changes else q)
    return without_questions(qn, kept)


def _kind(exc: InvalidAnswer, q: Question) -> str:
    if isinstance(exc, UnknownOption):
        return UNKNOWN_OPTION
    if isinstance(exc, TooManyChoices):
        return TOO_MANY_CHOICES
    if isinstance(exc, OutOfRange):
        return OUT_OF_RANGE
    if isinstance(exc, TextTooLong):
        return TEXT_TOO_LONG
    if q.type is QuestionType.number:
        return BAD_NUMBER
    return INVALID


def _question_index(qn: Questionnaire) -> dict[str, Question]:
    index: dict[str, Question] = {}
    for q in qn.questions:
        index.setdefault(q.id.casefold(), q)
    for q in qn.questions:  # exact ids win over case-folded ones
        index[q.id] = q
    return index


def _resolve_header(
    qn: Questionnaire, header: list[str]
) -> tuple[list[_Column], list[ImportProblem]]:
    """Map header cells to questions / grid rows; every unknown or repeated column reported."""
    questions = _question_index(qn)
    columns: list[_Column] = []
    problems: list[ImportProblem] = []
    seen: dict[str, str] = {}
    respondent_seen = False
    for i, raw in enumerate(header):
        name = raw.strip()
        shown = name or f"#{i + 1}"
        if name.casefold() == RESPONDENT_COLUMN:
            if respondent_seen:
                problems.append(ImportProblem(1, shown, "the respondent column appears twice",
                                              DUPLICATE_COLUMN))
            respondent_seen = True
            continue
        qid, dot, row = name.partition(".")
        q = questions.get(qid) or questions.get(qid.casefold())
        if q is None:
            known = ", ".join(x.id for x in qn.questions)
            problems.append(ImportProblem(
                1, shown, f"'{name}' is not a question of {qn.id} (known: {known})",
                UNKNOWN_COLUMN))
            continue
        row_id = ""
        if q.type is QuestionType.grid:
            opt = find_option(q.rows, row) if dot and row.strip() else None
            if opt is None:
                rows = ", ".join(f"{q.id}.{r.id}" for r in q.rows)
                what = f"'{row}' is not a row of '{q.id}'" if dot else f"'{q.id}' is a grid"
                problems.append(ImportProblem(
                    1, shown, f"{what}; its answers go in one column per row ({rows})",
                    UNKNOWN_COLUMN))
                continue
            row_id = opt.id
        elif dot:
            problems.append(ImportProblem(
                1, shown, f"'{q.id}' is a {q.type.value} question and has no rows "
                f"(use the column '{q.id}')", UNKNOWN_COLUMN))
            continue
        col = _Column(i, shown, q, row_id)
        if col.key in seen:
            problems.append(ImportProblem(
                1, shown, f"'{col.key}' is already given in column {seen[col.key]}",
                DUPLICATE_COLUMN))
            continue
        seen[col.key] = shown
        columns.append(col)
    return columns, problems


class _CellReader:
    """Canonical value of a cell, with a memo per column (most cells repeat an option)."""

    def __init__(self, col: _Column):
        self.col = col
        self.memo: dict[str, tuple[Any, InvalidAnswer | None]] = {}
        self.cache = col.question.type is not QuestionType.text

    def read(self, cell: str) -> tuple[Any, InvalidAnswer | None]:
        hit = self.memo.get(cell) if self.cache else None
        if hit is not None:
            return hit
        result = self._read(cell)
        if self.cache and len(self.memo) < 10_000:
            self.memo[cell] = result
        return result

    def _read(self, cell: str) -> tuple[Any, InvalidAnswer | None]:
        q = self.col.question
        try:
            if q.type is QuestionType.multi:
                unknown = [item.strip() for item in cell.split(";")
                           if item.strip() and find_option(q.choices, item) is None]
                if unknown:
                    listed = ", ".join(f"'{u}'" for u in unknown)
                    noun = "is not an option" if len(unknown) == 1 else "are not options"
                    raise UnknownOption(self.col.key, f"{listed} {noun} of '{q.id}'")
            if q.type is QuestionType.text and cell[:1] == "'" and cell[1:2] in FORMULA_STARTS:
                cell = cell[1:]  # written by export so spreadsheets show it as text
            return normalize(q, cell, self.col.row_id), None
        except InvalidAnswer as exc:
            return None, exc


class _CsvRows:
    """The records of a CSV file, read strictly; `row` is the record number (header = 1) and
    `line` the file line the current record starts on (a quoted cell may span lines)."""

    def __init__(self, fh: Any):
        self.reader = csv.reader(fh, strict=True)
        self.row = 0
        self.line = 1
        self._end = 0  # the last line of the previous record

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        self.row += 1
        self.line = self._end + 1
        record = next(self.reader)
        self._end = self.reader.line_num
        return record


def _csv_problem(exc: csv.Error, rows: _CsvRows, path: Path, header: list[str] | None) -> ImportProblem:
    """A csv.Error as a problem at the record it happened in (row and column)."""
    text = str(exc)
    column = "-"
    start = _physical_line(path, rows.line)
    if start is not None:
        index = _failing_cell(start, csv.field_size_limit())
        named = header[index - 1].strip() if header and index <= len(header) else ""
        column = named or f"#{index}"
    if "field larger than field limit" in text:
        message = (f"a cell is longer than {csv.field_size_limit():,} characters (the longest answer "
                   "a questionnaire takes is 10,000); is a quote left open?")
    elif "unexpected end of data" in text or "EOF" in text:
        message = (f"a quoted cell opened on line {rows.line} is never closed: the rest of the file "
                   "would become one answer. Close the quote (write a quote inside a cell as \"\")")
    elif "expected after" in text:
        message = ("text follows the closing quote of a quoted cell; write a quote inside a cell "
                   "as \"\" or quote the whole cell")
    else:
        message = f"unreadable CSV: {text}"
    return ImportProblem(rows.row, column, message, BAD_FILE)


def _failing_cell(line: str, limit: int) -> int:
    """The 1-based cell of a record's first line where strict reading fails: text after a
    closing quote, a cell over `limit`, or the cell still open when the line ends."""
    index, length, state = 1, 0, "start"  # start | plain | quoted | closed
    for ch in line:
        if state == "quoted":
            if ch == '"':
                state = "closed"
            else:
                length += 1
        elif state == "closed":
            if ch == '"':  # a doubled quote inside a quoted cell
                state, length = "quoted", length + 1
            elif ch == ",":
                index, length, state = index + 1, 0, "start"
            elif ch in "\r\n":
                break
            else:
                return index
        elif ch == '"' and state == "start":
            state = "quoted"
        elif ch == ",":
            index, length, state = index + 1, 0, "start"
        elif ch in "\r\n":
            break
        else:
            state, length = "plain", length + 1
        if length > limit:
            return index
    return index


def _physical_line(path: Path, number: int) -> str | None:
    """Line `number` (1-based) of the file, or None when it cannot be read."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            for i, line in enumerate(fh, start=1):
                if i == number:
                    return line
    except (OSError, UnicodeDecodeError):
        return None
    return None


def parse_file(qn: Questionnaire, path: Path) -> _Parsed:
    """Read and validate the whole file; ImportInvalid listing the problems (first MAX_LISTED)."""
    source = str(path)
    problems = _Problems()
    header: list[str] | None = None
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            records = _CsvRows(fh)
            try:
                header = next(records, None)
                return _parse_records(qn, source, header, records, problems)
            except csv.Error as exc:
                problems.add(_csv_problem(exc, records, path, header))
                raise ImportInvalid(source, problems.listed, problems.more) from None
    except FileNotFoundError:
        raise ImportInvalid(source, [ImportProblem(0, "-", "file not found", BAD_FILE)]) from None
    except IsADirectoryError:
        raise ImportInvalid(source, [ImportProblem(0, "-", "is a folder, not a CSV file",
                                                   BAD_FILE)]) from None
    except UnicodeDecodeError:
        binary = {".parquet": "a Parquet file", ".xlsx": "an Excel workbook", ".xls": "an Excel workbook"}
        kind = binary.get(Path(source).suffix.lower())
        message = (f"this is {kind}; import reads CSV (export with --format csv, or save as 'CSV UTF-8')"
                   if kind else "the file is not UTF-8 text; save it as 'CSV UTF-8'")
        raise ImportInvalid(source, [ImportProblem(0, "-", message, BAD_FILE)]) from None


def _parse_records(
    qn: Questionnaire, source: str, header: list[str] | None, records: _CsvRows, problems: _Problems,
) -> _Parsed:
    if header is None or not any(h.strip() for h in header):
        raise ImportInvalid(source, [ImportProblem(1, "-", "the file is empty; the first row "
                                                   "must name the question columns", BAD_FILE)])
    columns, header_problems = _resolve_header(qn, header)
    problems.extend(header_problems)
    if not columns and not header_problems:
        problems.add(ImportProblem(1, "-", f"no question columns; the header must name "
                                   f"questions of {qn.id}", BAD_FILE))
    readers = [_CellReader(c) for c in columns]
    rows: list[dict[str, Any]] = []
    blank = 0
    width = len(header)
    named = max((i + 1 for i, h in enumerate(header) if h.strip()), default=0)  # trailing blanks aside
    for record in records:
        number = records.row
        if not any(cell.strip() for cell in record):
            blank += 1
            continue
        if len(record) > width and any(c.strip() for c in record[width:]):
            problems.add(ImportProblem(
                number, f"#{width + 1}", f"the row has {len(record)} cells but the header "
                f"has {width} columns", BAD_ROW))
        elif len(record) < named:
            missing = header[len(record)].strip() or f"#{len(record) + 1}"
            problems.add(ImportProblem(
                number, missing, f"the row has {len(record)} cells but the header has {width} columns "
                "(a row ends early, or a line break splits it)", BAD_ROW))
        values: dict[str, Any] = {}
        for reader in readers:
            idx = reader.col.index
            cell = record[idx] if idx < len(record) else ""
            if not cell.strip():
                continue
            value, error = reader.read(cell)
            if error is not None:
                problems.add(ImportProblem(number, reader.col.header, error.message,
                                           _kind(error, reader.col.question)))
            elif value is not None:
                values[reader.col.key] = value
        if values:
            rows.append(values)
        else:
            blank += 1
    if not problems and not rows:
        what = (f"all {blank:,} rows after the header are empty" if blank
                else "the file has a header but no rows")
        problems.add(ImportProblem(2, "-", f"no respondents: {what}; an import needs at least one "
                                   "answered row", NO_RESPONDENTS))
    if problems:
        raise ImportInvalid(source, problems.listed, problems.more)
    return _Parsed(columns, rows, blank)


async def _existing(session: AsyncSession, community_id: int, survey_id: str, label: str
                    ) -> Wave | None:
    return await find_wave(session, community_id, survey_id, label.strip())


async def _refuse(session: AsyncSession, wave: Wave | None, replace: bool) -> None:
    """WaveExists unless the label is free, or names an imported wave and `replace` is set."""
    if wave is None or (replace and wave.imported):
        return
    responses = await session.execute(
        select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
    )
    n = int(responses.scalar_one())
    if not wave.imported:
        raise WaveExists(
            f"wave '{wave.label}' of {wave.survey_id} was run in chat ({n} respondents), not "
            "imported; an import never replaces it. Choose another wave label."
        )
    raise WaveExists(
        f"wave '{wave.label}' of {wave.survey_id} was already imported ({n} respondents); "
        "nothing was imported. Import again with --replace to overwrite it."
    )


async def delete_imported_wave(session: AsyncSession, wave: Wave) -> None:
    """Delete an imported wave with its answers and the respondents created for it."""
    own = (
        select(Respondent.id)
        .join(Response, Response.respondent_id == Respondent.id)
        .where(Response.wave_id == wave.id, Respondent.pseudonym.startswith(PSEUDONYM_PREFIX))
    )
    respondent_ids = [rid for (rid,) in (await session.execute(own)).all()]
    await session.execute(delete(AnswerChoice).where(AnswerChoice.wave_id == wave.id))
    await session.execute(delete(Answer).where(Answer.wave_id == wave.id))
    await session.execute(delete(Response).where(Response.wave_id == wave.id))
    await session.execute(delete(Participation).where(Participation.wave_id == wave.id))
    for start in range(0, len(respondent_ids), 5000):
        batch = respondent_ids[start:start + 5000]
        await session.execute(delete(Respondent).where(Respondent.id.in_(batch)))
    await session.execute(delete(Wave).where(Wave.id == wave.id))
    await session.flush()
    log.info("deleted imported wave %s (%d respondents)", wave.label, len(respondent_ids))


class _BulkWriter:
    """Plain driver writes into the model tables, inside the session's transaction: `COPY`
    on PostgreSQL (psycopg's `cursor.copy`, about a third faster than `executemany`),
    `executemany` on SQLite.

    Values are converted once with the columns' own SQLAlchemy bind processors (UTC
    datetimes, JSON), and random ids are drawn up front, so answer choices can reference
    their answers without a RETURNING round trip per row.
    """

    def __init__(self, conn: AsyncConnection):
        self.conn = conn
        self.dialect = conn.dialect
        self.pg = self.dialect.name == "postgresql"

    def processor(self, table: Table, column: str) -> Callable[[Any], Any]:
        """The column's bind conversion; JSON as text when the driver would adapt it."""
        kind = table.c[column].type
        proc = kind.bind_processor(self.dialect)
        if proc is None and isinstance(kind, JSON):
            dumps = getattr(self.dialect, "_json_serializer", None) or json.dumps
            return lambda v: None if v is None else dumps(v)
        return proc or (lambda v: v)

    @staticmethod
    async def reserve_ids(table: Table, n: int) -> list[int]:
        """`n` distinct random keys (ids of pseudonymous rows follow no order: docs/privacy.md)."""
        ids: set[int] = set()
        while len(ids) < n:
            ids.add(random_key())
        return list(ids)

    async def insert(self, table: Table, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.pg and COPY_ON_POSTGRESQL:
            await self._copy(table, columns, rows)
            return
        marks = []
        for name in columns:
            mark = "%s" if self.pg else "?"
            if self.pg and isinstance(table.c[name].type, JSON):
                mark += "::json"
            marks.append(mark)
        stmt = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(marks)})"
        await self.conn.exec_driver_sql(stmt, rows)

    async def _copy(self, table: Table, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """`COPY … FROM STDIN` on the session's own connection (so in its transaction); the
        table's constraints are checked as for an INSERT."""
        raw = await self.conn.get_raw_connection()
        driver: Any = raw.driver_connection
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        async with driver.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                await copy.write_row(row)


async def _write_chunk(
    bulk: _BulkWriter, wave_id: int, community_id: int, qn: Questionnaire,
    rows: list[dict[str, Any]], token: str, offset: int,
) -> tuple[int, int]:
    """Write one batch of respondents as the answer flow would; returns (answers, choices)."""
    respondents, responses = table_of(Respondent), table_of(Response)
    answers, choices = table_of(Answer), table_of(AnswerChoice)
    when = bulk.processor(answers, "answered_at")(utcnow())
    as_json = bulk.processor(answers, "value")
    respondent_ids = await bulk.reserve_ids(respondents, len(rows))
    await bulk.insert(respondents, ["id", "community_id", "pseudonym", "created_at"], [
        (rid, community_id, f"{PSEUDONYM_PREFIX}{token}:{offset + i}", when)
        for i, rid in enumerate(respondent_ids)
    ])
    response_ids = await bulk.reserve_ids(responses, len(rows))
    await bulk.insert(
        responses, ["id", "wave_id", "respondent_id", "platform", "started_at", "completed_at",
                    "updated_at", "answered"],
        [(resp, wave_id, rid, IMPORT_PLATFORM, when, when, when, True)
         for resp, rid in zip(response_ids, respondent_ids, strict=True)],
    )
    numbers = {q.id for q in qn.questions if q.type is QuestionType.number}
    counted = {q.id: q for q in qn.questions if q.type in _COUNTED}
    n_answers = sum(len(values) for values in rows)
    answer_ids = iter(await bulk.reserve_ids(answers, n_answers))
    answer_rows: list[tuple[Any, ...]] = []
    choice_rows: list[tuple[Any, ...]] = []
    encoded: dict[str, Any] = {}
    for rid, values in zip(respondent_ids, rows, strict=True):
        for key, value in values.items():
            qid, _, row_id = key.partition(".")
            aid = next(answer_ids)
            if isinstance(value, str):
                stored = encoded.get(value)
                if stored is None:
                    stored = encoded[value] = as_json(value)
            else:
                stored = as_json(value)
            number = float(value) if qid in numbers else None
            answer_rows.append((aid, wave_id, rid, qid, row_id, stored, number, when))
            q = counted.get(qid)
            if q is not None:
                for opt in chosen_options(q, value):
                    choice_rows.append((aid, opt, wave_id, rid, qid, row_id))
    await bulk.insert(answers, ["id", "wave_id", "respondent_id", "question_id", "row_id", "value",
                                "number", "answered_at"], answer_rows)
    await bulk.insert(choices, ["answer_id", "option_id", "wave_id", "respondent_id", "question_id",
                                "row_id"], choice_rows)
    return len(answer_rows), len(choice_rows)


async def import_csv(
    db: Database,
    *,
    community_id: int,
    questionnaire: Questionnaire,
    wave_label: str,
    path: str | Path,
    replace: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import `path` as the closed, imported wave `wave_label` of `questionnaire`.

    Raises ImportInvalid (every problem, nothing written) or WaveExists (the wave was
    imported before and `replace` is false, or it was run in chat).
    """
    qn = questionnaire
    label = wave_label.strip()
    if not label or len(label) > 64:
        raise SurveyError("a wave label needs 1 to 64 characters")
    async with db.session() as session:  # fail fast before reading a large file
        await _refuse(session, await _existing(session, community_id, qn.id, label), replace)
    parsed = parse_file(qn, Path(path))
    total = len(parsed.rows)
    if progress:
        progress(0, total)
    token = secrets.token_hex(8)
    answers = choices = 0
    async with db.session() as session:
        community = await session.get(Community, community_id)
        if community is None:
            raise SurveyError(f"community {community_id} does not exist")
        existing = await _existing(session, community_id, qn.id, label)
        await _refuse(session, existing, replace)  # again: another import may have finished
        if existing is not None:
            await delete_imported_wave(session, existing)
        asked = asked_questionnaire(qn, parsed.columns)
        wave = await create_wave(session, community, asked, label, status=WaveStatus.closed,
                                 imported=True)
        bulk = _BulkWriter(await session.connection())
        for start in range(0, total, CHUNK):
            chunk = parsed.rows[start:start + CHUNK]
            a, c = await _write_chunk(bulk, wave.id, community_id, qn, chunk, token, start)
            answers += a
            choices += c
            if progress:
                progress(start + len(chunk), total)
        wave_id = wave.id
    log.info("imported %d respondents (%d answers) into %s %s", total, answers, qn.id, label)
    return ImportResult(
        wave_id=wave_id, label=label, survey_id=qn.id, respondents=total, answers=answers,
        choices=choices, replaced=existing is not None, blank_rows=parsed.blank_rows,
        columns=[c.key for c in parsed.columns],
    )
