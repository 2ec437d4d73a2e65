"""The `stateof` CLI end to end, as a user runs it (subprocesses with a clean environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def stateof(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=clean, input=stdin,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def db_env(database_url: str) -> dict[str, str]:
    """A fresh database for the subprocess (the shared PostgreSQL one is emptied first)."""
    return {"STATEOF_DATABASE_URL": database_url,
            "STATEOF_SECRET_KEY": "cli-test-secret-0123456789-abcdefghijkl"}


def test_help_lists_the_interface(tmp_path):
    result = stateof("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("demo", "run", "chat", "db", "surveys", "import", "summary", "export", "schedule"):
        assert command in result.stdout
    version = stateof("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("stateof 0.")


def test_surveys_list(tmp_path):
    result = stateof("surveys", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "state-of-mlops" in result.stdout


def test_surveys_validate_good_and_bad(tmp_path):
    good = Path(__file__).parents[2] / "surveys" / "catalog" / "state-of-mlops.yaml"
    ok = stateof("surveys", "validate", str(good), cwd=tmp_path)
    assert ok.returncode == 0 and "valid" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("{id: monitoring,", "{id: deploy,"))
    result = stateof("surveys", "validate", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "questions[5].options[3].id: duplicate id 'deploy'" in result.stderr
    assert "Traceback" not in result.stderr
    missing = stateof("surveys", "validate", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert missing.returncode == 1 and "cannot read file" in missing.stderr


def test_db_upgrade(tmp_path, db_env):
    result = stateof("db", "upgrade", cwd=tmp_path, env=db_env)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_unreachable_database_is_one_line_naming_the_host(tmp_path):
    env = {"STATEOF_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nothing"}
    result = stateof("db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "cannot connect to postgresql at 127.0.0.1:1/nothing" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_is_one_line_exit_2(tmp_path):
    result = stateof("surveys", "list", cwd=tmp_path, env={"STATEOF_TIMEZONE": "Nowhere/City"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: STATEOF_TIMEZONE is invalid")
    assert len(result.stderr.strip().splitlines()) == 1


def test_chat_saves_and_resumes(tmp_path, db_env):
    env = db_env
    first = stateof("chat", "--as", "grace", cwd=tmp_path, env=env, stdin="2\nmodels\nq\n")
    assert first.returncode == 0, first.stderr
    assert "Your answers are saved" in first.stdout
    second = stateof("chat", "--as", "grace", cwd=tmp_path, env=env, stdin="q\n")
    assert "resuming at question 3" in second.stdout


def test_chat_unknown_survey(tmp_path, db_env):
    result = stateof("chat", "--survey", "nope", cwd=tmp_path, env=db_env)
    assert result.returncode == 1
    assert "unknown survey 'nope'" in result.stderr


@pytest.mark.slow
def test_demo_writes_summary_and_charts(tmp_path):
    result = stateof("demo", "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    md = out / "summary.md"
    assert md.exists(), result.stdout
    text = md.read_text()
    assert "2026" in text and "2025" in text and "synthetic" in result.stdout.lower()
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert str(md) in result.stdout or "summary.md" in result.stdout
    # the follow-up command the demo suggests works on its database as printed
    env = {"STATEOF_DATABASE_URL": f"sqlite+aiosqlite:///{(out / 'stateof-demo.db').resolve()}"}
    assert env["STATEOF_DATABASE_URL"] in result.stdout
    seg = stateof("summary", "--survey", "state-of-mlops", "--wave", "2026", "--format", "json",
                  "--where", "role=infra,models_and_infra", cwd=tmp_path, env=env)
    assert seg.returncode == 0, seg.stderr
    data = json.loads(seg.stdout)
    assert data["where"] == {"role": ["models_and_infra", "infra"]} or data["where"] == {
        "role": ["infra", "models_and_infra"]}
    assert 0 < data["respondents"]["2026"] < 380 and data["compare"] == ["2025", "2024"]
