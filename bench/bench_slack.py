"""Slack under load: a burst of members answering in modals, and a paced DM fan-out.

    .venv/bin/python bench/bench_slack.py [--members 500] [--window 60] [--think 0.5]
        [--concurrency 50] [--dms 2000] [--scale 60] [--pg-url URL] [--write-results]

The bot runs as `stateof run` does (`bot.runner.run_bot`: migrations, scheduler, web
server, `start_slack` in HTTP mode) in its own process, with SLACK_API_URL pointing at the
fake Slack of `tests/fakes/` served by this process, which also plays Slack's signed
requests and the members. Measured in one run, on SQLite and (with `--pg-url`) PostgreSQL:

1. burst: `--members` members arrive evenly over `--window` seconds; each clicks "Take the
   survey" (the modal opens through views.open on the fake) and submits every page until
   the thanks page, `--think` seconds between requests. Every request must be acknowledged
   within Slack's 3 s; p50/p99/max are reported; all members must be completed in the DB.
2. throughput: `--concurrency` members answer back to back (requests per second), against
3. the reference: a bare Bolt app in its own process (same server stack: aiohttp + Bolt's
   signature check) whose listeners only `ack()`, driven by the same requests with the
   same concurrency. The ratio is 2 / 3.
4. DM fan-out: `lifecycle.remind` DMs `--dms` invited members through the Slack notifier
   while the fake enforces Slack's limits (conversations.open Tier 3 = 50/min, and
   chat.postMessage 1/s per channel), both scaled by `--scale` so the run takes seconds.
   The achieved rate must be at least 90% of the allowed rate, with no unhandled 429.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import aiohttp  # noqa: E402

from bench.common import CPUMeter, free_port, stop_process, write_section  # noqa: E402
from tests.fakes.slack import (  # noqa: E402
    FakeSlackAPI,
    SlackHTTPClient,
    block_actions_body,
    slash_command_body,
    view_submission_body,
)
from tests.slack.kit import fill, first_choice  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Slack"
SECRET = "bench-signing-secret"
MODERATOR = "UBENCHMOD"
CHANNEL = "CBENCH"

RUN_BOT = textwrap.dedent("""
    import asyncio, sys
    from bot.logs import setup_logging
    from bot.runner import run_bot
    from bot.settings import load_settings
    settings = load_settings()
    setup_logging(settings.log_format, settings.log_level)
    asyncio.run(run_bot(settings, host="127.0.0.1", port=int(sys.argv[1]), chat=False))
""")

BARE_BOT = textwrap.dedent("""
    import asyncio, logging, os, sys
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.app.async_server import AsyncSlackAppServer
    from slack_sdk.web.async_client import AsyncWebClient
    logging.basicConfig(level=logging.WARNING)
    app = AsyncApp(client=AsyncWebClient(token="xoxb-bench", base_url=os.environ["SLACK_API_URL"]),
                   signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @app.action("take_survey")
    async def take(ack):
        await ack()

    @app.view("stateof_page")
    async def page(ack):
        await ack()

    server = AsyncSlackAppServer(port=int(sys.argv[1]), path="/slack/events", app=app, host="127.0.0.1")
    web.run_app(server.web_app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
""")


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0

    def pct(self, p: float) -> float:
        values = sorted(self.latencies)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]

    @property
    def late(self) -> int:
        return sum(1 for v in self.latencies if v >= 3.0) + self.failures

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        return (f"{self.name}: {len(self.latencies)} requests in {self.elapsed:.1f} s "
                f"({self.rate:.0f}/s), ack p50 {self.pct(50) * 1000:.0f} ms, "
                f"p99 {self.pct(99) * 1000:.0f} ms, max {self.pct(100) * 1000:.0f} ms, "
                f"over 3 s or failed: {self.late}")


@dataclass
class ClickCost:
    """One throughput run: CPU per request of the bot and of the bare app, in the same run."""

    ours: Phase
    ref: Phase
    meter: CPUMeter
    bare_meter: CPUMeter

    @property
    def ours_ms(self) -> float:
        return self.meter.per_request_ms(len(self.ours.latencies))

    @property
    def bare_ms(self) -> float:
        return self.bare_meter.per_request_ms(len(self.ref.latencies))

    @property
    def ratio(self) -> float:
        return self.bare_ms / self.ours_ms if self.ours_ms else float("nan")

    def line(self) -> str:
        return (f"CPU per click: stateof {self.ours_ms:.2f} ms, bare Bolt app "
                f"{self.bare_ms:.2f} ms; ratio bare / stateof {self.ratio:.2f}")

    @staticmethod
    def summary(runs: list[ClickCost]) -> str:
        ours = sorted(r.ours_ms for r in runs)
        ratios = sorted(r.ratio for r in runs)
        mid = len(runs) // 2
        return (f"**CPU per click, {len(runs)} runs: stateof min {ours[0]:.2f} / median "
                f"{ours[mid]:.2f} ms; ratio to the bare Bolt app min {ratios[0]:.2f} / median "
                f"{ratios[mid]:.2f}** (target ≤ 2 ms and ≥ 0.2×)")


def prepare_database(url: str | None, workdir: Path) -> str:
    """A migrated, empty database: a new SQLite file, or the PostgreSQL one truncated."""
    from sqlalchemy import create_engine, text

    from surveys.db import sync_url
    from surveys.migrate import upgrade
    from surveys.models import Base

    if not url:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        upgrade(sync_url(url))
        return url
    upgrade(sync_url(url))
    engine = create_engine(sync_url(url))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


class Process:
    """A server process (the bot, or the bare Bolt app) answering on `port`."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, port: int):
        self.argv, self.env, self.log, self.port = argv, env, log, port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self, ready_path: str) -> None:
        self.proc = subprocess.Popen([*self.argv, str(self.port)], env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     cwd=self.log.parent)
        async with aiohttp.ClientSession(trust_env=False) as session:
            for _ in range(600):
                if self.proc.poll() is not None:
                    raise SystemExit(f"the process exited; see {self.log}")
                try:
                    async with session.request("GET" if ready_path == "/healthz" else "POST",
                                               f"http://127.0.0.1:{self.port}{ready_path}") as resp:
                        if resp.status < 500:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise SystemExit(f"the process did not start; see {self.log}")

    def stop(self) -> None:
        stop_process(self.proc)


class Views:
    """views.open on the fake, indexed by trigger_id so each member finds its own modal."""

    def __init__(self, fake: FakeSlackAPI):
        self.fake = fake
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.updates: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.saving = 0
        fake.handle("views.open", self._open)
        fake.handle("views.update", self._update)

    def expect_update(self, view_id: str) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.updates[view_id] = fut
        return fut

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        resp = self.fake._m_views_update(params, None)
        fut = self.updates.pop(str(params.get("view_id")), None)
        if fut is not None and not fut.done():
            fut.set_result(resp.get("view") or {})
        return resp

    def expect(self, trigger_id: str) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[trigger_id] = fut
        return fut

    def _open(self, params: dict[str, Any]) -> dict[str, Any]:
        resp = self.fake._m_views_open(params, None)
        fut = self.waiting.pop(str(params.get("trigger_id")), None)
        if fut is not None and not fut.done():
            fut.set_result(resp.get("view") or {})
        return resp


def chooser(rng: random.Random):
    def choose(block: dict[str, Any]) -> Any:
        el = block["element"]
        if el["type"] in ("multi_static_select", "checkboxes"):
            values = [o["value"] for o in el["options"]]
            top = min(int(el.get("max_selected_items") or len(values)), len(values))
            return {"type": el["type"], "selected_options": [
                {"text": {"type": "plain_text", "text": v}, "value": v}
                for v in rng.sample(values, rng.randint(1, top))]}
        return first_choice(block)
    return choose


async def member_answers(http: SlackHTTPClient, views: Views | None, user: str, wave_id: int,
                         phase: Phase, rng: random.Random, think: float,
                         template: dict[str, Any] | None = None) -> bool:
    """One member: the button, then every page. Without `views` (the bare app) the pages of
    `template` are replayed (same bodies, same sizes)."""

    async def post(body: bytes) -> Any:
        if think:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        started = time.perf_counter()
        try:
            resp = await http.post(body)
        except aiohttp.ClientError:
            phase.failures += 1
            return None
        phase.latencies.append(time.perf_counter() - started)
        if resp.status != 200:
            phase.failures += 1
            return None
        return resp.body

    trigger = f"{time.time():.0f}.{user}.bench"
    opened = views.expect(trigger) if views else None
    await post(block_actions_body("take_survey", str(wave_id), user_id=user, trigger_id=trigger))
    if opened is None:
        for body in (template or {}).get("pages", []):
            await post(body)
        return True
    try:
        view = await asyncio.wait_for(opened, 10)
    except TimeoutError:
        phase.failures += 1
        return False
    for _ in range(20):
        if not view.get("submit"):
            return "Thank you" in json.dumps(view)
        body = view_submission_body(view["callback_id"], view["private_metadata"],
                                    fill(view, chooser(rng)), user_id=user, view_id=view["id"])
        if template is not None and len(template.setdefault("pages", [])) < 6:
            template["pages"].append(body)
        updated = views.expect_update(view["id"])
        answer = await post(body)
        if not isinstance(answer, dict) or answer.get("response_action") != "update":
            return False
        if "Saving your answers" in json.dumps(answer["view"]):  # acked first, page follows
            views.saving += 1
            try:
                answer = {"view": await asyncio.wait_for(updated, 30)}
            except TimeoutError:
                phase.failures += 1
                return False
        views.updates.pop(view["id"], None)
        view = {**answer["view"], "id": view["id"]}
    return False


async def launch(http: SlackHTTPClient, fake: FakeSlackAPI, label: str) -> int:
    body = slash_command_body("/survey", f"launch state-of-mlops {label} <#{CHANNEL}|bench>",
                              user_id=MODERATOR, channel_id=CHANNEL,
                              response_url=fake.response_url("launch"))
    resp = await http.post(body)
    assert resp.status == 200, resp
    (reply,) = await fake.wait_for_response("launch", timeout=60)
    assert "is open" in reply["text"], reply
    post = fake.messages_in(CHANNEL)[-1]
    take = next(e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "take_survey")
    return int(take["value"])


async def completed_in(url: str) -> int:
    from sqlalchemy import func, select

    from surveys.db import Database
    from surveys.models import Response

    db = Database(url)
    try:
        async with db.session() as session:
            return (await session.execute(select(func.count()).select_from(Response)
                                          .where(Response.completed_at.is_not(None)))).scalar_one()
    finally:
        await db.dispose()


async def closed_loop(http: SlackHTTPClient, views: Views | None, wave_id: int, members: int,
                      concurrency: int, prefix: str, template: dict[str, Any] | None,
                      users: str = "") -> Phase:
    phase = Phase(prefix)
    queue = list(range(members))
    rng = random.Random(7)

    async def worker() -> None:
        while queue:
            i = queue.pop()
            await member_answers(http, views, f"U{users or prefix.upper()[:3]}{i:05d}", wave_id, phase,
                                 random.Random(rng.random()), 0.0, template)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.elapsed = time.perf_counter() - started
    return phase


async def burst_run(args: argparse.Namespace, url: str, workdir: Path, env: dict[str, str]) -> list[str]:
    lines: list[str] = []
    async with FakeSlackAPI(validate_blocks=True) as fake:
        fake.add_user(MODERATOR, is_admin=True)
        fake.set_members(CHANNEL, [MODERATOR])
        views = Views(fake)
        bot_env = {**env, "STATEOF_DATABASE_URL": url, "SLACK_API_URL": fake.base_url,
                   "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET}
        bot = Process([sys.executable, "-c", RUN_BOT], bot_env, workdir / "stateof.log", free_port())
        bare = Process([sys.executable, "-c", BARE_BOT], bot_env, workdir / "bare.log", free_port())
        await bot.start("/healthz")
        runs: list[ClickCost] = []
        try:
            async with SlackHTTPClient(bot.url, SECRET) as http:
                wave_id = await launch(http, fake, "burst")
                burst = Phase("burst")
                rng = random.Random(1)

                async def arrive(i: int) -> bool:
                    await asyncio.sleep(args.window * i / args.members)
                    return await member_answers(http, views, f"UB{i:05d}", wave_id, burst,
                                                random.Random(rng.random()), args.think)

                started = time.perf_counter()
                done = await asyncio.gather(*(arrive(i) for i in range(args.members)))
                burst.elapsed = time.perf_counter() - started
                stored = await completed_in(url)
                lines.append(burst.line())
                lines.append(f"burst: {sum(done)} of {args.members} members reached the thanks "
                             f"page; completed in the database: {stored}; pages acked as "
                             f"\"saving\" and delivered by views.update: {views.saving}")
                template: dict[str, Any] = {}
                await bare.start("/slack/events")
                async with SlackHTTPClient(bare.url, SECRET) as bare_http:
                    for run in range(args.runs):  # ours and the bare app alternate
                        meter = CPUMeter(bot.proc.pid)
                        meter.start()
                        ours = await closed_loop(http, views, wave_id, args.throughput_members,
                                                 args.concurrency, "stateof", template, f"S{run}")
                        meter.stop()
                        bare_meter = CPUMeter(bare.proc.pid)
                        bare_meter.start()
                        ref = await closed_loop(bare_http, None, wave_id, args.throughput_members,
                                                args.concurrency, "bare", template, f"B{run}")
                        bare_meter.stop()
                        runs.append(ClickCost(ours, ref, meter, bare_meter))
        finally:
            bot.stop()
            bare.stop()
        for cost in runs:
            lines.append(cost.ours.line())
            lines.append(cost.ref.line().replace("bare", "reference (bare Bolt app, ack only)"))
            lines.append(cost.line())
        lines.append(ClickCost.summary(runs))
        ours, ref = runs[-1].ours, runs[-1].ref
        lines.append(f"throughput ratio stateof / bare Bolt: {ours.rate / ref.rate:.2f} "
                     f"(concurrency {args.concurrency}, last run)")
        ok = burst.late == 0 and stored == args.members
        lines.append(f"every ack under 3 s and every member stored: {'yes' if ok else 'NO'}")
    return lines


async def fanout_run(args: argparse.Namespace, url: str) -> list[str]:
    from aiohttp import web

    from bot import lifecycle
    from bot.services import build_services
    from bot.settings import Settings
    from bot.slack.ratelimit import TIER_PER_MINUTE, SlackRateLimiter
    from bot.slack.runtime import start_slack
    from surveys.models import Community
    from surveys.ports import ChannelRef

    async with FakeSlackAPI() as fake:
        allowed = TIER_PER_MINUTE[3] * args.scale / 60.0  # conversations.open, per second
        fake.enforce_limit("conversations.open", per_second=allowed)
        fake.enforce_limit("chat.postMessage", per_second=1.0 * args.scale, key="channel")
        members = [f"UDM{i:05d}" for i in range(args.dms)]
        fake.set_members(CHANNEL, members)
        settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789-abcdefghijkl",
                            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                            slack_api_url=fake.base_url, _env_file=None)
        services = build_services(settings)
        runtime = await start_slack(services, web.Application(),
                                    limiter=SlackRateLimiter(scale=args.scale))
        try:
            community = await services.community_for("slack", fake.team_id)
            async with services.db.session() as session:
                row = await session.get(Community, community.id)
                row.summary_channels = []
            wave, _posted = await lifecycle.launch(services, community, "state-of-mlops", "fanout",
                                          [ChannelRef("slack", fake.team_id, CHANNEL)])
            fake.reset_calls()
            started = time.perf_counter()
            result = await lifecycle.remind(services, wave.id)
            elapsed = time.perf_counter() - started
        finally:
            await runtime.stop()
            await services.close()
        achieved = result.sent / elapsed
        stats = runtime.clients.limiter.stats
        unhandled = stats.gave_up["conversations.open"] + stats.gave_up["chat.postMessage"] + result.failed
        ratio = achieved / allowed
        return [
            f"DM fan-out: {result.sent} of {args.dms} DMs in {elapsed:.1f} s = {achieved:.1f}/s; "
            f"allowed (conversations.open Tier 3 × {args.scale:g}) {allowed:.1f}/s; "
            f"ratio {ratio:.2f}",
            f"DM fan-out: 429s from the fake: {sum(fake.limit_hits.values())}, retried: "
            f"{sum(stats.retried.values())}, unhandled: {unhandled}; "
            f"at least 90% of the allowed rate: {'yes' if ratio >= 0.9 and unhandled == 0 else 'NO'}",
        ]


async def main(args: argparse.Namespace) -> int:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
    env.update({"STATEOF_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijkl",
                "STATEOF_LOG_LEVEL": "WARNING"})
    out = [f"Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} CPUs: `bench/bench_slack.py "
           f"--members {args.members} --window {args.window:g} --think {args.think:g} "
           f"--concurrency {args.concurrency} --dms {args.dms} --scale {args.scale:g}`", ""]
    databases = [("SQLite", None)] + ([("PostgreSQL", args.pg_url)] if args.pg_url else [])
    for label, given in databases:
        workdir = Path(tempfile.mkdtemp(prefix="bench-slack-"))
        url = prepare_database(given, workdir)
        print(f"== {label}: burst of {args.members} members (logs in {workdir})", flush=True)
        lines = await burst_run(args, url, workdir, env)
        out.append(f"### {label}")
        out += [f"- {line}" for line in lines]
        out.append("")
        print("\n".join(lines), flush=True)
    if args.dms:
        workdir = Path(tempfile.mkdtemp(prefix="bench-slack-"))
        print(f"== DM fan-out to {args.dms} members", flush=True)
        lines = await fanout_run(args, prepare_database(None, workdir))
        out.append("### DM fan-out (SQLite)")
        out += [f"- {line}" for line in lines]
        print("\n".join(lines), flush=True)
    if args.write_results:
        write_section(RESULTS, HEADING, "\n".join(out))
        print(f"written to {RESULTS}")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=500)
    p.add_argument("--window", type=float, default=60.0)
    p.add_argument("--think", type=float, default=0.5)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--throughput-members", type=int, default=200)
    p.add_argument("--runs", type=int, default=3, help="throughput runs (ours and bare alternate)")
    p.add_argument("--dms", type=int, default=2000, help="0: no DM fan-out")
    p.add_argument("--scale", type=float, default=60.0)
    p.add_argument("--pg-url", default=None)
    p.add_argument("--write-results", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
