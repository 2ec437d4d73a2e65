"""Cron weekdays count as in crontab (0 and 7 = Sunday, 1 = Monday), for firing and for words.

Before: the trigger came from APScheduler 3's `from_crontab`, which counts 0 as Monday, so
`0 9 * * 1` fired on Tuesdays while `/survey schedule` said "every Monday"; `mon-fri` was
described as "every Monday"; `7` (Sunday) was refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.scheduling.schedules import ScheduleError, cron_trigger, describe_cron, fires_between
from bot.scheduling.weekdays import WeekdayError, weekdays

SUNDAY = datetime(2027, 3, 7, 12, tzinfo=UTC)


def _fire_days(cron: str, count: int = 7) -> list[str]:
    trigger = cron_trigger(cron, "Europe/Helsinki")
    fires = fires_between(trigger, SUNDAY, datetime(2027, 4, 30, tzinfo=UTC))
    return [when.astimezone(trigger.timezone).strftime("%a") for when in fires][:count]


@pytest.mark.parametrize(("cron", "days", "words"), [
    ("0 9 * * 1", ["Mon"] * 3, "every Monday at 09:00"),
    ("0 9 * * 0", ["Sun"] * 3, "every Sunday at 09:00"),
    ("0 9 * * 7", ["Sun"] * 3, "every Sunday at 09:00"),
    ("0 9 * * 5", ["Fri"] * 3, "every Friday at 09:00"),
    ("0 9 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"],
     "every Monday, Tuesday, Wednesday, Thursday and Friday at 09:00"),
    ("0 9 * * mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"],
     "every Monday, Tuesday, Wednesday, Thursday and Friday at 09:00"),
    ("0 9 * * MON,thu", ["Mon", "Thu", "Mon"], "every Monday and Thursday at 09:00"),
    ("0 9 * * sat-sun", ["Sat", "Sun", "Sat"], "every Saturday and Sunday at 09:00"),
    ("0 9 * * 5-7", ["Fri", "Sat", "Sun", "Fri"], "every Friday, Saturday and Sunday at 09:00"),
    ("0 9 * * */2", ["Tue", "Thu", "Sat", "Sun"], "every Tuesday, Thursday, Saturday and Sunday at 09:00"),
    ("0 9 * * 0-6", ["Mon", "Tue", "Wed"], "every day at 09:00"),
])
def test_a_weekday_fires_and_reads_as_in_crontab(cron, days, words):
    assert _fire_days(cron, len(days)) == days
    assert describe_cron(cron) == words


@pytest.mark.parametrize(("field", "why"), [
    ("8", "weekday 8 is out of range (0-7, where 0 and 7 are Sunday)"),
    ("monday", "'monday' is not a weekday, a range like mon-fri or a step like */2"),
    ("fri-mon", "'fri-mon' runs backwards"),
    ("1#2", "'1#2' is not a weekday"),
    ("*/0", "a step must be 1 or more"),
    ("mon,", "'' is not a weekday"),
])
def test_a_weekday_crontab_would_not_read_is_refused_with_the_reason(field, why):
    with pytest.raises(WeekdayError, match=why.replace("*", r"\*").replace("(", r"\(").replace(")", r"\)")):
        weekdays(field)
    with pytest.raises(ScheduleError) as refused:
        cron_trigger(f"0 9 * * {field}", "UTC")
    assert f"'0 9 * * {field}' is not a valid cron expression" in str(refused.value)
    assert describe_cron(f"0 9 * * {field}") == f'on cron "0 9 * * {field}"'
