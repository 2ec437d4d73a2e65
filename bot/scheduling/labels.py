"""Wave labels from a pattern and the moment a wave opens, in the community's time zone.

Patterns use `str.format` fields: `{year}` → `2027`, `{year}-Q{quarter}` → `2026-Q4`,
`{year}-{month:02d}` → `2026-03`, also `{half}` (1 or 2), `{week:02d}` (ISO week, with
`{week_year}`) and `{day:02d}`.
"""

from __future__ import annotations

import logging
import string
from datetime import datetime
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

FIELDS = ("year", "quarter", "month", "day", "half", "week", "week_year")


class LabelPatternError(ValueError):
    """A label pattern that cannot make labels; the message says why."""


def label_fields(when: datetime, tz: str) -> dict[str, int]:
    """The values a pattern can use, for `when` seen in time zone `tz`."""
    local = when.astimezone(ZoneInfo(tz))
    iso = local.isocalendar()
    return {
        "year": local.year,
        "quarter": (local.month - 1) // 3 + 1,
        "month": local.month,
        "day": local.day,
        "half": 1 if local.month <= 6 else 2,
        "week": iso.week,
        "week_year": iso.year,
    }


def check_label_pattern(pattern: str) -> None:
    """Raise LabelPatternError unless `pattern` only uses known fields and formats."""
    if not pattern or not pattern.strip():
        raise LabelPatternError("the label pattern is empty; use e.g. {year} or {year}-Q{quarter}")
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise LabelPatternError(f"label pattern {pattern!r} is malformed: {exc}") from None
    names = [name for _, name, _, _ in parsed if name is not None]
    if not names:
        raise LabelPatternError(
            f"label pattern {pattern!r} has no field, so every wave would get the same label; "
            "use e.g. {year} or {year}-Q{quarter}"
        )
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise LabelPatternError(
            f"label pattern {pattern!r} uses unknown field {{{unknown[0]}}}; known: "
            + ", ".join("{" + f + "}" for f in FIELDS)
        )
    try:
        label = pattern.format(**{f: 1 for f in FIELDS})
    except (ValueError, IndexError, KeyError) as exc:
        raise LabelPatternError(f"label pattern {pattern!r} is malformed: {exc}") from None
    if len(label.strip()) > 64:
        raise LabelPatternError(f"label pattern {pattern!r} makes labels longer than 64 characters")


def wave_label(pattern: str, when: datetime, tz: str) -> str:
    """The label of a wave opening at `when` (aware) in time zone `tz`."""
    check_label_pattern(pattern)
    return pattern.format(**label_fields(when, tz)).strip()
