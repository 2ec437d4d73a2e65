"""CLI start-up: `stateof --help` against a bare `import typer, rich`, measured in one run.

Each is a fresh Python process (what an operator or cron pays); runs alternate so both see
the same load on shared CPUs. Reports min and median of `--runs` (default 3) and the ratio of
the minima (target: within 3x). Also lists the heavy modules `--help` loads (should be none).

    python bench/bench_cli.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("sqlalchemy", "pandas", "numpy", "matplotlib", "alembic", "pydantic_settings", "discord",
         "slack_sdk", "aiohttp", "apscheduler")
REFERENCE = [sys.executable, "-c", "import typer, rich"]
HELP = [sys.executable, "-c",
        "import sys; sys.argv = ['stateof', '--help']; from bot.cli import main; main()"]
LOADED = ("import sys; sys.argv = ['stateof', '--help']\nfrom bot.cli import main\ntry:\n    main()\n"
          "except SystemExit:\n    pass\nprint(','.join(m for m in {heavy!r} if m in sys.modules), "
          "file=sys.stderr)")


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    timed(REFERENCE), timed(HELP)  # warm the file cache
    reference, cli = [], []
    for _ in range(runs):
        reference.append(timed(REFERENCE))
        cli.append(timed(HELP))
    loaded = subprocess.run([sys.executable, "-c", LOADED.format(heavy=HEAVY)], capture_output=True,
                            text=True, check=True).stderr.strip()
    print(f"import typer, rich: min {min(reference) * 1000:.0f} ms, median "
          f"{statistics.median(reference) * 1000:.0f} ms")
    print(f"stateof --help:     min {min(cli) * 1000:.0f} ms, median {statistics.median(cli) * 1000:.0f} ms")
    ratio = min(cli) / min(reference)
    print(f"ratio (min/min): {ratio:.2f}x (target <= 3x: {'yes' if ratio <= 3 else 'no'})")
    print(f"heavy modules loaded by --help: {loaded or 'none'}")


if __name__ == "__main__":
    main()
