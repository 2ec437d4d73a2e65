"""Questionnaire files that used to pass validation and crash later, or exhaust the machine:
each is now one problem, found in well under a second, from the parser, from
`stateof surveys validate FILE` and from the catalog folder at start-up."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.services import build_services
from bot.settings import Settings, SettingsError
from surveys.catalog import QuestionnaireError, parse_questionnaire
from surveys.catalog.safe_yaml import MAX_BYTES, MAX_DEPTH, MAX_NODES

BASE = """\
id: hostile
title: Hostile
questions:
  - id: n
    type: number
    text: How many?
"""


def _alias_bomb(levels: int = 9) -> str:
    """The classic 'billion laughs': each level repeats the previous one nine times (~1 KB)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "infinite max": (BASE + "    max: .inf\n", "questions[0].max: inf is not a finite number"),
    "nan min": (BASE + "    min: .nan\n", "questions[0].min: nan is not a finite number"),
    "1e400": (BASE + "    max: 1e400\n", "questions[0].max: Input should be a finite number"),
    "1.0e+400": (BASE + "    max: 1.0e+400\n", "questions[0].max: inf is not a finite number"),
    "huge max": (BASE + f"    max: {10**30}\n", "questions[0].max: 1e+30 is out of range"),
    "version 99999999999": (BASE.replace("title:", "version: 99999999999\ntitle:"),
                            "version: 99999999999 is too large (at most 2,147,483,647)"),
    "version 10**30": (BASE.replace("title:", f"version: {10**30}\ntitle:"), "version: 1e+30 is too large"),
    "NUL in title": (BASE.replace("title: Hostile", 'title: "Hos\\0tile"'),
                     "title: contains invisible or control characters (\\x00)"),
    "escape in a label": (BASE.replace("type: number", 'type: single\n    options: '
                                       '[{id: a, label: "A\\e[31m"}, {id: b, label: B}]'),
                          "questions[0].options[0].label: contains"),
    "bidi override in text": (BASE.replace("How many?", '"How \\u202Emany?"'), "(\\u202e)"),
    "20,000 nested [": ("id: " + "[" * 20_000, "line 1, column "),
    "deep but closed": ("id: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper than"),
    "alias bomb": (_alias_bomb(), f"expands to more than {MAX_NODES:,} values"),
    "recursive alias": ("id: &a [*a]\n", "an alias refers to a node that contains it"),
    "duplicate key": (BASE.replace("title: Hostile", "title: Hostile\ntitle: Other"),
                      "line 3, column 1: duplicate key 'title' (first given on line 2)"),
    "duplicate nested key": (BASE + "    text: again\n", "duplicate key 'text'"),
    "too large": (BASE.replace("title: Hostile", "description: " + "x" * MAX_BYTES),
                  f"a questionnaire has at most {MAX_BYTES:,}"),
}


@pytest.mark.parametrize("text, expected", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_questionnaires_are_one_problem_in_under_a_second(text, expected):
    started = time.perf_counter()
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(text, "hostile.yaml")
    took = time.perf_counter() - started
    assert took < 1.0, took
    assert len(info.value.problems) == 1, info.value.problems
    (problem,) = info.value.problems
    assert expected in problem and "\n" not in problem and "\x00" not in problem, problem


def test_text_may_hold_line_breaks_and_anchors_still_work():
    qn = parse_questionnaire(BASE.replace("How many?", '"How\\nmany?"') + """\
  - id: g
    type: grid
    text: Tools?
    rows: [{id: a, label: A}, {id: b, label: B}]
    scale: &scale [{id: yes_, label: "Yes"}, {id: no_, label: "No"}]
  - id: h
    type: grid
    text: Again?
    rows: [{id: c, label: C}]
    scale: *scale
""")
    assert qn.questions[0].text == "How\nmany?"
    assert [s.id for s in qn.question("h").scale] == ["yes_", "no_"]


def test_the_merge_key_is_not_a_duplicate():
    qn = parse_questionnaire(BASE + """\
  - &common {id: a, type: text, text: First}
  - <<: *common
    id: b
""")
    assert [q.id for q in qn.questions] == ["n", "a", "b"]


@pytest.mark.parametrize("case", ["alias bomb", "20,000 nested ["])
def test_stateof_surveys_validate_prints_one_problem_quickly(tmp_path, case):
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE[case][0], encoding="utf-8")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot.cli", "surveys", "validate", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: "), done.stderr
    assert HOSTILE[case][1] in lines[0] and "Traceback" not in done.stderr
    assert time.perf_counter() - started < 15  # the interpreter's start-up included


@pytest.mark.parametrize("case", ["alias bomb", "20,000 nested [", "infinite max", "duplicate key"])
def test_the_catalog_folder_at_start_up_is_one_line(tmp_path, case):
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "ours.yaml").write_text(HOSTILE[case][0], encoding="utf-8")
    settings = Settings(secret_key="catalog-test-secret-0123456789-abcdef", catalog_dir=folder,
                        database_url="sqlite+aiosqlite:///:memory:", _env_file=None)
    started = time.perf_counter()
    with pytest.raises(SettingsError) as info:
        build_services(settings)
    assert time.perf_counter() - started < 1.0
    message = str(info.value)
    assert message.startswith("STATEOF_CATALOG_DIR is invalid: ") and "ours.yaml" in message
    assert HOSTILE[case][1] in message and "\n" not in message


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: 50 MB of NULs
    from surveys.catalog import load_file

    with pytest.raises(QuestionnaireError, match="the file has 52,428,800 bytes"):
        load_file(path)


def test_the_built_in_questionnaire_is_far_within_the_limits():
    text = (Path(__file__).parents[2] / "surveys" / "catalog" / "state-of-mlops.yaml").read_text()
    assert len(text.encode()) < MAX_BYTES / 10
    parse_questionnaire(text)


@pytest.mark.parametrize("line, expected", [
    ('version: "99999999999"', "version: Input should be less than or equal to 2147483647"),
])
def test_quoted_numbers_are_bounded_too(line, expected):
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(BASE.replace("title:", f"{line}\ntitle:") + '    max: "1e30"\n')
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert any(p.startswith("questions[0].max: Input should be less than or equal to")
               for p in info.value.problems)


def test_stateof_surveys_validate_lists_fifty_problems_then_a_count(tmp_path):
    questions = "".join(f"  - {{id: q{i}, type: slider, text: Q{i}}}\n" for i in range(80))
    path = tmp_path / "many.yaml"
    path.write_text(f"id: many\ntitle: Many\nquestions:\n{questions}", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "surveys", "validate", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "80 problem(s)" in lines[0], done.stderr
    assert len(lines) == 1 + 50 + 1 and lines[-1].strip() == "… and 30 more"
