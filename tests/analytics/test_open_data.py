"""Open data that cannot be linked: a fresh order per release (two releases sharing members are
not in the same order) and k-anonymity on the quasi-identifiers."""

from __future__ import annotations

import csv
import io
import random
import textwrap
from collections import Counter
from itertools import combinations

from analytics.export import export_wave, k_anonymise
from surveys.catalog import Catalog, parse_questionnaire
from surveys.importer import import_csv
from surveys.waves import ensure_community

SURVEY = "state-of-mlops"
QIS = ["title", "role", "company_size", "ml_headcount", "team_outlook", "industry", "region"]


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def kendall_tau(a: list[int], b: list[int]) -> float:
    pairs = list(combinations(range(len(a)), 2))
    score = sum(1 if (a[i] - a[j]) * (b[i] - b[j]) > 0 else -1 for i, j in pairs)
    return score / len(pairs)


NUMBERED = parse_questionnaire(textwrap.dedent("""
    id: numbered
    title: Numbered
    questions:
      - {id: years, type: number, text: "Years of experience", min: 0, max: 100000}
      - {id: pick, type: single, text: "Pick", options: [{id: a, label: A}, {id: b, label: B}]}
"""))


async def _import(db, community_id: int, qn, label: str, tmp_path, records: list[dict[str, str]]) -> None:
    path = tmp_path / f"{label}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    await import_csv(db, community_id=community_id, questionnaire=qn, wave_label=label, path=path)


async def test_two_releases_sharing_members_are_not_in_the_same_order(db, tmp_path):
    async with db.session() as session:
        community_id = (await ensure_community(session, "default")).id
    # each member's answer is unique, so rows can be matched across releases by content
    records = [{"years": str(100 + i), "pick": "a" if i % 2 else "b"} for i in range(60)]
    await _import(db, community_id, NUMBERED, "2025", tmp_path, records)
    await _import(db, community_id, NUMBERED, "2026", tmp_path, records)
    orders = []
    for label in ("2025", "2026", "2026"):
        data = await export_wave(db, community_id=community_id, survey_id="numbered", wave=label,
                                 open_data=True, min_group_size=1)
        rows = _rows(data)
        assert [r["respondent"] for r in rows] == [str(i) for i in range(1, 61)]
        orders.append({r["years"]: i for i, r in enumerate(rows)})
    keys = sorted(orders[0])
    for first, second in ((0, 1), (1, 2)):
        tau = kendall_tau([orders[first][key] for key in keys], [orders[second][key] for key in keys])
        assert abs(tau) < 0.4, tau  # uncorrelated (the order by a pseudonym hash gave 1.000)


def _members(n: int, seed: int) -> list[dict[str, str]]:
    qn = Catalog().get(SURVEY, version=1)
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        row = {q: rnd.choice(qn.question(q).choices).id for q in QIS}
        row["focus"] = ";".join(rnd.sample(["deploy", "monitoring", "retraining"], 2))
        out.append(row)
    return out


async def test_every_combination_of_quasi_identifiers_holds_at_least_k_rows(db, tmp_path):
    async with db.session() as session:
        community_id = (await ensure_community(session, "default")).id
    await _import(db, community_id, Catalog().get(SURVEY, version=1), "2026", tmp_path, _members(340, seed=3))
    steps: list[str] = []
    data = await export_wave(db, community_id=community_id, survey_id=SURVEY, wave="2026", open_data=True,
                             min_group_size=5, generalised=steps)
    rows = _rows(data)
    combos = Counter(tuple(r[q] for q in QIS) for r in rows)
    assert min(combos.values()) >= 5
    assert len(rows) >= 340 * 0.98  # generalised, not mostly suppressed
    assert steps and all(isinstance(s, str) for s in steps)
    assert any("shown as other" in s or "merged" in s or "left blank" in s for s in steps)
    assert any(r["focus"] for r in rows)  # the other answers stay


def test_k_anonymise_merges_neighbouring_buckets_of_an_ordered_question():
    qn = parse_questionnaire(textwrap.dedent("""
        id: ordered
        title: Ordered
        questions:
          - {id: size, type: single, text: "Size", options: [{id: xs, label: XS}, {id: s, label: S},
             {id: m, label: M}, {id: l, label: L}]}
    """))
    # an option list marked `ordered: true` in the YAML (set directly: the schema may not know it yet)
    object.__setattr__(qn.question("size"), "ordered", True)
    rows = {i: {"size": v} for i, v in enumerate(["xs"] * 2 + ["s"] * 2 + ["m"] * 6 + ["l"] * 6)}
    steps = k_anonymise(qn, rows, 3)
    assert steps == ["size: xs and s merged into xs+s"]
    assert Counter(r["size"] for r in rows.values()) == {"xs+s": 4, "m": 6, "l": 6}


def test_k_anonymise_maps_the_rarest_unordered_value_to_other():
    qn = parse_questionnaire(textwrap.dedent("""
        id: unordered
        title: Unordered
        questions:
          - {id: region, type: single, text: "Region", options: [{id: eu, label: EU},
             {id: us, label: US}, {id: in, label: IN}, {id: cn, label: CN}]}
    """))
    rows = {i: {"region": v} for i, v in enumerate(["eu"] * 6 + ["us"] * 6 + ["in"] * 2 + ["cn"] * 2)}
    steps = k_anonymise(qn, rows, 3)
    assert steps == ["region: cn shown as other", "region: in shown as other"]
    assert Counter(r["region"] for r in rows.values()) == {"eu": 6, "us": 6, "other": 4}
