"""A summary whose chart upload keeps failing is posted once (issue 10, item 2).

Before: the message and its upload were one retried unit, so every retry (the notifier's,
then the scheduler's every 10 minutes) posted the "has closed" message again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.scheduling import Grace, ManualClock, RetryPolicy, start_scheduler
from bot.scheduling.leader import SingleProcess
from surveys.models import Community, JobRun, Wave
from tests.scheduling.apclock import apscheduler_reads
from tests.scheduling.conftest import step_until
from tests.slack.kit import GENERAL


async def _no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


async def test_summary_posted_once_when_its_upload_keeps_failing(bot, fake, sservices, monkeypatch):
    # the summary carries one chart (rendering real ones is the analytics tests' business)
    monkeypatch.setattr("analytics.charts.lead_chart", lambda summary, question=None: ("movers.png", b"PNG"))
    wave_id = await bot.launch()
    now = datetime.now(UTC).replace(microsecond=0)
    async with sservices.db.session() as session:
        await session.execute(update(Community).values(weekly_summary_cron=None))
        await session.execute(
            update(Wave).where(Wave.id == wave_id).values(closes_at=now + timedelta(minutes=1)))
    fake.handle("files.completeUploadExternal", lambda params: {"ok": False, "error": "internal_error"})
    notifier = sservices.notifiers["slack"]
    notifier.upload_delays, notifier.sleep = (0.0, 0.0), _no_sleep
    clock = ManualClock(now)
    with apscheduler_reads(clock):
        runtime = await start_scheduler(sservices, clock=clock, leadership=SingleProcess(), resync_interval=0,
                                        retry=RetryPolicy(attempts=3), sleep=_no_sleep, grace=Grace())
        try:
            await step_until(runtime, clock, now + timedelta(hours=3))  # 18 retry slots of 10 minutes
        finally:
            await runtime.stop(wait=1)
    closed = [m for m in fake.messages_in(GENERAL) if "has closed" in str(m)]
    assert len(closed) == 1, f"{len(closed)} 'has closed' messages"
    assert len(fake.calls_to("files.completeUploadExternal")) == 3  # the upload alone was retried
    assert notifier.failed_uploads == 1
    async with sservices.db.session() as session:
        outcome = (await session.execute(select(JobRun.outcome).where(
            JobRun.job_key == f"summary:wave:{wave_id}"))).scalar_one()
    assert outcome == "done"
