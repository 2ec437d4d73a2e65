"""`stateof demo`: three yearly waves of a SYNTHETIC community, answered through the answer
flow the chat adapters use, and the weekly summary of the latest wave written to a folder.

The data is made up (seeded, reproducible) and every wave is flagged `synthetic`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.output import write_summary
from analytics.service import build_summary
from surveys.catalog import Catalog
from surveys.db import Database
from surveys.derived import without_questions
from surveys.flow import AnswerFlow
from surveys.identity import Member
from surveys.migrate import upgrade
from surveys.models import Participation, WaveStatus
from surveys.reference import check, read_yaml, shipped_references, store_reference
from surveys.schema import Questionnaire
from surveys.upsert import insert_ignore
from surveys.waves import close_wave, create_wave, ensure_community, wave_by_id

log = logging.getLogger(__name__)

SURVEY = "state-of-mlops"
WAVES = {"2024": 300, "2025": 340, "2026": 380}
# Members of the survey channel each year: all invited, so the report shows a response rate.
CHANNEL_MEMBERS = {"2024": 820, "2025": 900, "2026": 960}

# Share choosing each focus option per wave (the trend the demo tells).
FOCUS = {
    "prove_potential": (0.30, 0.24, 0.18),
    "first_model": (0.24, 0.19, 0.15),
    "deploy": (0.46, 0.43, 0.40),
    "monitoring": (0.13, 0.22, 0.31),
    "retraining": (0.15, 0.21, 0.30),
    "optimize": (0.22, 0.25, 0.29),
    "other": (0.05, 0.05, 0.05),
}
# Share with established tooling per row and wave; the rest splits looking / not relevant.
ESTABLISHED = {
    "data_analysis": (0.70, 0.72, 0.75),
    "experimentation": (0.45, 0.50, 0.55),
    "feature_store": (0.12, 0.16, 0.22),
    "code_repository": (0.80, 0.82, 0.85),
    "ml_pipeline": (0.30, 0.40, 0.50),
    "metadata_store": (0.15, 0.18, 0.24),
    "model_registry": (0.20, 0.26, 0.30),
    "model_serving": (0.35, 0.40, 0.47),
    "model_monitoring": (0.14, 0.20, 0.25),
}
# Of those without established tooling, the share looking for a solution (the rest: not
# relevant). The seed report: most are looking for monitoring (52%), a model registry (43%)
# and a feature store (41%), and twice as many look for monitoring as have it.
LOOKING = {"model_monitoring": 0.7, "model_registry": 0.62, "feature_store": 0.53}
LOOKING_OTHERWISE = 0.45
# ML headcount weights: 2-10 most common overall, but "even among the companies with 1000+
# employees, 11-30 employees working on ML was the most common answer" (the seed report).
HEADCOUNT: dict[str, float] = {"2_10": 3, "11_30": 2}
HEADCOUNT_BY_SIZE: dict[str, dict[str, float]] = {
    "1000_plus": {"1": 0.3, "2_10": 1.5, "11_30": 3.5, "31_100": 2, "100_plus": 1.5},
    "201_1000": {"1": 0.6, "2_10": 2.5, "11_30": 2.5, "31_100": 1.5},
}
# Free text for `stateof themes` (docs/examples/demo-themes.csv codes them): as in Mäkinen et
# al., "the biggest perceived problems revolve around data".
CHALLENGES = [
    "Getting models from notebooks into production",
    "Monitoring data drift",
    "Convincing the business of the value",
    "Finding and cleaning the training data",
]


@dataclass
class DemoResult:
    out_dir: Path
    database: Path
    files: list[Path]
    respondents: dict[str, int]


def _weights(rng: random.Random, options: list[str], bias: dict[str, float] | None = None) -> str:
    weights = [(bias or {}).get(o, 1.0) for o in options]
    return rng.choices(options, weights=weights)[0]


def synthetic_answers(qn: Questionnaire, t: int, rng: random.Random) -> dict[str, object]:
    """One made-up member's answers for wave index `t` (0, 1, 2)."""
    answers: dict[str, object] = {}
    ids = {q.id: q for q in qn.questions}
    answers["title"] = _weights(rng, [o.id for o in ids["title"].options],
                                {"data_scientist": 3, "ml_engineer": 2.5 + t, "data_science_leader": 1.5})
    answers["role"] = _weights(rng, [o.id for o in ids["role"].options],
                               {"models_and_infra": 2 + t * 0.5, "models": 3, "infra": 1.5, "lead": 1.5,
                                "none": 0.5})
    answers["company_size"] = _weights(rng, [o.id for o in ids["company_size"].options])
    answers["ml_headcount"] = _weights(rng, [o.id for o in ids["ml_headcount"].options],
                                       HEADCOUNT_BY_SIZE.get(str(answers["company_size"]), HEADCOUNT))
    if "team_outlook_3m" in ids:  # version 2: asked of everyone, about the next 3 months
        answers["team_outlook_3m"] = _weights(rng, ["grow", "same", "shrink"],
                                              {"grow": 4 - t * 0.5, "same": 2, "shrink": 0.15})
    elif answers["role"] != "none":  # version 1: 12 months, only of those who build or lead
        answers["team_outlook"] = _weights(rng, ["grow", "same", "shrink"], {"grow": 3 - t * 0.5, "same": 2})
    focus = [o for o, p in FOCUS.items() if rng.random() < p[t]]
    rng.shuffle(focus)
    answers["focus"] = focus[:3]
    for row, p in ESTABLISHED.items():
        roll = rng.random()
        answers[f"tooling.{row}"] = (
            "established" if roll < p[t]
            else "looking" if roll < p[t] + (1 - p[t]) * LOOKING.get(row, LOOKING_OTHERWISE)
            else "not_relevant"
        )
    answers["industry"] = _weights(rng, [o.id for o in ids["industry"].options], {"technology": 4})
    answers["region"] = _weights(rng, [o.id for o in ids["region"].options],
                                 {"europe": 4, "north_america": 4, "united_states": 3.5, "india": 1.5})
    if "data_types" in ids:
        answers["data_types"] = [o for o in ("relational", "time_series", "images", "text", "audio")
                                 if rng.random() < {"relational": .7, "text": .45}.get(o, .25)]
    if "models_in_production" in ids:
        answers.update(_maturity_answers(t, rng))
    if rng.random() < 0.3:
        answers["biggest_challenge"] = rng.choice(CHALLENGES)
    return answers


# Mäkinen et al.'s questions: share choosing each problem type (the same every wave), and the
# number of models in production, which grows from wave to wave (so the maturity stage does).
PROBLEMS = {"predictive_analysis": 0.55, "time_series": 0.42, "computer_vision": 0.33, "nlp": 0.30,
            "recommendation": 0.12, "anomaly_detection": 0.15, "other": 0.05}
MODELS = {"none": (4, 3, 2), "1": (3, 3, 2.5), "2_5": (2.5, 3, 3.2), "6_20": (1, 1.5, 2),
          "more_than_20": (0.5, 0.8, 1.2)}


def _maturity_answers(t: int, rng: random.Random) -> dict[str, object]:
    """Problems worked on, work of the last three months and models in production, consistent
    with each other: those with more models in production retrain and manage them more."""
    models = rng.choices(list(MODELS), weights=[w[t] for w in MODELS.values()])[0]
    level = list(MODELS).index(models)  # 0 none … 4 more than 20
    work = {"explore_data": 0.75 - 0.1 * level, "train_models": 0.6,
            "first_production": 0.35 if level < 2 else 0.05, "deploy_updates": 0.1 + 0.15 * level,
            "retrain": 0.05 + 0.15 * level + 0.05 * t,
            "monitor": 0.05 + 0.12 * level, "manage_models": 0.03 + 0.12 * level, "build_infra": 0.2,
            "other": 0.04}
    return {
        "problem_types": [o for o, p in PROBLEMS.items() if rng.random() < p],
        "recent_work": [o for o, p in work.items() if rng.random() < p],
        "models_in_production": models,
    }


def _first_wave_questionnaire(qn: Questionnaire) -> Questionnaire:
    """The 2024 questionnaire did not ask about data types yet (shows 'not asked')."""
    return without_questions(qn, [q for q in qn.questions if q.id != "data_types"])


async def _invite(db: Database, wave_id: int, n: int, when: datetime) -> None:
    """Put the channel's members on the participation ledger, as an announcement does."""
    rows = [{"wave_id": wave_id, "platform": "synthetic", "space_id": "demo", "user_id": f"member-{i}",
             "invited": True} for i in range(n)]
    async with db.session() as session:
        await session.execute(insert_ignore(session, Participation, ["wave_id", "platform", "space_id",
                                                                     "user_id"]), rows)


async def _answer_wave(flow: AnswerFlow, db: Database, wave_id: int, qn: Questionnaire, t: int,
                       n: int, rng: random.Random, opened: datetime) -> int:
    for i in range(n):
        member = Member("synthetic", "demo", f"member-{i}")
        answers = synthetic_answers(qn, t, rng)
        if rng.random() < 0.08:  # some stop half way: totals below 100%
            answers = {k: v for k, v in list(answers.items())[:4]}
        when = opened + timedelta(minutes=rng.randint(0, 20 * 24 * 60))
        await flow.submit(wave_id, member, answers, finish=True, answered_at=when)
    return n


async def _import_published(db: Database, community_id: int, qn: Questionnaire) -> None:
    """The report's published figures as reference waves ("Valohai 2021", "Valohai 2020"), so the
    demo's 2026 can be compared with them: `stateof summary … --compare "Valohai 2021"`."""
    for name, text in shipped_references():
        figures = read_yaml(text, f"builtin:published/{name}")
        shares = check(figures, qn, name)
        async with db.session() as session:
            await store_reference(session, community_id=community_id, qn=qn, label=figures.label,
                                  figures=figures, shares=shares)


async def run_demo(out_dir: Path, seed: int = 2026) -> DemoResult:
    """Build the demo database in `out_dir` and write the summary of the 2026 wave there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "stateof-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    await asyncio.to_thread(upgrade, f"sqlite:///{db_path}")
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    flow = AnswerFlow(db, secrets.token_bytes(32))
    rng = random.Random(seed)
    full = Catalog().get(SURVEY)
    async with db.session() as session:
        # the default community, so `stateof summary/export` work on this database as they are
        community = await ensure_community(session, "default", "Synthetic demo community")
    counts = {}
    try:
        for t, (label, n) in enumerate(WAVES.items()):
            qn = _first_wave_questionnaire(full) if t == 0 else full
            opened = datetime(int(label), 3, 1, 9, tzinfo=UTC)
            async with db.session() as session:
                wave = await create_wave(
                    # the close time is set when the demo closes it: answers are replayed "now"
                    # with their historical times, and the flow refuses answers past a close time
                    session, community, qn, label, opens_at=opened, status=WaveStatus.open, synthetic=True,
                    channels=[],
                )
                wave.opened_at = opened
                wave_id = wave.id
            await _invite(db, wave_id, CHANNEL_MEMBERS[label], opened)
            counts[label] = await _answer_wave(flow, db, wave_id, qn, t, n, rng, opened)
            async with db.session() as session:
                wave = await wave_by_id(session, wave_id)
                wave.closes_at = opened + timedelta(days=30)
                close_wave(wave, wave.closes_at)
            log.info("demo wave %s: %d synthetic members answered", label, n)
        await _import_published(db, community.id, full)
        labels = list(WAVES)
        summary = await build_summary(
            db, community_id=community.id, survey_id=SURVEY, wave=labels[-1],
            compare=list(reversed(labels[:-1])),
        )
        files = write_summary(summary, out_dir, "md")
    finally:
        await db.dispose()
    return DemoResult(out_dir, db_path, files, counts)
