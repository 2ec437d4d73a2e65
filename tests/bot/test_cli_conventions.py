"""CLI conventions: `-h` everywhere, closed sets as choice lists checked before any work, an
unknown survey named as such, Parquet without pyarrow in one line, export progress, tables
not cut when piped, read-only commands that never migrate, and a `--help` that loads no
database or analytics stack."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app
from tests.bot.test_cli import stateof

UNREACHABLE = {"STATEOF_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nothing"}


def _paths(command, prefix=()):
    yield prefix
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _paths(sub, (*prefix, name))


def test_dash_h_works_on_every_command():
    runner = CliRunner()
    paths = list(_paths(typer.main.get_command(app)))
    assert ("schedule", "list") in paths and ("delete",) in paths and ("db", "upgrade") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "-h"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output, path


def test_closed_sets_are_choices_shown_in_help_and_checked_before_any_work(tmp_path):
    summary_help = stateof("summary", "--help", cwd=tmp_path, env={"COLUMNS": "200"}).stdout
    assert "json|md|html" in summary_help and "slack|discord|console" in summary_help
    assert "csv|parquet" in stateof("export", "-h", cwd=tmp_path, env={"COLUMNS": "200"}).stdout
    for args in (["export", "--survey", "s", "--wave", "w", "--format", "xlsx"],
                 ["summary", "--survey", "s", "--wave", "w", "--format", "pdf"],
                 ["summary", "--survey", "s", "--wave", "w", "--platform", "teams"]):
        result = stateof(*args, cwd=tmp_path, env=UNREACHABLE)  # no database is contacted
        assert result.returncode == 2, result.stderr
        assert "is not one of" in result.stderr and "cannot connect" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unknown_survey_is_named(tmp_path, database_url):
    env = {"STATEOF_DATABASE_URL": database_url}
    for command in ("summary", "export"):
        result = stateof(command, "--survey", "nope", "--wave", "2026", cwd=tmp_path, env=env)
        assert result.returncode == 1
        assert result.stderr.strip() == "error: unknown survey 'nope' (known: state-of-mlops)" or \
            "unknown survey 'nope'" in result.stderr, result.stderr


def test_parquet_without_pyarrow_is_one_line(tmp_path):
    hide = tmp_path / "nopyarrow"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['pyarrow'] = None\n")
    path = os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))
    env = {**UNREACHABLE, "PYTHONPATH": path}
    result = stateof("export", "--survey", "state-of-mlops", "--wave", "2026", "--format", "parquet",
                     cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: Parquet export needs pyarrow: install stateof[parquet] (pip install 'stateof[parquet]')"]


def test_export_shows_progress_on_a_terminal(tmp_path, database_url):
    env = {"STATEOF_DATABASE_URL": database_url, "STATEOF_SECRET_KEY": "cli-test-secret-0123456789"}
    (tmp_path / "a.csv").write_text("title,role\n" + "researcher,models\n" * 6)
    assert stateof("import", "a.csv", "--survey", "state-of-mlops", "--wave", "2023", cwd=tmp_path,
                   env=env).returncode == 0
    master, slave = pty.openpty()  # stderr is a terminal, as when an operator runs it
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "export", "--survey", "state-of-mlops",
                             "--wave", "2023", "--out", "a-export.csv"], cwd=tmp_path,
                            env={**clean, **env, "TERM": "xterm"}, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=120) == 0
    os.close(master)
    assert b"exporting" in shown and b"2023" in shown
    assert (tmp_path / "a-export.csv").read_text().startswith("respondent")


def test_tables_are_not_cut_when_piped(tmp_path, database_url):
    env = {"STATEOF_DATABASE_URL": database_url}
    added = stateof("schedule", "add", "state-of-mlops", "0 9 1 3 *", "--label", "{year}-spring-edition",
                    "--channel", "slack:T0123456789:C0123456789", "--community", "a-long-community-name",
                    cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    listed = stateof("schedule", "list", cwd=tmp_path, env=env)  # stdout is a pipe, as with `| cat`
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout
    assert re.search(r"\d{4}-spring-edition: \w{3} 1 Mar \d{4}, 09:00", listed.stdout), listed.stdout
    assert "a-long-community-name" in listed.stdout and "slack:C0123456789" in listed.stdout
    surveys = stateof("surveys", "list", cwd=tmp_path, env=env)
    assert "…" not in surveys.stdout and "State of MLOps" in surveys.stdout


@pytest.fixture
def old_schema_url(tmp_path: Path) -> str:
    from surveys.migrate import upgrade

    path = tmp_path / "old.db"
    upgrade(f"sqlite:///{path}", "0002")
    return f"sqlite+aiosqlite:///{path}"


def _version(url: str) -> str:
    import sqlite3

    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_reading_commands_check_the_schema_instead_of_migrating(tmp_path, old_schema_url):
    env = {"STATEOF_DATABASE_URL": old_schema_url}
    for args in (["summary", "--survey", "state-of-mlops", "--wave", "2026"],
                 ["export", "--survey", "state-of-mlops", "--wave", "2026"],
                 ["status"], ["schedule", "list"]):
        result = stateof(*args, cwd=tmp_path, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert "run `stateof db upgrade`" in result.stderr
        assert _version(old_schema_url) == "0002", args  # nothing was migrated
    assert stateof("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    assert _version(old_schema_url) != "0002"
    status = stateof("status", cwd=tmp_path, env=env)
    assert status.returncode == 1 and "unknown community 'default'" in status.stderr  # none created


def test_help_loads_no_database_or_analytics_stack(tmp_path):
    code = ("import sys; sys.argv = ['stateof', '--help']\nfrom bot.cli import main\ntry:\n    main()\n"
            "except SystemExit:\n    pass\n"
            "heavy = ('sqlalchemy', 'pandas', 'numpy', 'matplotlib', 'alembic', "
            "'pydantic_settings', 'discord', 'slack_sdk', 'asyncio')\n"
            "print(','.join(m for m in heavy if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            timeout=60)
    assert "Usage" in result.stdout
    assert result.stderr.strip() == ""


def test_summary_loads_only_the_stack_it_uses(tmp_path, database_url):
    """`stateof summary` (issue 15: start-up) imports neither Alembic, matplotlib (JSON/Markdown
    need no chart), the answer flow with its sealing, nor a chat SDK."""
    db_env = {"STATEOF_DATABASE_URL": database_url,
              "STATEOF_SECRET_KEY": "cli-test-secret-0123456789-abcdefghijkl"}
    csv_path = tmp_path / "wave.csv"
    csv_path.write_text("title,role\nresearcher,models\nml_engineer,models\nresearcher,infra\n")
    imported = stateof("import", str(csv_path), "--survey", "state-of-mlops", "--wave", "2025",
                       cwd=tmp_path, env=db_env)
    assert imported.returncode == 0, imported.stderr
    code = ("import sys; sys.argv = ['stateof', 'summary', '--survey', 'state-of-mlops', '--wave', "
            "'2025', '--format', 'json']\nfrom bot.cli import main\ntry:\n    main()\n"
            "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "unused = ('alembic', 'matplotlib', 'surveys.flow', 'surveys.sealing', 'cryptography', "
            "'discord', 'slack_sdk', 'slack_bolt', 'aiohttp', 'apscheduler')\n"
            "print('LOADED:' + ','.join(m for m in unused if m in sys.modules), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, env={**env, **db_env}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"respondents"' in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "LOADED:", result.stderr
