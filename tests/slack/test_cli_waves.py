"""`stateof launch|status|extend|close|reopen|delete` as an operator runs them from cron or CI:
real subprocesses posting through Slack (the fake Web API), the same handlers as chat."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from surveys.models import Wave
from tests.slack.kit import GENERAL, TEAM, count, reply_text


async def stateof(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    clean.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=clean, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_wave_run_from_the_command_line_posts_through_slack(fake, sservices, tmp_path):
    env = {"STATEOF_DATABASE_URL": sservices.settings.database_url,
           "STATEOF_SECRET_KEY": "cli-test-secret-0123456789",
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake.base_url}
    fake.set_members(GENERAL, ["UMOD", "UMEMBER", "UOTHER"])
    channel = f"slack:{TEAM}:{GENERAL}"

    code, out, err = await stateof("launch", "state-of-mlops", "--wave", "2026", "--channel", channel,
                                   "--duration", "14d", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "State of MLOps 2026 is open and announced" in out
    (announcement,) = fake.messages_in(GENERAL)
    assert "State of MLOps 2026 is open" in reply_text(announcement)

    code, out, err = await stateof("status", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "Respondents: 0 (completed: 0)" in out and "of 3 invited" in out

    code, out, err = await stateof("extend", "7d", "--wave", "2026", env=env, cwd=tmp_path)
    assert code == 0 and "Wave '2026' now closes" in out, err
    code, out, err = await stateof("extend", "soon", env=env, cwd=tmp_path)
    assert code == 1 and "'soon' is not a duration" in err and len(err.strip().splitlines()) == 1

    code, out, err = await stateof("close", env=env, cwd=tmp_path)
    assert code == 0 and "is closed; the summary was posted to 1 channel(s)" in out, (out, err)
    assert "has closed" in reply_text(fake.messages_in(GENERAL)[-1])

    code, out, err = await stateof("reopen", "2026", "--duration", "3d", env=env, cwd=tmp_path)
    assert code == 0 and "is open again, announced in 1 channel(s)" in out, (out, err)
    assert len(fake.messages_in(GENERAL)) == 3

    code, out, err = await stateof("delete", "2026", env=env, cwd=tmp_path)
    assert code == 1 and "stateof delete 2026 --confirm" in out
    assert await count(sservices, Wave) == 1
    code, out, err = await stateof("delete", "2026", "--confirm", env=env, cwd=tmp_path)
    assert code == 0 and "Deleted wave '2026'" in out, err
    assert await count(sservices, Wave) == 0
    code, out, err = await stateof("close", "--wave", "2026", env=env, cwd=tmp_path)
    assert code == 1 and "error:" in err and "Traceback" not in err
