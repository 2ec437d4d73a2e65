"""The real `stateof run` process: SIGKILL between a wave's open and close, then restart.

The scheduler's dry-run setting (STATEOF_DRY_RUN_POSTS) makes it write what it would post
as JSON lines to a file, so the test sees exactly what went out without a platform.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from surveys.catalog import Catalog
from surveys.db import Database, sync_url
from surveys.models import JobRun, Wave, WaveStatus
from surveys.waves import create_wave, ensure_community

from .conftest import ANNOUNCE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _wait(predicate, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"stateof run exited early ({what}):\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


async def _scheduled_wave(url: str, opens_at: datetime, closes_at: datetime) -> int:
    db = Database(url)
    try:
        async with db.session() as session:
            community = await ensure_community(session, "default")
            community.weekly_summary_cron = None  # keep this test about the wave
            wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2026",
                                     opens_at=opens_at, closes_at=closes_at, channels=[ANNOUNCE.to_dict()],
                                     status=WaveStatus.scheduled)
            return wave.id
    finally:
        await db.dispose()


@pytest.mark.slow
def test_sigkill_between_open_and_close(tmp_path, database_url):
    posts = tmp_path / "posts.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    env.update(STATEOF_DATABASE_URL=database_url, STATEOF_SECRET_KEY="process-test-secret-0123-abcdefghijkl",
               STATEOF_DRY_RUN_POSTS=str(posts))
    # The process has half the wave's duration (6 s) after `opens_at` to come up and open it.
    opens_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    closes_at = opens_at + timedelta(seconds=12)
    wave_id = asyncio.run(_scheduled_wave(database_url, opens_at, closes_at))
    engine = create_engine(sync_url(database_url))

    def start() -> subprocess.Popen:
        port = _free_port()
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--no-chat", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def titles(suffix: str) -> list[dict]:
        return [p for p in _lines(posts) if p["title"].endswith(suffix)]

    def run(key: str) -> JobRun | None:
        with Session(engine) as session:
            return session.execute(select(JobRun).where(JobRun.job_key == key)).scalar_one_or_none()

    def wave() -> Wave:
        with Session(engine) as session:
            return session.get(Wave, wave_id)

    first = start()
    try:
        _wait(lambda: titles("is open"), 20, first, "the announcement")
        assert wave().status == WaveStatus.open.value
        assert time.time() < closes_at.timestamp(), "too slow: the wave closed before the kill"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()

    # Down past the close time: the restarted process closes the wave at once, recording the
    # original close time, and posts its summary once.
    _wait(lambda: time.time() > closes_at.timestamp() + 0.5, 15, what="the close time")
    assert wave().status == WaveStatus.open.value
    second = start()
    try:
        _wait(lambda: (r := run(f"summary:wave:{wave_id}")) is not None and r.outcome == "done", 20, second,
              "the final summary")
        second.send_signal(signal.SIGTERM)
        output, _ = second.communicate(timeout=20)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, output
    assert "Traceback" not in output, output

    closed = wave()
    assert closed.status == WaveStatus.closed.value and closed.closed_at == closes_at
    assert run(f"close:wave:{wave_id}").outcome == "done"
    assert len(titles("State of MLOps 2026 is open")) == 1
    summaries = titles("State of MLOps 2026 has closed: the results")
    assert len(summaries) == 1 and summaries[0]["channel"] == ANNOUNCE.channel
    assert len(_lines(posts)) == 2
    engine.dispose()
