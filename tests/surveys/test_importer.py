"""CSV import: every bad-input case with row and column, ids / labels / former ids, the rows a
chat answer would produce, refusing or replacing a second import, and nothing half-written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from surveys import importer
from surveys.catalog import parse_questionnaire
from surveys.errors import WaveExists
from surveys.flow import AnswerFlow
from surveys.identity import Member
from surveys.importer import ImportInvalid, import_csv
from surveys.models import Answer, AnswerChoice, Respondent, Response, Wave, WaveStatus
from surveys.waves import create_wave, ensure_community, questionnaire_of, wave_by_id

QN = parse_questionnaire(textwrap.dedent("""
    id: io-test
    title: Import test
    questions:
      - id: role
        type: single
        text: Your role?
        required: true
        options:
          - {id: engineer, label: Engineer, previously: [dev]}
          - {id: scientist, label: Data Scientist}
          - {id: other, label: Other}
      - id: focus
        type: multi
        text: Focus (up to 2)?
        max_choices: 2
        options:
          - {id: deploy, label: Deploying models}
          - {id: monitoring, label: Monitoring, previously: [observability]}
          - {id: retraining, label: Retraining}
          - {id: nothing, label: None of these, exclusive: true}
      - id: tooling
        type: grid
        text: Tooling?
        rows:
          - {id: pipeline, label: ML pipeline, previously: [workflow]}
          - {id: serving, label: Model serving}
        scale:
          - {id: established, label: Established}
          - {id: looking, label: Looking}
      - id: team
        type: number
        text: Team size?
        min: 1
        max: 500
      - id: country
        type: country
        text: Country?
      - id: note
        type: text
        text: Anything else?
        max_length: 20
"""))


@pytest.fixture
async def community_id(db) -> int:
    async with db.session() as session:
        return (await ensure_community(session, "default")).id


def write(tmp_path: Path, text: str, name: str = "wave.csv") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


async def count(db, model, *where) -> int:
    async with db.session() as session:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await session.execute(stmt)).scalar_one())


async def stored(db, wave_id: int) -> tuple[set, set]:
    """(question, row, value, number) per answer and (question, row, option) per choice."""
    async with db.session() as session:
        answers = (await session.execute(
            select(Answer.respondent_id, Answer.question_id, Answer.row_id, Answer.value, Answer.number)
            .where(Answer.wave_id == wave_id))).all()
        choices = (await session.execute(
            select(AnswerChoice.respondent_id, AnswerChoice.question_id, AnswerChoice.row_id,
                   AnswerChoice.option_id).where(AnswerChoice.wave_id == wave_id))).all()
    return ({(q, r, str(v), n) for _, q, r, v, n in answers}, {tuple(c[1:]) for c in choices})


async def test_every_problem_is_reported_with_row_and_column_and_nothing_is_written(
    db, community_id, tmp_path
):
    path = write(tmp_path, """
        role,focus,tooling.pipeline,team,country,note,colour,tooling.nope,team,focus.x,tooling
        astronaut,deploy,established,3,DE,ok,,,,,
        engineer,deploy;monitoring;retraining,,,,,,,,,
        engineer,,,lots,,,,,,,
        engineer,,,2.5,,,,,,,
        engineer,,,9999,,,,,,,
        engineer,,,,,twenty-one characters,,,,,
        engineer,deploy;warp;zzz,,,,,,,,,
        engineer,,maybe,,,,,,,,
        engineer,,,,Atlantis,,,,,,
        engineer,nothing;deploy,,,,,,,,,
        engineer,,,,,,,,,,,surplus
        engineer,deploy,established,3,Germany,fine,,,,,
    """)
    with pytest.raises(ImportInvalid) as info:
        await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2020", path=path)
    found = {(p.row, p.column, p.kind) for p in info.value.problems}
    assert found == {
        (1, "colour", importer.UNKNOWN_COLUMN),
        (1, "tooling.nope", importer.UNKNOWN_COLUMN),
        (1, "team", importer.DUPLICATE_COLUMN),
        (1, "focus.x", importer.UNKNOWN_COLUMN),
        (1, "tooling", importer.UNKNOWN_COLUMN),
        (2, "role", importer.UNKNOWN_OPTION),
        (3, "focus", importer.TOO_MANY_CHOICES),
        (4, "team", importer.BAD_NUMBER),
        (5, "team", importer.BAD_NUMBER),
        (6, "team", importer.OUT_OF_RANGE),
        (7, "note", importer.TEXT_TOO_LONG),
        (8, "focus", importer.UNKNOWN_OPTION),
        (9, "tooling.pipeline", importer.UNKNOWN_OPTION),
        (10, "country", importer.UNKNOWN_OPTION),
        (11, "focus", importer.INVALID),
        (12, "#12", importer.BAD_ROW),
    }
    assert len(info.value.problems) == len(found)
    by_row = {p.row: str(p) for p in info.value.problems if p.row > 1}
    assert by_row[2] == "row 2, column role: 'astronaut' is not an option of 'Your role?'"
    assert "'warp', 'zzz' are not options of 'focus'" in by_row[8]
    assert "is not a number" in by_row[4] and "not a whole number" in by_row[5]
    assert "out of range" in by_row[6] and "at most 20 characters" in by_row[7]
    assert "16 problems; nothing was imported" in str(info.value)
    for model in (Wave, Respondent, Response, Answer, AnswerChoice):
        assert await count(db, model) == 0, model.__name__


async def test_ids_labels_and_former_ids_are_accepted_case_insensitively(db, community_id, tmp_path):
    path = write(tmp_path, """
        respondent,ROLE,focus,tooling.workflow,Tooling.model SERVING,team,country,note
        U_SECRET_1,dev,observability;deploying models,established,LOOKING,12,Germany,  hello
        U_SECRET_2,Data Scientist,Monitoring,Looking,,1,de,
        U_SECRET_3,ENGINEER,,,established,,FR,
    """)
    result = await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2019",
                              path=path)
    assert (result.respondents, result.answers, result.choices) == (3, 15, 13)
    assert result.columns == ["role", "focus", "tooling.pipeline", "tooling.serving", "team",
                              "country", "note"]
    answers, choices = await stored(db, result.wave_id)
    assert ("role", "", "engineer", None) in answers
    assert ("role", "", "scientist", None) in answers
    assert ("focus", "", "['deploy', 'monitoring']", None) in answers  # questionnaire order
    assert ("tooling", "pipeline", "established", None) in answers
    assert ("tooling", "serving", "looking", None) in answers
    assert ("team", "", "12", 12.0) in answers
    assert ("country", "", "DE", None) in answers and ("country", "", "FR", None) in answers
    assert ("note", "", "hello", None) in answers
    assert {c for c in choices if c[0] == "focus"} == {
        ("focus", "", "deploy"), ("focus", "", "monitoring")}
    assert not {c for c in choices if c[0] in ("team", "note")}
    async with db.session() as session:
        names = list((await session.execute(select(Respondent.pseudonym))).scalars())
    assert len(names) == 3 and all(n.startswith("import:") for n in names)
    assert not any("SECRET" in n for n in names)  # the respondent column is never reused


async def test_imported_rows_are_exactly_what_the_answer_flow_writes(db, community_id, tmp_path):
    flow = AnswerFlow(db, b"k" * 32)
    async with db.session() as session:
        community = await ensure_community(session, "default")
        live = (await create_wave(session, community, QN, "live", status=WaveStatus.open)).id
    given = {"role": "engineer", "focus": "deploy;monitoring", "tooling.pipeline": "established",
             "tooling.serving": "looking", "team": "7", "country": "NL", "note": "drift"}
    await flow.submit(live, Member("slack", "T1", "U1"), given)
    header = ",".join(given)
    path = write(tmp_path, header + "\n" + ",".join(given.values()) + "\n")
    result = await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="old",
                              path=path)
    assert await stored(db, result.wave_id) == await stored(db, live)
    async with db.session() as session:
        response = (await session.execute(
            select(Response).where(Response.wave_id == result.wave_id))).scalar_one()
        wave = await wave_by_id(session, result.wave_id)
    assert response.platform == "import" and response.completed_at is not None
    assert wave.imported and wave.status == WaveStatus.closed.value


async def test_a_second_import_is_refused_and_replace_replaces(db, community_id, tmp_path):
    first = write(tmp_path, """
        role,team
        engineer,3
        scientist,4
        other,5
    """, "first.csv")
    second = write(tmp_path, """
        role,team
        scientist,40
        scientist,50
    """, "second.csv")
    await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2020", path=first)
    with pytest.raises(WaveExists) as info:
        await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2020",
                         path=second)
    assert "already imported (3 respondents)" in str(info.value)
    assert "--replace" in str(info.value)
    assert await count(db, Respondent) == 3 and await count(db, Answer) == 6
    result = await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2020",
                              path=second, replace=True)
    assert result.replaced and result.respondents == 2
    assert await count(db, Wave) == 1
    assert await count(db, Respondent) == 2  # the first import's respondents are gone
    answers, _ = await stored(db, result.wave_id)
    assert answers == {("role", "", "scientist", None), ("team", "", "40", 40.0),
                       ("team", "", "50", 50.0)}


async def test_a_chat_wave_is_never_replaced_by_an_import(db, community_id, tmp_path):
    async with db.session() as session:
        community = await ensure_community(session, "default")
        await create_wave(session, community, QN, "2024", status=WaveStatus.open)
    path = write(tmp_path, "role\nengineer\n")
    with pytest.raises(WaveExists, match="run in chat"):
        await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2024",
                         path=path, replace=True)
    assert await count(db, Respondent) == 0


async def test_blank_cells_and_rows_and_columns_not_asked(db, community_id, tmp_path):
    path = write(tmp_path, """
        role,tooling.pipeline
        engineer,
        ,,
        ,looking
    """)
    calls: list[tuple[int, int]] = []
    result = await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2018",
                              path=path, progress=lambda done, total: calls.append((done, total)))
    assert (result.respondents, result.answers, result.blank_rows) == (2, 2, 1)
    assert calls[0] == (0, 2) and calls[-1] == (2, 2)
    answers, _ = await stored(db, result.wave_id)
    assert answers == {("role", "", "engineer", None), ("tooling", "pipeline", "looking", None)}
    async with db.session() as session:
        asked = questionnaire_of(await wave_by_id(session, result.wave_id))
    assert [q.id for q in asked.questions] == ["role", "tooling"]  # no column: not asked
    assert [r.id for r in asked.question("tooling").rows] == ["pipeline"]


async def test_large_files_are_written_in_batches(db, community_id, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 3)
    rows = "\n".join(f"engineer,deploy;monitoring,{i + 1}" for i in range(7))
    path = write(tmp_path, "role,focus,team\n" + rows + "\n")
    calls: list[tuple[int, int]] = []
    result = await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="2017",
                              path=path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 7), (3, 7), (6, 7), (7, 7)]
    assert (result.respondents, result.answers, result.choices) == (7, 21, 21)
    assert await count(db, AnswerChoice, AnswerChoice.option_id == "monitoring") == 7
    async with db.session() as session:
        teams = sorted((await session.execute(
            select(Answer.number).where(Answer.question_id == "team"))).scalars())
    assert teams == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


@pytest.mark.parametrize("name, content, message", [
    ("odd.csv", b"", "the file is empty"),
    ("odd.csv", b"respondent\nr1\n", "no question columns"),
    ("odd.csv", b"role,note\nengineer,caf\xe9\n", "not UTF-8"),
    ("2026.parquet", b"PAR1\x15\x04\x15\xb0\x01\x15\xff", "this is a Parquet file; import reads CSV"),
])
async def test_unreadable_files_are_one_clear_problem(db, community_id, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportInvalid) as info:
        await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="x", path=path)
    assert len(info.value.problems) == 1 and message in str(info.value.problems[0])
    assert await count(db, Wave) == 0


async def test_missing_file(db, community_id, tmp_path):
    with pytest.raises(ImportInvalid, match="1 problem"):
        await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="x",
                         path=tmp_path / "nope.csv")


async def test_postgresql_writes_with_copy_and_stores_what_executemany_stores(
    db, community_id, tmp_path, monkeypatch
):
    """COPY on PostgreSQL (issue 15), executemany on SQLite; both store the same rows
    (JSON values, numbers, days, the answered flag), tricky text included."""
    copies: list[str] = []
    original = importer._BulkWriter._copy

    async def spy(self, table, columns, rows):
        copies.append(table.name)
        await original(self, table, columns, rows)

    monkeypatch.setattr(importer._BulkWriter, "_copy", spy)
    path = write(tmp_path, """
        role,focus,tooling.pipeline,team,country,note
        engineer,deploy;monitoring,established,7,NL,"tab\there, \\N"
        dev,nothing,looking,25,DE,"quote "" and \\\\"
        scientist,,,,,
    """)
    first = await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="copy",
                             path=path)
    pg = db.dialect == "postgresql"
    assert copies == (["respondents", "responses", "answers", "answer_choices"] if pg else [])
    monkeypatch.setattr(importer, "COPY_ON_POSTGRESQL", False)
    second = await import_csv(db, community_id=community_id, questionnaire=QN,
                              wave_label="executemany", path=path)
    assert len(copies) == (4 if pg else 0)
    assert await stored(db, first.wave_id) == await stored(db, second.wave_id)
    notes = (await stored(db, first.wave_id))[0]
    assert ("note", "", "tab\there, \\N", None) in notes
    assert ("note", "", 'quote " and \\\\', None) in notes
    async with db.session() as session:
        flags = (await session.execute(
            select(Response.wave_id, Response.answered, Response.completed_at)
            .where(Response.wave_id.in_([first.wave_id, second.wave_id])))).all()
    assert len(flags) == 6 and all(answered and done is not None for _, answered, done in flags)
