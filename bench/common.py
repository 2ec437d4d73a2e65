"""What the benchmarks share: a free local port, stopping a server process, its CPU time,
writing a section of bench/RESULTS.md."""

from __future__ import annotations

import logging
import os
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


def _section(current: str, heading: str) -> re.Match[str] | None:
    return re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M).search(current)


def write_section(results: Path, heading: str, block: str) -> None:
    """Replace (or append) the section `heading` ("## …") of a results file; others are kept."""
    current = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    section = f"{heading}\n\n{block.rstrip()}\n"
    found = _section(current, heading)
    if found:
        current = (current[:found.start()] + section + "\n" + current[found.end():]).rstrip() + "\n"
    else:
        current = current.rstrip() + "\n\n" + section
    results.write_text(current, "utf-8")


def write_part(results: Path, heading: str, intro: str, title: str, block: str,
               order: tuple[str, ...] = ()) -> None:
    """Replace the part `### title` of section `heading`, keeping its other parts (in `order`
    first, then as found) and every other section; the section starts with `intro`."""
    current = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    found = _section(current, heading)
    parts: dict[str, str] = {}
    if found:
        for match in re.finditer(r"^### (.+?)\n.*?(?=^### |\Z)", found.group(0), re.S | re.M):
            parts[match.group(1)] = match.group(0).rstrip()
    parts[title] = f"### {title}\n\n{block.rstrip()}"
    ordered = [parts[k] for k in order if k in parts] + [v for k, v in parts.items() if k not in order]
    write_section(results, heading, "\n\n".join([intro, *ordered]))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CPUMeter:
    """CPU time a process spends between `start()` and `stop()`, per request."""

    def __init__(self, pid: int):
        self.pid = pid
        self.used = 0.0
        self._at = 0.0

    def start(self) -> None:
        self._at = cpu_seconds(self.pid)

    def stop(self) -> float:
        self.used = cpu_seconds(self.pid) - self._at
        return self.used

    def per_request_ms(self, requests: int) -> float:
        return self.used / requests * 1000 if requests else float("nan")
