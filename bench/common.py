"""What the chat benchmarks share: a free local port, and stopping a server process."""

from __future__ import annotations

import logging
import socket
import subprocess

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, wait: float = 15) -> None:
    """SIGTERM, and SIGKILL when it does not stop within `wait` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        log.warning("process %s did not stop in %s s: killing it", proc.pid, wait)
        proc.kill()
