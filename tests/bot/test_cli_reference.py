"""`stateof import-reference` end to end: published figures imported, compared, marked."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from bot.demo import synthetic_answers
from surveys.catalog import Catalog
from tests.bot.test_cli import stateof

PUBLISHED = Path(__file__).parents[2] / "surveys" / "catalog" / "published"


@pytest.fixture
def db_env(database_url: str) -> dict[str, str]:
    return {"STATEOF_DATABASE_URL": database_url,
            "STATEOF_SECRET_KEY": "cli-test-secret-0123456789-abcdefghijkl"}


def _wave_csv(path: Path) -> None:
    qn = Catalog().get("state-of-mlops")
    rng = random.Random(3)
    columns = [c for q in qn.questions for c in
               ([f"{q.id}.{r.id}" for r in q.rows] if q.type.value == "grid" else [q.id])]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for _ in range(120):
            answers = synthetic_answers(qn, 2, rng)
            writer.writerow([";".join(v) if isinstance(v, list) else v
                             for v in (answers.get(c, "") for c in columns)])


def test_import_reference_then_compare(tmp_path, db_env):
    _wave_csv(tmp_path / "2026.csv")
    done = stateof("import", str(tmp_path / "2026.csv"), "--survey", "state-of-mlops", "--wave", "2026",
                   cwd=tmp_path, env=db_env)
    assert done.returncode == 0, done.stderr
    ref = stateof("import-reference", str(PUBLISHED / "valohai-2021.yaml"), "--survey", "state-of-mlops",
                  "--label", "Valohai 2021", cwd=tmp_path, env=db_env)
    assert ref.returncode == 0, ref.stderr
    assert "Imported reference wave Valohai 2021" in " ".join(ref.stdout.split())
    again = stateof("import-reference", str(PUBLISHED / "valohai-2021.yaml"), "--survey", "state-of-mlops",
                    "--label", "Valohai 2021", cwd=tmp_path, env=db_env)
    assert again.returncode == 1 and "already exists; use --replace" in " ".join(again.stderr.split())
    clash = stateof("import-reference", str(PUBLISHED / "valohai-2021.yaml"), "--survey", "state-of-mlops",
                    "--label", "2026", cwd=tmp_path, env=db_env)
    assert clash.returncode == 1 and "is a wave of this community" in " ".join(clash.stderr.split())
    summary = stateof("summary", "--survey", "state-of-mlops", "--wave", "2026", "--compare", "Valohai 2021",
                      "--format", "json", cwd=tmp_path, env=db_env)
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout)
    assert data["compare"] == ["Valohai 2021"]
    assert data["published"]["Valohai 2021"]["base"] == 100
    outlook = next(q for q in data["questions"] if q["id"] == "team_outlook_3m")
    assert outlook["results"]["Valohai 2021"]["shares"] == {"grow": 0.65, "shrink": 0.02}
    assert "grow" in outlook["changes_by_wave"]["Valohai 2021"]


def test_a_bad_reference_file_is_listed_and_nothing_is_imported(tmp_path, db_env):
    bad = tmp_path / "bad.csv"
    bad.write_text("question,option,share\nfocus,kubeflow,5%\nfocus,monitoring,abc\n")
    result = stateof("import-reference", str(bad), "--survey", "state-of-mlops", "--label", "X",
                     "--base", "50", cwd=tmp_path, env=db_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    assert "2 problem(s); nothing was imported" in text
    assert "row 3: 'abc' is not a percentage" in text
