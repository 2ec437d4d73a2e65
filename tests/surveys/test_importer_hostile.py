"""CSV files that used to import wrongly or report badly: an unclosed quote, a huge cell,
no respondents, short rows, a million problems, invisible characters. Each is refused with
its row and column, nothing is written, and the messages stay readable."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveys import importer
from surveys.importer import MAX_LISTED, ImportInvalid, import_csv
from surveys.models import Answer, Respondent, Response, Wave
from surveys.waves import ensure_community
from tests.bot.test_cli import stateof
from tests.surveys.test_importer import QN, count


@pytest.fixture
async def community_id(db) -> int:
    async with db.session() as session:
        return (await ensure_community(session, "default")).id


ROWS = "".join(f"engineer,answer {i}\n" for i in range(10))


async def refused(db, community_id, path: Path) -> ImportInvalid:
    with pytest.raises(ImportInvalid) as info:
        await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2020", path=path)
    for model in (Wave, Respondent, Response, Answer):
        assert await count(db, model) == 0, model.__name__
    return info.value


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wave.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return path


async def test_an_unclosed_quote_is_an_error_at_its_row_not_one_long_answer(db, community_id, tmp_path):
    path = write(tmp_path, "role,note\nengineer,fine\nengineer,\"never closed\n" + ROWS)
    error = await refused(db, community_id, path)
    (problem,) = error.problems
    assert (problem.row, problem.column, problem.kind) == (3, "note", importer.BAD_FILE)
    assert "a quoted cell opened on line 3 is never closed" in str(problem)


async def test_text_after_a_closing_quote_is_an_error_at_its_row(db, community_id, tmp_path):
    path = write(tmp_path, 'role,note\nengineer,fine\r\nengineer,"quoted" then more\r\n' + ROWS)
    (problem,) = (await refused(db, community_id, path)).problems
    assert (problem.row, problem.column) == (3, "note") and "closing quote" in problem.message


async def test_a_cell_over_the_csv_field_limit_is_reported_at_its_row(db, community_id, tmp_path):
    path = write(tmp_path, 'role,note\nengineer,fine\nengineer,fine\nengineer,"' + "x" * 140_000 + '"\n')
    (problem,) = (await refused(db, community_id, path)).problems
    assert (problem.row, problem.column) == (4, "note"), problem
    assert "longer than 131,072 characters" in str(problem) and "row 4" in str(problem)


@pytest.mark.parametrize("text, what", [
    ("role,note\n", "the file has a header but no rows"),
    ("role,note\r\n,\r\n\r\n ,  \r\n", "all 3 rows after the header are empty"),
])
async def test_a_file_without_respondents_creates_nothing(db, community_id, tmp_path, text, what):
    (problem,) = (await refused(db, community_id, write(tmp_path, text))).problems
    assert problem.kind == importer.NO_RESPONDENTS and what in problem.message


async def test_short_rows_are_refused_with_their_row_numbers(db, community_id, tmp_path):
    path = write(tmp_path, "role,team,note\nengineer,3,ok\nengineer,3\nengineer\nengineer,3,ok,\n")
    problems = (await refused(db, community_id, path)).problems
    assert [(p.row, p.column, p.kind) for p in problems] == [
        (3, "note", importer.BAD_ROW), (4, "team", importer.BAD_ROW)]
    assert "the row has 1 cells but the header has 3 columns" in problems[1].message


async def test_the_problem_list_shows_the_first_fifty_and_counts_the_rest(db, community_id, tmp_path):
    path = write(tmp_path, "role\n" + "astronaut\n" * 1000)
    error = await refused(db, community_id, path)
    assert len(error.problems) == MAX_LISTED and error.more == 1000 - MAX_LISTED
    assert [p.row for p in error.problems] == list(range(2, 2 + MAX_LISTED))
    assert "1,000 problems; nothing was imported" in str(error)


async def test_invisible_characters_are_shown_escaped(db, community_id, tmp_path):
    path = write(tmp_path, "role,note\u200b\nastro\x1b[31mnaut\u202e,\nengineer,ok\n")
    error = await refused(db, community_id, path)
    shown = "\n".join(str(p) for p in error.problems)
    assert "note\\u200b" in shown and "astro\\x1b[31mnaut\\u202e" in shown, shown
    assert not any(ch in shown for ch in "\u200b\x1b\u202e")


async def test_a_long_value_is_cut_in_its_message(db, community_id, tmp_path):
    path = write(tmp_path, "role\n" + "a" * 5000 + "\n")
    (problem,) = (await refused(db, community_id, path)).problems
    assert len(str(problem)) < 500 and "more characters)" in str(problem)


def test_stateof_import_prints_fifty_problems_and_a_count(tmp_path, database_url):
    (tmp_path / "bad.csv").write_text("title\n" + "astronaut\n" * 5000)
    (tmp_path / "open.csv").write_text("title,biggest_challenge\nml_engineer,\"open\n" + ROWS)
    env = {"STATEOF_DATABASE_URL": database_url,
           "STATEOF_SECRET_KEY": "cli-test-secret-0123456789-abcdefghijkl"}
    args = ("--survey", "state-of-mlops", "--wave", "2019")
    result = stateof("import", "bad.csv", *args, cwd=tmp_path, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert "5,000 problems; nothing was imported" in lines[0]
    assert len(lines) == 1 + MAX_LISTED + 1 and "… and 4,950 more problem(s) not listed" in lines[-1]
    result = stateof("import", "open.csv", *args, cwd=tmp_path, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "row 2, column biggest_challenge: a quoted cell opened on line 2 is never closed" in result.stderr
