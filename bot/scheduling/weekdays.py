"""The weekday field of a standard five-field cron, read the way crontab reads it.

Standard cron counts weekdays from Sunday (0 or 7 = Sunday, 1 = Monday … 6 = Saturday);
APScheduler 3 counts from Monday (0 = Monday), so handing it `0 9 * * 1` fires on Tuesdays.
`weekdays(field)` reads the field as crontab does — numbers, three-letter names, lists,
ranges and steps (`1-5`, `mon-fri`, `*/2`, `sat,sun`) — and `apscheduler_weekdays` spells the
result in names, which both read alike.
"""

from __future__ import annotations

import re

# crontab numbering: 0 and 7 are Sunday
_CRON_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
# Monday-first, as people and APScheduler list them
ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
         "sat": "Saturday", "sun": "Sunday"}
_PART = re.compile(r"(?P<first>\*|[a-z]{3}|\d+)(?:-(?P<last>[a-z]{3}|\d+))?(?:/(?P<step>\d+))?")


class WeekdayError(ValueError):
    """A weekday field crontab would not read; the message says why."""


def _number(token: str, *, last: bool = False) -> int:
    if token.isdigit():
        value = int(token)
        if value > 7:
            raise WeekdayError(f"weekday {value} is out of range (0-7, where 0 and 7 are Sunday)")
        return value
    if token not in _CRON_NAMES:
        raise WeekdayError(f"'{token}' is not a weekday (use mon, tue, … sun or 0-7)")
    value = _CRON_NAMES[token]
    return 7 if last and value == 0 else value  # `sat-sun` ends on Sunday


def weekdays(field: str) -> list[str] | None:
    """The days a cron weekday field names, Monday first (`["mon", "fri"]`); None for every day."""
    text = field.strip().lower()
    if text == "*":
        return None
    days: set[int] = set()
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if match is None:
            raise WeekdayError(f"'{part}' is not a weekday, a range like mon-fri or a step like */2")
        first, last, step = match["first"], match["last"], match["step"]
        by = int(step) if step else 1
        if by < 1:
            raise WeekdayError(f"'{part}': a step must be 1 or more")
        if first == "*":
            if last:
                raise WeekdayError(f"'{part}' is not a weekday range")
            low, high = 0, 6
        else:
            low = _number(first)
            high = _number(last, last=True) if last else (7 if step else low)
        if high < low:
            raise WeekdayError(f"'{part}' runs backwards (a range goes from an earlier day to a later one)")
        days.update(day % 7 for day in range(low, high + 1, by))
    names = {name for name, number in _CRON_NAMES.items() if number in days}
    return None if len(names) == 7 else [name for name in ORDER if name in names]


def apscheduler_weekdays(field: str) -> str:
    """The field for APScheduler's `day_of_week`: `*` or names (`mon,tue,wed,thu,fri`)."""
    days = weekdays(field)
    return "*" if days is None else ",".join(days)
