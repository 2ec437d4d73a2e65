"""The linkage attack of issue 9, played with SQL alone (no secret key).

Someone holding a database dump tries to pair participation-ledger rows (which name platform
members) with pseudonymous response rows (which lead to answers) by sorting both sides on
anything stored: ids, every time column, the physical row order (SQLite rowid / scan order,
PostgreSQL ctid / scan order / xmin), also through the respondents and answers tables. Each
(ledger order, response order) pair is scored by how many members it matches to their own
response; a pairing is "better than chance" when that count exceeds what a random matching
reaches with probability below ALPHA / (number of pairings tried): Binomial(n, 1/N) upper tail,
a Bonferroni bound over every pairing the attack tries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

ALPHA = 0.001
_SKIP = {"wave_id", "platform", "space_id", "user_id", "community_id", "pseudonym", "question_id",
         "row_id", "value", "number", "option_id", "data", "respondent_id"}


@dataclass
class Outcome:
    """The best pairing the attack found, against the chance bound."""

    ledger_key: str
    response_key: str
    matched: int
    pairs: int
    threshold: int
    tried: int

    def __str__(self) -> str:
        return (f"best pairing {self.ledger_key} ~ {self.response_key}: {self.matched}/{self.pairs} "
                f"matched; chance allows < {self.threshold} (alpha {ALPHA}, {self.tried} pairings)")


def binomial_threshold(n: int, p: float, alpha: float) -> int:
    """The smallest t with P(Binomial(n, p) >= t) <= alpha."""
    tail = 1.0
    for t in range(n + 2):
        if tail <= alpha:
            return t
        tail -= math.comb(n, t) * p ** t * (1 - p) ** (n - t)
    return n + 1


def _sortable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value[:1] == "(" and "," in value:  # a ctid "(page,item)"
        page, item = value.strip("()").split(",")
        return int(page) * 100_000 + int(item)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):  # SQLite returns stored datetimes as text through raw SQL
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return value
    return value


async def _rows(session: Any, table: str, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row with its physical order (`_scan`), plus rowid or ctid and xmin where they exist."""
    pg = session.bind.dialect.name == "postgresql"
    extra = ["ctid::text AS _ctid", "xmin::text::bigint AS _xmin"] if pg else ["rowid AS _rowid"]
    try:
        async with session.begin_nested():
            result = await session.execute(text(f"SELECT {', '.join(extra)}, * FROM {table} {where}"), params)
    except Exception:  # SQLite WITHOUT ROWID: the key is the physical order
        result = await session.execute(text(f"SELECT * FROM {table} {where}"), params)
    rows = [dict(r._mapping) for r in result]
    for position, row in enumerate(rows):
        row["_scan"] = position
    return rows


def _keys(rows: list[dict[str, Any]], prefix: str) -> dict[str, dict[Any, Any]]:
    """Orderable features per row identity `_who`: column name → {who: value}."""
    out: dict[str, dict[Any, Any]] = {}
    for row in rows:
        for column, value in row.items():
            if column in _SKIP or column.startswith("_who") or value is None:
                continue
            value = _sortable(value)
            if isinstance(value, (int, float)):
                out.setdefault(f"{prefix}.{column}", {})[row["_who"]] = value
    return out


def _per_respondent(rows: list[dict[str, Any]], prefix: str) -> dict[str, dict[Any, Any]]:
    """Answer-level features folded per respondent (min and max of each)."""
    out: dict[str, dict[Any, Any]] = {}
    for column, values in _keys(rows, prefix).items():
        lo: dict[Any, Any] = {}
        hi: dict[Any, Any] = {}
        for row in rows:
            v = values.get(row["_who"])
            if v is None:
                continue
            rid = row["respondent_id"]
            lo[rid] = min(lo.get(rid, v), v)
            hi[rid] = max(hi.get(rid, v), v)
        out[f"min({column})"], out[f"max({column})"] = lo, hi
    return out


def _ranked(feature: dict[Any, Any], tiebreak: dict[Any, Any]) -> list[Any]:
    return sorted(feature, key=lambda who: (feature[who], tiebreak.get(who, 0)))


async def attack(db: Any, wave_id: int, truth: dict[str, int]) -> Outcome:
    """Play the attack on wave `wave_id`; `truth` maps a ledger user id to its respondent id."""
    async with db.session() as session:
        ledger = await _rows(session, "participation", "WHERE wave_id = :w", {"w": wave_id})
        responses = await _rows(session, "responses", "WHERE wave_id = :w", {"w": wave_id})
        respondents = await _rows(
            session, "respondents",
            "WHERE id IN (SELECT respondent_id FROM responses WHERE wave_id = :w)", {"w": wave_id})
        answers = await _rows(session, "answers", "WHERE wave_id = :w", {"w": wave_id})
        choices = await _rows(session, "answer_choices", "WHERE wave_id = :w", {"w": wave_id})
    for row in ledger:
        row["_who"] = row["user_id"]
    for row in responses:
        row["_who"] = row["respondent_id"]
    for row in respondents:
        row["_who"] = row["id"]
    for n, row in enumerate(answers + choices):
        row["_who"] = ("a", n)
    ledger_keys = _keys(ledger, "participation")
    response_keys = {**_keys(responses, "responses"), **_keys(respondents, "respondents"),
                     **_per_respondent(answers, "answers"), **_per_respondent(choices, "answer_choices")}
    ledger_phys = ledger_keys.get("participation._scan", {})
    response_phys = response_keys.get("responses._scan", {})
    present = {user: rid for user, rid in truth.items()
               if any(r["_who"] == user for r in ledger) and any(r["_who"] == rid for r in responses)}
    size = max(len(ledger), len(responses), 1)
    tried = max(1, len(ledger_keys) * len(response_keys))
    threshold = binomial_threshold(len(present), 1 / size, ALPHA / tried)
    best = Outcome("-", "-", 0, len(present), threshold, tried)
    for lname, lfeature in ledger_keys.items():
        lorder = _ranked(lfeature, ledger_phys)
        for rname, rfeature in response_keys.items():
            rorder = _ranked(rfeature, response_phys)
            if not lorder or not rorder:
                continue
            scale = len(rorder) / len(lorder)  # unequal sides: pair by relative rank
            matched = sum(
                1 for i, user in enumerate(lorder)
                if user in present and rorder[min(len(rorder) - 1, int(i * scale))] == present[user]
            )
            if matched > best.matched:
                best = Outcome(lname, rname, matched, len(present), threshold, tried)
    return best
