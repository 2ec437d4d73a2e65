"""Property tests of the inputs people write: CSV imports and questionnaire YAML.

A few hundred generated cases per property (STATEOF_HYPOTHESIS_EXAMPLES raises it, see
tests/conftest.py). Whatever the bytes: a result or one clear refusal, never a traceback;
every message one readable line; a valid file means exactly what it says.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from surveys.catalog import QuestionnaireError, parse_questionnaire
from surveys.importer import FORMULA_STARTS, MAX_LISTED, ImportInvalid, parse_file
from surveys.invisible import is_invisible
from surveys.schema import Questionnaire
from tests.surveys.test_importer import QN

HEADER = ["role", "focus", "tooling.pipeline", "tooling.serving", "team", "country", "note"]
ROLE = {"engineer": "engineer", "Engineer": "engineer", "dev": "engineer", "scientist": "scientist",
        "DATA SCIENTIST": "scientist", "other": "other"}
FOCUS = {"deploy": "deploy", "Deploying models": "deploy", "monitoring": "monitoring",
         "observability": "monitoring", "retraining": "retraining"}
SCALE = {"established": "established", "Looking": "looking", "looking": "looking"}
COUNTRY = {"DE": "DE", "FI": "FI", "Germany": "DE"}
ORDER = ["deploy", "monitoring", "retraining", "nothing"]

any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
# free text an operator's form could hold: anything, already trimmed, not a formula escape
note = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20).filter(
    lambda s: s == s.strip() and not (s[:1] == "'" and s[1:2] in FORMULA_STARTS))


@st.composite
def respondent(draw: st.DrawFn) -> tuple[list[str], dict[str, Any]]:
    """One CSV row and the canonical values the import must read from it."""
    cells: list[str] = []
    want: dict[str, Any] = {}
    role = draw(st.sampled_from(sorted(ROLE)))
    cells.append(role)
    want["role"] = ROLE[role]
    if draw(st.booleans()):
        picked = ["None of these"]
        want["focus"] = ["nothing"]
    else:
        picked = draw(st.lists(st.sampled_from(sorted(FOCUS)), max_size=2,
                               unique_by=lambda k: FOCUS[k]))
        if picked:
            want["focus"] = [o for o in ORDER if o in {FOCUS[k] for k in picked}]
    cells.append(";".join(picked))
    for row in ("pipeline", "serving"):
        point = draw(st.sampled_from(["", *sorted(SCALE)]))
        cells.append(point)
        if point:
            want[f"tooling.{row}"] = SCALE[point]
    team = draw(st.none() | st.integers(1, 500))
    cells.append("" if team is None else str(team))
    if team is not None:
        want["team"] = team
    country = draw(st.sampled_from(["", *sorted(COUNTRY)]))
    cells.append(country)
    if country:
        want["country"] = COUNTRY[country]
    text = draw(st.none() | note)
    cells.append(text or "")
    if text:
        want["note"] = text
    return cells, want


def _write(text: str | bytes) -> Path:
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as handle:
        handle.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return Path(handle.name)


def _csv(rows: list[list[str]], terminator: str) -> str:
    """Rows as a spreadsheet writes them. With "\n" line ends every cell is quoted: Python's
    writer would leave a lone "\r" unquoted, which any reader takes for a line end."""
    buf = io.StringIO()
    quoting = csv.QUOTE_MINIMAL if terminator == "\r\n" else csv.QUOTE_ALL
    csv.writer(buf, lineterminator=terminator, quoting=quoting).writerows(rows)
    return buf.getvalue()


def _readable(line: str) -> bool:
    return "\n" not in line and not any(is_invisible(ch) for ch in line)


def _parse(text: str | bytes) -> Any:
    path = _write(text)
    try:
        return parse_file(QN, path)
    finally:
        path.unlink()


@given(st.lists(respondent(), min_size=1, max_size=12), st.sampled_from(["\r\n", "\n"]))
def test_a_valid_csv_imports_exactly_what_it_says(rows, terminator):
    parsed = _parse(_csv([HEADER, *(cells for cells, _ in rows)], terminator))
    assert parsed.rows == [want for _, want in rows]


@given(st.lists(respondent(), min_size=1, max_size=8), st.data())
def test_an_unclosed_quote_is_refused_at_its_row(rows, data):
    at = data.draw(st.integers(0, len(rows) - 1))
    lines = _csv([HEADER, *(cells for cells, _ in rows[:at])], "\n")
    opened = data.draw(st.text(st.characters(exclude_categories=("Cs",), exclude_characters='"'),
                               max_size=30))
    # the rest of the file is what the open quote would swallow: plain rows, no quote to close it
    rest = "".join(f"engineer,,,,{i % 500 + 1},,plain {i}\n" for i in range(data.draw(st.integers(0, 10))))
    text = lines + 'engineer,,,,,,"' + opened + "\n" + rest
    try:
        _parse(text)
    except ImportInvalid as exc:
        rows_named = {p.row for p in exc.problems}
        assert at + 2 in rows_named, [str(p) for p in exc.problems]
        assert any("never closed" in p.message for p in exc.problems)
    else:
        raise AssertionError("a file with an unclosed quote was imported")


@given(st.lists(respondent(), min_size=1, max_size=10), st.data())
def test_short_rows_are_refused_by_number(rows, data):
    cut = data.draw(st.sets(st.integers(0, len(rows) - 1), min_size=1))
    table = [HEADER]
    for i, (cells, _) in enumerate(rows):
        keep = data.draw(st.integers(1, len(cells) - 1)) if i in cut else len(cells)
        table.append(cells[:keep])
    try:
        _parse(_csv(table, "\n"))
    except ImportInvalid as exc:
        short = {p.row for p in exc.problems if p.kind == "bad_row"}
        assert short == {i + 2 for i in cut}
    else:
        raise AssertionError("short rows were imported")


@given(st.one_of(
    any_text,
    st.binary(max_size=200),
    st.lists(st.lists(any_text, max_size=9), max_size=8).map(lambda rows: _csv(rows, "\n")),
    st.lists(st.sampled_from(['"', ",", "\n", "\r", "role", "note", "engineer", "x" * 7, "\x00",
                              "\u200b", "'=1", ";", "team", "9999"]), max_size=40).map("".join),
))
def test_any_bytes_are_a_result_or_readable_problems(content):
    try:
        parsed = _parse(content)
    except ImportInvalid as exc:
        assert 1 <= len(exc.problems) <= MAX_LISTED
        assert exc.total == len(exc.problems) + exc.more
        for line in [str(exc), *(str(p) for p in exc.problems)]:
            assert _readable(line) and len(line) < 1000, line
    else:
        assert parsed.rows, "a file without respondents was accepted"


# -- questionnaire YAML ---------------------------------------------------------------------

ids = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
labels = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp", "Cf")), min_size=1,
                 max_size=20).filter(lambda s: s.strip() == s and s != "")


@st.composite
def questionnaire(draw: st.DrawFn) -> dict[str, Any]:
    """A valid questionnaire as the dict its YAML holds."""
    qids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    questions = []
    for qid in qids:
        kind = draw(st.sampled_from(["single", "multi", "number", "text"]))
        q: dict[str, Any] = {"id": qid, "type": kind, "text": draw(labels)}
        if kind in ("single", "multi"):
            oids = draw(st.lists(ids, min_size=2, max_size=5, unique=True))
            q["options"] = [{"id": o, "label": draw(labels)} for o in oids]
        if kind == "number":
            low = draw(st.integers(-1000, 1000))
            q["min"], q["max"] = low, low + draw(st.integers(0, 10_000))
        questions.append(q)
    return {"id": draw(ids), "version": draw(st.integers(1, 2**31 - 1)), "title": draw(labels),
            "questions": questions}


@given(questionnaire())
def test_a_valid_questionnaire_parses_to_what_it_says(data):
    qn = parse_questionnaire(yaml.safe_dump(data, allow_unicode=True), "gen.yaml")
    again = Questionnaire.model_validate(data)
    assert qn == again
    assert parse_questionnaire(yaml.safe_dump(qn.model_dump(mode="json", by_alias=True,
                                                             exclude_defaults=True))) == qn


HOSTILE_VALUES = [math.inf, -math.inf, math.nan, 10**30, 99_999_999_999, "a\x00b", "x\x1b[2J", "\u202eevil"]


@given(questionnaire(), st.sampled_from(HOSTILE_VALUES), st.data())
def test_a_hostile_value_anywhere_is_one_problem_with_its_path(data, bad, draw):
    q = draw.draw(st.sampled_from(data["questions"]))
    field = draw.draw(st.sampled_from(["text", "id"] + (["min", "max"] if q["type"] == "number" else [])))
    assume(not (field == "id" and isinstance(bad, float)))
    assume(not (field in ("min", "max") and bad == 99_999_999_999))  # a fine bound for a number
    q[field] = bad
    started = time.perf_counter()
    try:
        parse_questionnaire(yaml.safe_dump(data, allow_unicode=True), "gen.yaml")
    except QuestionnaireError as exc:
        assert time.perf_counter() - started < 1.0
        index = data["questions"].index(q)
        assert any(p.startswith(f"questions[{index}].{field}") for p in exc.problems), exc.problems
        assert all(_readable(p) for p in exc.problems), exc.problems
    else:
        raise AssertionError(f"{field}: {bad!r} was accepted")


yaml_tokens = st.sampled_from([
    "[", "]", "{", "}", ",", ":", " ", "\n", "  ", "- ", "&a ", "*a", "&b ", "*b", "<<: ", "? ",
    "id", "title", "questions", "type", "single", "options", "label", "text", ".inf", ".nan",
    "1e400", "99999999999", '"\\0"', "'x'", "!!python/object:os.system", "!!binary ", "%YAML 1.1\n",
    "---\n", "...\n", "|", ">", "#", "\t", "\x00", "\u200b",
])


@given(st.one_of(any_text, st.lists(yaml_tokens, max_size=80).map("".join)))
def test_any_yaml_is_a_questionnaire_or_readable_problems_in_under_a_second(text):
    started = time.perf_counter()
    try:
        parse_questionnaire(text, "gen.yaml")
    except QuestionnaireError as exc:
        assert exc.problems and all("\n" not in p for p in exc.problems), exc.problems
    assert time.perf_counter() - started < 1.0
