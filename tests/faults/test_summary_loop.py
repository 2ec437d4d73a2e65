"""A summary does not hold the event loop while its chart is drawn (found by bench/soak.py).

Before: `summary_message` drew every chart of the summary (one per question, a second or
more each on a busy machine) in the event loop, to attach one. During each weekly summary
of the soak no click was answered for ~10 s: Discord interactions expired ("Unknown
interaction") and members were left on a page that never came.
"""

from __future__ import annotations

import asyncio
import threading
import time

from analytics import charts
from bot import lifecycle
from surveys.identity import Member
from surveys.models import WaveStatus
from surveys.waves import create_wave

DRAW = 0.3  # seconds one (stand-in) chart takes to draw
COUNT = 0.4  # seconds of CPU-bound counting (stand-in) in one summary


async def _wave_of_six(services):
    community = await services.community_for("slack", "T1")
    async with services.db.session() as session:
        wave = await create_wave(session, community, services.catalog.get("state-of-mlops"), "2026",
                                 status=WaveStatus.open)
    for i in range(6):
        await services.flow.submit(wave.id, Member("slack", "T1", f"U{i}"),
                                   {"title": "data_scientist", "role": "models"}, finish=True)
    return wave


async def _longest_stall(work):
    """Run `work` while a ticker stands for members' clicks; its result and the longest time
    the event loop answered nothing."""
    gaps: list[float] = []

    async def clicks_answered_meanwhile() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(clicks_answered_meanwhile())
    try:
        result = await work
    finally:
        ticker.cancel()
    return result, max(gaps)


async def test_the_summary_chart_is_drawn_alone_and_off_the_event_loop(services, monkeypatch):
    drawn: list[str] = []

    def slow_chart(summary, question_id):
        time.sleep(DRAW)  # blocking, as matplotlib is
        drawn.append(question_id)
        return b"PNG"

    monkeypatch.setattr(charts, "question_chart", slow_chart)
    monkeypatch.setattr(charts, "movers_chart", lambda summary, *a, **kw: None)  # nothing to compare
    wave = await _wave_of_six(services)
    message, stall = await _longest_stall(lifecycle.summary_message(services, wave, title="this week"))
    assert [a.filename for a in message.attachments] == [f"{drawn[0]}.png"]
    assert len(drawn) == 1, f"{len(drawn)} charts drawn to attach one"
    assert stall < DRAW * 0.8, f"the event loop stood still for {stall:.2f} s"


async def test_the_summary_is_counted_off_the_event_loop(services, monkeypatch):
    """Before: `build_summary` (pandas, result processing) ran in the event loop, so every
    weekly summary held all clicks for as long as counting took (soak: acks past 1 s)."""
    from analytics import service

    real = service.build_summary
    threads: list[int] = []

    async def slow_count(*args, **kwargs):
        threads.append(threading.get_ident())
        time.sleep(COUNT)  # blocking, as pandas is
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "build_summary", slow_count)
    wave = await _wave_of_six(services)
    message, stall = await _longest_stall(
        lifecycle.summary_message(services, wave, title="this week", charts=False))
    assert message.title == "this week" and "2026" in message.text
    assert threads and threading.get_ident() not in threads, "counted in the event loop's thread"
    assert stall < COUNT * 0.75, f"the event loop stood still for {stall:.2f} s"
