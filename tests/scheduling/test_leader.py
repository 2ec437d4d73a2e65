"""Several scheduler processes on one PostgreSQL: one leader, failover, nothing runs twice."""

from __future__ import annotations

import asyncio
import os
import random
import time

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from bot.scheduling.leader import PostgresAdvisoryLock, SingleProcess, leadership_for, psycopg_conninfo
from bot.services import build_services

from .conftest import SUMMARY, days, make_community, utc

PG_URL = os.environ.get("STATEOF_TEST_DATABASE_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (set STATEOF_TEST_DATABASE_URL)")


def test_sqlite_is_a_single_process_without_lock():
    assert isinstance(leadership_for("sqlite+aiosqlite:///x.db"), SingleProcess)
    assert isinstance(leadership_for("postgresql+psycopg://u:p@db:5433/stateof"), PostgresAdvisoryLock)
    conninfo = psycopg_conninfo("postgresql+psycopg://u:p%40ss@db:5433/stateof?sslmode=require")
    assert conninfo_to_dict(conninfo) == {"user": "u", "password": "p@ss", "host": "db", "port": "5433",
                                          "dbname": "stateof", "sslmode": "require"}


async def _until(predicate, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
async def two_processes(settings, services, clock, notifier, make_runtime):
    """Two scheduler runtimes with their own engines and lock connections (like two processes)."""
    await make_community(services, tz="UTC")
    clock.set(utc(2026, 11, 30, 8, 59))  # a Monday, a minute before the weekly summary
    other = build_services(settings)
    other.register_notifier(notifier)
    key = random.randint(1, 2**62)
    fast = {"standby_retry": 0.1, "check_interval": 0.1}
    url = settings.database_url
    first = await make_runtime(leadership=PostgresAdvisoryLock(url, key), name="first", **fast)
    second = await make_runtime(other, leadership=PostgresAdvisoryLock(url, key), name="second", **fast)
    yield first, second
    await second.stop(wait=1)
    await other.close()


@needs_pg
async def test_one_leader_failover_and_no_duplicate_summary(two_processes, clock, notifier, settings):
    first, second = two_processes
    assert first.is_leader and not second.is_leader
    assert second.scheduled_jobs() == []
    clock.set(utc(2026, 11, 30, 9))
    await first.run_until_idle()
    await second.run_until_idle()
    assert len(notifier.posts(SUMMARY.channel)) == 1

    # The leader's connection dies (its backend is terminated): the standby takes over.
    with psycopg.connect(psycopg_conninfo(settings.database_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first.leadership.backend_pid,))
    took = await _until(lambda: second.is_leader)
    assert took < 5
    await _until(lambda: not first.is_leader)
    await asyncio.sleep(0.5)  # the old leader keeps retrying and stays on standby
    assert not first.is_leader and first.apscheduler is None
    await second.run_until_idle()
    assert len(notifier.posts(SUMMARY.channel)) == 1  # not posted again by the new leader

    clock.set(utc(2026, 12, 7, 9))
    await second.run_until_idle()
    await first.run_until_idle()
    assert [p.at for p in notifier.posts(SUMMARY.channel)] == [utc(2026, 11, 30, 9), utc(2026, 12, 7, 9)]


@needs_pg
async def test_standby_takes_over_when_the_leader_stops(two_processes):
    first, second = two_processes
    assert first.is_leader
    await first.stop()
    assert await _until(lambda: second.is_leader) < 5


@needs_pg
async def test_changes_on_a_standby_reach_the_leader(two_processes, services):
    first, second = two_processes
    community = await services.default_community()
    await second.add_schedule(community.id, "state-of-mlops", "0 9 1 3 *", duration=days(30),
                              label_pattern="{year}", channels=[SUMMARY])
    assert second.scheduled_jobs() == []
    await _until(lambda: any(job_id == "open:schedule:1" for job_id, _ in first.scheduled_jobs()))
    assert dict(first.scheduled_jobs())["open:schedule:1"] == utc(2027, 3, 1, 9)
