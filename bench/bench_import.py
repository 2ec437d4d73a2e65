"""CSV import of a past wave against a raw `executemany` of the same rows into the same database.

    /work/venv/bin/python bench/bench_import.py [--backend sqlite] [--backend postgresql]
        [--pg-url URL] [--rows 50000] [--repeat 3] [--write-results] [--profile]

The CSV (cached under bench/data/) holds `--rows` respondents answering the whole built-in
questionnaire in the import format of DESIGN.md: header = question ids, grid rows in
`QUESTION.ROW` columns, multi answers `;`-separated, empty = not answered; about one choice
cell in five gives the option's label instead of its id (both are accepted).

Measured per backend, alternating so a busy machine slows both alike:
1. import: `surveys.importer.import_csv` of the file as a new wave (read, validate every cell,
   write in one transaction, commit), through the project's `Database`;
2. reference: the rows that import wrote (read back after the first import: respondents,
   responses, answers, answer_choices) inserted again with the driver's plain `executemany`
   (sqlite3; psycopg, which pipelines it) in one transaction, into a new wave of the same
   database, committed. Building the tuples is not timed.
The ratio is median(import) / median(reference); target ≤ 3.

SQLite: every run gets a fresh copy of an empty migrated database file. PostgreSQL: the
benchmark database (`--pg-url`, default test_bench, which may hold the summary benchmark's
data; that stays untouched): each run's wave, respondents and rows are deleted afterwards, the
community "bench-import" at the end, then the tables are vacuumed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import io
import os
import pstats
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bench import datagen  # noqa: E402
from surveys.db import Database, sync_url  # noqa: E402
from surveys.migrate import upgrade  # noqa: E402
from surveys.models import Community, Wave, WaveStatus, random_key  # noqa: E402
from surveys.schema import Questionnaire, QuestionType  # noqa: E402
from surveys.waves import create_wave, ensure_community  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench"
HEADING = "## Analytics: import"
TARGET_RATIO = 3.0
COMMUNITY = "bench-import"
LABEL_SHARE = 5  # every 5th respondent writes option labels instead of ids
TABLE_COLUMNS = {
    "respondents": ["id", "community_id", "pseudonym", "created_at"],
    "responses": ["id", "wave_id", "respondent_id", "platform", "started_at", "completed_at",
                  "updated_at"],
    "answers": ["id", "wave_id", "respondent_id", "question_id", "row_id", "value", "number",
                "answered_at"],
    "answer_choices": ["answer_id", "option_id", "wave_id", "respondent_id", "question_id",
                       "row_id"],
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the CSV -------------------------------------------------------------------------------


def header(qn: Questionnaire) -> list[str]:
    cols = []
    for q in qn.questions:
        if q.type is QuestionType.grid:
            cols += [f"{q.id}.{r.id}" for r in q.rows]
        else:
            cols.append(q.id)
    return cols


def _cell(qn: Questionnaire, key: str, value: Any, labels: bool) -> str:
    if value is None:
        return ""
    q = qn.question(key.split(".", 1)[0])
    if q.type is QuestionType.grid:
        options = {s.id: s.label for s in q.scale}
    else:
        options = {o.id: o.label for o in q.choices}
    if isinstance(value, list):
        return ";".join(options[v] if labels else v for v in value)
    if labels and isinstance(value, str) and value in options:
        return options[value]
    return str(value)


def ensure_csv(rows: int, seed: int) -> Path:
    """The import file for `rows` respondents (built once, then cached)."""
    path = datagen.DATA_DIR / f"import-{rows}-s{seed}-v{datagen.GENERATOR_VERSION}.csv"
    if path.exists():
        return path
    qn = datagen.questionnaire()
    spec = datagen.Spec(respondents=rows, waves=1, seed=seed)
    wave = next(datagen.simulate(qn, spec))
    cols = header(qn)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for i, values in enumerate(wave.by_respondent()):
            labels = i % LABEL_SHARE == 0
            writer.writerow([_cell(qn, c, values.get(c), labels) for c in cols])
    partial.replace(path)
    return path


# -- databases -----------------------------------------------------------------------------


class Target:
    """Where one run writes: a fresh SQLite copy per run, or the PostgreSQL database."""

    def __init__(self, backend: str, pg_url: str):
        self.backend = backend
        self.pg_url = pg_url
        self.template = datagen.DATA_DIR / "import-template.db"
        self.current = datagen.DATA_DIR / "import-run.db"
        if backend == "sqlite":
            self.template.unlink(missing_ok=True)
            upgrade(f"sqlite:///{self.template}")
        else:
            upgrade(sync_url(pg_url))

    def fresh(self) -> str:
        """The URL of the database for the next run (SQLite: an empty copy)."""
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.current}{suffix}").unlink(missing_ok=True)
            shutil.copy(self.template, self.current)
            return f"sqlite+aiosqlite:///{self.current}"
        return self.pg_url

    def connect(self) -> Any:
        """A plain driver connection (sqlite3 or psycopg) for the reference."""
        if self.backend == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self.current)
            conn.execute("PRAGMA foreign_keys=ON")  # as the app's connections
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        import psycopg

        return psycopg.connect(sync_url(self.pg_url).replace("postgresql+psycopg://", "postgresql://"))

    def cleanup(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.current}{suffix}").unlink(missing_ok=True)
        if self.backend == "sqlite":
            self.template.unlink(missing_ok=True)


async def community_id(db: Database) -> int:
    async with db.session() as session:
        return (await ensure_community(session, COMMUNITY, name="Import benchmark")).id


async def delete_wave(db: Database, wave_id: int) -> None:
    """Remove a benchmark wave and everything written for it (not timed)."""
    async with db.session() as session:
        if db.dialect == "postgresql":
            # every row referring to these respondents is deleted below, first; skip the
            # per-row foreign-key checks, which scan `answers` (no index on respondent_id alone)
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        ids = [r for (r,) in (await session.execute(
            text("SELECT respondent_id FROM responses WHERE wave_id = :w"), {"w": wave_id}))]
        for table in ("answer_choices", "answers", "responses", "participation"):
            await session.execute(text(f"DELETE FROM {table} WHERE wave_id = :w"), {"w": wave_id})
        for start in range(0, len(ids), 5000):
            batch = ids[start:start + 5000]
            await session.execute(text(
                f"DELETE FROM respondents WHERE id IN ({', '.join(str(int(i)) for i in batch)})"))
        await session.execute(text("DELETE FROM waves WHERE id = :w"), {"w": wave_id})


async def drop_community(db: Database) -> None:
    async with db.session() as session:
        cid = (await session.execute(
            select(Community.id).where(Community.slug == COMMUNITY))).scalar_one_or_none()
        if cid is None:
            return
    async with db.session() as session:
        waves = (await session.execute(select(Wave.id).where(Wave.community_id == cid))).scalars()
        wave_ids = list(waves)
    for wid in wave_ids:
        await delete_wave(db, wid)
    async with db.session() as session:
        await session.execute(text("DELETE FROM communities WHERE id = :c"), {"c": cid})


async def read_back(db: Database, wave_id: int) -> dict[str, list[tuple]]:
    """The rows an import wrote for `wave_id`, in insertion order."""
    value = "value::text" if db.dialect == "postgresql" else "value"
    queries = {
        "respondents": "SELECT p.id, p.community_id, p.pseudonym, p.created_at FROM respondents p "
                       "JOIN responses r ON r.respondent_id = p.id WHERE r.wave_id = :w ORDER BY p.id",
        "responses": "SELECT id, wave_id, respondent_id, platform, started_at, completed_at, updated_at "
                     "FROM responses WHERE wave_id = :w ORDER BY id",
        "answers": f"SELECT id, wave_id, respondent_id, question_id, row_id, {value}, number, "
                   "answered_at FROM answers WHERE wave_id = :w ORDER BY id",
        "answer_choices": "SELECT answer_id, option_id, wave_id, respondent_id, question_id, row_id "
                          "FROM answer_choices WHERE wave_id = :w ORDER BY answer_id, option_id",
    }
    out = {}
    async with db.session() as session:
        conn = await session.connection()
        for table, sql in queries.items():
            result = await conn.exec_driver_sql(
                sql.replace(":w", "%(w)s" if db.dialect == "postgresql" else "?"),
                {"w": wave_id} if db.dialect == "postgresql" else (wave_id,))
            out[table] = [tuple(r) for r in result.all()]
    return out


def renumber(rows: dict[str, list[tuple]], wave_id: int) -> dict[str, list[tuple]]:
    """The same rows for another wave with fresh random ids, as the application draws them
    (keeps every reference consistent)."""
    rid = {r[0]: random_key() for r in rows["respondents"]}
    aid = {a[0]: random_key() for a in rows["answers"]}
    return {
        "respondents": [(rid[r[0]], *r[1:]) for r in rows["respondents"]],
        "responses": [(random_key(), wave_id, rid[r[2]], *r[3:]) for r in rows["responses"]],
        "answers": [(aid[a[0]], wave_id, rid[a[2]], *a[3:]) for a in rows["answers"]],
        "answer_choices": [(aid[c[0]], c[1], wave_id, rid[c[3]], *c[4:])
                           for c in rows["answer_choices"]],
    }


def raw_insert(conn: Any, backend: str, rows: dict[str, list[tuple]]) -> None:
    """The reference: one transaction of plain executemany per table, committed."""
    pg = backend == "postgresql"
    cur = conn.cursor()
    for table, cols in TABLE_COLUMNS.items():
        marks = ", ".join(("%s::json" if c == "value" else "%s") if pg else "?" for c in cols)
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows[table])
    conn.commit()


# -- the benchmark -------------------------------------------------------------------------


async def bench_backend(backend: str, args: argparse.Namespace, csv_path: Path) -> dict[str, Any]:
    from surveys import importer
    from surveys.importer import import_csv, parse_file

    qn = datagen.questionnaire()
    target = Target(backend, args.pg_url)
    imports: list[float] = []
    raws: list[float] = []
    executemany_imports: list[float] = []
    rows: dict[str, list[tuple]] | None = None
    out: dict[str, Any] = {"backend": backend}
    t0 = time.perf_counter()
    parse_file(qn, csv_path)
    out["parse"] = time.perf_counter() - t0
    try:
        for i in range(args.repeat):
            # 1. the import
            db = Database(target.fresh())
            await db.check()
            if backend == "postgresql" and i == 0:
                await drop_community(db)  # leftovers of an interrupted run
            cid = await community_id(db)
            profile = cProfile.Profile() if args.profile and i == 0 else None
            t0 = time.perf_counter()
            if profile:
                profile.enable()
            result = await import_csv(db, community_id=cid, questionnaire=qn,
                                      wave_label=f"import-{i}", path=csv_path)
            if profile:
                profile.disable()
            imports.append(time.perf_counter() - t0)
            if profile:
                buf = io.StringIO()
                pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(25)
                out["profile"] = buf.getvalue()
            out["result"] = {"respondents": result.respondents, "answers": result.answers,
                             "choices": result.choices}
            if rows is None:
                rows = await read_back(db, result.wave_id)
            if backend == "postgresql":
                await delete_wave(db, result.wave_id)
            if backend == "postgresql":  # the write path before COPY, in the same run
                importer.COPY_ON_POSTGRESQL = False
                try:
                    t0 = time.perf_counter()
                    old = await import_csv(db, community_id=cid, questionnaire=qn,
                                           wave_label=f"import-em-{i}", path=csv_path)
                    executemany_imports.append(time.perf_counter() - t0)
                finally:
                    importer.COPY_ON_POSTGRESQL = True
                await delete_wave(db, old.wave_id)
            # 2. the reference, into a new wave of the same (fresh) database
            if backend == "sqlite":
                await db.dispose()
                db = Database(target.fresh())
                cid = await community_id(db)
            async with db.session() as session:
                community = await session.get(Community, cid)
                wave = await create_wave(session, community, qn, f"raw-{i}",
                                         status=WaveStatus.closed, imported=True)
                wave_id = wave.id
            conn = target.connect()
            again = renumber(rows, wave_id)
            t0 = time.perf_counter()
            raw_insert(conn, backend, again)
            raws.append(time.perf_counter() - t0)
            conn.close()
            if backend == "postgresql":
                await delete_wave(db, wave_id)
            await db.dispose()
            before = (f", import with executemany {executemany_imports[-1]:.2f} s"
                      if executemany_imports else "")
            print(f"  {backend} run {i + 1}: import {imports[-1]:.2f} s, executemany "
                  f"{raws[-1]:.2f} s{before}", flush=True)
    finally:
        if backend == "postgresql":
            db = Database(target.fresh())
            await drop_community(db)
            await db.dispose()
            vacuum(args.pg_url)
            out["server"] = server_version(args.pg_url)
        else:
            import sqlite3

            out["server"] = f"SQLite {sqlite3.sqlite_version}"
        target.cleanup()
    out["import"], out["reference"] = imports, raws
    out["import_executemany"] = executemany_imports
    out["rows"] = {t: len(v) for t, v in (rows or {}).items()}
    out["rss_mb"] = rss_mb()
    return out


def vacuum(url: str) -> None:
    import psycopg

    with psycopg.connect(sync_url(url).replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        for table in ("respondents", "responses", "answers", "answer_choices", "waves"):
            conn.execute(f"VACUUM ANALYZE {table}")


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(sync_url(url).replace("postgresql+psycopg://", "postgresql://")) as conn:
        return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]


def figures(r: dict[str, Any]) -> dict[str, float]:
    imp, ref = statistics.median(r["import"]), statistics.median(r["reference"])
    out = {"import": imp, "reference": ref, "ratio": imp / ref,
           "ratio_min": min(r["import"]) / min(r["reference"])}
    if r.get("import_executemany"):
        before = statistics.median(r["import_executemany"])
        out["import_executemany"] = before
        out["copy_ratio"] = imp / before
        out["copy_ratio_min"] = min(r["import"]) / min(r["import_executemany"])
    return out


def print_report(r: dict[str, Any], f: dict[str, float], rows: int) -> None:
    counts = r["rows"]
    print(f"\n{r['backend']}: {r['server']} — {rows:,} CSV rows → {counts.get('respondents', 0):,} "
          f"respondents, {counts.get('answers', 0):,} answers, {counts.get('answer_choices', 0):,} "
          "answer_choices")
    print(f"  import_csv        {f['import']:7.2f} s median ({rows / f['import']:,.0f} rows/s; "
          f"parse + validate alone {r['parse']:.2f} s)")
    print(f"  raw executemany   {f['reference']:7.2f} s median (same rows, same database)")
    verdict = "ok" if f["ratio"] <= TARGET_RATIO else "MISSED"
    print(f"  ratio             {f['ratio']:7.2f} × (min/min {f['ratio_min']:.2f} ×), target ≤ "
          f"{TARGET_RATIO:g} × — {verdict}")
    if "copy_ratio" in f:
        print(f"  import, executemany write path {f['import_executemany']:7.2f} s median: COPY "
              f"takes {f['copy_ratio']:.2f} × (min/min {f['copy_ratio_min']:.2f} ×)")
    print(f"  peak memory       {r['rss_mb']:7.0f} MB (this process so far)")
    if "profile" in r:
        print(r["profile"])


def results_section(runs: list[tuple[dict, dict]], args: argparse.Namespace) -> str:
    first = runs[0][0]["rows"]
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')} on {datagen.machine(args.pg_url)}; "
        f"load average at start {os.getloadavg()[0]:.1f} (a shared machine).",
        "",
        f"A {args.rows:,}-row CSV (the whole state-of-mlops questionnaire, one in five "
        "respondents giving option labels) through `surveys.importer.import_csv` → "
        f"{first.get('answers', 0):,} answers + {first.get('answer_choices', 0):,} answer choices; "
        "reference = the same rows (read back from the first import) inserted with the "
        "driver's plain `executemany` into the same database, one transaction. "
        f"Medians of {args.repeat} alternating runs.",
        "",
        "On PostgreSQL the import writes with `COPY` (psycopg `cursor.copy`); the same import "
        "with the `executemany` write path it replaced (`surveys.importer.COPY_ON_POSTGRESQL = "
        "False`) runs in the same iterations for the last column.",
        "",
        "| backend | import_csv | raw executemany | ratio (target ≤ 3×) | parse + validate alone "
        "| import via executemany → COPY / executemany |",
        "|---|---|---|---|---|---|",
    ]
    for r, f in runs:
        before = (f"{f['import_executemany']:.2f} s → **{f['copy_ratio']:.2f}×**"
                  if "copy_ratio" in f else "— (SQLite: executemany)")
        lines.append(
            f"| {r['server']} | {f['import']:.2f} s ({args.rows / f['import']:,.0f} rows/s) | "
            f"{f['reference']:.2f} s | **{f['ratio']:.2f}×** "
            f"{'✓' if f['ratio'] <= TARGET_RATIO else '✗'} | {r['parse']:.2f} s | {before} |")
    lines += ["", "Reproduce: `/work/venv/bin/python bench/bench_import.py --write-results` "
              "(see bench/README.md)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"],
                        help="repeat for both (default: both)")
    parser.add_argument("--pg-url", default=os.environ.get("STATEOF_BENCH_PG_URL", PG_URL))
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one import")
    parser.add_argument("--write-results", action="store_true",
                        help=f"write the figures under '{HEADING}' in bench/RESULTS.md")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    csv_path = ensure_csv(args.rows, args.seed)
    print(f"{csv_path.name}: {csv_path.stat().st_size / 1e6:.1f} MB "
          f"({time.perf_counter() - t0:.1f} s to prepare)")
    runs = []
    ok = True
    for backend in args.backend or ["sqlite", "postgresql"]:
        r = asyncio.run(bench_backend(backend, args, csv_path))
        f = figures(r)
        print_report(r, f, args.rows)
        runs.append((r, f))
        ok = ok and f["ratio"] <= TARGET_RATIO
    if args.write_results:
        datagen.write_section(HEADING, results_section(runs, args))
        print(f"\nwritten to {datagen.RESULTS} under '{HEADING}'")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
