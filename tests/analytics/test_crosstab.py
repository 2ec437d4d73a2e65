"""Cross-tabs (`--by`): shares per group with bases and intervals, small cells hidden so that
no hidden cell can be worked out from the row and column totals, released snapshots of live
waves, and the one-line refusals."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from analytics.crosstab import CrossTabRefused, build_crosstab
from analytics.report import to_markdown
from analytics.service import build_summary
from analytics.suppression import recoverable, suppress
from surveys.identity import Member
from surveys.importer import import_csv
from surveys.models import WaveStatus
from surveys.waves import create_wave, ensure_community

SURVEY = "state-of-mlops"
SIZES = ["1_10", "11_50", "51_200", "201_1000", "1000_plus"]
HEADCOUNTS = ["1", "2_10", "11_30", "31_100", "100_plus"]
# rows: headcount, columns: company size; one cell of 2 people (11-50 with 11-30 on ML)
TABLE = [
    [10, 9, 8, 7, 6],
    [12, 11, 10, 9, 8],
    [8, 2, 9, 10, 15],
    [6, 7, 6, 8, 9],
    [7, 8, 6, 6, 7],
]


def _write(path, table=TABLE) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["company_size", "ml_headcount", "focus", "tooling.model_monitoring",
                      "biggest_challenge"])
        for r, row in enumerate(table):
            for c, n in enumerate(row):
                for i in range(n):
                    focus = "monitoring" if i % 2 else "deploy"
                    out.writerow([SIZES[c], HEADCOUNTS[r], focus, "looking", ""])


async def _imported(services, tmp_path, table=TABLE):
    path = tmp_path / "wave.csv"
    _write(path, table)
    async with services.db.session() as session:
        community = await ensure_community(session, "slack", "T1")
    await import_csv(services.db, community_id=community.id, questionnaire=services.catalog.get(SURVEY),
                     wave_label="2021", path=path)
    return community.id


def _published(tab) -> tuple[dict, set]:
    """What a reader sees: shown counts (share × base) and which displayed cells are hidden."""
    shown, hidden = {}, set()
    for col in tab.columns:
        for option in tab.options:
            if option in col.hidden:
                hidden.add((option, col.key))
            else:
                shown[(option, col.key)] = round(col.share(option) * col.base)
    return shown, hidden


def _determined(hidden: set, rows: list[str], cols: list[str]) -> list:
    """Hidden cells of a two-way table that its row and column totals determine."""
    cells = sorted(hidden)
    lines = [[c for c in cells if c[0] == r] for r in rows] + [[c for c in cells if c[1] == k] for k in cols]
    matrix = np.array([[1.0 if c in line else 0.0 for c in cells] for line in lines if line])
    rank = np.linalg.matrix_rank(matrix)
    out = []
    for i, cell in enumerate(cells):
        probe = np.zeros(len(cells))
        probe[i] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, probe])) == rank:
            out.append(cell)
    return out


async def test_a_small_cell_is_hidden_and_cannot_be_worked_out_from_the_totals(services, tmp_path):
    community_id = await _imported(services, tmp_path)
    summary = await build_summary(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                                  questions=["ml_headcount"])
    tab = await build_crosstab(services.db, summary, community_id=community_id, question="ml_headcount",
                               by="company_size")
    assert [c.key for c in tab.columns] == SIZES
    assert [c.base for c in tab.columns] == [sum(row[i] for row in TABLE) for i in range(5)]
    shown, hidden = _published(tab)
    assert ("11_30", "11_50") in hidden  # 2 people: under k = 5
    # what is shown is exact, and every share comes with its Wilson interval
    for (option, col), n in shown.items():
        assert n == TABLE[HEADCOUNTS.index(option)][SIZES.index(col)]
    big = tab.columns[4]
    lo, hi = big.interval("11_30")
    assert lo < 15 / big.base < hi
    # the row totals (the whole wave's count of each answer, which the summary publishes) and
    # the column bases leave every hidden cell undetermined
    assert len(hidden) >= 4
    assert _determined(hidden, HEADCOUNTS, SIZES) == []
    for line in [[c for c in hidden if c[0] == r] for r in HEADCOUNTS] + \
            [[c for c in hidden if c[1] == k] for k in SIZES]:
        held = sum(TABLE[HEADCOUNTS.index(o)][SIZES.index(c)] for o, c in line)
        assert len(line) != 1 and (held == 0 or held >= 5)
    # the findings sentence of the report: 11-30 is the most common answer in 1000+
    assert "More than 1,000 (n=45 respondents): 11-30 is the most common answer, 33% (21–48%)." in \
        tab.findings()
    summary.analyses.append(tab)
    report = to_markdown(summary, {tab.chart_file: b"png"})
    assert "## Analyses" in report and "### ML team size by Company size" in report
    assert "![Heatmap of ML team size by Company size, 2021" in report and "11-30 33%" in report


def test_suppression_breaks_a_chain_that_two_hidden_cells_per_line_would_leave():
    # two 2x2 blocks of hidden cells joined by a single hidden cell: each line holds two
    # hidden cells, yet the joining cell is fixed by the totals; the audit hides more
    cells = {(r, c): 20 for r in range(4) for c in range(4)}
    lines = [[(r, c) for c in range(4)] for r in range(4)] + [[(r, c) for r in range(4)] for c in range(4)]
    for cell in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        cells[cell] = 1
    got = suppress(cells, lines, 5)
    assert recoverable(cells, lines, got) == []
    assert {(0, 0), (0, 1), (1, 0), (1, 1)} <= got


@pytest.mark.parametrize("seed", range(30))
def test_random_tables_never_leave_a_hidden_cell_recoverable(seed):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    cells = {(r, c): int(rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 30])) for r in range(rows) for c in range(cols)}
    lines = [[(r, c) for c in range(cols)] for r in range(rows)] + \
        [[(r, c) for r in range(rows)] for c in range(cols)]
    got = suppress(cells, lines, 5)
    assert {cell for cell, n in cells.items() if 0 < n < 5} <= got
    assert all(cells[c] > 0 for c in got)
    # a hidden cell may stay determined only when its lines have nothing left to hide
    for cell in recoverable(cells, lines, got):
        for line in lines:
            if cell in line:
                assert all(c in got or cells[c] == 0 for c in line)


async def test_segments_columns_and_rest_of_the_wave_are_protected_too(services, tmp_path):
    table = [[6, 6, 6, 6, 6] for _ in range(5)]
    table[2][1] = 7
    community_id = await _imported(services, tmp_path, table)
    summary = await build_summary(services.db, community_id=community_id, survey_id=SURVEY, wave="2021",
                                  questions=["company_size"], where={"focus": ["monitoring"]})
    tab = await build_crosstab(services.db, summary, community_id=community_id, question="company_size",
                               by="ml_headcount")
    # in the segment each cell holds 3 (or 4): all hidden, and so nothing is shown
    assert all(col.counts == {} or all(n == 0 for n in col.counts.values()) for col in tab.columns)
    assert "hidden" in " ".join(tab.chat_lines())


async def test_live_wave_counts_its_released_snapshot(services):
    community = await services.community_for("slack", "T1")
    async with services.db.session() as session:
        wave = await create_wave(session, community, services.catalog.get(SURVEY), "2026",
                                 status=WaveStatus.open)
    sizes = itertools.cycle(["1_10", "1_10", "1000_plus"])
    for i in range(30):
        await services.flow.submit(wave.id, Member("slack", "S", f"m{i}"),
                                   {"title": "researcher", "role": "models", "company_size": next(sizes),
                                    "ml_headcount": "2_10"}, finish=True)

    async def table():
        summary = await build_summary(services.db, community_id=community.id, survey_id=SURVEY, wave="2026",
                                      questions=["ml_headcount"])
        tab = await build_crosstab(services.db, summary, community_id=community.id, question="ml_headcount",
                                   by="company_size")
        return tab.suppressed or [(c.key, c.base, c.counts) for c in tab.columns]

    first = await table()
    assert first == [("1_10", 20, {"1": 0, "2_10": 20, "11_30": 0, "31_100": 0, "100_plus": 0}),
                     ("1000_plus", 10, {"1": 0, "2_10": 10, "11_30": 0, "31_100": 0, "100_plus": 0})]
    for i in range(30, 33):  # fewer than k newcomers: the snapshot does not move
        await services.flow.submit(wave.id, Member("slack", "S", f"m{i}"),
                                   {"title": "researcher", "role": "models", "company_size": "1000_plus",
                                    "ml_headcount": "11_30"}, finish=True)
    assert await table() == first


async def test_refusals_are_one_line(services, tmp_path):
    community_id = await _imported(services, tmp_path)
    summary = await build_summary(services.db, community_id=community_id, survey_id=SURVEY, wave="2021")
    for question, by, words in [
        ("ml_headcount", "focus", "group by a single-choice"),
        ("biggest_challenge", "company_size", "its texts are never shown"),
        ("tooling", "company_size", "rank its rows with --rank"),
        ("ml_headcount", "ml_headcount", "two different questions"),
        ("nope", "company_size", "is not a question"),
    ]:
        with pytest.raises(Exception, match=words) as err:
            await build_crosstab(services.db, summary, community_id=community_id, question=question, by=by)
        assert "\n" not in str(err.value)
        if question != "nope":
            assert isinstance(err.value, CrossTabRefused)
