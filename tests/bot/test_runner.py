"""`stateof run` as a process: headless start, /healthz and /metrics, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
def test_run_headless_serves_health_and_metrics(tmp_path, database_url):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    env.update(STATEOF_DATABASE_URL=database_url, STATEOF_SECRET_KEY="runner-test-secret-0123-abcdefghijkl")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--no-chat", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, proc.stdout.read() if proc.poll() is not None else "no answer"
        assert '"status": "ok"' in body
        status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert "stateof_up 1" in metrics and 'stateof_waves{status="open"} 0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "Traceback" not in output


def test_run_with_half_configured_slack_is_one_line(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    env.update(STATEOF_DATABASE_URL=database_url, SLACK_BOT_TOKEN="xoxb-1")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--no-chat"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET is missing" in result.stderr
    assert "Traceback" not in result.stderr


def _run_once(tmp_path, database_url, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    env.update(STATEOF_DATABASE_URL=database_url, STATEOF_SECRET_KEY="runner-test-secret-0123-abcdefghijkl",
               **extra)
    return subprocess.run([sys.executable, "-m", "bot.cli", "run", "--no-chat", "--host", "127.0.0.1",
                           "--port", extra.pop("PORT", "0")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("extra", "expected"), [
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://127.0.0.1:9/api/"},
     "error: cannot reach Slack at http://127.0.0.1:9/api/"),
    ({"DISCORD_TOKEN": "x", "DISCORD_API_URL": "http://127.0.0.1:9/api/v10"},
     "error: cannot reach Discord at http://127.0.0.1:9/api/v10"),
])
def test_unreachable_platform_is_one_line(tmp_path, database_url, extra, expected):
    result = _run_once(tmp_path, database_url, **extra)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_one_line(tmp_path, database_url):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_once(tmp_path, database_url, PORT=str(port))
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path):
    result = _run_once(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:9/nothing")
    assert result.returncode == 2, result.stderr
    assert "cannot connect to postgresql at 127.0.0.1:9/nothing" in result.stderr
    assert "Traceback" not in result.stderr
