"""Several workers behind one load balancer (issue 10, "Across processes").

The Slack duplicate-delivery filter and "post the next DM question once" were kept in each
process's memory: a retried delivery or a double click reaching two workers was handled
twice. Both are claims in the database now (bot.once).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.services import build_services
from bot.slack.dm_render import DM_SELECT
from bot.slack.ratelimit import SlackRateLimiter
from surveys.catalog import Catalog
from surveys.db import Database
from surveys.models import WaveStatus
from surveys.waves import create_wave, ensure_community
from tests.conftest import use_version_1
from tests.fakes.slack import SlackHTTPClient, block_actions_body
from tests.faults.proxy import TCPProxy
from tests.slack.conftest import serve
from tests.slack.kit import SECRET, SlackBot
from tests.slack.test_dm_answering import DMMember


async def test_double_click_on_two_workers_posts_the_next_dm_question_once(fake, slack_settings,
                                                                           database_url):
    workers = []
    try:
        for _ in range(2):  # two workers: own process state (gates, memory), one database
            services = build_services(slack_settings, Database(database_url))
            use_version_1(services.catalog)  # written for version 1 of the built-in questionnaire
            runtime, runner, root = await serve(services, limiter=SlackRateLimiter(scale=50))
            workers.append((services, runtime, runner, SlackBot(fake, services, runtime,
                                                                 root + "/slack/events")))
        (first, *_), (second, *_) = workers
        bots = [w[3] for w in workers]
        await bots[0].launch()
        member = DMMember(bots[0])
        question = await member.start()
        arrived = asyncio.Barrier(2)  # both clicks read "before" before either stores

        def gated(flow):
            progress, waited = flow.progress, []

            async def progress_once_together(*args, **kwargs):
                if not waited:
                    waited.append(True)
                    await asyncio.wait_for(arrived.wait(), 10)
                return await progress(*args, **kwargs)
            return progress_once_together

        for services in (first, second):
            services.flow.progress = gated(services.flow)
        before = len(member.messages())
        # a double click on the first option: two deliveries (two trigger ids), one per worker
        clicks = [member.body(question, DM_SELECT, selected="data_scientist") for _ in bots]
        replies = await asyncio.gather(*(bot.post(body)
                                         for bot, (body, _url) in zip(bots, clicks, strict=True)))
        assert all(r.status == 200 for r in replies)
        await fake.wait_until(lambda: len(member.messages()) > before, what="the next question")
        await asyncio.sleep(1.0)  # a second post would have come by now
        assert len(member.messages()) == before + 1  # the next question, once
    finally:
        for services, runtime, runner, bot in workers:
            await bot.close()
            await runtime.stop()
            await runner.cleanup()
            await services.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _open_wave(url: str) -> int:
    db = Database(url)
    try:
        async with db.session() as session:
            community = await ensure_community(session, "default")
            community.weekly_summary_cron = None
            now = datetime.now(UTC)
            wave = await create_wave(session, community, Catalog().get("state-of-mlops"), "2026",
                                     opens_at=now, closes_at=now + timedelta(days=3), channels=[],
                                     status=WaveStatus.open)
            return wave.id
    finally:
        await db.dispose()


async def _healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(trust_env=False) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"stateof run exited:\n{proc.stdout.read()}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("stateof run did not come up")


@pytest.mark.slow
async def test_a_delivery_replayed_to_two_processes_is_handled_once(fake, database_url, tmp_path):
    wave_id = await _open_wave(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    env.update(STATEOF_DATABASE_URL=database_url, STATEOF_SECRET_KEY="process-test-secret-0123456789-abcd",
               SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.base_url)
    ports = [_free_port(), _free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-chat", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for port in ports]
    try:
        await asyncio.gather(*(_healthy(port, proc) for port, proc in zip(ports, procs, strict=True)))
        async with TCPProxy([("127.0.0.1", p) for p in ports]) as proxy, \
                SlackHTTPClient(f"http://127.0.0.1:{proxy.port}/slack/events", SECRET) as slack:
            clicks = [block_actions_body("take_survey", str(wave_id), user_id=f"UTWICE{i}") for i in range(3)]
            # Slack retries each delivery (same trigger_id); the balancer sends the copies to both workers
            sent = [slack.post(body, headers={"Connection": "close"}) for body in clicks for _ in range(2)]
            replies = await asyncio.gather(*sent)
            assert all(r.status == 200 for r in replies)
            assert min(proxy.per_target) >= 1  # both workers were reached
            await fake.wait_for("views.open", len(clicks), timeout=20)
            await asyncio.sleep(1.5)  # a second modal would have opened by now
        opened = fake.calls_to("views.open")
        assert len(opened) == len(clicks)  # one modal per click, not one per worker
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                output, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
            assert "Traceback" not in output, output
