"""Synthetic waves for the analytics benchmarks, bulk-written exactly as `surveys/flow.py` writes.

    /work/venv/bin/python bench/datagen.py [--respondents 50000] [--waves 3] [--database-url URL]
    /work/venv/bin/python bench/datagen.py --verify   # bulk rows == AnswerFlow rows, small sample

Answering 150,000 questionnaires through `AnswerFlow.submit` would take the better part of
an hour, so the rows the flow would write are computed here and inserted in bulk: SQLite with
`executemany` in one transaction per table, PostgreSQL with `COPY`. The tables and their
contents are those of the flow (see `--verify`, which answers a small sample through the real
`AnswerFlow` and compares every row):

- `respondents`: one pseudonym (HMAC of platform:space:user) per member who ever answered;
- `responses`: one per (wave, respondent), `completed_at` set when every shown question is done;
- `answers`: one per shown question (grid: per row); a skipped optional one holds JSON `null`;
- `answer_choices`: one per chosen option of single, multi, country and grid answers;
- `participation`: the ledger once its daily batches are applied: every member of the pool
  invited, `completed` for those who completed (members who did not answer are invited only).

Ids are random 63-bit keys and times are days, as the application stores them (docs/privacy.md).

The generated SQLite file is cached under `bench/data/` (gitignored); a PostgreSQL database is
reused when it already holds this exact data set (same community slug, same row counts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from surveys.catalog import Catalog  # noqa: E402
from surveys.db import Database, sync_url  # noqa: E402
from surveys.identity import Member, pseudonym  # noqa: E402
from surveys.migrate import upgrade  # noqa: E402
from surveys.models import Base, Community, Wave, WaveStatus, day_start  # noqa: E402
from surveys.schema import Question, Questionnaire, QuestionType  # noqa: E402
from surveys.validation import chosen_options  # noqa: E402
from surveys.waves import create_wave, ensure_community  # noqa: E402

log = logging.getLogger(__name__)

DATA_DIR = ROOT / "bench" / "data"
SURVEY = "state-of-mlops"
SECRET = b"bench-secret-not-for-production"
GENERATOR_VERSION = 3  # bump when the generated rows change, so caches are rebuilt
COMPLETION_RATE = 0.93
SKIP_RATE = 0.04  # an optional question left blank
TEXT_RATE = 0.35  # a free-text question actually answered
PHRASES = [
    "Getting models from notebooks into production",
    "Monitoring data drift", "Convincing the business", "Hiring", "Data quality",
    "Too many tools, none integrated", "Reproducibility of experiments", "Cost of GPUs",
    "Security reviews take months", "Nobody owns the models after launch",
    "Feature pipelines break silently", "Labelling data", "Latency of serving",
    "Explaining results to regulators", "Keeping up with new tools", "Technical debt",
]
TABLES = ["respondents", "responses", "answers", "answer_choices", "participation"]


@dataclass(frozen=True)
class Spec:
    """What to generate: `waves` waves of `respondents` respondents each, from `seed`."""

    respondents: int = 50_000
    waves: int = 3
    seed: int = 20240301

    @property
    def slug(self) -> str:
        return f"bench-{self.waves}x{self.respondents}-s{self.seed}-v{GENERATOR_VERSION}"

    @property
    def labels(self) -> list[str]:
        return [str(2024 + i) for i in range(self.waves)]

    @property
    def step(self) -> int:
        """Consecutive waves share half of their respondents (people answer again next year)."""
        return max(1, self.respondents // 2)

    @property
    def pool(self) -> int:
        return self.respondents + self.step * (self.waves - 1)

    def sqlite_path(self) -> Path:
        return DATA_DIR / f"{self.slug}.db"


def questionnaire() -> Questionnaire:
    return Catalog().get(SURVEY)


def member(person: int) -> Member:
    """Person `person` of the community: 70% on Slack, 30% on Discord."""
    if person % 10 < 7:
        return Member("slack", "T0BENCH", f"U{person:08d}")
    return Member("discord", "900000000000000001", str(800000000000000000 + person))


# -- simulating answers -------------------------------------------------------------------


@dataclass
class FieldAnswers:
    """The answers to one field (a question, or a grid row) of one wave.

    `who` are positions in the wave's respondent list; `values` the canonical values the flow
    stores (None = skipped), in the same order.
    """

    question: Question
    row_id: str
    who: np.ndarray
    values: list[Any]


@dataclass
class WaveAnswers:
    """One wave: its respondents (persons of the pool, in arrival order) and their answers."""

    index: int
    label: str
    persons: np.ndarray
    completed: np.ndarray  # bool per respondent
    answered_at: list[datetime]  # per respondent
    opens_at: datetime
    fields: list[FieldAnswers] = field(default_factory=list)

    def by_respondent(self) -> list[dict[str, Any]]:
        """Field key → value per respondent (what each one submitted through the flow)."""
        out: list[dict[str, Any]] = [{} for _ in self.persons]
        for f in self.fields:
            key = f"{f.question.id}.{f.row_id}" if f.row_id else f.question.id
            for pos, value in zip(f.who.tolist(), f.values, strict=True):
                out[pos][key] = value
        return out


def _weights(rng: np.random.Generator, n: int, waves: int) -> np.ndarray:
    """Option weights per wave: a random base that drifts from wave to wave (real movers)."""
    base = rng.dirichlet(np.full(n, 2.0))
    drift = rng.normal(0.0, 0.35, size=n)
    out = np.stack([base * np.exp(drift * w) for w in range(waves)])
    return out / out.sum(axis=1, keepdims=True)


def _pick_one(rng: np.random.Generator, ids: Sequence[str], p: np.ndarray, size: int) -> list[str]:
    idx = rng.choice(len(ids), size=size, p=p)
    arr = np.asarray(ids, dtype=object)
    return arr[idx].tolist()


def _pick_many(
    rng: np.random.Generator, q: Question, p: np.ndarray, size: int
) -> list[list[str]]:
    """1 to 3 (at most max_choices) options per respondent, weighted, in questionnaire order."""
    ids = [o.id for o in q.choices]
    m = len(ids)
    most = min(3, m, q.max_choices or m)
    k = rng.integers(1, most + 1, size=size)
    keys = np.log(p)[None, :] - np.log(-np.log(rng.random((size, m))))  # Gumbel top-k
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < k[:, None]
    exclusive = [j for j, o in enumerate(q.choices) if o.exclusive]
    out = []
    for row in chosen:
        picked = [ids[j] for j in np.flatnonzero(row)]
        if exclusive and len(picked) > 1:
            picked = [i for i in picked if i not in {ids[j] for j in exclusive}]
        out.append(picked)
    return out


def _values(
    rng: np.random.Generator, q: Question, weights: dict[str, np.ndarray], wave: int, size: int,
    row_id: str = "",
) -> list[Any]:
    """Canonical answers of `size` respondents to `q` (a grid: to one row), no skips yet."""
    if q.type is QuestionType.single:
        return _pick_one(rng, [o.id for o in q.choices], weights[q.id][wave], size)
    if q.type is QuestionType.country:
        codes = ["DE", "US", "IN", "GB", "FR", "BR", "NL", "CA", "ES", "PL", "NG", "JP"]
        return _pick_one(rng, codes, weights[q.id][wave], size)
    if q.type is QuestionType.multi:
        return _pick_many(rng, q, weights[q.id][wave], size)
    if q.type is QuestionType.grid:
        return _pick_one(rng, [s.id for s in q.scale], weights[f"{q.id}.{row_id}"][wave], size)
    if q.type is QuestionType.number:
        low = q.min if q.min is not None else 0.0
        high = q.max if q.max is not None else 100.0
        raw = rng.uniform(low, high, size=size)
        return [int(round(v)) if q.integer else round(float(v), 2) for v in raw]
    if q.type is QuestionType.text:
        return _pick_one(rng, PHRASES, np.full(len(PHRASES), 1 / len(PHRASES)), size)
    raise ValueError(f"unsupported question type {q.type}")


def _condition_met(q: Question, earlier: dict[str, list[Any]], n: int) -> np.ndarray:
    """Per respondent: whether `q` is shown given their earlier answers (surveys.validation)."""
    if q.when is None:
        return np.ones(n, dtype=bool)
    given = earlier.get(q.when.question)
    if given is None:
        return np.zeros(n, dtype=bool)
    wanted = set(q.when.in_)
    return np.array([
        v is not None and bool((set(v) if isinstance(v, list) else {v}) & wanted) for v in given
    ], dtype=bool)


def simulate(qn: Questionnaire, spec: Spec) -> Iterator[WaveAnswers]:
    """The waves of `spec`, one at a time (deterministic for a seed)."""
    rng = np.random.default_rng(spec.seed)
    weights: dict[str, np.ndarray] = {}
    for q in qn.questions:
        if q.type is QuestionType.grid:
            for r in q.rows:
                weights[f"{q.id}.{r.id}"] = _weights(rng, len(q.scale), spec.waves)
        elif q.type is QuestionType.country:
            weights[q.id] = _weights(rng, 12, spec.waves)
        elif q.is_choice:
            weights[q.id] = _weights(rng, len(q.choices), spec.waves)
    order = list(qn.questions)
    for w, label in enumerate(spec.labels):
        n = spec.respondents
        persons = rng.permutation(np.arange(w * spec.step, w * spec.step + n))
        completed = rng.random(n) < COMPLETION_RATE
        # an incomplete respondent stopped before question `stop` (1 .. len-1)
        stop = np.where(completed, len(order), rng.integers(1, len(order), size=n))
        opens = datetime(2024 + w, 3, 1, 9, 0, tzinfo=UTC)
        offsets = rng.integers(0, 21 * 86400, size=n)
        answered_at = [opens + timedelta(seconds=int(s)) for s in offsets]
        wave = WaveAnswers(w, label, persons, completed, answered_at, opens)
        earlier: dict[str, list[Any]] = {}
        for i, q in enumerate(order):
            shown = (stop > i) & _condition_met(q, earlier, n)
            who = np.flatnonzero(shown)
            full: list[Any] = [None] * n
            rows = [r.id for r in q.rows] if q.type is QuestionType.grid else [""]
            for row_id in rows:
                values = _values(rng, q, weights, w, len(who), row_id)
                if q.type is QuestionType.text:
                    skip = rng.random(len(who)) >= TEXT_RATE
                elif q.required:
                    skip = np.zeros(len(who), dtype=bool)
                else:
                    skip = rng.random(len(who)) < SKIP_RATE
                values = [None if s else v for v, s in zip(values, skip.tolist(), strict=True)]
                wave.fields.append(FieldAnswers(q, row_id, who, values))
                if not row_id:
                    for pos, v in zip(who.tolist(), values, strict=True):
                        full[pos] = v
            earlier[q.id] = full
        yield wave


# -- rows as the flow writes them ----------------------------------------------------------


@dataclass
class Ids:
    """Random 63-bit primary keys, as the application draws them (docs/privacy.md), from a
    seeded generator so a data set is reproducible."""

    seed: int = 0
    used: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def next(self) -> int:
        while True:
            key = self.rng.getrandbits(63) or 1
            if key not in self.used:
                self.used.add(key)
                return key


@dataclass
class WaveRows:
    """The rows of one wave for each table, as tuples in the column order of `COLUMNS`."""

    respondents: list[tuple] = field(default_factory=list)
    responses: list[tuple] = field(default_factory=list)
    answers: list[tuple] = field(default_factory=list)
    answer_choices: list[tuple] = field(default_factory=list)
    participation: list[tuple] = field(default_factory=list)

    def count(self) -> dict[str, int]:
        return {t: len(getattr(self, t)) for t in TABLES}


COLUMNS = {
    "respondents": ["id", "community_id", "pseudonym", "created_at"],
    "responses": ["id", "wave_id", "respondent_id", "platform", "started_at", "completed_at",
                  "updated_at", "answered"],
    "answers": ["id", "wave_id", "respondent_id", "question_id", "row_id", "value", "number",
                "answered_at"],
    "answer_choices": ["answer_id", "option_id", "wave_id", "respondent_id", "question_id",
                       "row_id"],
    "participation": ["id", "wave_id", "platform", "space_id", "user_id", "invited", "completed",
                      "opted_out", "reminded_at", "reminders_sent", "dm_blocked"],
}


class RowBuilder:
    """Turns simulated waves into table rows, keeping respondent ids across waves."""

    def __init__(self, spec: Spec, community_id: int, wave_ids: Sequence[int], ids: Ids,
                 timestamp: Any):
        self.spec = spec
        self.community_id = community_id
        self.wave_ids = list(wave_ids)
        self.ids = ids
        # datetime → the value the database driver is given, cut to its day as the models do
        self.ts = lambda when: timestamp(day_start(when))
        self.respondent_of: dict[int, int] = {}  # person → respondents.id

    def rows(self, wave: WaveAnswers) -> WaveRows:
        out = WaveRows()
        wave_id = self.wave_ids[wave.index]
        ts = self.ts
        rid: list[int] = []
        for pos, person in enumerate(wave.persons.tolist()):
            if person not in self.respondent_of:
                m = member(person)
                self.respondent_of[person] = key = self.ids.next()
                out.respondents.append((key, self.community_id, pseudonym(SECRET, m),
                                        ts(wave.answered_at[pos])))
            rid.append(self.respondent_of[person])
        when = [ts(t) for t in wave.answered_at]
        done = [ts(t + timedelta(minutes=5)) for t in wave.answered_at]
        for pos, person in enumerate(wave.persons.tolist()):
            m = member(person)
            finished = done[pos] if wave.completed[pos] else None
            # every generated member answers the required first question: a respondent
            out.responses.append((self.ids.next(), wave_id, rid[pos], m.platform, when[pos],
                                  finished, when[pos], True))
        # answers in arrival order: each respondent's fields together, as they submitted them
        per_pos: list[list[tuple[Question, str, Any]]] = [[] for _ in wave.persons]
        for f in wave.fields:
            for pos, value in zip(f.who.tolist(), f.values, strict=True):
                per_pos[pos].append((f.question, f.row_id, value))
        for pos, fields in enumerate(per_pos):
            r = rid[pos]
            for q, row_id, value in fields:
                aid = self.ids.next()
                number = float(value) if q.type is QuestionType.number and value is not None else None
                out.answers.append((aid, wave_id, r, q.id, row_id, json.dumps(value), number, when[pos]))
                for opt in chosen_options(q, value):
                    out.answer_choices.append((aid, opt, wave_id, r, q.id, row_id))
        # the ledger once the daily batches are applied: invited flags, completion flags
        for pos, person in enumerate(wave.persons.tolist()):
            m = member(person)
            out.participation.append((self.ids.next(), wave_id, m.platform, m.space, m.user, True,
                                      bool(wave.completed[pos]), False, None, 0, False))
        # the rest of the community was invited but did not answer this wave
        answered = set(wave.persons.tolist())
        for person in range(self.spec.pool):
            if person in answered:
                continue
            m = member(person)
            out.participation.append((self.ids.next(), wave_id, m.platform, m.space, m.user,
                                      True, False, False, None, 0, False))
        return out


# -- writing -------------------------------------------------------------------------------


async def _setup(url: str, spec: Spec, qn: Questionnaire, status: WaveStatus) -> tuple[int, list[int]]:
    """The community and its waves through the project's own code; returns their ids."""
    db = Database(url)
    try:
        async with db.session() as session:
            community = await ensure_community(session, spec.slug, name="Benchmark community")
            wave_ids = []
            for w, label in enumerate(spec.labels):
                opens = datetime(2024 + w, 3, 1, 9, 0, tzinfo=UTC)
                # no close time: the flow refuses answers past one, and --verify answers now
                wave = await create_wave(session, community, qn, label, opens_at=opens, status=status,
                                         synthetic=True)
                wave_ids.append(wave.id)
            return community.id, wave_ids
    finally:
        await db.dispose()


def _sqlite_ts(value: datetime) -> str:
    """How SQLAlchemy's DateTime stores a (UTC) datetime in SQLite."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def write_sqlite(path: Path, spec: Spec, *, quiet: bool = False) -> Path:
    """Create the SQLite file for `spec` (migrated with Alembic, then bulk-loaded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.db")
    for p in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        p.unlink(missing_ok=True)
    upgrade(f"sqlite:///{partial}")
    qn = questionnaire()
    community_id, wave_ids = asyncio.run(_setup(f"sqlite+aiosqlite:///{partial}", spec, qn,
                                                WaveStatus.closed))
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    ids = Ids(spec.seed)
    builder = RowBuilder(spec, community_id, wave_ids, ids, _sqlite_ts)
    totals = dict.fromkeys(TABLES, 0)
    for wave in simulate(qn, spec):
        rows = builder.rows(wave)
        with conn:
            for table in TABLES:
                cols = COLUMNS[table]
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                conn.executemany(sql, getattr(rows, table))
        for t, n in rows.count().items():
            totals[t] += n
        if not quiet:
            print(f"  sqlite: wave {wave.label} written ({rows.count()})", flush=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    partial.replace(path)
    return path


def ensure_sqlite(spec: Spec, *, quiet: bool = False) -> tuple[Path, float]:
    """The cached SQLite file for `spec` (built when missing); (path, seconds spent building)."""
    path = spec.sqlite_path()
    if path.exists() and _sqlite_complete(path, spec):
        return path, 0.0
    t0 = time.perf_counter()
    write_sqlite(path, spec, quiet=quiet)
    return path, time.perf_counter() - t0


def _sqlite_complete(path: Path, spec: Spec) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = conn.execute("SELECT count(*) FROM waves w JOIN communities c ON c.id = "
                                 "w.community_id WHERE c.slug = ?", (spec.slug,)).fetchone()[0]
            responses = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return found == spec.waves and responses == spec.waves * spec.respondents


def _pg_ts(value: datetime) -> datetime:
    return value


def _copy_rows(cur: Any, table: str, rows: Iterable[tuple]) -> None:
    cols = ", ".join(COLUMNS[table])
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def pg_complete(url: str, spec: Spec) -> bool:
    """Whether the PostgreSQL database already holds exactly this data set."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            slug = conn.execute(select(Community.id).where(Community.slug == spec.slug)).scalar()
            if slug is None:
                return False
            waves = conn.execute(select(func.count()).select_from(Wave)).scalar_one()
            responses = conn.execute(text("SELECT count(*) FROM responses")).scalar_one()
            others = conn.execute(text("SELECT count(*) FROM communities")).scalar_one()
    except Exception:  # noqa: BLE001 - not migrated yet, or another schema: rebuild
        return False
    finally:
        engine.dispose()
    return others == 1 and waves == spec.waves and responses == spec.waves * spec.respondents


def write_postgres(url: str, spec: Spec, *, quiet: bool = False) -> None:
    """Empty the (benchmark!) database, then load `spec` with COPY."""
    import psycopg

    upgrade(sync_url(url))
    engine = create_engine(sync_url(url))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    qn = questionnaire()
    community_id, wave_ids = asyncio.run(_setup(url, spec, qn, WaveStatus.closed))
    dsn = sync_url(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        builder = RowBuilder(spec, community_id, wave_ids, Ids(spec.seed), _pg_ts)
        for wave in simulate(qn, spec):
            rows = builder.rows(wave)
            with conn.transaction(), conn.cursor() as cur:
                for table in TABLES:
                    _copy_rows(cur, table, getattr(rows, table))
            if not quiet:
                print(f"  postgresql: wave {wave.label} written ({rows.count()})", flush=True)
        conn.commit()
        # what autovacuum does shortly after a bulk load: statistics and the visibility map
        # (index-only scans need it)
        conn.autocommit = True
        for table in TABLES:
            conn.execute(f"VACUUM ANALYZE {table}")


def ensure_postgres(url: str, spec: Spec, *, quiet: bool = False) -> float:
    """Load `spec` into the database unless it is already there; seconds spent loading."""
    if pg_complete(url, spec):
        return 0.0
    t0 = time.perf_counter()
    write_postgres(url, spec, quiet=quiet)
    return time.perf_counter() - t0


def counts(url: str) -> dict[str, int]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        engine.dispose()


# -- verification against the real flow ---------------------------------------------------


async def _through_flow(url: str, spec: Spec, qn: Questionnaire) -> None:
    from surveys.flow import AnswerFlow
    from surveys.waves import close_wave, wave_by_id

    _, wave_ids = await _setup(url, spec, qn, WaveStatus.open)
    db = Database(url)
    flow = AnswerFlow(db, SECRET, batch_min=1)
    try:
        for wave in simulate(qn, spec):
            wave_id = wave_ids[wave.index]
            for pos, values in enumerate(wave.by_respondent()):
                m = member(int(wave.persons[pos]))
                await flow.start(wave_id, m)
                if values:
                    await flow.submit(wave_id, m, values, answered_at=wave.answered_at[pos])
        # the ledger's daily batches, applied (the bulk rows model the ledger after them)
        await flow.ledger.flush(db, today=datetime.now(UTC) + timedelta(days=1))
        async with db.session() as session:
            for wave_id in wave_ids:
                close_wave(await wave_by_id(session, wave_id))
    finally:
        await db.dispose()


def _snapshot(path: Path) -> dict[str, set[tuple]]:
    """Table contents with surrogate ids replaced by natural keys, times by their shape."""
    conn = sqlite3.connect(path)
    q = conn.execute
    shape = "CASE WHEN {0} IS NULL THEN NULL ELSE length({0}) || ':' || typeof({0}) END"
    out = {
        "respondents": set(q("SELECT pseudonym, " + shape.format("created_at") + " FROM respondents")),
        "responses": set(q(
            "SELECT w.label, p.pseudonym, r.platform, r.completed_at IS NOT NULL, "
            + shape.format("r.started_at") + " FROM responses r JOIN waves w ON w.id = r.wave_id "
            "JOIN respondents p ON p.id = r.respondent_id")),
        "answers": set(q(
            "SELECT w.label, p.pseudonym, a.question_id, a.row_id, a.value, a.number, "
            "typeof(a.value), a.answered_at FROM answers a JOIN waves w ON w.id = a.wave_id "
            "JOIN respondents p ON p.id = a.respondent_id")),
        "answer_choices": set(q(
            "SELECT w.label, p.pseudonym, c.question_id, c.row_id, c.option_id, "
            "a.question_id = c.question_id AND a.row_id = c.row_id AND a.wave_id = c.wave_id "
            "AND a.respondent_id = c.respondent_id FROM answer_choices c "
            "JOIN answers a ON a.id = c.answer_id JOIN waves w ON w.id = c.wave_id "
            "JOIN respondents p ON p.id = c.respondent_id")),
        "participation": set(q(
            "SELECT w.label, x.platform, x.space_id, x.user_id FROM participation x "
            "JOIN waves w ON w.id = x.wave_id WHERE x.completed")),
    }
    conn.close()
    return out


def verify(spec: Spec, workdir: Path) -> list[str]:
    """Answer `spec` through AnswerFlow and in bulk; the differences (empty = identical)."""
    workdir.mkdir(parents=True, exist_ok=True)
    flow_db, bulk_db = workdir / "verify-flow.db", workdir / "verify-bulk.db"
    for p in (flow_db, bulk_db):
        p.unlink(missing_ok=True)
    upgrade(f"sqlite:///{flow_db}")
    asyncio.run(_through_flow(f"sqlite+aiosqlite:///{flow_db}", spec, questionnaire()))
    write_sqlite(bulk_db, spec, quiet=True)
    a, b = _snapshot(flow_db), _snapshot(bulk_db)
    problems = []
    print("rows compared:", {t: len(a[t]) for t in TABLES})
    for table in TABLES:
        if a[table] != b[table]:
            only_flow = sorted(a[table] - b[table], key=repr)[:3]
            only_bulk = sorted(b[table] - a[table], key=repr)[:3]
            problems.append(f"{table}: {len(a[table])} rows via flow, {len(b[table])} in bulk; "
                            f"only via flow {only_flow}, only in bulk {only_bulk}")
    return problems


# -- shared by the analytics benchmarks: the machine, and bench/RESULTS.md -------------------

RESULTS = ROOT / "bench" / "RESULTS.md"


def machine(pg_url: str | None = None) -> str:
    """CPU model, cores, RAM, Python, SQLite (and PostgreSQL when a URL is given)."""
    import os
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                      if x.startswith("MemTotal"))
        ram = f"{mem_kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration):
        ram = "RAM unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"{cpu}, {cores} cores, {ram}", f"Linux {platform.release()}",
             f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    if pg_url:
        try:
            engine = create_engine(sync_url(pg_url))
            with engine.connect() as conn:
                parts.append("PostgreSQL " + conn.execute(text("SHOW server_version")).scalar_one())
            engine.dispose()
        except Exception:  # noqa: BLE001 - the machine line still helps without it
            parts.append("PostgreSQL (unreachable)")
    try:
        import duckdb

        parts.append(f"DuckDB {duckdb.__version__}")
    except ImportError:
        pass
    return "; ".join(parts)


def write_section(heading: str, body: str, path: Path = RESULTS) -> None:
    """Replace the section under `heading` (up to the next `## `) in RESULTS.md, or append it.

    Other sections (other benchmarks own them) are left exactly as they are.
    """
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    lines = old.splitlines()
    start = next((i for i, x in enumerate(lines) if x.strip() == heading), None)
    block = [heading, "", *body.rstrip().splitlines(), ""]
    if start is None:
        new = old.rstrip() + "\n\n" + "\n".join(block)
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        new = "\n".join([*lines[:start], *block, *lines[end:]])
    path.write_text(new.rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=Spec.respondents)
    parser.add_argument("--waves", type=int, default=Spec.waves)
    parser.add_argument("--seed", type=int, default=Spec.seed)
    parser.add_argument("--database-url", help="PostgreSQL URL to load (default: the SQLite cache)")
    parser.add_argument("--verify", action="store_true",
                        help="compare bulk rows with the real AnswerFlow on a small sample")
    args = parser.parse_args(argv)
    if args.verify:
        spec = Spec(respondents=min(args.respondents, 60), waves=args.waves, seed=args.seed)
        problems = verify(spec, DATA_DIR / "verify")
        for p in problems:
            print("DIFFERENT", p)
        print("bulk rows identical to AnswerFlow rows" if not problems else "verification FAILED")
        return 1 if problems else 0
    spec = Spec(args.respondents, args.waves, args.seed)
    if args.database_url and not args.database_url.startswith("sqlite"):
        took = ensure_postgres(args.database_url, spec)
        state = f"loaded in {took:.1f} s" if took else "up to date"
        print(f"{args.database_url.rsplit('@', 1)[-1]}: {state}")
        print(counts(args.database_url))
        return 0
    path, took = ensure_sqlite(spec)
    print(f"{path}: {f'built in {took:.1f} s' if took else 'cached'}")
    print(counts(f"sqlite:///{path}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
