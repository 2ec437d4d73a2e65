"""The summary of a large survey against DuckDB computing the same shares from memory.

    /work/venv/bin/python bench/bench_summary.py [--backend sqlite] [--backend postgresql]
        [--pg-url URL] [--respondents 50000] [--waves 3] [--repeat 7] [--write-results]
        [--profile]

Data: `--waves` waves × `--respondents` respondents × the whole built-in questionnaire
(state-of-mlops), written by bench/datagen.py exactly as the answer flow writes it (about
2.7 M `answers` and 2.8 M `answer_choices` rows), in a SQLite file (cached under bench/data/)
and in PostgreSQL (`--pg-url`, default the benchmark database test_bench, which is emptied
and reloaded when it does not hold this data set).

Measured per backend, in a fresh worker process (so its peak memory is the summary's):
1. summary: `analytics.service.build_summary` of the newest wave compared with the earlier
   ones (shares, comparison, significance) + `analytics.report.to_json`, in one long-lived
   `Database` as the bot and the CLI use it. "Weekly": the newest wave is live (set open for
   the run) and the earlier, closed ones come from their kept aggregates (analytics.cache);
   "cold": the kept aggregates are forgotten before each run, so every wave is counted.
2. charts: `analytics.charts.render_charts(summary)`, timed apart.
3. reference: DuckDB computing the same shares (counts per question/row/option, answered,
   respondents per wave, share = count / base: the respondents, or for a conditional question
   those it was shown to) from the same rows already in memory:
   `answer_choices`, `answers` and `responses` read into Arrow tables before timing (loading
   them is not timed) and registered in DuckDB.
Summary and reference runs alternate, so a busy machine slows both alike. The ratio is
median(summary) / median(reference); target ≤ 2. Peak memory: VmHWM of the worker after
the summary runs (before the reference data is loaded); target < 1 GB. The summary's shares
are checked against DuckDB's (every share of every wave), so both compute the same thing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from bench import datagen  # noqa: E402
from bench.duckdb_reference import Reference  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench"
HEADING = "## Analytics: summary"  # + the respondents per wave when not the default


def heading(respondents: int) -> str:
    if respondents == datagen.Spec.respondents:
        return HEADING
    return f"{HEADING} ({respondents:,} respondents per wave)"
TARGET_RATIO = 2.0
TARGET_MEMORY_MB = 1024.0

log = logging.getLogger(__name__)


def rss_mb() -> float:
    """Peak resident memory of this process so far: VmHWM of its own address space.

    Not ru_maxrss: Linux carries the parent's peak over fork + exec into it, so a worker
    started after the parent generated the data set would report the generator's memory.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        log.debug("no /proc/self/status: falling back to ru_maxrss")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the reference: DuckDB over Arrow tables -----------------------------------------------


def _frame(cursor: Any, sql: str, columns: list[str]) -> Any:
    import pandas as pd
    import pyarrow as pa

    cursor.execute(sql)
    parts = []
    while rows := cursor.fetchmany(500_000):
        parts.append(pd.DataFrame.from_records(rows, columns=columns))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return pa.Table.from_pandas(frame, preserve_index=False)


def load_reference(url: str) -> dict[str, Any]:
    """The benchmark rows as Arrow tables (what the reference holds in memory)."""
    choices = ("SELECT wave_id, respondent_id, question_id, row_id, option_id FROM answer_choices",
               ["wave_id", "respondent_id", "question_id", "row_id", "option_id"])
    answers_sql = "SELECT wave_id, respondent_id, question_id, row_id, {value} FROM answers"
    answers_cols = ["wave_id", "respondent_id", "question_id", "row_id", "value"]
    responses = ("SELECT wave_id, respondent_id, completed_at, answered FROM responses",
                 ["wave_id", "respondent_id", "completed_at", "answered"])
    if url.startswith("sqlite"):
        import sqlite3

        conn: Any = sqlite3.connect(url.split("///", 1)[1])
        value = "value"
    else:
        import psycopg

        conn = psycopg.connect(datagen.sync_url(url).replace("postgresql+psycopg://", "postgresql://"))
        value = "value::text"
    try:
        cur = conn.cursor()
        return {
            "answer_choices": _frame(cur, *choices),
            "answers": _frame(cur, answers_sql.format(value=value), answers_cols),
            "responses": _frame(cur, *responses),
        }
    finally:
        conn.close()


def reference(tables: dict[str, Any], multi: list[str], free: list[str],
              conditions: dict[str, tuple[str, list[str]]] | None = None) -> Reference:
    """The DuckDB reference over its own in-memory copy of `tables` (Arrow tables).

    The rows are copied into native DuckDB tables (not views over Arrow, which DuckDB scans
    more slowly), and respondents are read from the same `responses.answered` flag the
    application keeps, so the reference does the work the application does, no more.
    """
    import duckdb

    con = duckdb.connect()
    for name, table in tables.items():
        con.register(f"arrow_{name}", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM arrow_{name}")
        con.unregister(f"arrow_{name}")
    return Reference(con, multi, free, conditions)


def compare_results(summary: dict[str, Any], ref: dict[str, Any], wave_ids: dict[str, int]) -> dict:
    """Every share, answered and respondent count of the summary JSON against DuckDB's."""
    label_of = {v: k for k, v in wave_ids.items()}
    shares = {(label_of[w], q, r, o): (n, answered, share)
              for w, q, r, o, n, answered, share in ref["shares"] if w in label_of}
    free = {(label_of[w], q): n for w, q, n in ref["free"] if w in label_of}
    respondents = {label_of[w]: n for w, n, _ in ref["respondents"] if w in label_of}
    compared, differ = 0, []
    for label, n in summary["respondents"].items():
        compared += 1
        if respondents.get(label) != n:
            differ.append(f"respondents {label}: {n} vs {respondents.get(label)}")
    for q in summary["questions"]:
        for label, result in q["results"].items():
            cells = result.get("rows", {"": result})
            for row, cell in cells.items():
                if "shares" not in cell:
                    if q["type"] == "text":
                        compared += 1
                        if free.get((label, q["id"]), 0) != cell.get("answered"):
                            differ.append(f"{label} {q['id']} answered {cell.get('answered')}")
                    continue
                for option, share in cell["shares"].items():
                    compared += 1
                    ref_n, ref_answered, ref_share = shares.get((label, q["id"], row, option),
                                                                 (0, None, 0.0))
                    if abs(round(ref_share, 4) - share) > 1e-9:
                        differ.append(f"{label} {q['id']}.{row}.{option}: {share} vs {ref_share:.4f}")
                    if ref_answered is not None and ref_answered != cell["answered"]:
                        differ.append(f"{label} {q['id']}.{row} answered {cell['answered']} vs "
                                      f"{ref_answered}")
    return {"compared": compared, "differ": len(differ), "examples": differ[:5]}


# -- the worker ---------------------------------------------------------------------------


async def _summary_runs(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select

    from analytics.charts import render_charts
    from analytics.report import to_json
    from analytics.service import build_summary
    from surveys.db import Database
    from surveys.models import Community, Wave
    from surveys.schema import QuestionType

    spec = datagen.Spec(args.respondents, args.waves, args.seed)
    qn = datagen.questionnaire()
    db = Database(args.url)
    out: dict[str, Any] = {"backend": db.dialect}
    async with db.session() as session:
        community_id = (await session.execute(
            select(Community.id).where(Community.slug == spec.slug))).scalar_one()
        rows = (await session.execute(
            select(Wave.label, Wave.id).where(Wave.community_id == community_id))).all()
    wave_ids = {label: wid for label, wid in rows}
    labels = spec.labels
    main, compare = labels[-1], list(reversed(labels[:-1]))

    # The weekly summary's case: the summarised wave is live (open, counted every time), the
    # waves it is compared with are closed (their aggregates kept, analytics.cache). Cold runs
    # forget the kept aggregates first, so every wave is counted.
    from sqlalchemy import delete, update

    from surveys.models import WaveAggregate, WaveStatus

    async def set_main_status(status: WaveStatus) -> None:
        async with db.session() as session:
            await session.execute(update(Wave).where(Wave.id == wave_ids[main]).values(status=status.value))

    async def forget_kept() -> None:
        async with db.session() as session:
            await session.execute(delete(WaveAggregate))

    await set_main_status(WaveStatus.open)
    await forget_kept()

    async def summary_once() -> tuple[float, float, Any, str]:
        t0 = time.perf_counter()
        summary = await build_summary(db, community_id=community_id, survey_id=qn.id, wave=main,
                                      compare=compare)
        t1 = time.perf_counter()
        text = to_json(summary)
        return t1 - t0, time.perf_counter() - t1, summary, text

    out["rss_start_mb"] = rss_mb()
    build, dump, summary, text = await summary_once()
    out["first"] = build + dump
    out["json_bytes"] = len(text)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        await summary_once()
        profile.disable()
        buf = io.StringIO()
        pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(30)
        out["profile"] = buf.getvalue()
    build, dump, summary, text = await summary_once()
    out["rss_summary_mb"] = rss_mb()

    t0 = time.perf_counter()
    tables = load_reference(args.url)
    out["reference_load"] = time.perf_counter() - t0
    multi = [q.id for q in qn.questions if q.type is QuestionType.multi]
    free = [q.id for q in qn.questions if q.type in (QuestionType.text, QuestionType.number)]
    conditions = {q.id: (q.when.question, list(q.when.in_)) for q in qn.questions if q.when is not None}
    ref = reference(tables, multi, free, conditions)
    ref_result = ref.run()  # warm-up
    out["check"] = compare_results(json.loads(text), ref_result, wave_ids)

    builds, dumps, refs, cold = [], [], [], []
    for _ in range(args.repeat):
        build, dump, summary, text = await summary_once()
        builds.append(build)
        dumps.append(dump)
        t0 = time.perf_counter()
        ref.run()
        refs.append(time.perf_counter() - t0)
        await forget_kept()
        build_cold, dump_cold, _, _ = await summary_once()
        cold.append(build_cold + dump_cold)
    out["build"], out["json"], out["reference"] = builds, dumps, refs
    out["summary"] = [b + d for b, d in zip(builds, dumps, strict=True)]
    out["cold"] = cold
    await set_main_status(WaveStatus.closed)

    charts = []
    for _ in range(max(1, args.repeat // 3)):
        t0 = time.perf_counter()
        pngs = render_charts(summary)
        charts.append(time.perf_counter() - t0)
    out["charts"] = charts
    out["chart_count"] = len(pngs)
    out["rss_end_mb"] = rss_mb()
    out["rows"] = {name: t.num_rows for name, t in tables.items()}
    out["waves"] = {"main": main, "compare": compare}
    out["server"] = await _server_version(db)
    await db.dispose()
    return out


async def _server_version(db: Any) -> str:
    from sqlalchemy import text

    if db.dialect == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    async with db.session() as session:
        version = (await session.execute(text("SHOW server_version"))).scalar_one()
    return f"PostgreSQL {version}"


def worker(args: argparse.Namespace) -> int:
    result = asyncio.run(_summary_runs(args))
    print("RESULT " + json.dumps(result))
    return 0


# -- the driver ---------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values)


def prepare(backend: str, args: argparse.Namespace) -> tuple[str, float]:
    """The database URL for `backend`, its data set ready; seconds spent generating."""
    from surveys.db import sync_url
    from surveys.migrate import upgrade

    spec = datagen.Spec(args.respondents, args.waves, args.seed)
    if backend == "sqlite":
        path, took = datagen.ensure_sqlite(spec)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        took = datagen.ensure_postgres(args.pg_url, spec)
        url = args.pg_url
    upgrade(sync_url(url))  # a cached data set gets the migrations added since it was made
    return url, took


def run_worker(url: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--url", url,
           "--respondents", str(args.respondents), "--waves", str(args.waves),
           "--seed", str(args.seed), "--repeat", str(args.repeat)]
    if args.profile:
        cmd.append("--profile")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {url.split(':', 1)[0]} worker failed (exit {done.returncode})")
    return json.loads(line[len("RESULT "):])


def report(r: dict[str, Any]) -> dict[str, Any]:
    """The figures of one backend: medians, ratio, verdicts."""
    summary, ref = _median(r["summary"]), _median(r["reference"])
    return {
        "summary": summary, "build": _median(r["build"]), "json": _median(r["json"]),
        "summary_min": min(r["summary"]), "reference": ref, "reference_min": min(r["reference"]),
        "ratio": summary / ref, "ratio_min": min(r["summary"]) / min(r["reference"]),
        "charts": _median(r["charts"]), "first": r["first"],
        "cold": _median(r["cold"]), "cold_ratio": _median(r["cold"]) / ref,
        "cold_min": min(r["cold"]), "cold_ratio_min": min(r["cold"]) / min(r["reference"]),
        "rss_summary_mb": r["rss_summary_mb"], "rss_end_mb": r["rss_end_mb"],
    }


def print_report(name: str, r: dict[str, Any], f: dict[str, Any], generated: float) -> None:
    rows = r["rows"]
    print(f"\n{name}: {r['server']} — waves {r['waves']['main']} vs {', '.join(r['waves']['compare'])};"
          f" {rows['answers']:,} answers, {rows['answer_choices']:,} answer_choices"
          + (f" (generated in {generated:.1f} s)" if generated else " (data cached)"))
    print(f"  summary + JSON    {f['summary'] * 1000:8.0f} ms median (min {f['summary_min'] * 1000:.0f};"
          f" build {f['build'] * 1000:.0f} + to_json {f['json'] * 1000:.0f}); first run "
          f"{f['first'] * 1000:.0f} ms")
    print(f"  DuckDB reference  {f['reference'] * 1000:8.0f} ms median (min "
          f"{f['reference_min'] * 1000:.0f}); loading its tables took {r['reference_load']:.1f} s")
    verdict = "ok" if f["ratio"] <= TARGET_RATIO else "MISSED"
    print(f"  ratio             {f['ratio']:8.2f} × (min/min {f['ratio_min']:.2f} ×), "
          f"target ≤ {TARGET_RATIO:g} × — {verdict}")
    cold_verdict = "ok" if f["cold_ratio"] <= TARGET_RATIO else "MISSED"
    print(f"  cold (all counted){f['cold'] * 1000:8.0f} ms median (min {f['cold_min'] * 1000:.0f}), "
          f"ratio {f['cold_ratio']:.2f} × (min/min {f['cold_ratio_min']:.2f} ×) — {cold_verdict}")
    print(f"  charts            {f['charts'] * 1000:8.0f} ms for {r['chart_count']} PNGs (apart)")
    mem = "ok" if f["rss_summary_mb"] < TARGET_MEMORY_MB else "MISSED"
    print(f"  peak memory       {f['rss_summary_mb']:8.0f} MB after the summary runs (target "
          f"< {TARGET_MEMORY_MB:.0f} MB — {mem}); {f['rss_end_mb']:.0f} MB with the reference "
          "tables and charts")
    check = r["check"]
    print(f"  same results      {check['compared']} values compared with DuckDB, {check['differ']}"
          f" differ {check['examples'] if check['differ'] else ''}")
    if "profile" in r:
        print(r["profile"])


def results_section(runs: list[tuple[dict, dict]], args: argparse.Namespace) -> str:
    spec = datagen.Spec(args.respondents, args.waves, args.seed)
    first = runs[0][0]
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')} on {datagen.machine(args.pg_url)}; "
        f"load average at start {os.getloadavg()[0]:.1f} (a shared machine).",
        "",
        f"Data: {spec.waves} waves × {spec.respondents:,} respondents × the whole state-of-mlops "
        f"questionnaire = {first['rows']['answers']:,} `answers` + "
        f"{first['rows']['answer_choices']:,} `answer_choices` rows (bench/datagen.py, as the "
        "answer flow writes them). Summary = `build_summary` of "
        f"{first['waves']['main']} compared with {', '.join(first['waves']['compare'])} + "
        "`to_json`; reference = DuckDB computing the same shares from the same rows copied into "
        "its own in-memory tables (native, warmed up, respondents from the same "
        "`responses.answered` flag the application reads). Summary and reference runs "
        f"alternate; min / median of {args.repeat} runs, ratios of minima and of medians.",
        "",
        f"*Weekly summary*: {first['waves']['main']} is live (open, counted at every run) and the "
        "waves it is compared with are closed, their aggregates kept (analytics.cache) — the "
        "weekly post and `/survey results` during a wave. *Cold*: the kept aggregates are "
        "forgotten before each run, so all three waves are counted (a first summary after "
        "closing, or after a member deleted their answers).",
        "",
        "| backend | weekly summary + JSON min / median | DuckDB reference min / median | ratio "
        "min / median (target ≤ 2×) | cold: all waves counted min / median | cold ratio min / "
        "median | first run | charts (apart) | peak memory (target < 1 GB) | shares equal |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r, f in runs:
        check = r["check"]
        lines.append(
            f"| {r['server']} | {f['summary_min'] * 1000:.0f} / {f['summary'] * 1000:.0f} ms | "
            f"{f['reference_min'] * 1000:.0f} / {f['reference'] * 1000:.0f} ms | "
            f"{f['ratio_min']:.2f}× / **{f['ratio']:.2f}×** "
            f"{'✓' if f['ratio'] <= TARGET_RATIO else '✗'} | "
            f"{f['cold_min'] * 1000:.0f} / {f['cold'] * 1000:.0f} ms | "
            f"{f['cold_ratio_min']:.2f}× / **{f['cold_ratio']:.2f}×** "
            f"{'✓' if f['cold_ratio'] <= TARGET_RATIO else '✗'} | "
            f"{f['first'] * 1000:.0f} ms | {f['charts'] * 1000:.0f} ms ({r['chart_count']} PNGs) | "
            f"{f['rss_summary_mb']:.0f} MB {'✓' if f['rss_summary_mb'] < TARGET_MEMORY_MB else '✗'}"
            f" | {check['compared'] - check['differ']}/{check['compared']} |")
    lines += ["", "Reproduce: `/work/venv/bin/python bench/bench_summary.py --write-results` "
              "(see bench/README.md)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"],
                        help="repeat for both (default: both)")
    parser.add_argument("--pg-url", default=os.environ.get("STATEOF_BENCH_PG_URL", PG_URL))
    parser.add_argument("--respondents", type=int, default=datagen.Spec.respondents)
    parser.add_argument("--waves", type=int, default=datagen.Spec.waves)
    parser.add_argument("--seed", type=int, default=datagen.Spec.seed)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one summary")
    parser.add_argument("--write-results", action="store_true",
                        help=f"write the figures under '{HEADING}' in bench/RESULTS.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.waves < 2:
        parser.error("--waves must be at least 2 (the summary compares waves)")
    runs = []
    ok = True
    for backend in args.backend or ["sqlite", "postgresql"]:
        url, generated = prepare(backend, args)
        r = run_worker(url, args)
        f = report(r)
        print_report(backend, r, f, generated)
        runs.append((r, f))
        ok = ok and f["ratio"] <= TARGET_RATIO and f["rss_summary_mb"] < TARGET_MEMORY_MB
        ok = ok and r["check"]["differ"] == 0
    if args.write_results:
        title = heading(args.respondents)
        datagen.write_section(title, results_section(runs, args))
        print(f"\nwritten to {datagen.RESULTS} under '{title}'")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
