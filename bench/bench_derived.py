"""A segment on a derived field against a similar segment on an asked question.

    .venv/bin/python bench/bench_derived.py [--repeat 7] [--out DIR] [--write-results]

Data: the `stateof demo` database (3 waves, 1,020 synthetic respondents of the built-in
questionnaire), built in `--out` when it is not there yet. Measured in one process, runs
alternating: `build_summary` of 2026 against 2025 and 2024 with
1. `--where ml_maturity=pipeline_centric,model_centric` (the derived maturity stage: each
   respondent's stage is a CASE over IN-subqueries of the rules, in the counts and the
   segment checks), and
2. the reference: `--where models_in_production=1,2_5,6_20,more_than_20`, a plain filter on
   one asked question (a segment of similar size: the stages it stands for, read from one answer).
The ratio is median(derived) / median(reference): what computing the field costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.service import build_summary  # noqa: E402
from bot.demo import run_demo  # noqa: E402
from surveys.db import Database  # noqa: E402

DERIVED = {"ml_maturity": ["pipeline_centric", "model_centric"]}
PLAIN = {"models_in_production": ["1", "2_5", "6_20", "more_than_20"]}


async def _time(db: Database, where: dict[str, list[str]]) -> tuple[float, int]:
    start = time.perf_counter()
    summary = await build_summary(db, community_id=1, survey_id="state-of-mlops", wave="2026",
                                  compare=["2025", "2024"], where=where)
    return time.perf_counter() - start, summary.waves["2026"].respondents


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "derived-demo")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    db_path = args.out / "stateof-demo.db"
    if not db_path.exists():
        await run_demo(args.out)
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    derived: list[float] = []
    plain: list[float] = []
    sizes = {}
    try:
        await _time(db, DERIVED)  # warm up both
        await _time(db, PLAIN)
        for _ in range(args.repeat):
            t, sizes["derived"] = await _time(db, DERIVED)
            derived.append(t)
            t, sizes["plain"] = await _time(db, PLAIN)
            plain.append(t)
    finally:
        await db.dispose()
    ratio = statistics.median(derived) / statistics.median(plain)
    lines = [
        f"- derived segment (ml_maturity, {sizes['derived']} of 380 in 2026): median "
        f"{statistics.median(derived) * 1000:.0f} ms over {args.repeat} runs",
        f"- reference (models_in_production, {sizes['plain']} of 380): median "
        f"{statistics.median(plain) * 1000:.0f} ms",
        f"- ratio derived / plain filter: {ratio:.2f}",
    ]
    print("\n".join(lines))
    if args.write_results:
        results = Path(__file__).parent / "RESULTS.md"
        text = results.read_text()
        head = "## Derived segments"
        section = (f"{head}\n\nRun {time.strftime('%Y-%m-%d %H:%M')} on the demo data: "
                   f"`bench/bench_derived.py --repeat {args.repeat}`\n\n" + "\n".join(lines) + "\n")
        if head in text:
            before, _, rest = text.partition(head)
            after = rest.split("\n## ", 1)
            text = before + section + ("\n## " + after[1] if len(after) > 1 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + section
        results.write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
