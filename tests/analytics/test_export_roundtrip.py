"""Property: export → import → export is the identity for every value the importer accepts.

Hypothesis writes a CSV of generated answers (free text with lone "\\r", "\\n", quotes,
apostrophes and formula characters; numbers; multi and grid cells), imports it, exports the
wave, imports that export and exports again: both exports hold the same rows. 60 examples
by default (about 20 s); set STATEOF_HYPOTHESIS_EXAMPLES for a longer run.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analytics.export import export_wave, formula_safe
from surveys.catalog import parse_questionnaire
from surveys.db import Database
from surveys.importer import ImportInvalid, import_csv
from surveys.waves import ensure_community

EXAMPLES = int(os.environ.get("STATEOF_HYPOTHESIS_EXAMPLES", "60"))

QN = parse_questionnaire(textwrap.dedent("""
    id: roundtrip
    title: Round trip
    questions:
      - {id: pick, type: single, text: "Pick", options: [{id: a, label: A}, {id: b, label: B},
         {id: other, label: Other}]}
      - {id: many, type: multi, text: "Many", options: [{id: x, label: X}, {id: y, label: Y},
         {id: z, label: Z}]}
      - {id: amount, type: number, text: "How many", min: -100000, max: 100000000}
      - {id: note, type: text, text: "Anything", max_length: 300}
      - {id: grid, type: grid, text: "Grid", rows: [{id: r1, label: R1}, {id: r2, label: R2}],
         scale: [{id: yes, label: Yes}, {id: no, label: No}]}
"""))
HEADER = ["pick", "many", "amount", "note", "grid.r1", "grid.r2"]

tricky = st.sampled_from(["\r", "\n", "\r\n", '"', "'", ",", ";", "=", "+", "-", "@", "\t", " ", "é"])
texts = st.lists(
    st.one_of(tricky, st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                              max_size=8)),
    max_size=8,
).map("".join)
numbers = st.one_of(st.integers(-100000, 100000000),
                    st.floats(-100000, 100000000, allow_nan=False).map(lambda f: round(f, 3)))
rows = st.lists(st.fixed_dictionaries({
    "pick": st.sampled_from(["", "a", "b", "other", "A"]),
    "many": st.lists(st.sampled_from(["x", "y", "z"]), unique=True).map(";".join),
    "amount": st.one_of(st.just(""), numbers.map(str)),
    "note": texts,
    "grid.r1": st.sampled_from(["", "yes", "no"]),
    "grid.r2": st.sampled_from(["", "yes", "no"]),
}), min_size=1, max_size=6)

_labels = itertools.count()


def _write(path: Path, records: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(HEADER)
        writer.writerows([[r[c] for c in HEADER] for r in records])


def _rows(data: bytes) -> list[tuple[tuple[str, str], ...]]:
    """The exported rows without the respondent column, in a fixed order."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    return sorted(tuple(sorted((k, v) for k, v in r.items() if k != "respondent")) for r in reader)


@pytest.fixture
def loop_db(database_url):
    """One event loop and one Database for every example of a property test."""
    with asyncio.Runner() as runner:
        db = Database(database_url)
        yield runner, db
        runner.run(db.dispose())


async def _round_trip(db: Database, tmp: Path, records: list[dict[str, str]]) -> tuple[bytes, bytes] | None:
    async with db.session() as session:
        community_id = (await ensure_community(session, "default")).id
    n = next(_labels)
    source = tmp / f"source-{n}.csv"
    _write(source, records)
    try:
        await import_csv(db, community_id=community_id, questionnaire=QN, wave_label=f"w{n}", path=source)
    except ImportInvalid:
        return None  # not a value the importer accepts
    first = await export_wave(db, community_id=community_id, survey_id=QN.id, wave=f"w{n}")
    again = tmp / f"again-{n}.csv"
    again.write_bytes(first)
    await import_csv(db, community_id=community_id, questionnaire=QN, wave_label=f"w{n}b", path=again)
    second = await export_wave(db, community_id=community_id, survey_id=QN.id, wave=f"w{n}b")
    return first, second


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=rows)
def test_export_import_export_is_the_identity(loop_db, tmp_path, records):
    assume(any(any(v.strip() for v in r.values()) for r in records))
    runner, db = loop_db
    out = runner.run(_round_trip(db, tmp_path, records))
    assume(out is not None)
    first, second = out
    assert _rows(second) == _rows(first)
    assert len(_rows(first)) == sum(1 for r in records if any(v.strip() for v in r.values()))


@pytest.mark.parametrize("text", ["a\rb", "line one\rline two\nthree", "\rlead"])
async def test_a_lone_carriage_return_in_text_survives_the_export(db, tmp_path, text):
    async with db.session() as session:
        community_id = (await ensure_community(session, "default")).id
    source = tmp_path / "source.csv"
    _write(source, [{"pick": "a", "many": "", "amount": "", "note": text, "grid.r1": "", "grid.r2": ""},
                    {"pick": "b", "many": "x", "amount": "3", "note": "after", "grid.r1": "", "grid.r2": ""}])
    await import_csv(db, community_id=community_id, questionnaire=QN, wave_label="w", path=source)
    data = await export_wave(db, community_id=community_id, survey_id=QN.id, wave="w")
    notes = sorted(r["note"] for r in csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert notes == sorted(["after", text.strip()])


def test_an_apostrophe_before_a_formula_character_is_kept():
    assert formula_safe("=1+1") == "'=1+1"
    assert formula_safe("'=1+1") == " '=1+1"  # the importer strips the space, keeps the apostrophe
    assert formula_safe("it's fine") == "it's fine"
