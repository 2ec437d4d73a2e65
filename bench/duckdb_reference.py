"""The DuckDB reference of the summary benchmarks: the same shares computed by DuckDB.

Imports nothing but the standard library, so a fresh process running it (bench/bench_cli.py)
pays only for DuckDB's own start-up.
"""

from __future__ import annotations

from typing import Any


class Reference:
    """DuckDB computing the shares of every wave from the tables of connection `con`
    (`answer_choices`, `answers`, `responses` with the application's `answered` flag)."""

    def __init__(self, con: Any, multi: list[str], free: list[str],
                 conditions: dict[str, tuple[str, list[str]]] | None = None):
        self.con = con
        self.multi = multi
        self.free = free
        # question → (earlier question, options that show it): its shares are of those asked
        self.conditions = conditions or {}

    def run(self) -> dict[str, Any]:
        """Respondents per wave and (wave, question, row, option) → n, answered, share."""
        multi = ", ".join(f"'{q}'" for q in self.multi) or "''"
        free = ", ".join(f"'{q}'" for q in self.free) or "''"
        respondents = self.con.execute("""
            SELECT wave_id, count(*) AS respondents, count(completed_at) AS completed
            FROM responses WHERE answered GROUP BY wave_id""").fetchall()
        per_wave = ", ".join(f"({w}, {n})" for w, n, _ in respondents) or "(NULL, NULL)"
        asked = " UNION ALL ".join(
            f"SELECT wave_id, '{q}' AS question_id, count(DISTINCT respondent_id) AS base "
            f"FROM answer_choices WHERE question_id = '{target}' "
            f"AND option_id IN ({', '.join(repr(o) for o in ids)}) GROUP BY wave_id"
            for q, (target, ids) in self.conditions.items()
        ) or "SELECT NULL AS wave_id, NULL AS question_id, NULL AS base"
        shares = self.con.execute(f"""
            WITH asked AS ({asked}),
            counts AS (
                SELECT wave_id, question_id, row_id, option_id, count(*) AS n
                FROM answer_choices GROUP BY ALL),
            multi AS (
                SELECT wave_id, question_id, count(DISTINCT respondent_id) AS answered
                FROM answer_choices WHERE question_id IN ({multi}) GROUP BY ALL),
            who(wave_id, respondents) AS (VALUES {per_wave})
            SELECT c.wave_id, c.question_id, c.row_id, c.option_id, c.n,
                   coalesce(m.answered,
                            sum(c.n) OVER (PARTITION BY c.wave_id, c.question_id, c.row_id))
                       AS answered,
                   c.n / coalesce(a.base, w.respondents) AS share
            FROM counts c JOIN who w USING (wave_id)
            LEFT JOIN multi m USING (wave_id, question_id)
            LEFT JOIN asked a USING (wave_id, question_id)""").fetchall()
        answered_free = self.con.execute(f"""
            SELECT wave_id, question_id, count(*) FROM answers
            WHERE question_id IN ({free}) AND value IS NOT NULL AND value <> 'null'
            GROUP BY ALL""").fetchall()
        return {"respondents": respondents, "shares": shares, "free": answered_free}
