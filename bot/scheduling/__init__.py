"""Recurring waves, reminders and the weekly summary (APScheduler, one leader, idempotent jobs).

`start_scheduler(services)` is what `stateof run` calls; see docs/scheduling.md.
"""

from bot.scheduling.clock import Clock, ManualClock, SystemClock
from bot.scheduling.delivery import DryRunNotifier, RetryPolicy
from bot.scheduling.keys import JobKey, JobKeyError, Ref
from bot.scheduling.labels import wave_label
from bot.scheduling.plan import Grace, PlannedJob
from bot.scheduling.scheduler import SchedulerRuntime, start_scheduler

__all__ = [
    "Clock", "DryRunNotifier", "Grace", "JobKey", "JobKeyError", "ManualClock", "PlannedJob", "Ref",
    "RetryPolicy", "SchedulerRuntime", "SystemClock", "start_scheduler", "wave_label",
]
