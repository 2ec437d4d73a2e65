"""Statistics that hold: the base of a conditional question, options a questionnaire version
did not offer, Wilson intervals, and Benjamini–Hochberg over every change of a summary."""

from __future__ import annotations

import csv
import random

import pytest

from analytics.report import chat_lines, to_markdown
from analytics.service import build_summary
from analytics.stats import two_proportion_test, wilson_interval
from bot.demo import synthetic_answers
from surveys.catalog import Catalog, parse_questionnaire
from surveys.flow import AnswerFlow
from surveys.identity import Member
from surveys.importer import import_csv
from surveys.models import WaveStatus
from surveys.waves import close_wave, create_wave, ensure_community, wave_by_id

V1 = """
id: versions
version: 1
title: Versions
questions:
  - id: role
    type: single
    text: Role
    options: [{id: ic, label: IC}, {id: lead, label: Lead}, {id: none, label: None}]
  - id: outlook
    type: single
    text: Team outlook
    when: {question: role, in: [ic, lead]}
    options: [{id: grow, label: Grow}, {id: same, label: Same}]
  - id: tools
    type: multi
    text: Tools
    options: [{id: git, label: Git}, {id: svn, label: Subversion}, {id: other, label: Other}]
  - id: tooling
    type: grid
    text: Tooling
    rows: [{id: pipeline, label: Pipeline}]
    scale: [{id: established, label: Established}, {id: looking, label: Looking}]
"""

V2 = """
id: versions
version: 2
title: Versions
questions:
  - id: role
    type: single
    text: Role
    options: [{id: ic, label: IC}, {id: lead, label: Lead}, {id: none, label: None}]
  - id: outlook
    type: single
    text: Team outlook
    when: {question: role, in: [ic, lead]}
    options: [{id: grow, label: Grow}, {id: same, label: Same}]
  - id: tools
    type: multi
    text: Tools
    options: [{id: git, label: Git}, {id: dvc, label: DVC}, {id: other, label: Other}]
  - id: tooling
    type: grid
    text: Tooling
    rows: [{id: pipeline, label: Pipeline}, {id: registry, label: Model registry}]
    scale: [{id: established, label: Established}, {id: looking, label: Looking},
            {id: not_relevant, label: Not relevant}]
"""


async def _wave(db, text, label):
    async with db.session() as session:
        community = await ensure_community(session, "default")
        wave = await create_wave(session, community, parse_questionnaire(text), label, status=WaveStatus.open)
        return community.id, wave.id


@pytest.fixture
async def versions(db):
    """2025 (v1): 100 respondents — 40 IC, 20 lead, 40 none; 30 of the 60 asked say grow;
    Git 50, Subversion 20. 2026 (v2): 100 — 50 IC, 30 lead, 20 none; 48 of 80 grow; Git 50,
    DVC 50 (new in v2), pipeline established 60, the new registry row 30."""
    flow = AnswerFlow(db, b"k" * 32)
    community, w1 = await _wave(db, V1, "2025")
    for i in range(100):
        role = "ic" if i < 40 else "lead" if i < 60 else "none"
        answers = {"role": role, "tools": (["git"] if i % 2 == 0 else []) + (["svn"] if i < 20 else []),
                   "tooling": {"pipeline": "established" if i < 40 else "looking"}}
        if role != "none":
            answers["outlook"] = "grow" if i % 2 == 0 else "same"
        await flow.submit(w1, Member("slack", "T1", f"a{i}"), answers, finish=True)
    async with db.session() as session:
        close_wave(await wave_by_id(session, w1))
    _, w2 = await _wave(db, V2, "2026")
    for i in range(100):
        role = "ic" if i < 50 else "lead" if i < 80 else "none"
        answers = {"role": role, "tools": (["git"] if i % 2 == 0 else []) + (["dvc"] if i >= 50 else []),
                   "tooling": {"pipeline": "established" if i < 60 else "looking",
                               "registry": "established" if i < 30 else "not_relevant"}}
        if role != "none":
            answers["outlook"] = "grow" if i % 5 < 3 else "same"  # spread over roles: no segment
            # lies within a few people of another (the differencing rule would refuse it)
        await flow.submit(w2, Member("slack", "T1", f"b{i}"), answers, finish=True)
    return community


async def test_an_option_added_in_a_later_version_is_not_asked_in_the_older_wave(db, versions):
    s = await build_summary(db, community_id=versions, survey_id="versions", wave="2026", compare=["2025"])
    tools = s.question("tools")
    old, new = tools.results["2025"], tools.results["2026"]
    assert new.shares["dvc"] == 0.5
    assert "dvc" not in old.shares  # never offered in v1: no 0%
    assert "svn" in old.shares and "svn" not in new.shares  # removed in v2: not asked in 2026
    changes = {c.option for c in tools.changes["2025"]}
    assert "dvc" not in changes and "svn" not in changes and "git" in changes
    assert not any(m.option == "dvc" for m in s.movers(limit=50))
    data = s.to_dict()["questions"]
    tools_json = next(q for q in data if q["id"] == "tools")
    assert "dvc" not in tools_json["results"]["2025"]["shares"]
    assert "dvc" not in tools_json["results"]["2025"]["ci"]
    assert "dvc" not in tools_json["changes"]
    # a grid row and a scale point added in v2 are not asked in 2025 either
    grid = s.question("tooling")
    assert set(grid.results["2025"].rows) == {"pipeline"}
    assert "not_relevant" not in grid.results["2025"].rows["pipeline"].shares
    assert grid.results["2026"].rows["pipeline"].shares["not_relevant"] == 0.0
    assert {(c.row, c.option) for c in grid.changes["2025"]} == {("pipeline", "established"),
                                                                ("pipeline", "looking")}
    md = to_markdown(s)
    assert "not offered" in md


async def test_a_conditional_question_is_a_share_of_those_it_was_asked(db, versions):
    s = await build_summary(db, community_id=versions, survey_id="versions", wave="2026", compare=["2025"])
    outlook = s.question("outlook")
    new, old = outlook.results["2026"], outlook.results["2025"]
    assert (new.base, new.answered, new.shares["grow"]) == (80, 80, 0.6)  # 48 of 80 asked, not of 100
    assert (old.base, old.shares["grow"]) == (60, 0.5)
    (grow,) = [c for c in outlook.changes["2025"] if c.option == "grow"]
    assert grow.p_value == pytest.approx(two_proportion_test(30, 60, 48, 80)[1])
    data = next(q for q in s.to_dict()["questions"] if q["id"] == "outlook")
    assert data["results"]["2026"]["base"] == 80
    lo, hi = wilson_interval(48, 80)
    assert data["results"]["2026"]["ci"]["grow"] == [round(lo, 4), round(hi, 4)]
    assert outlook.base_text(new) == "of 80 asked"
    assert "of 80 asked" in to_markdown(s)
    # an unconditional question and a grid row state their base too
    role = s.question("role")
    assert role.base_text(role.results["2026"]) == "of 100 respondents"
    grid = next(q for q in s.to_dict()["questions"] if q["id"] == "tooling")
    row = grid["results"]["2026"]["rows"]["registry"]
    assert (row["base"], row["answered"]) == (100, 100)
    assert set(row["ci"]) == set(row["shares"])
    # in a segment the base is the segment's people who were asked
    leads = await build_summary(db, community_id=versions, survey_id="versions", wave="2026",
                                where={"role": ["lead"]})
    assert leads.question("outlook").results["2026"].base == 30


async def test_a_multi_choice_condition_counts_each_person_once(db):
    text = """
id: multicond
title: Multi condition
questions:
  - id: uses
    type: multi
    text: Uses
    options: [{id: a, label: A}, {id: b, label: B}, {id: c, label: C}]
  - id: happy
    type: single
    text: Happy?
    when: {question: uses, in: [a, b]}
    options: [{id: yes, label: Yes}, {id: no, label: No}]
"""
    flow = AnswerFlow(db, b"k" * 32)
    community, wave = await _wave(db, text, "2026")
    for i in range(30):  # 10 chose a and b, 10 only a, 10 only c: asked = 20, not 30
        uses = ["a", "b"] if i < 10 else ["a"] if i < 20 else ["c"]
        answers = {"uses": uses}
        if i < 20:
            answers["happy"] = "yes" if i < 15 else "no"
        await flow.submit(wave, Member("slack", "T1", f"m{i}"), answers, finish=True)
    s = await build_summary(db, community_id=community, survey_id="multicond", wave="2026")
    happy = s.question("happy").results["2026"]
    assert (happy.base, happy.shares) == (20, {"yes": 0.75, "no": 0.25})


def _csv(path, qn, rows):
    columns = []
    for q in qn.questions:
        if q.type.value == "grid":
            columns += [f"{q.id}.{r.id}" for r in q.rows]
        else:
            columns.append(q.id)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for answers in rows:
            values = [answers.get(c, "") for c in columns]
            writer.writerow([";".join(v) if isinstance(v, list) else v for v in values])


async def test_about_80_tests_raw_p_values_over_claim_and_bh_does_not(db, tmp_path):
    """The built-in questionnaire against one earlier wave (the demo's 2025 and 2026 data):
    about 80 two-proportion tests; raw p < 0.05 calls more changes significant than survive
    Benjamini–Hochberg, and only the survivors are called significant anywhere."""
    qn = Catalog().get("state-of-mlops", version=1)
    async with db.session() as session:
        community = (await ensure_community(session, "default")).id
    rng = random.Random(2026)
    for t, (label, n) in enumerate((("2025", 340), ("2026", 380)), start=1):
        path = tmp_path / f"{label}.csv"
        _csv(path, qn, [synthetic_answers(qn, t, rng) for _ in range(n)])
        await import_csv(db, community_id=community, questionnaire=qn, wave_label=label, path=path)
    s = await build_summary(db, community_id=community, survey_id="state-of-mlops", wave="2026",
                            compare=["2025"])
    changes = [c for q in s.questions for c in q.changes.get("2025", [])]
    assert 70 <= len(changes) <= 90
    m = len(changes)
    raw = [c for c in changes if c.p_value < 0.05]
    # the step-up rule, independently: reject the k smallest, k the largest with p_(k) <= k q / m
    ranked = sorted(c.p_value for c in changes)
    k = max((i for i, p in enumerate(ranked, start=1) if p <= i * 0.05 / m), default=0)
    expected = {(c.question, c.row, c.option) for c in changes if k and c.p_value <= ranked[k - 1]}
    found = {(c.question, c.row, c.option) for c in changes if c.significant}
    assert found == expected
    assert 0 < len(found) < len(raw)  # raw p-values over-claim
    assert all(c.p_adjusted is not None and c.p_adjusted >= c.p_value for c in changes)
    data = s.to_dict()
    assert data["significance"] == {"test": "two-proportion z", "method": "benjamini-hochberg",
                                    "q": 0.05, "tests": m, "significant": len(found)}
    assert all(mv["significant"] for mv in data["movers"])
    over_claimed = [c for c in raw if not c.significant]
    text = "\n".join(chat_lines(s))
    for c in over_claimed:  # neither the movers nor the question's own reply call it significant
        label = s.option_label(c.question, c.option)
        label = f"{s.row_label(c.question, c.row)}: {label}" if c.row else label
        lines = chat_lines(s) + chat_lines(s, question=c.question)
        assert not [line for line in lines if f"{label}:" in line and "a significant" in line]
    assert "Benjamini–Hochberg" in text and "Benjamini–Hochberg" in to_markdown(s)
    # one question on its own is judged within the same family as the whole summary
    one = await build_summary(db, community_id=community, survey_id="state-of-mlops", wave="2026",
                              compare=["2025"], questions=["title"])
    assert one.significance.tests == m
    assert {(c.option, c.significant) for c in one.question("title").changes["2025"]} == {
        (c.option, c.significant) for c in s.question("title").changes["2025"]}
