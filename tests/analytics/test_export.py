"""Export: the import format per pseudonymous respondent, a round trip through import that keeps
the summary identical, and the open-data release (no free text, no group under the minimum)."""

from __future__ import annotations

import csv
import io
import random
import textwrap
from collections import Counter

import pandas as pd
import pytest

from analytics.export import export_wave
from analytics.service import build_summary
from surveys.catalog import Catalog, parse_questionnaire
from surveys.errors import SurveyError, UnknownWave
from surveys.flow import AnswerFlow
from surveys.identity import Member, pseudonym
from surveys.importer import import_csv
from surveys.models import WaveStatus
from surveys.waves import close_wave, create_wave, ensure_community, get_wave

SECRET = b"s" * 32
SURVEY = "state-of-mlops"


def members(n: int) -> list[Member]:
    return [Member("slack", "T_SPACE_SECRET", f"U_USER_SECRET_{i:03d}") for i in range(n)]


async def answered_wave(db, n: int = 14, seed: int = 7) -> tuple[int, list[Member]]:
    """A live wave of the built-in survey answered through the answer flow (varied answers)."""
    qn = Catalog().get(SURVEY, version=1)
    async with db.session() as session:
        community = await ensure_community(session, "default")
        await create_wave(session, community, qn, "2026", status=WaveStatus.open)
        community_id = community.id
    async with db.session() as session:
        from surveys.waves import get_wave

        wave_id = (await get_wave(session, community_id, "2026", SURVEY)).id
    flow = AnswerFlow(db, SECRET)
    rnd = random.Random(seed)
    people = members(n)
    for i, member in enumerate(people):
        values: dict = {
            "title": rnd.choice(["data_scientist", "ml_engineer", "other"]),
            "role": rnd.choice(["models", "infra", "none"]),
            "focus": rnd.sample(["deploy", "monitoring", "retraining", "optimize"], rnd.randint(1, 3)),
            "tooling": {"ml_pipeline": rnd.choice(["established", "looking"]),
                        "model_serving": rnd.choice(["established", "not_relevant"])},
            "region": rnd.choice(["europe", "india", ""]),  # some skip it
            "biggest_challenge": rnd.choice(["Drift, mostly", "hiring\nand \"budget\"", ""]),
        }
        if i == 1:
            values["biggest_challenge"] = '=HYPERLINK("http://evil.example")'
        if values["role"] != "none":
            values["team_outlook"] = rnd.choice(["grow", "same"])
        if i % 5 == 0:
            values = {"title": values["title"], "role": values["role"]}  # stopped early
        await flow.submit(wave_id, member, values)
    return community_id, people


def parse_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def wave_results(summary, label: str) -> dict:
    data = summary.to_dict()
    return {q["id"]: q["results"][label] for q in data["questions"] if label in q["results"]}


async def test_export_round_trips_through_import_with_an_identical_summary(db, tmp_path):
    community_id, _ = await answered_wave(db)
    async with db.session() as session:  # a closed wave is summarised on every answer
        close_wave(await get_wave(session, community_id, "2026", SURVEY))
    data = await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="2026")
    path = tmp_path / "2026.csv"
    path.write_bytes(data)
    result = await import_csv(db, community_id=community_id, questionnaire=Catalog().get(SURVEY, version=1),
                              wave_label="copy", path=path)
    assert result.respondents == 14
    original = await build_summary(db, community_id=community_id, survey_id=SURVEY, wave="2026",
                                   min_group_size=1)
    copy = await build_summary(db, community_id=community_id, survey_id=SURVEY, wave="copy",
                               min_group_size=1)
    assert copy.waves["copy"].respondents == original.waves["2026"].respondents == 14
    assert wave_results(copy, "copy") == wave_results(original, "2026")
    assert wave_results(copy, "copy")["focus"]["answered"] > 0
    again = await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="copy")
    # the same rows; their order follows the random respondent keys (docs/privacy.md)
    strip = sorted(str({k: v for k, v in row.items() if k != "respondent"}) for row in parse_csv(data))
    assert sorted(str({k: v for k, v in row.items() if k != "respondent"})
                  for row in parse_csv(again)) == strip


async def test_the_export_is_the_import_format_and_never_carries_a_user_id(db):
    community_id, people = await answered_wave(db)
    data = await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="2026")
    text = data.decode("utf-8")
    header = text.splitlines()[0].split(",")
    assert header[:3] == ["respondent", "title", "role"]
    assert "tooling.ml_pipeline" in header and "tooling" not in header
    rows = parse_csv(data)
    assert {r["respondent"] for r in rows} == {pseudonym(SECRET, m) for m in people}
    assert any(";" in r["focus"] for r in rows)  # multi as ;-separated ids
    assert any(r["region"] == "" for r in rows)  # not answered = empty
    assert any(r["biggest_challenge"] == 'hiring\nand "budget"' for r in rows)  # quoted text
    # a spreadsheet would run it as a formula: exported with an apostrophe, imported without
    assert any(r["biggest_challenge"] == "'=HYPERLINK(\"http://evil.example\")" for r in rows)
    for fmt in ("csv", "parquet"):
        for open_data in (False, True):
            blob = await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="2026",
                                     fmt=fmt, open_data=open_data, min_group_size=2)
            assert b"SECRET" not in blob and b"U_USER" not in blob, (fmt, open_data)


async def test_parquet_holds_the_same_table(db):
    community_id, _ = await answered_wave(db)
    csv_rows = parse_csv(await export_wave(db, community_id=community_id, survey_id=SURVEY,
                                           wave="2026"))
    blob = await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="2026",
                             fmt="parquet")
    frame = pd.read_parquet(io.BytesIO(blob))
    assert list(frame.columns) == list(csv_rows[0].keys())
    as_text = frame.astype("string").fillna("").to_dict("records")
    assert as_text == csv_rows


OPEN_QN = parse_questionnaire(textwrap.dedent("""
    id: open-test
    title: Open data test
    questions:
      - id: title
        type: single
        text: Title?
        options:
          - {id: scientist, label: Scientist}
          - {id: researcher, label: Researcher}
          - {id: other, label: Other}
      - id: industry
        type: single
        text: Industry?
        options:
          - {id: tech, label: Tech}
          - {id: retail, label: Retail}
          - {id: other, label: Other}
      - id: region
        type: single
        text: Region?
        options:
          - {id: europe, label: Europe}
          - {id: india, label: India}
      - id: focus
        type: multi
        text: Focus?
        options:
          - {id: monitoring, label: Monitoring}
          - {id: retraining, label: Retraining}
          - {id: deploy, label: Deploy}
      - id: tooling
        type: grid
        text: Tooling?
        rows:
          - {id: pipeline, label: Pipeline}
        scale:
          - {id: established, label: Established}
          - {id: looking, label: Looking}
      - id: team
        type: number
        text: Team size?
      - id: story
        type: text
        text: Tell us more
"""))


async def test_open_data_drops_free_text_and_leaves_no_group_under_the_minimum(db, tmp_path):
    #  12 respondents; k = 5
    title = ["scientist"] * 6 + ["researcher"] * 3 + ["other"] * 3  # 3 + 3 → "other" (6)
    industry = ["tech"] * 10 + ["retail"] * 2  # other would be 2 < 5 → blank
    region = ["europe"] * 9 + ["india"] * 3  # no "other" option → blank
    focus = ["monitoring;deploy"] * 5 + ["monitoring"] * 5 + ["retraining"] * 2  # retraining: 2
    tooling = ["established"] * 8 + ["looking"] * 4
    team = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 5000]
    lines = ["title,industry,region,focus,tooling.pipeline,team,story"]
    for i in range(12):
        lines.append(f"{title[i]},{industry[i]},{region[i]},{focus[i]},{tooling[i]},{team[i]},"
                     f"my secret story {i}")
    path = tmp_path / "open.csv"
    path.write_text("\n".join(lines) + "\n")
    async with db.session() as session:
        community_id = (await ensure_community(session, "default")).id
    await import_csv(db, community_id=community_id, questionnaire=OPEN_QN, wave_label="2025",
                     path=path)

    data = await export_wave(db, community_id=community_id, survey_id="open-test", wave="2025",
                             open_data=True, min_group_size=5)
    assert b"story" not in data and b"secret" not in data
    rows = parse_csv(data)
    assert [r["respondent"] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    assert len(rows) >= 9  # generalised (k-anonymity on title, industry, region), few left out
    combos = Counter((r["title"], r["industry"], r["region"]) for r in rows)
    assert min(combos.values()) >= 5, combos
    assert "researcher" not in {r["title"] for r in rows}  # 3 researchers: "other"
    assert {r["region"] for r in rows} <= {"europe", ""}  # 3 in India, no "other": blank
    teams = sorted(float(r["team"]) for r in rows if r["team"])
    assert Counter(teams).most_common()[-1][1] >= 5  # groups of >= 5 neighbours
    for column in rows[0]:
        if column == "respondent":
            continue
        for value, n in Counter(r[column] for r in rows).items():
            if column != "focus":
                assert value == "" or n >= 5, (column, value, n)
    chosen = Counter(opt for r in rows for opt in r["focus"].split(";") if opt)
    assert all(n >= 5 for n in chosen.values()), chosen

    # the full (non-open) export of the same wave keeps everything
    full = parse_csv(await export_wave(db, community_id=community_id, survey_id="open-test",
                                       wave="2025"))
    assert Counter(r["region"] for r in full) == {"europe": 9, "india": 3}
    assert "my secret story 0" in {r["story"] for r in full}  # rows follow random respondent keys


async def test_open_data_refuses_a_wave_smaller_than_the_minimum(db, tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("title\nscientist\nscientist\n")
    async with db.session() as session:
        community_id = (await ensure_community(session, "default")).id
    await import_csv(db, community_id=community_id, questionnaire=OPEN_QN, wave_label="tiny",
                     path=path)
    with pytest.raises(SurveyError, match="open-data release needs at least 5"):
        await export_wave(db, community_id=community_id, survey_id="open-test", wave="tiny",
                          open_data=True)


async def test_unknown_wave_and_format(db):
    async with db.session() as session:
        community_id = (await ensure_community(session, "default")).id
    with pytest.raises(UnknownWave, match="unknown wave '1999'"):
        await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="1999")
    with pytest.raises(SurveyError, match="unknown export format 'xlsx'"):
        await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="1999", fmt="xlsx")
