"""`stateof import | summary | export` as an operator runs them: real subprocesses, exit codes,
one-line errors, and the summary JSON of DESIGN.md."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from tests.bot.test_cli import stateof

SURVEY = "state-of-mlops"


@pytest.fixture
def db_env(database_url: str) -> dict[str, str]:
    return {"STATEOF_DATABASE_URL": database_url,
            "STATEOF_SECRET_KEY": "cli-test-secret-0123456789-abcdefghijkl"}


def past_wave(path: Path, n: int, monitoring: float, seed: int) -> Path:
    """A web-form export: labels in places, a grid row, multi answers, some skipped cells."""
    rnd = random.Random(seed)
    rows = [["title", "role", "focus", "tooling.ml_pipeline", "region", "biggest_challenge"]]
    for i in range(n):
        focus = ["Deploying models to production" if rnd.random() < 0.5 else "deploy"]
        if i < n * monitoring:
            focus.append("monitoring")
        rows.append([
            rnd.choice(["Data Scientist", "ml_engineer"]),
            rnd.choice(["models", "infra", "none"]),
            ";".join(dict.fromkeys(focus)) if i < n - 3 else "",  # the last 3 skip it
            rnd.choice(["established", "looking"]),
            rnd.choice(["europe", "india", ""]),
            "private words" if i % 3 == 0 else "",
        ])
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def ok(result, *needles: str) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stdout, result.stdout
    return result.stdout


def error(result, *needles: str, code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


def test_import_summary_and_export(tmp_path, db_env):
    past_wave(tmp_path / "2020.csv", 40, 0.15, seed=1)
    past_wave(tmp_path / "2021.csv", 60, 0.6, seed=2)
    ok(stateof("import", "2020.csv", "--survey", SURVEY, "--wave", "2020", cwd=tmp_path, env=db_env),
       "Imported wave 2020 of state-of-mlops: 40 respondents")
    ok(stateof("import", "2021.csv", "--survey", SURVEY, "--wave", "2021", cwd=tmp_path, env=db_env),
       "60 respondents")

    # default comparison: the previous wave; JSON on stdout alone
    data = json.loads(ok(stateof("summary", "--survey", SURVEY, "--wave", "2021", "--format", "json",
                                 cwd=tmp_path, env=db_env)))
    assert data["survey"] == SURVEY and data["wave"] == "2021" and data["compare"] == ["2020"]
    assert data["respondents"] == {"2021": 60, "2020": 40}
    assert data["min_group_size"] == 5
    focus = next(q for q in data["questions"] if q["id"] == "focus")
    assert focus["type"] == "multi"
    assert focus["results"]["2021"]["shares"]["monitoring"] == pytest.approx(0.6)
    assert focus["results"]["2020"]["shares"]["monitoring"] == pytest.approx(0.15)
    assert "monitoring" in json.dumps(focus["changes"])
    assert "significant" in json.dumps(focus["changes"])
    tooling = next(q for q in data["questions"] if q["id"] == "tooling")
    assert set(tooling["results"]["2021"]["rows"]) == {"ml_pipeline"}  # only the row asked
    assert not any(q["id"] == "industry" for q in data["questions"] if q["results"])
    text = next(q for q in data["questions"] if q["id"] == "biggest_challenge")
    assert "private words" not in json.dumps(text)

    # a segment, an explicit comparison, Markdown and charts into a folder
    out = ok(stateof("summary", "--survey", SURVEY, "--wave", "2021", "--compare", "2020",
                     "--where", "role=models,infra", "--format", "md", "--out", "report",
                     cwd=tmp_path, env=db_env), "summary.md")
    assert (tmp_path / "report" / "summary.md").is_file()
    assert any(p.suffix == ".png" for p in (tmp_path / "report").iterdir()), out

    # export: the import format on stdout, open data as parquet into a file
    exported = ok(stateof("export", "--survey", SURVEY, "--wave", "2020", cwd=tmp_path, env=db_env))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 40 and rows[0].keys() >= {"respondent", "title", "focus", "tooling.ml_pipeline"}
    assert "private words" in exported
    ok(stateof("export", "--survey", SURVEY, "--wave", "2020", "--format", "parquet", "--open-data",
               "--out", "open.parquet", cwd=tmp_path, env=db_env))
    blob = (tmp_path / "open.parquet").read_bytes()
    assert blob[:4] == b"PAR1" and b"private words" not in blob
    # what k-anonymity generalised, next to the file (and on stderr)
    assert (tmp_path / "open.parquet.generalised.txt").read_text().startswith("Open data, k = ")


def test_a_bad_file_lists_every_problem_and_imports_nothing(tmp_path, db_env):
    (tmp_path / "bad.csv").write_text(
        "title,nope,focus\n"
        "astronaut,1,deploy\n"
        "ml_engineer,2,deploy;monitoring;retraining;optimize\n"
    )
    err = error(stateof("import", "bad.csv", "--survey", SURVEY, "--wave", "2019",
                        cwd=tmp_path, env=db_env), "3 problems; nothing was imported")
    assert "row 1, column nope: 'nope' is not a question of state-of-mlops" in err
    assert "row 2, column title: 'astronaut' is not an option" in err
    assert "row 3, column focus: choose up to 3" in err
    error(stateof("export", "--survey", SURVEY, "--wave", "2019", cwd=tmp_path, env=db_env),
          "unknown wave '2019'")


def test_importing_a_wave_twice_is_refused_unless_replaced(tmp_path, db_env):
    past_wave(tmp_path / "a.csv", 6, 0.5, seed=3)
    past_wave(tmp_path / "b.csv", 9, 0.5, seed=4)
    args = ("--survey", SURVEY, "--wave", "2022")
    ok(stateof("import", "a.csv", *args, cwd=tmp_path, env=db_env))
    error(stateof("import", "b.csv", *args, cwd=tmp_path, env=db_env),
          "already imported (6 respondents)", "--replace")
    ok(stateof("import", "b.csv", *args, "--replace", cwd=tmp_path, env=db_env),
       "Replaced wave 2022 of state-of-mlops: 9 respondents")


def test_user_mistakes_are_one_line_and_exit_1(tmp_path, db_env):
    past_wave(tmp_path / "a.csv", 6, 0.5, seed=5)
    error(stateof("import", "a.csv", "--survey", "nope", "--wave", "1", cwd=tmp_path, env=db_env),
          "unknown survey 'nope'")
    error(stateof("import", "missing.csv", "--survey", SURVEY, "--wave", "1", cwd=tmp_path,
                  env=db_env), "missing.csv: no such file")
    ok(stateof("import", "a.csv", "--survey", SURVEY, "--wave", "2023", "--community", "guild",
               cwd=tmp_path, env=db_env))
    error(stateof("summary", "--survey", SURVEY, "--wave", "2023", cwd=tmp_path, env=db_env),
          "unknown community 'default'")
    error(stateof("summary", "--survey", SURVEY, "--wave", "1999", "--community", "guild",
                  cwd=tmp_path, env=db_env), "unknown wave '1999' of state-of-mlops (known: 2023)")
    error(stateof("export", "--survey", "nope", "--wave", "2023", "--community", "guild",
                  cwd=tmp_path, env=db_env), "unknown survey 'nope'")
    error(stateof("summary", "--survey", SURVEY, "--wave", "2023", "--where", "role",
                  cwd=tmp_path, env=db_env), "'role' is not a filter")
    error(stateof("summary", "--survey", SURVEY, "--wave", "2023", "--community", "guild",
                  "--where", "role=astronaut", cwd=tmp_path, env=db_env), "astronaut")
    error(stateof("export", "--survey", SURVEY, "--wave", "2023", "--format", "xlsx",
                  cwd=tmp_path, env=db_env), "'xlsx' is not one of 'csv', 'parquet'", code=2)


def test_reading_commands_never_create_a_key_file(tmp_path, database_url):
    env = {"STATEOF_DATABASE_URL": database_url}  # no STATEOF_SECRET_KEY
    past_wave(tmp_path / "a.csv", 6, 0.5, seed=8)
    ok(stateof("import", "a.csv", "--survey", SURVEY, "--wave", "2023", cwd=tmp_path, env=env))
    ok(stateof("summary", "--survey", SURVEY, "--wave", "2023", "--format", "json", cwd=tmp_path, env=env))
    ok(stateof("export", "--survey", SURVEY, "--wave", "2023", cwd=tmp_path, env=env))
    assert not (tmp_path / ".stateof-secret").exists()
