"""Reference waves: a published report's aggregate shares, imported to compare a community with.

A file (YAML or CSV) gives shares in percent of the report's respondents, per option of the
questionnaire's questions (grid rows as `QUESTION.ROW`), and the base when the report
publishes it. Every problem is listed with its place and nothing is stored until the file is
clean. A reference wave holds no respondent and no answer, only the published figures.

    survey: state-of-mlops
    source: Valohai, "State of MLOps 2021"
    base: 100                    # leave out when the report does not publish it
    note: 100 responses from the Valohai community
    figures:
      team_outlook_3m: {grow: 65%, shrink: 2%}
      tooling.model_monitoring: {looking: 52%}

CSV: a header `question,option,share`, one published share per row (`tooling.ml_pipeline,
established,50%`); the base is then given with `--base`.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import yaml
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from surveys.catalog import _Yaml12Loader
from surveys.catalog.safe_yaml import YamlLimitError, load_limited
from surveys.errors import SurveyError
from surveys.invisible import shown
from surveys.models import ReferenceShare, ReferenceWave, Wave
from surveys.schema import Questionnaire, QuestionType
from surveys.validation import find_option

log = logging.getLogger(__name__)

MAX_BASE = 10_000_000
MAX_FIGURES = 5_000
SHOWN_PROBLEMS = 50


class ReferenceError(SurveyError):
    """A reference file that cannot be imported; `problems` lists each with its place."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        super().__init__(f"{source}: {len(problems)} problem(s); nothing was imported: "
                         + "; ".join(problems[:SHOWN_PROBLEMS]) + more)


@dataclass
class Figures:
    """Published shares: (question, row, option) → share 0..1, and what is known about them."""

    survey: str | None
    source: str
    base: int | None
    note: str
    label: str = ""  # the file's suggested label (the command's --label decides)
    shares: dict[tuple[str, str, str], float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # found while reading; `check` adds its own


def _percent(value: object) -> float | None:
    """`31`, `31.5`, `"31%"` → 0.31; None when it is not a percentage."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        try:
            number = float(text)
        except ValueError:
            return None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        return None
    if not math.isfinite(number) or not 0 <= number <= 100:
        return None
    return number / 100


def _base(value: object, where: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BASE:
        problems.append(f"{where}: the base is a whole number of respondents from 1 to {MAX_BASE:,} "
                        "(leave it out when the report does not publish it)")
        return None
    return value


def read_yaml(text: str, source: str) -> Figures:
    try:
        data = load_limited(text, _Yaml12Loader)
    except (YamlLimitError, yaml.YAMLError) as exc:
        raise ReferenceError(source, [shown(" ".join(str(exc).split()), 200)]) from None
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict):
        raise ReferenceError(source, ["(top level): expected a mapping with source, base and figures"])
    problems: list[str] = []
    unknown = sorted(set(map(str, data)) - {"survey", "label", "source", "base", "note", "figures"})
    problems += [f"{key}: unknown field" for key in unknown]
    figures = Figures(survey=str(data["survey"]) if data.get("survey") is not None else None,
                      source=str(data.get("source") or ""), base=_base(data.get("base"), "base", problems),
                      note=str(data.get("note") or ""), label=str(data.get("label") or ""))
    for key, options in data["figures"].items():
        if not isinstance(options, dict):
            problems.append(f"figures.{key}: expected option: share pairs")
            continue
        for option, value in options.items():
            _add(figures, str(key), str(option), value, f"figures.{key}.{option}", problems)
    figures.problems = problems
    return figures


def read_csv(text: str, source: str, base: int | None) -> Figures:
    problems: list[str] = []
    figures = Figures(survey=None, source=source, base=_base(base, "--base", problems), note="")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0][:3]] != ["question", "option", "share"]:
        raise ReferenceError(source, ["row 1: the header is question,option,share"])
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 3:
            problems.append(f"row {number}: expected question, option and share")
            continue
        _add(figures, row[0].strip(), row[1].strip(), row[2], f"row {number}", problems)
    figures.problems = problems
    return figures


def _add(figures: Figures, key: str, option: str, value: object, where: str, problems: list[str]) -> None:
    share = _percent(value)
    if share is None:
        problems.append(f"{where}: {shown(str(value), 40)!r} is not a percentage from 0 to 100 (e.g. 31%)")
        return
    qid, _, row = key.partition(".")
    if len(figures.shares) >= MAX_FIGURES:
        problems.append(f"{where}: at most {MAX_FIGURES:,} figures")
        return
    figures.shares[(qid, row, option)] = share


def check(figures: Figures, qn: Questionnaire, source: str) -> dict[tuple[str, str, str], float]:
    """The shares in current ids of `qn`; ReferenceError listing every problem of the file (those
    found while reading it, then every figure that does not fit)."""
    problems: list[str] = list(figures.problems)
    out: dict[tuple[str, str, str], float] = {}
    if figures.survey is not None and figures.survey != qn.id:
        problems.append(f"survey: the file is for '{figures.survey}', not '{qn.id}'")
    for (qid, row, option), share in figures.shares.items():
        key = f"{qid}.{row}" if row else qid
        if not qn.has_question(qid):
            problems.append(f"{key}: not a question of {qn.id}")
            continue
        q = qn.question(qid)
        if q.type is QuestionType.grid:
            found_row = q.row(row) if row else None
            if found_row is None:
                rows = ", ".join(f"{qid}.{r.id}" for r in q.rows)
                problems.append(f"{key}: name a row of '{qid}' ({rows})")
                continue
            row, options = found_row.id, q.scale
        elif q.is_choice and not row:
            options = q.choices
        else:
            problems.append(f"{key}: a {q.type.value} question has no shares")
            continue
        found = find_option(options, option)
        if found is None:
            problems.append(f"{key}: '{shown(option, 40)}' is not an option of '{q.title}'")
            continue
        out[(qid, row, found.id)] = share
    totals: dict[tuple[str, str], float] = {}
    for (qid, row, _), share in out.items():
        if qn.question(qid).type is not QuestionType.multi:
            totals[(qid, row)] = totals.get((qid, row), 0.0) + share
    for (qid, row), total in totals.items():
        if total > 1.015:  # published shares are rounded
            problems.append(f"{qid}{'.' + row if row else ''}: the shares add up to {total:.0%}; a single "
                            "answer cannot add up to more than 100%")
    if not out and not problems and not figures.shares:
        problems.append("figures: no published share given")
    if problems:
        raise ReferenceError(source, problems)
    return out


async def store_reference(
    session: AsyncSession, *, community_id: int, qn: Questionnaire, label: str, figures: Figures,
    shares: dict[tuple[str, str, str], float], replace: bool = False,
) -> ReferenceWave:
    """Store the reference wave `label` (ReferenceError when the label is taken, unless `replace`
    swaps an earlier reference wave; a community wave's label is never taken over)."""
    label = label.strip()
    if not label or len(label) > 64:
        raise ReferenceError(label or "--label", ["a reference label needs 1 to 64 characters"])
    clash = (await session.execute(select(Wave.id).where(
        Wave.community_id == community_id, Wave.survey_id == qn.id, Wave.label == label))).first()
    if clash is not None:
        raise ReferenceError(label, [f"'{label}' is a wave of this community; choose another label "
                                     "(published figures are kept apart from the community's own waves)"])
    existing = (await session.execute(select(ReferenceWave).where(
        ReferenceWave.community_id == community_id, ReferenceWave.survey_id == qn.id,
        ReferenceWave.label == label))).scalar_one_or_none()
    if existing is not None:
        if not replace:
            raise ReferenceError(label, [f"reference wave '{label}' already exists; "
                                         "use --replace to swap it"])
        await session.execute(delete(ReferenceWave).where(ReferenceWave.id == existing.id))
        await session.flush()
    ref = ReferenceWave(community_id=community_id, survey_id=qn.id, label=label,
                        source=figures.source, base=figures.base, note=figures.note,
                        imported_at=datetime.now(UTC))
    session.add(ref)
    await session.flush()
    session.add_all(ReferenceShare(reference_wave_id=ref.id, question_id=q, row_id=r, option_id=o, share=s)
                    for (q, r, o), s in shares.items())
    await session.flush()
    return ref


def shipped_references() -> list[tuple[str, str]]:
    """(file name, text) of the published figures shipped for the built-in questionnaire."""
    from importlib import resources

    folder = resources.files("surveys.catalog") / "published"
    return [(item.name, item.read_text("utf-8")) for item in sorted(folder.iterdir(), key=lambda p: p.name)
            if item.name.endswith(".yaml")]


async def find_reference(
    session: AsyncSession, community_id: int, survey_id: str, label: str
) -> tuple[ReferenceWave, dict[tuple[str, str, str], float]] | None:
    """The reference wave with this label and its shares, or None."""
    ref = (await session.execute(select(ReferenceWave).where(
        ReferenceWave.community_id == community_id, ReferenceWave.survey_id == survey_id,
        ReferenceWave.label == label.strip()))).scalar_one_or_none()
    if ref is None:
        return None
    rows = (await session.execute(select(ReferenceShare).where(
        ReferenceShare.reference_wave_id == ref.id))).scalars().all()
    return ref, {(r.question_id, r.row_id, r.option_id): r.share for r in rows}


__all__ = ["Figures", "ReferenceError", "check", "find_reference", "read_csv", "read_yaml",
           "shipped_references", "store_reference"]
