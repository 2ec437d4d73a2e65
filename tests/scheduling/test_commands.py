"""`/survey schedule` and `/survey status` through the neutral commands, and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer
from typer.testing import CliRunner

from bot.cli_schedule import register
from bot.commands import Commands, Invocation
from bot.scheduling import ManualClock

from .conftest import ANNOUNCE


def _inv(command: str, **args: str) -> Invocation:
    return Invocation("slack", "T1", ANNOUNCE.channel, "U_MOD", True, command, args)


async def test_schedule_and_status_commands(services, notifier, make_runtime):
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    runtime = await make_runtime(clock=clock)
    commands = Commands(services)
    assert services.scheduling is runtime

    reply = await commands.run(_inv("schedule", survey="state-of-mlops", cron="0 9 1 3 *", duration="30d",
                                    label="{year}"))
    assert reply.text.startswith("Scheduled State of MLOps: every year on 1 March at 09:00 (UTC), waves "
                                 "labelled {year}, open 30 days; next: ")
    bad = await commands.run(_inv("schedule", survey="state-of-mlops", cron="0 9 1 1,4,7,10 *"))
    assert "gives the same label" in bad.text and "{year}-Q{quarter}" in bad.text
    bad = await commands.run(_inv("schedule", survey="state-of-mlops", cron="every monday"))
    assert "is not a cron expression" in bad.text

    await commands.run(_inv("launch", survey="state-of-mlops", wave="spring", duration="14d"))
    status = await commands.run(_inv("status"))
    lines = status.text.splitlines()
    for start in ("Next reminder (halfway) for State of MLOps spring: ",
                  "Next reminder (48h before close) for State of MLOps spring: ",
                  "Next close of State of MLOps spring: ", "Next weekly summary: ",
                  "Next open of State of MLOps "):
        assert any(line.startswith(start) for line in lines), (start, lines)
    jobs = dict(runtime.scheduled_jobs())
    assert {"close:wave:1", "remind:wave:1:halfway", "remind:wave:1:48h", "open:schedule:1",
            "summary:community:1"} <= set(jobs)

    closed = await commands.run(_inv("close"))
    assert "is closed" in closed.text
    assert "close:wave:1" not in dict(runtime.scheduled_jobs())  # the change reached the scheduler


@pytest.fixture
def cli(settings, monkeypatch):
    monkeypatch.setenv("STATEOF_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("STATEOF_SECRET_KEY", "cli-test-secret-0123456789-abcdefghijkl")
    monkeypatch.setenv("COLUMNS", "250")
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """stateof"""

    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_add_list_remove(cli):
    added = cli("schedule", "add", "state-of-mlops", "0 9 1 3 *", "--duration", "30d", "--label", "{year}",
                "--channel", "slack:T1:C_GENERAL", "--timezone", "Europe/Helsinki",
                "--reminders", "halfway,3d")
    assert added.exit_code == 0, added.output
    assert "Schedule 1 added: every year on 1 March at 09:00 (Europe/Helsinki)" in added.output
    assert " opens " in added.output
    listed = cli("schedule", "list")
    assert listed.exit_code == 0, listed.output
    assert "state-of-mlops" in listed.output and "every year on 1 March at 09:00" in listed.output
    assert "slack:C_GENERAL" in listed.output

    for args, problem in [
        (["0 9 1 3"], "five fields"),
        (["0 9 1 1,4,7,10 *"], "same label"),
        (["0 9 1 3 *", "--channel", "general"], "PLATFORM:SPACE:CHANNEL"),
        (["0 9 1 3 *", "--duration", "soon"], "not a duration"),
        (["0 9 1 3 *", "--reminders", "later"], "not a reminder point"),
    ]:
        result = cli("schedule", "add", "state-of-mlops", *args)
        assert result.exit_code == 1, result.output
        assert problem in result.output and "Traceback" not in result.output
    unknown = cli("schedule", "add", "no-such-survey", "0 9 1 3 *")
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output

    removed = cli("schedule", "remove", "1")
    assert removed.exit_code == 0 and "Schedule 1 removed." in removed.output
    again = cli("schedule", "remove", "1")
    assert again.exit_code == 1 and "there is no schedule 1" in again.output
    assert "No schedules" in cli("schedule", "list").output
