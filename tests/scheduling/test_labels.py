"""Wave labels from the open time in the community's time zone; schedule validation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.scheduling.labels import LabelPatternError, check_label_pattern, wave_label
from bot.scheduling.schedules import (
    ScheduleError,
    check_schedule,
    cron_trigger,
    describe_cron,
    describe_duration,
    normalize_reminders,
    reminder_points,
)

from .conftest import utc


@pytest.mark.parametrize(("when", "tz", "pattern", "label"), [
    (utc(2027, 3, 1, 7), "Europe/Helsinki", "{year}", "2027"),
    (utc(2026, 12, 31, 22, 30), "Europe/Helsinki", "{year}", "2027"),  # 00:30 on 1 Jan in Helsinki
    (utc(2026, 12, 31, 22, 30), "UTC", "{year}", "2026"),
    (utc(2026, 10, 1, 9), "UTC", "{year}-Q{quarter}", "2026-Q4"),
    (utc(2027, 1, 1, 9), "UTC", "{year}-Q{quarter}", "2027-Q1"),
    (utc(2027, 3, 31, 23), "UTC", "{year}-Q{quarter}", "2027-Q1"),
    (utc(2027, 3, 31, 23), "Europe/Berlin", "{year}-Q{quarter}", "2027-Q2"),  # already 1 April there
    (utc(2026, 3, 1, 9), "UTC", "{year}-{month:02d}", "2026-03"),
    (utc(2026, 7, 1), "UTC", "{year}-H{half}", "2026-H2"),
    (utc(2026, 12, 31), "UTC", "{week_year}-W{week:02d}", "2026-W53"),
])
def test_labels(when, tz, pattern, label):
    assert wave_label(pattern, when, tz) == label


@pytest.mark.parametrize(("pattern", "problem"), [
    ("", "empty"),
    ("mlops", "no field"),
    ("{yaer}", "unknown field {yaer}"),
    ("{year", "malformed"),
    ("{year:%Y}", "malformed"),
])
def test_bad_label_patterns(pattern, problem):
    with pytest.raises(LabelPatternError, match=problem):
        check_label_pattern(pattern)


def test_schedule_validation():
    now = utc(2026, 5, 1)
    first = check_schedule("0 9 1 3 *", "Europe/Helsinki", "{year}", timedelta(days=30), now)
    assert first == utc(2027, 3, 1, 7)
    with pytest.raises(ScheduleError, match="five fields"):
        check_schedule("0 9 1 3", "UTC", "{year}", timedelta(days=30), now)
    with pytest.raises(ScheduleError, match="not a valid cron"):
        check_schedule("0 25 1 3 *", "UTC", "{year}", timedelta(days=30), now)
    with pytest.raises(ScheduleError, match="unknown time zone"):
        check_schedule("0 9 1 3 *", "Mars/Olympus", "{year}", timedelta(days=30), now)
    with pytest.raises(ScheduleError, match=r"same label \(2026\).*\{year\}-Q\{quarter\}"):
        check_schedule("0 9 1 1,4,7,10 *", "UTC", "{year}", timedelta(days=14), now)
    with pytest.raises(ScheduleError, match="unknown field"):
        check_schedule("0 9 1 3 *", "UTC", "{yr}", timedelta(days=30), now)
    with pytest.raises(ScheduleError, match="open for some time"):
        check_schedule("0 9 1 3 *", "UTC", "{year}", timedelta(0), now)


def test_cron_in_words():
    assert describe_cron("0 9 1 3 *") == "every year on 1 March at 09:00"
    assert describe_cron("0 9 1 1,4,7,10 *") == "on 1 Jan, Apr, Jul and Oct at 09:00"
    assert describe_cron("0 9 * * mon") == "every Monday at 09:00"
    assert describe_cron("30 8 * * *") == "every day at 08:30"
    assert describe_cron("0 9 15 * *") == "on day 15 of every month at 09:00"
    assert describe_cron("*/5 9 * * *") == 'on cron "*/5 9 * * *"'
    assert describe_duration(30 * 86400) == "30 days"
    assert describe_duration(14 * 86400) == "2 weeks"
    assert describe_duration(12 * 3600) == "12 hours"


def test_reminder_points():
    assert reminder_points([]) == ["halfway", "48h"]
    assert normalize_reminders(["Halfway", "3d", "3d"]) == ["halfway", "3d"]
    assert reminder_points(normalize_reminders(["off"])) == []
    with pytest.raises(ScheduleError, match="not a reminder point"):
        normalize_reminders(["soon"])


def test_dst_cron_fires_at_local_time():
    trigger = cron_trigger("0 9 * * mon", "Europe/Helsinki")
    before = trigger.get_next_fire_time(None, utc(2026, 3, 24))
    after = trigger.get_next_fire_time(None, before + timedelta(seconds=1))
    assert before == utc(2026, 3, 30, 6)  # first Monday after the change on 29 March: EEST
    assert after == utc(2026, 4, 6, 6)
    assert trigger.get_next_fire_time(None, utc(2026, 3, 20)) == utc(2026, 3, 23, 7)  # EET
