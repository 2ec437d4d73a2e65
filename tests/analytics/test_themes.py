"""Free text coded into themes: the export for coding (no ids, shuffled, formula-safe), the
coding read back strictly, and the themes behaving as a multi-choice question everywhere."""

from __future__ import annotations

import csv
import io

import pytest

from analytics.crosstab import build_crosstab
from analytics.service import build_summary
from analytics.themes import ThemesError, ThemesInvalid, export_texts, import_coding
from bot.commands import Commands, Invocation
from surveys.importer import import_csv
from surveys.models import WaveStatus
from surveys.waves import create_wave

SURVEY = "state-of-mlops"
TEXTS = ["Monitoring data drift", "Finding and cleaning the training data", "=cmd|' /C calc'!A0",
         "Convincing the business of the value"]
CODING = ("answer,answers,themes\n"
          "Monitoring data drift,,data; monitoring\n"
          "Finding and cleaning the training data,,Data\n"
          "'=cmd|' /C calc'!A0,,security\n"
          "Convincing the business of the value,,\n")


async def wave_with_texts(services, tmp_path) -> int:
    path = tmp_path / "w.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["company_size", "biggest_challenge"])
        for i in range(48):  # 12 of each text; company sizes alternate
            out.writerow(["1_10" if i % 2 else "1000_plus", TEXTS[i % 4] if not TEXTS[i % 4].startswith("=")
                          else "'" + TEXTS[i % 4]])
    community = await services.community_for("slack", "T1")
    await import_csv(services.db, community_id=community.id, questionnaire=services.catalog.get(SURVEY),
                     wave_label="2021", path=path)
    return community.id


async def test_export_is_distinct_shuffled_texts_without_ids(services, tmp_path):
    community_id = await wave_with_texts(services, tmp_path)
    orders = set()
    for _ in range(8):
        data = (await export_texts(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                                   question="biggest_challenge")).decode()
        rows = list(csv.reader(io.StringIO(data)))
        assert rows[0] == ["answer", "answers", "themes"]
        assert sorted(r[0] for r in rows[1:]) == sorted(["'" + t if t.startswith("=") else t for t in TEXTS])
        assert all(r[1] == "12" and r[2] == "" for r in rows[1:])
        orders.add(tuple(r[0] for r in rows[1:]))
    assert len(orders) > 1  # a fresh order every time
    with pytest.raises(ThemesError, match="themes code free-text answers"):
        await export_texts(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                           question="company_size")


async def test_coded_themes_behave_as_a_multi_choice_question(services, tmp_path):
    community_id = await wave_with_texts(services, tmp_path)
    coded = await import_coding(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                                question="biggest_challenge", data=CODING)
    assert (coded.question, coded.themes, coded.coded, coded.uncoded) == (
        "biggest_challenge_themes", ["data", "monitoring", "security"], 36, 12)
    summary = await build_summary(services.db, community_id=community_id, survey_id=SURVEY, wave="2021")
    themes = summary.question("biggest_challenge_themes")
    assert themes is not None and themes.type == "multi"
    result = themes.results["2021"]
    assert result.shares == {"data": 0.5, "monitoring": 0.25, "security": 0.25} and result.answered == 36
    assert summary.option_label("biggest_challenge_themes", "data") == "data"
    # a filter, a cross-tab, chat: like any multi-choice question, and no text anywhere
    segment = await build_summary(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                                  where={"biggest_challenge_themes": ["data"]})
    assert segment.waves["2021"].respondents == 24
    tab = await build_crosstab(services.db, summary, community_id=community_id,
                               question="biggest_challenge_themes", by="company_size")
    assert {c.key: c.counts["data"] for c in tab.columns} == {"1_10": 12, "1000_plus": 12}
    reply = await Commands(services).run(Invocation("slack", "T1", "C1", "U_MOD", True, "results",
                                                    {"question": "biggest_challenge_themes", "wave": "2021"}))
    assert "• data 50% (" in reply.text
    from analytics.themes import themes_sections

    (section,) = themes_sections(summary)
    assert section.finding() == (
        "The largest theme of Biggest challenge — themes (2021) is data: 50% (36–64%) "
        "of 48 respondents, then monitoring (25%), security (25%).")
    assert section.alt_text() == ("Bar chart of Biggest challenge — themes, 2021, share of 48: data 50%, "
                                  "monitoring 25%, security 25%.")
    assert section.charts()[section.chart_file].startswith(b"\x89PNG")
    assert not any(t in reply.text for t in TEXTS)
    export = (await export_texts(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                                 question="biggest_challenge")).decode()
    assert "Monitoring data drift,12,data; monitoring" in export  # the coding so far, for recoding
    with pytest.raises(ThemesError, match="already coded; use --replace"):
        await import_coding(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                            question="biggest_challenge", data=CODING)
    again = await import_coding(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                                question="biggest_challenge", replace=True,
                                data="answer,themes\nMonitoring data drift,drift\n")
    assert again.themes == ["drift"] and again.coded == 12
    summary = await build_summary(services.db, community_id=community_id, survey_id=SURVEY, wave="2021")
    assert summary.question("biggest_challenge_themes").results["2021"].shares == {"drift": 0.25}


async def test_a_coded_wave_is_not_reopened(services, tmp_path):
    from sqlalchemy import select

    from bot import lifecycle
    from surveys.models import Wave

    community_id = await wave_with_texts(services, tmp_path)
    await import_coding(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                        question="biggest_challenge", data=CODING)
    async with services.db.session() as session:
        wave_id = (await session.execute(select(Wave.id))).scalar_one()
    with pytest.raises(lifecycle.LifecycleError, match="coded into themes"):
        await lifecycle.reopen(services, wave_id)
    async with services.db.session() as session:
        assert (await session.get(Wave, wave_id)).status == WaveStatus.closed.value


async def test_a_bad_coding_lists_its_rows_and_changes_nothing(services, tmp_path):
    community_id = await wave_with_texts(services, tmp_path)
    bad = ("answer,themes\n"
           "Monitoring data drift,data\n"
           "Something nobody wrote,data\n"
           "Monitoring data drift,people\n"
           ",data\n")
    with pytest.raises(ThemesInvalid) as err:
        await import_coding(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                            question="biggest_challenge", data=bad, source="coding.csv")
    assert str(err.value) == "coding.csv: 3 problem(s); nothing was imported"
    assert err.value.problems == ["row 3: no answer in this wave reads 'Something nobody wrote'",
                                  "row 4: the same answer as row 2 with other themes",
                                  "row 5: the answer is empty"]
    with pytest.raises(ThemesInvalid, match="1 problem"):
        await import_coding(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                            question="biggest_challenge", data="text,codes\nx,y\n")
    summary = await build_summary(services.db, community_id=community_id, survey_id=SURVEY, wave="2021")
    assert summary.question("biggest_challenge_themes") is None


async def test_an_open_wave_cannot_be_coded(services):
    community = await services.community_for("slack", "T1")
    async with services.db.session() as session:
        await create_wave(session, community, services.catalog.get(SURVEY), "2026", status=WaveStatus.open)
    with pytest.raises(ThemesError, match="code its answers once it has closed"):
        await import_coding(services.db, community_id=community.id, survey_id=SURVEY, wave="2026",
                            question="biggest_challenge", data=CODING)
