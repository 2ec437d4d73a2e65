"""Free text coded into themes: the texts out for coding, the coding back in as a question.

Free-text answers never appear in a summary, a chart or chat. To report on them ("the
biggest perceived problems revolve around data"), moderators code them:

1. `stateof themes export` writes a closed wave's texts of one question as CSV: one row per
   distinct text (how many gave it, and the themes it already has), shuffled afresh each
   time, with no respondent id or anything else that could link a text to a member. Text a
   spreadsheet would run as a formula gets a leading apostrophe (analytics.export).
2. Moderators fill in the `themes` column: theme names separated by `;`.
3. `stateof themes import` reads it back. Every text must be one the wave holds (each row is
   checked; nothing is written until the file is clean). The themes become a multi-choice
   question `<question>_themes` of the wave ("Biggest challenge — themes"), stored like any
   other answer of each respondent whose text was coded: from then on it is counted, merged
   and hidden under k, filtered on (`--where`), cross-tabbed (`--by`), charted, exported and
   shown in chat exactly like a multi-choice question.

Only a closed wave can be coded: an open one would ask members the themes question. Coding
again needs `--replace` and swaps the whole coding. A member who deletes their data takes
their coded themes with them (the answers cascade).
"""

from __future__ import annotations

import csv
import io
import logging
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select

from analytics.export import FORMULA_STARTS, formula_safe
from analytics.frames import not_null_value
from surveys.db import Database
from surveys.errors import SurveyError
from surveys.models import Answer, AnswerChoice, Wave, WaveAggregate, WaveStatus
from surveys.schema import Option, Question, Questionnaire, QuestionType
from surveys.waves import get_wave, questionnaire_of, store_questionnaire

log = logging.getLogger(__name__)

SUFFIX = "_themes"
HEADER = ["answer", "answers", "themes"]
MAX_THEMES = 40
MAX_THEME_LENGTH = 60
MAX_PROBLEMS = 20


class ThemesError(SurveyError):
    """A coding that cannot be exported or imported as asked; nothing was changed."""


class ThemesInvalid(ThemesError):
    """A coding file with problems, each with its row (the header is row 1)."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems[:MAX_PROBLEMS]
        self.more = max(0, len(problems) - MAX_PROBLEMS)
        super().__init__(f"{source}: {len(problems)} problem(s); nothing was imported")


def themes_id(question_id: str) -> str:
    return f"{question_id}{SUFFIX}"


@dataclass
class Coded:
    """What an import did."""

    question: str
    themes: list[str]
    coded: int  # respondents whose text got at least one theme
    uncoded: int  # respondents whose text the file did not give a theme


def _text_question(qn: Questionnaire, question: str) -> Question:
    if not qn.has_question(question):
        texts = ", ".join(q.id for q in qn.questions if q.type is QuestionType.text) or "none"
        raise ThemesError(f"'{question}' is not a question of {qn.id} (free-text questions: {texts})")
    q = qn.question(question)
    if q.type is not QuestionType.text:
        raise ThemesError(f"'{question}' is a {q.type.value} question; themes code free-text answers")
    return q


async def _texts(db: Database, wave_id: int, question: str) -> dict[int, str]:
    """respondent → their text (stripped, non-empty)."""
    a = Answer.__table__.c
    async with db.session() as session:
        rows = (await session.execute(
            select(a.respondent_id, a.value).where(a.wave_id == wave_id, a.question_id == question,
                                                   a.row_id == "", not_null_value()))).all()
    return {int(rid): str(value).strip() for rid, value in rows
            if isinstance(value, str) and str(value).strip()}


async def _current_themes(db: Database, wave: Wave, question: str) -> dict[int, list[str]]:
    """respondent → theme labels of an earlier coding (empty when none)."""
    qn = questionnaire_of(wave)
    tid = themes_id(question)
    if not qn.has_question(tid):
        return {}
    labels = {o.id: o.label for o in qn.question(tid).options}
    c = AnswerChoice.__table__.c
    async with db.session() as session:
        rows = (await session.execute(select(c.respondent_id, c.option_id).where(
            c.wave_id == wave.id, c.question_id == tid))).all()
    out: dict[int, list[str]] = {}
    for rid, option in rows:
        out.setdefault(int(rid), []).append(labels.get(str(option), str(option)))
    return out


async def export_texts(db: Database, *, community_id: int, survey_id: str, wave: str, question: str) -> bytes:
    """The CSV for coding (see the module docstring)."""
    async with db.session() as session:
        found = await get_wave(session, community_id, wave, survey_id)
    _text_question(questionnaire_of(found), question)
    texts = await _texts(db, found.id, question)
    earlier = await _current_themes(db, found, question)
    counts = Counter(texts.values())
    themes: dict[str, list[str]] = {}
    for rid, text in texts.items():
        for label in earlier.get(rid, []):
            if label not in themes.setdefault(text, []):
                themes[text].append(label)
    order = list(counts)
    random.SystemRandom().shuffle(order)  # no order that follows who answered when
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for text in order:
        writer.writerow([formula_safe(text), counts[text], "; ".join(themes.get(text, []))])
    log.info("themes export of %s %s %s: %d distinct texts", survey_id, wave, question, len(order))
    return buf.getvalue().encode("utf-8")


def _unescape(cell: str) -> str:
    if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _slug(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:50] or "theme"
    if not base[0].isalnum():
        base = f"t{base}"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}_{n}", n + 1
    taken.add(slug)
    return slug


def read_coding(data: str, source: str, known: set[str]) -> dict[str, list[str]]:
    """text → theme names from a coding CSV; ThemesInvalid listing every problem."""
    problems: list[str] = []
    reader = csv.reader(io.StringIO(data), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ThemesInvalid(source, [f"row {reader.line_num}: {exc}"]) from None
    if not rows:
        raise ThemesInvalid(source, ["the file is empty; expected a header with answer and themes"])
    header = [h.strip().lower() for h in rows[0]]
    if "answer" not in header or "themes" not in header:
        raise ThemesInvalid(source, ["row 1: the header needs the columns answer and themes "
                                     "(as written by `stateof themes export`)"])
    at, tt = header.index("answer"), header.index("themes")
    coding: dict[str, list[str]] = {}
    where: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        text = _unescape(row[at] if at < len(row) else "").strip()
        names = [t.strip() for t in (row[tt] if tt < len(row) else "").split(";") if t.strip()]
        shown = text if len(text) <= 60 else text[:57] + "…"
        if not text:
            problems.append(f"row {number}: the answer is empty")
            continue
        if text not in known:
            problems.append(f"row {number}: no answer in this wave reads {shown!r}")
            continue
        for name in names:
            if len(name) > MAX_THEME_LENGTH:
                problems.append(f"row {number}: theme {name[:40]!r}… is longer than {MAX_THEME_LENGTH} "
                                "characters")
        unique = list(dict.fromkeys(names))
        if text in coding and sorted(coding[text]) != sorted(unique):
            problems.append(f"row {number}: the same answer as row {where[text]} with other themes")
            continue
        coding[text], where[text] = unique, number
    distinct = {name.casefold() for names in coding.values() for name in names}
    if len(distinct) > MAX_THEMES:
        problems.append(f"{len(distinct)} themes; use at most {MAX_THEMES}")
    if problems:
        raise ThemesInvalid(source, problems)
    return coding


def with_themes(
    qn: Questionnaire, question: Question, labels: Iterable[str]
) -> tuple[Questionnaire, dict[str, str]]:
    """The questionnaire with `<question>_themes` (multi choice) right after the text question;
    returns it and theme label → option id."""
    taken: set[str] = set()
    ids: dict[str, str] = {}
    for label in labels:
        key = label.casefold()
        if key not in {k.casefold() for k in ids}:
            ids[label] = _slug(label, taken)
    options = [Option(id=oid, label=label) for label, oid in ids.items()]
    title = f"{question.title} — themes"
    theme_q = Question(id=themes_id(question.id), type=QuestionType.multi, short=title[:60],
                       text=f"Themes coded by the moderators from the answers to “{question.text}”"[:500],
                       options=options)
    kept = [q for q in qn.questions if q.id != theme_q.id]
    at = next(i for i, q in enumerate(kept) if q.id == question.id) + 1
    return qn.model_copy(update={"questions": [*kept[:at], theme_q, *kept[at:]]}), ids


async def import_coding(
    db: Database, *, community_id: int, survey_id: str, wave: str, question: str, data: str,
    source: str = "coding", replace: bool = False,
) -> Coded:
    """Apply a coding to a closed wave (see the module docstring)."""
    async with db.session() as session:
        found = await get_wave(session, community_id, wave, survey_id)
    qn = questionnaire_of(found)
    q = _text_question(qn, question)
    if found.status != WaveStatus.closed.value:
        raise ThemesError(f"wave '{found.label}' is {found.status}; code its answers once it has closed "
                          "(an open wave would ask members the themes question)")
    if qn.has_question(themes_id(question)) and not replace:
        raise ThemesError(f"the answers to '{question}' in {found.label} are already coded; "
                          "use --replace to swap the coding")
    texts = await _texts(db, found.id, question)
    coding = read_coding(data, source, set(texts.values()))
    labels: list[str] = []
    for names in coding.values():
        labels += [n for n in names if n.casefold() not in {x.casefold() for x in labels}]
    if not labels:
        raise ThemesError(f"{source}: no answer has a theme; fill in the themes column")
    coded_qn, ids = with_themes(qn, q, labels)
    by_fold = {label.casefold(): oid for label, oid in ids.items()}
    tid = themes_id(question)
    coded = 0
    async with db.session() as session:
        version = await store_questionnaire(session, coded_qn)
        wave_row = await session.get(Wave, found.id)
        assert wave_row is not None
        await session.execute(delete(AnswerChoice).where(AnswerChoice.wave_id == found.id,
                                                         AnswerChoice.question_id == tid))
        await session.execute(delete(Answer).where(Answer.wave_id == found.id, Answer.question_id == tid))
        answers, choices = [], []
        for rid, text in texts.items():
            options = list(dict.fromkeys(by_fold[n.casefold()] for n in coding.get(text, [])))
            if not options:
                continue
            answer = Answer(wave_id=found.id, respondent_id=rid, question_id=tid, row_id="", value=options)
            answers.append(answer)
            coded += 1
        session.add_all(answers)
        await session.flush()
        for answer in answers:
            choices += [{"answer_id": answer.id, "option_id": o, "wave_id": found.id,
                         "respondent_id": answer.respondent_id, "question_id": tid, "row_id": ""}
                        for o in answer.value]
        if choices:
            await session.execute(insert(AnswerChoice), choices)
        wave_row.questionnaire_version_id = version.id
        await session.execute(delete(WaveAggregate).where(WaveAggregate.wave_id == found.id))
    log.info("themes of %s %s %s imported: %d themes, %d answers coded", survey_id, wave, question,
             len(ids), coded)
    return Coded(question=tid, themes=list(ids), coded=coded, uncoded=len(texts) - coded)


def coded_questions(qn: Questionnaire) -> list[str]:
    """The ids of the theme questions a coding added (`<text question>_themes`)."""
    texts = {q.id for q in qn.questions if q.type is QuestionType.text}
    return [q.id for q in qn.questions
            if q.type is QuestionType.multi and q.id.endswith(SUFFIX) and q.id[: -len(SUFFIX)] in texts]


@dataclass
class ThemesSection:
    """The themes of a coded question in the report: largest first, a bar chart whose alt
    text states every share (the numbers are the summary's, under its privacy rules)."""

    question: str
    title: str
    wave: str
    base: int
    rows: list[tuple[str, str, float, tuple[float, float] | None]]  # id, label, share, interval
    hidden: list[str]
    k: int = 5
    synthetic: bool = False

    @property
    def chart_file(self) -> str:
        return f"themes-{self.question}.png"

    def finding(self) -> str:
        if not self.rows:
            return f"{self.title}: no theme can be shown (fewer than {self.k} answers)."
        from analytics.report import interval, pct

        top = self.rows[0]
        rest = ", ".join(f"{label} ({pct(share)})" for _, label, share, _ in self.rows[1:4])
        lo_hi = f" ({interval(top[3])})" if top[3] else ""
        return (f"The largest theme of {self.title} ({self.wave}) is {top[1]}: {pct(top[2])}{lo_hi} of "
                f"{self.base:,} respondents" + (f", then {rest}." if rest else "."))

    def alt_text(self) -> str:
        parts = ", ".join(f"{label} {share:.0%}" for _, label, share, _ in self.rows)
        hidden = f"; hidden (fewer than {self.k}): {', '.join(self.hidden)}" if self.hidden else ""
        return f"Bar chart of {self.title}, {self.wave}, share of {self.base:,}: {parts}{hidden}."

    def to_dict(self) -> dict[str, object]:
        return {"kind": "themes", "question": self.question, "wave": self.wave, "base": self.base,
                "themes": [{"theme": t, "label": label, "share": round(s, 4),
                            "ci": [round(b, 4) for b in ci] if ci else None}
                           for t, label, s, ci in self.rows],
                "hidden": list(self.hidden)}

    def blocks(self, charts: set[str]) -> list[Any]:
        from analytics.report import Block

        blocks = [Block("h3", self.title), Block("p", self.finding())]
        if self.chart_file in charts:
            blocks.append(Block("img", self.alt_text(), src=self.chart_file))
        return blocks

    def chat_lines(self) -> list[str]:
        return [self.finding()]

    def charts(self) -> dict[str, bytes]:
        if not self.rows:
            return {}
        from analytics.charts_analyses import ranked_bars

        return {self.chart_file: ranked_bars(
            title=self.title,
            subtitle=f"{self.wave}: share of {self.base:,} (coded free text), largest first",
            labels=[label for _, label, _, _ in self.rows], shares=[s for _, _, s, _ in self.rows],
            intervals=[ci for *_, ci in self.rows], notes=["" for _ in self.rows], synthetic=self.synthetic,
            footnote="Themes coded by the moderators; the texts themselves are never shown.")}


def themes_sections(summary: Any) -> list[ThemesSection]:
    """A section for every theme question the summary shows in its wave."""
    from analytics.model import ChoiceResult

    out = []
    for qs in summary.questions:
        if not (qs.type == "multi" and qs.id.endswith(SUFFIX)):
            continue
        result = qs.results.get(summary.wave)
        if not isinstance(result, ChoiceResult) or result.suppressed:
            continue
        rows = sorted(((o, summary.option_label(qs.id, o), s, result.interval(o))
                       for o, s in result.shares.items()), key=lambda r: (-r[2], r[1]))
        out.append(ThemesSection(
            question=qs.id, title=qs.title, wave=summary.wave, base=result.base, rows=rows,
            hidden=[summary.option_label(qs.id, o) for o in result.hidden], k=summary.min_group_size,
            synthetic=any(w.synthetic for w in summary.waves.values())))
    return out


__all__ = ["Coded", "ThemesError", "ThemesInvalid", "ThemesSection", "coded_questions", "export_texts",
           "import_coding", "read_coding", "themes_id", "themes_sections", "with_themes"]
