"""What the benchmarks share: a free local port, stopping a server process, writing a
section of bench/RESULTS.md."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
from pathlib import Path

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


def write_section(results: Path, heading: str, block: str) -> None:
    """Replace (or append) the section `heading` ("## …") of a results file; others are kept."""
    section = f"{heading}\n\n{block.rstrip()}\n"
    current = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        current = pattern.sub(lambda _: section + "\n", current).rstrip() + "\n"
    else:
        current = current.rstrip() + "\n\n" + section
    results.write_text(current, "utf-8")
