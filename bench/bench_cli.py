"""CLI start-up: `stateof --help` against a bare `import typer, rich`, measured in one run;
with `--summary`, also `stateof summary` end to end against DuckDB end to end.

Each is a fresh Python process (what an operator or cron pays); runs alternate so both see
the same load on shared CPUs. Reports min and median of `--runs` (default 3) and the ratio of
the minima (target: within 3x). Also lists the heavy modules `--help` loads (should be none).

`--summary`: `stateof summary state-of-mlops 2026 --format json` (compared with 2025 and 2024)
on the bench data set of bench/datagen.py (`--respondents` per wave, 3 waves), on SQLite and/or
PostgreSQL (`--backend`, `--pg-url`), printed to a pipe; "cold" forgets the kept aggregates of
the closed waves before each run (not timed), "kept" uses them. The reference is a fresh
process that imports DuckDB, opens a DuckDB file holding the same rows (native tables, built
once under bench/data/) and prints the same shares as JSON (bench/duckdb_reference.py).

    python bench/bench_cli.py [--runs 3]
    python bench/bench_cli.py --summary [--backend sqlite] [--respondents 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench"
SUMMARY_TARGET = 3.0

HEAVY = ("sqlalchemy", "pandas", "numpy", "matplotlib", "alembic", "pydantic_settings", "discord",
         "slack_sdk", "aiohttp", "apscheduler")
REFERENCE = [sys.executable, "-c", "import typer, rich"]
HELP = [sys.executable, "-c",
        "import sys; sys.argv = ['stateof', '--help']; from bot.cli import main; main()"]
LOADED = ("import sys; sys.argv = ['stateof', '--help']\nfrom bot.cli import main\ntry:\n    main()\n"
          "except SystemExit:\n    pass\nprint(','.join(m for m in {heavy!r} if m in sys.modules), "
          "file=sys.stderr)")


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=env, cwd=cwd)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}… failed: {done.stderr.decode()[-2000:]}")
    return took


# -- stateof summary end to end against DuckDB end to end --------------------------------

REFERENCE_SCRIPT = """
import json, sys
import duckdb
sys.path.insert(0, {root!r})
from bench.duckdb_reference import Reference
multi, free, conditions = json.loads(sys.argv[1])
con = duckdb.connect({path!r}, read_only=True)
print(json.dumps(Reference(con, multi, free, conditions).run(), default=str))
"""


def duckdb_file(spec: Any, sqlite_path: Path) -> Path:
    """A DuckDB database holding the data set's rows (built once, next to the SQLite file)."""
    import duckdb

    from bench.bench_summary import load_reference

    path = sqlite_path.with_suffix(".duckdb")
    if path.exists():
        return path
    tables = load_reference(f"sqlite:///{sqlite_path}")
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    con = duckdb.connect(str(partial))
    for name, table in tables.items():
        con.register(f"arrow_{name}", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM arrow_{name}")
    con.close()
    partial.rename(path)
    return path


def forget_kept(url: str) -> None:
    from sqlalchemy import create_engine, text

    from surveys.db import sync_url

    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM wave_aggregates"))
    engine.dispose()


def summary_bench(args: argparse.Namespace) -> bool:
    """Time `stateof summary` (cold and with kept aggregates) against DuckDB; True if ≤ 3×."""
    sys.path.insert(0, str(ROOT))
    from bench import datagen
    from surveys.db import sync_url
    from surveys.migrate import upgrade
    from surveys.schema import QuestionType

    spec = datagen.Spec(args.respondents, 3, datagen.Spec.seed)
    qn = datagen.questionnaire()
    multi = [q.id for q in qn.questions if q.type is QuestionType.multi]
    free = [q.id for q in qn.questions if q.type in (QuestionType.text, QuestionType.number)]
    conditions = {q.id: (q.when.question, list(q.when.in_)) for q in qn.questions if q.when}
    sqlite_path, _ = datagen.ensure_sqlite(spec)
    reference = [sys.executable, "-c",
                 REFERENCE_SCRIPT.format(root=str(ROOT), path=str(duckdb_file(spec, sqlite_path))),
                 json.dumps([multi, free, conditions])]
    main, *earlier = reversed(spec.labels)
    cli = [sys.executable, "-c",
           "import sys; sys.argv = ['stateof', *sys.argv[1:]]; from bot.cli import main; main()",
           "summary", "--survey", datagen.SURVEY, "--wave", main, "--format", "json",
           *[x for label in earlier for x in ("--compare", label)]]
    ok = True
    for backend in args.backend or ["sqlite"]:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{sqlite_path}"
        else:
            datagen.ensure_postgres(args.pg_url, spec)
            url = args.pg_url
        upgrade(sync_url(url))
        with tempfile.TemporaryDirectory() as home:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("STATEOF_", "SLACK_", "DISCORD_"))}
            env.update(STATEOF_DATABASE_URL=url, STATEOF_COMMUNITY=spec.slug,
                       STATEOF_SECRET_KEY="bench-cli-secret-key-0123456789abcdef",
                       PYTHONPATH=str(ROOT))
            forget_kept(url)
            timed(cli, env, home), timed(reference)  # warm the file and page caches
            refs, colds, kept = [], [], []
            for _ in range(args.runs):
                refs.append(timed(reference))
                forget_kept(url)
                colds.append(timed(cli, env, home))
                kept.append(timed(cli, env, home))
        ratio_cold = min(colds) / min(refs)
        ratio_kept = min(kept) / min(refs)
        print(f"\n{backend}: {args.respondents:,} respondents per wave, 3 waves")
        print(f"  DuckDB end to end:              min {min(refs) * 1000:.0f} ms, median "
              f"{statistics.median(refs) * 1000:.0f} ms")
        print(f"  stateof summary, cold:          min {min(colds) * 1000:.0f} ms, median "
              f"{statistics.median(colds) * 1000:.0f} ms → {ratio_cold:.2f}× (median "
              f"{statistics.median(colds) / statistics.median(refs):.2f}×)")
        print(f"  stateof summary, kept aggregates: min {min(kept) * 1000:.0f} ms, median "
              f"{statistics.median(kept) * 1000:.0f} ms → {ratio_kept:.2f}× (median "
              f"{statistics.median(kept) / statistics.median(refs):.2f}×)")
        print(f"  target ≤ {SUMMARY_TARGET:g}×: {'yes' if ratio_cold <= SUMMARY_TARGET else 'no'}")
        ok = ok and ratio_cold <= SUMMARY_TARGET
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--summary", action="store_true",
                        help="also time `stateof summary` end to end against DuckDB")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"],
                        help="for --summary; repeat for both (default: sqlite)")
    parser.add_argument("--pg-url", default=os.environ.get("STATEOF_BENCH_PG_URL", PG_URL))
    parser.add_argument("--respondents", type=int, default=50_000)
    args = parser.parse_args()
    runs = args.runs
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
    if args.summary and not summary_bench(args):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
