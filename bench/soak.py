"""Soak: members answer over Slack and Discord for a long run while the weekly summary runs
and the database fails over once; nothing acknowledged may be lost, nothing stored or posted twice.

    .venv/bin/python bench/soak.py [--minutes 30] [--members 5000] [--database-url URL]
        [--think 3] [--summary-every S] [--outage 5] [--write-results]

One `stateof run` process (`bot.runner.run_bot`: migrations, scheduler, web server, Slack in
HTTP mode and Discord) serves both fakes of `tests/fakes/`, which this process plays with the
members, exactly as `bench_slack.py` and `bench_discord.py` do (their member code is reused):
half the members answer in Slack modals (a page per submit), half in Discord (a select per
question and grid row, a modal for the free text, Next/Finish). Slack and Discord are linked
to one community and one wave, launched with `/survey launch` on each platform.

- Members arrive evenly over the run (leaving time for the last one to finish) and wait
  `--think` seconds (±50%) before each request, so about `members × 30 / minutes` requests
  a minute reach the bot; the think time shrinks for short runs so a member still finishes.
- Every `--summary-every` seconds the scheduler's weekly summary job (`bot.scheduling.jobs`,
  WEEKLY, with the scheduler's retrying notifiers) runs in the bot process under a key of
  its own: progress counts, `analytics` summary, chart, posted to both platforms.
- At the middle the database fails over once for `--outage` seconds. PostgreSQL: the bot
  reaches it through the TCP proxy of `tests/faults/proxy.py`, which drops every open
  connection and refuses new ones for that long. SQLite has no connection to drop: the bot
  process installs `tests/faults/outage.py` (every new session fails as a dropped
  connection does) for that long.

Reported (and with `--write-results` written to the "## Soak" section of bench/RESULTS.md):
RSS of the bot process when ready, after warm-up (the first summary), at the middle and at
the end (target: growth from warm-up to end < 10%); ack p99 (Slack: HTTP response; Discord:
first callback; target < 1 s); answers acknowledged vs stored (target: 0 lost); responses
stored twice (0); double posts (announcements and summaries per channel, against the posts
the job recorded as sent: 0). Exit status 1 when anything is lost, stored twice or posted
twice (and, with `--strict`, when the RSS or p99 target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import aiohttp  # noqa: E402

from bench import bench_discord, bench_slack  # noqa: E402
from bench.common import free_port, stop_process, write_part  # noqa: E402
from tests.discord.kit import DiscordMember, custom_ids, texts  # noqa: E402
from tests.fakes.discord import FakeDiscord  # noqa: E402
from tests.fakes.slack import FakeSlackAPI, SlackHTTPClient, SlackHTTPResponse  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Soak"
SECRET = bench_slack.SECRET
CHANNEL = bench_slack.CHANNEL
INTERACTIONS = 30  # about this many requests per member (Discord: ~26 clicks; Slack: ~7 pages)

# `stateof run` (bot.cli.run → bot.runner.run_bot) with two soak hooks: the weekly summary job
# run every few seconds under keys of its own, and (SQLite) a database outage on SIGUSR1.
INTRO = """\
`bench/soak.py` (see bench/README.md): one `stateof run` process serves the Slack and the
Discord fake; members arrive over the run and answer page by page with think time, the weekly
summary job runs every few seconds, and the database fails over once at the middle. Targets:
RSS growth after warm-up < 10%, ack p99 < 1 s, 0 acknowledged answers lost, 0 stored twice,
0 double posts (the last three fail the run, and CI)."""

RUN_BOT = textwrap.dedent("""
    import asyncio, json, os, signal, sys, time
    from datetime import timedelta
    import bot.runner as runner
    import bot.scheduling as scheduling
    from bot.logs import setup_logging
    from bot.scheduling.jobs import run_job
    from bot.scheduling.plan import WEEKLY, PlannedJob
    from bot.settings import load_settings

    port, every, events = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    outage_seconds = float(sys.argv[4])
    real_build, real_start = runner.build_services, scheduling.start_scheduler

    def emit(**event):
        with open(events, "a") as out:
            out.write(json.dumps(event) + "\\n")

    def build_services(settings, db=None):
        services = real_build(settings, db)
        if settings.database_url.startswith("sqlite"):
            from tests.faults.outage import Outage
            outage = Outage(services.db)
            def down():
                outage.begin(down=outage_seconds)
                emit(kind="outage", seconds=outage_seconds)
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, down)
        return services

    async def weekly(scheduler, services):
        community = await services.default_community()
        n = 0
        while True:
            await asyncio.sleep(every)
            n += 1
            key = f"summary:community:{community.id}:soak-{n}"
            # run_at a day on: the wave opened minutes ago, and a summary skips a wave younger than a day
            week_end = scheduler.clock.now() + timedelta(days=1, minutes=1)
            job = PlannedJob("soak:summary", WEEKLY, key, week_end, None, community.id, community.id,
                             "weekly summary (soak)", f"soak-{n}")
            started = time.monotonic()
            emit(kind="summary-start", n=n)
            try:
                outcome, error = await run_job(scheduler.context, job), ""
            except Exception as exc:
                outcome, error = "error", f"{type(exc).__name__}: {exc}"
            emit(kind="summary", n=n, key=key, outcome=outcome, error=error,
                 seconds=round(time.monotonic() - started, 3))

    async def start_scheduler(services, **options):
        scheduler = await real_start(services, **options)
        task = asyncio.get_running_loop().create_task(weekly(scheduler, services))
        services.background.add(task)
        task.add_done_callback(services.background.discard)
        return scheduler

    runner.build_services = build_services
    scheduling.start_scheduler = start_scheduler
    settings = load_settings()
    setup_logging(settings.log_format, settings.log_level)
    asyncio.run(runner.run_bot(settings, host="127.0.0.1", port=port, chat=False))
""")


UNSAVED_MARK = "our database is not answering"  # bot.answering.screens: the save was given up


@dataclass
class SlackAcks:
    """The last word on every Slack answer field, by (member, block): "acked" when the bot
    acknowledged the page (its next page, or "Saving…"), "told" when the member was then
    shown that the page could not be saved (input kept, to submit again)."""

    fields: dict[tuple[str, str], str] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    refused: int = 0  # pages answered with errors (e.g. the random picks broke a rule): not saved
    view_users: dict[str, str] = field(default_factory=dict)


class CountingSlackHTTP:
    """The signed Slack client, recording the answer fields of every acknowledged submission."""

    def __init__(self, http: SlackHTTPClient, acks: SlackAcks):
        self.http, self.acks = http, acks

    async def post(self, body: bytes, **kw: Any) -> SlackHTTPResponse:
        resp = await self.http.post(body, **kw)
        payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
        user = payload["user"]["id"]
        self.acks.members.add(user)
        if payload.get("type") == "view_submission" and resp.status == 200 \
                and isinstance(resp.body, dict) and resp.body.get("response_action") == "update":
            self.acks.view_users[str(payload["view"]["id"])] = user
            for block_id in payload["view"]["state"]["values"]:
                self.acks.fields[(user, block_id)] = "acked"
        elif resp.status == 200 and isinstance(resp.body, dict) \
                and resp.body.get("response_action") == "errors":
            self.acks.refused += 1
        return resp


class SoakViews(bench_slack.Views):
    """The fake's views.update, noting the pages a member was told could not be saved."""

    def __init__(self, fake: FakeSlackAPI, acks: SlackAcks):
        self.acks = acks
        super().__init__(fake)

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else view or {}
        user = self.acks.view_users.get(str(params.get("view_id")))
        if user and UNSAVED_MARK in json.dumps(view):
            for block in view.get("blocks", []):
                if block.get("type") == "input":
                    self.acks.fields[(user, block["block_id"])] = "told"
        return super()._update(params)


def slack_fields(acks: SlackAcks) -> tuple[int, int]:
    states = list(acks.fields.values())
    return states.count("acked"), states.count("told")


def discord_fields(records: list) -> tuple[int, int]:
    """(acknowledged, told not saved) answer fields: picks, range selects and free-text
    modals that got a callback, by (member, field); a later record of a field wins."""
    last: dict[tuple[Any, str], str] = {}
    for r in records:
        data = r.payload.get("data") or {}
        cid = str(data.get("custom_id", ""))
        if r.callback_type is None or not (r.payload.get("type") == 5 or cid.startswith(
                ("stateof:pick:", "stateof:range:"))):
            continue
        seen = json.dumps([r.callback_data, r.edits, r.followups], default=str)
        user = (r.payload.get("member") or {}).get("user", {}).get("id")
        last[(user, cid)] = "told" if UNSAVED_MARK in seen else "acked"
    states = list(last.values())
    return states.count("acked"), states.count("told")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# The failover proxy in a process of its own (this one is busy playing both platforms and the
# members; a proxy sharing its event loop would slow every database round trip of the bot).
PROXY = textwrap.dedent("""
    import asyncio, signal, sys
    from tests.faults.proxy import TCPProxy

    async def main():
        proxy = await TCPProxy([(sys.argv[1], int(sys.argv[2]))]).start(int(sys.argv[3]))
        seconds, loop, stop = float(sys.argv[4]), asyncio.get_running_loop(), asyncio.Event()

        async def fail():
            open_now = len(proxy._writers) // 2
            proxy.refuse()
            proxy.drop()
            await asyncio.sleep(seconds)
            proxy.heal()
            print(f"dropped {open_now} open connections and refused new ones for {seconds:g} s "
                  f"({proxy.connections} connections accepted by then)", flush=True)

        loop.add_signal_handler(signal.SIGUSR1, lambda: loop.create_task(fail()))
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await proxy.stop()

    asyncio.run(main())
""")


class Failover:
    """The database failover: the TCP proxy in front of PostgreSQL, or SIGUSR1 (SQLite)."""

    def __init__(self, url: str, seconds: float, workdir: Path):
        self.url, self.seconds, self.workdir = url, seconds, workdir
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "proxy.log"

    async def start(self) -> str:
        """The URL the bot should use."""
        if not self.url.startswith("postgresql"):
            return self.url
        from sqlalchemy.engine import make_url

        u = make_url(self.url)
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PROXY, u.host or "127.0.0.1", str(u.port or 5432), str(port),
             str(self.seconds)], stdout=self.log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        for _ in range(300):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit(f"the database proxy did not start; see {self.log}")
        return u.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

    async def fail(self, bot_pid: int) -> str:
        if self.proc is None:
            os.kill(bot_pid, signal.SIGUSR1)
            await asyncio.sleep(self.seconds)
            return (f"SQLite: every new database session of the bot failed for {self.seconds:g} s "
                    f"(tests/faults/outage.py)")
        os.kill(self.proc.pid, signal.SIGUSR1)
        await asyncio.sleep(self.seconds + 0.5)
        said = self.log.read_text().strip().splitlines()
        return "PostgreSQL: the TCP proxy (tests/faults/proxy.py) " + (said[-1] if said else "failed over")

    async def stop(self) -> None:
        stop_process(self.proc, wait=5)


async def database_counts(url: str, wave_id: int) -> dict[str, int]:
    from sqlalchemy import text

    from surveys.db import Database

    db = Database(url)
    try:
        async with db.session() as session:
            def one(sql: str, **params: Any) -> Any:
                return session.execute(text(sql), {"wave": wave_id, **params})
            return {
                "answers": (await one("SELECT count(*) FROM answers WHERE wave_id = :wave")).scalar_one(),
                "responses": (await one("SELECT count(*) FROM responses WHERE wave_id = :wave")).scalar_one(),
                "completed": (await one("SELECT count(*) FROM responses WHERE wave_id = :wave "
                                        "AND completed_at IS NOT NULL")).scalar_one(),
                "respondents_twice": (await one(
                    "SELECT count(*) FROM (SELECT respondent_id FROM responses WHERE wave_id = :wave "
                    "GROUP BY respondent_id HAVING count(*) > 1) AS t")).scalar_one(),
                "answers_twice": (await one(
                    "SELECT count(*) FROM (SELECT respondent_id FROM answers WHERE wave_id = :wave "
                    "GROUP BY respondent_id, question_id, row_id HAVING count(*) > 1) AS t")).scalar_one(),
                "summary_posts_sent": (await one(
                    "SELECT count(*) FROM job_runs WHERE job_key LIKE :k AND outcome = 'done'",
                    k="post:summary:community:%:soak-%")).scalar_one(),
                "summary_posts_slack": (await one(
                    "SELECT count(*) FROM job_runs WHERE job_key LIKE :k AND outcome = 'done'",
                    k="post:summary:community:%:soak-%:slack:%")).scalar_one(),
                "summary_posts_discord": (await one(
                    "SELECT count(*) FROM job_runs WHERE job_key LIKE :k AND outcome = 'done'",
                    k="post:summary:community:%:soak-%:discord:%")).scalar_one(),
            }
    finally:
        await db.dispose()


def slack_posts(fake: FakeSlackAPI, marker: str) -> int:
    return sum(1 for m in fake.messages_in(CHANNEL) if marker in json.dumps(m))


def discord_posts(fake: FakeDiscord, marker: str) -> int:
    return sum(1 for m in fake.channel_messages(fake.general) if marker in json.dumps(m))


@dataclass
class Run:
    args: argparse.Namespace
    seconds: float
    think: float
    summary_every: float
    rss: dict[str, float] = field(default_factory=dict)
    rss_samples: list[float] = field(default_factory=list)
    failover: str = ""
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan(args: argparse.Namespace) -> Run:
    seconds = args.minutes * 60
    # a member's session takes at most 40% of the run, so the last arrivals still finish
    think = min(args.think, 0.4 * seconds / INTERACTIONS)
    every = args.summary_every or max(15.0, min(300.0, seconds / 6))
    return Run(args, seconds, think, every)


async def soak(run: Run, url: str, workdir: Path) -> None:
    args = run.args
    failover = Failover(url, args.outage, workdir)
    bot_url = await failover.start()
    events = workdir / "events.jsonl"
    async with FakeSlackAPI(validate_blocks=True) as sfake, FakeDiscord() as dfake:
        sfake.add_user(bench_slack.MODERATOR, is_admin=True)
        sfake.set_members(CHANNEL, [bench_slack.MODERATOR])
        acks = SlackAcks()
        views = SoakViews(sfake, acks)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
        env.update({
            "STATEOF_DATABASE_URL": bot_url, "STATEOF_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijkl",
            "STATEOF_LOG_LEVEL": "WARNING", "STATEOF_COMMUNITY_SPACES": f"slack:{sfake.team_id}",
            "SLACK_API_URL": sfake.base_url, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
            "DISCORD_TOKEN": dfake.token, "DISCORD_API_URL": dfake.api_url,
            "DISCORD_GATEWAY_URL": dfake.gateway_url, "STATEOF_DISCORD_GUILD": str(dfake.guild_id),
            "PYTHONPATH": str(ROOT),
        })
        port = free_port()
        log_path = workdir / "stateof.log"
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_BOT, str(port), str(run.summary_every), str(events), str(args.outage)],
            env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT, cwd=workdir)
        try:
            await _wait_ready(proc, port, dfake, log_path)
            run.rss["ready"] = rss_mb(proc.pid)
            await _drive(run, proc, port, sfake, dfake, views, acks, failover, url, events)
        finally:
            stop_process(proc)
            await failover.stop()


async def _wait_ready(proc: subprocess.Popen, port: int, dfake: FakeDiscord, log_path: Path) -> None:
    async with aiohttp.ClientSession(trust_env=False) as session:
        for _ in range(1200):
            if proc.poll() is not None:
                raise SystemExit(f"the bot exited; see {log_path}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status < 500:
                        break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit(f"the bot did not start; see {log_path}")
    try:
        await dfake.wait_identified(1, timeout=60)
    except TimeoutError:
        raise SystemExit(f"the bot did not connect to Discord; see {log_path}") from None
    await asyncio.sleep(2.5)  # discord.py waits 2 s for more GUILD_CREATEs before on_ready


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _drive(run: Run, proc: subprocess.Popen, port: int, sfake: FakeSlackAPI, dfake: FakeDiscord,
                 views: SoakViews, acks: SlackAcks, failover: Failover, url: str, events: Path) -> None:
    args = run.args
    slack_phase = bench_slack.Phase("slack")
    discord_phase = bench_discord.Phase("discord")
    async with SlackHTTPClient(f"http://127.0.0.1:{port}/slack/events", SECRET) as raw_http:
        http = CountingSlackHTTP(raw_http, acks)
        wave_id = await bench_slack.launch(raw_http, sfake, "soak")
        mod = DiscordMember(dfake, dfake.moderator, timeout=60)
        reply = await mod.command("launch", {"survey": "state-of-mlops", "wave": "soak",
                                             "channel": dfake.general})
        announcement = dfake.channel_messages(dfake.general)[-1]
        if not custom_ids(announcement, "stateof:take:"):
            raise SystemExit(f"Discord did not announce the wave: {texts(reply)}")
        rng = random.Random(args.seed)
        member_time = INTERACTIONS * run.think
        window = max(run.seconds * 0.5, run.seconds - member_time * 1.3)
        slack_done: list[bool] = []
        discord_done: list[bool] = []

        async def slack_member(i: int, seed: float) -> None:
            ok = await bench_slack.member_answers(http, views, f"USOAK{i:05d}", wave_id, slack_phase,
                                                  random.Random(seed), run.think)
            slack_done.append(ok)

        async def discord_member(seed: float) -> None:
            try:
                ok = await bench_discord.answer_survey(dfake, announcement, random.Random(seed), run.think,
                                                       discord_phase)
            except Exception as exc:  # a member left hanging: counted, and the first one shown
                if not any(w.startswith("Discord member") for w in run.warnings):
                    run.warnings.append(f"Discord member failed: {exc!r}")
                ok = False
            discord_done.append(ok)

        async def arrive(i: int) -> None:
            await asyncio.sleep(window * i / args.members)
            seed = rng.random()
            await (slack_member(i, seed) if i % 2 == 0 else discord_member(seed))

        started = time.monotonic()
        members = asyncio.gather(*(arrive(i) for i in range(args.members)))

        async def at(fraction: float) -> None:
            await asyncio.sleep(max(0.0, started + run.seconds * fraction - time.monotonic()))

        async def sample_rss() -> None:
            while True:
                run.rss_samples.append(rss_mb(proc.pid))
                if "warm" not in run.rss and any(e["kind"] == "summary" for e in _events(events)):
                    run.rss["warm"] = run.rss_samples[-1]
                await asyncio.sleep(5)

        sampler = asyncio.create_task(sample_rss())
        try:
            await at(0.5)
            run.rss["middle"] = rss_mb(proc.pid)
            print(f"[{time.monotonic() - started:.0f} s] failover; load {load_average()}", flush=True)
            run.failover = await failover.fail(proc.pid)
            try:
                await asyncio.wait_for(asyncio.shield(members), max(1.0, started + run.seconds
                                                                    - time.monotonic()) + args.drain)
            except TimeoutError:
                run.warnings.append(f"members still answering {args.drain:g} s after the end: not counted")
            elapsed = time.monotonic() - started
            # let a summary that is running finish, so its posts are counted with their records
            await asyncio.sleep(2)
            for _ in range(60):
                if not _summary_running(events):
                    break
                await asyncio.sleep(1)
            run.rss["end"] = rss_mb(proc.pid)
        finally:
            sampler.cancel()
            members.cancel()
            with contextlib.suppress(BaseException):
                await members
        counts = await database_counts(url, wave_id)
        for _ in range(30):  # saves the bot is still retrying land before anything is counted
            await asyncio.sleep(2)
            again = await database_counts(url, wave_id)
            if again == counts:
                break
            counts = again
        _report(run, elapsed, slack_phase, discord_phase, acks, slack_done, discord_done, counts,
                sfake, dfake, views, events)


def _summary_running(events: Path) -> bool:
    """A weekly summary started in the bot and has not ended yet."""
    found = _events(events)
    return sum(e["kind"] == "summary-start" for e in found) > sum(e["kind"] == "summary" for e in found)


def _report(run: Run, elapsed: float, slack_phase: bench_slack.Phase, discord_phase: bench_discord.Phase,
            acks: SlackAcks, slack_done: list[bool], discord_done: list[bool], counts: dict[str, int],
            sfake: FakeSlackAPI, dfake: FakeDiscord, views: SoakViews, events: Path) -> None:
    args = run.args
    lines, fail = run.lines, run.failures
    s_acked, s_told = slack_fields(acks)
    d_acked, d_told = discord_fields(discord_phase.records)
    acked = s_acked + d_acked
    lost = max(0, acked - counts["answers"])
    extra = max(0, counts["answers"] - acked)
    d_users = {r.payload["member"]["user"]["id"] for r in discord_phase.records if r.payload.get("member")}
    started_members = len(acks.members) + len(d_users)
    thanks = sum(slack_done) + sum(discord_done)
    extra_responses = max(0, counts["responses"] - started_members)
    twice = counts["respondents_twice"] + counts["answers_twice"] + extra_responses
    s_lat = slack_phase.latencies
    d_lat = [r.latency for r in discord_phase.records if r.latency is not None]
    unanswered = sum(1 for r in discord_phase.records if r.latency is None) + slack_phase.failures
    p99 = pct(s_lat + d_lat, 99)
    summaries = [e for e in _events(events) if e["kind"] == "summary"]
    took = [e["seconds"] for e in summaries]
    s_posts = slack_posts(sfake, ": this week")
    d_posts = discord_posts(dfake, ": this week")
    s_sent, d_sent = counts["summary_posts_slack"], counts["summary_posts_discord"]
    double = max(0, s_posts - s_sent) + max(0, d_posts - d_sent)
    unrecorded = max(0, s_sent - s_posts) + max(0, d_sent - d_posts)
    announcements = (slack_posts(sfake, '"take_survey"'), discord_posts(dfake, "stateof:take:"))
    double += sum(max(0, n - 1) for n in announcements)
    warm = run.rss.get("warm", run.rss["ready"])
    growth = run.rss["end"] / warm - 1 if warm else float("nan")
    rss = run.rss
    lines += [
        f"members: {args.members} ({(args.members + 1) // 2} Slack, {args.members // 2} Discord) over "
        f"{elapsed / 60:.1f} min, think {run.think:.1f} s (±50%); reached the thank-you page: {thanks} "
        f"(Slack {sum(slack_done)}, Discord {sum(discord_done)}); completed in the database: "
        f"{counts['completed']}",
        f"requests: Slack {len(s_lat)} ({_spread(s_lat)}; \"Saving…\" then views.update: "
        f"{views.saving}; pages refused as invalid, where that member stops: {acks.refused}), "
        f"Discord {len(d_lat)} (first callback {_spread(d_lat)}, deferred "
        f"{sum(1 for r in discord_phase.records if r.deferred)}); unanswered or failed: {unanswered}",
        f"**ack p99 {p99 * 1000:.0f} ms** (target < 1 s: {'met' if p99 < 1 else 'MISSED'})",
        f"answer fields acknowledged: {acked} (Slack {s_acked}, Discord {d_acked}); stored: "
        f"{counts['answers']}; **lost: {lost}**; stored but not acknowledged (or acknowledged, then "
        f"shown as not saved): {extra}; shown \"could not save, still filled in\" and not saved "
        f"since: {s_told + d_told} (Slack {s_told}, Discord {d_told})",
        f"responses: {counts['responses']} for {started_members} members who started; **stored twice: "
        f"{twice}** (respondents with two responses {counts['respondents_twice']}, answer rows twice "
        f"{counts['answers_twice']})",
        f"weekly summary runs: {len(summaries)} every {run.summary_every:g} s, outcomes "
        f"{_tally(e['outcome'] for e in summaries)}, time p50 {pct(took, 50):.1f} s, "
        f"max {pct(took, 100):.1f} s; posts in the channels: Slack {s_posts}, "
        f"Discord {d_posts}; recorded as sent: {counts['summary_posts_sent']}; announcements per channel: "
        f"Slack {announcements[0]}, Discord {announcements[1]}; **double posts: {double}**"
        + (f"; recorded as sent but not in the channel: {unrecorded}" if unrecorded else ""),
        f"failover at the middle: {run.failover}",
        f"bot RSS: ready {rss['ready']:.0f} MB, after warm-up (first summary) {warm:.0f} MB, middle "
        f"{rss['middle']:.0f} MB, end {rss['end']:.0f} MB, max {max(run.rss_samples or [0]):.0f} MB; "
        f"**growth warm-up → end {growth:+.1%}** (target < 10%: {'met' if growth < 0.10 else 'MISSED'})",
    ]
    errors = [e for e in summaries if e["outcome"] == "error"]
    if errors:
        lines.append(f"summary errors (first): {errors[0]['error'].splitlines()[0][:200]}")
    lines += run.warnings
    if lost:
        fail.append(f"{lost} acknowledged answers lost")
    if thanks > counts["completed"]:
        fail.append(f"{thanks - counts['completed']} members saw the thank-you page but are not completed")
    if twice:
        fail.append(f"{twice} stored twice")
    if double:
        fail.append(f"{double} double posts")
    if args.strict and p99 >= 1:
        fail.append(f"ack p99 {p99 * 1000:.0f} ms ≥ 1 s")
    if args.strict and growth >= 0.10:
        fail.append(f"RSS grew {growth:.1%}")


def _spread(values: list[float]) -> str:
    return (f"p50 {pct(values, 50) * 1000:.0f} ms, p99 {pct(values, 99) * 1000:.0f} ms, "
            f"max {pct(values, 100) * 1000:.0f} ms")


def _tally(values: Any) -> str:
    found: dict[str, int] = {}
    for v in values:
        found[v] = found.get(v, 0) + 1
    return ", ".join(f"{k} {n}" for k, n in sorted(found.items())) or "none"


def write_results(title: str, block: str) -> None:
    """Replace the `title` run (e.g. "1 min, 60 members, PostgreSQL") in the "## Soak" section
    of bench/RESULTS.md; runs of other lengths and the other sections are kept."""
    write_part(RESULTS, HEADING, INTRO, title, block)


async def main(args: argparse.Namespace) -> int:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    run = plan(args)
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    url = bench_discord.prepare_database(args.database_url, workdir)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    load_before = load_average()
    print(f"soak: {args.members} members, {args.minutes:g} min, {backend}; load {load_before}; "
          f"logs in {workdir}", flush=True)
    await soak(run, url, workdir)
    head = (f"Run {time.strftime('%Y-%m-%d %H:%M')} UTC on {os.cpu_count()} CPUs shared with other work "
            f"(load average {load_before} at the start, {load_average()} at the end), {backend}: "
            f"`bench/soak.py --minutes {args.minutes:g} --members {args.members} --outage {args.outage:g}`")
    print("\n".join([head, *run.lines]))
    verdict = "PASS" if not run.failures else "FAIL: " + "; ".join(run.failures)
    print(verdict, flush=True)
    if args.write_results:
        write_results(f"{args.minutes:g} min, {args.members} members, {backend}",
                      "\n".join([head, "", *(f"- {line}" for line in run.lines), f"- verdict: {verdict}"]))
        print(f"written to {RESULTS}")
    return 0 if not run.failures else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--members", type=int, default=5000)
    p.add_argument("--think", type=float, default=3.0, help="seconds before each request (±50%%)")
    p.add_argument("--summary-every", type=float, default=0.0,
                   help="seconds between weekly summary runs (default: a sixth of the run, 15-300 s)")
    p.add_argument("--outage", type=float, default=5.0, help="seconds the database is down at the middle")
    p.add_argument("--drain", type=float, default=120.0,
                   help="seconds to wait after the run for members still answering")
    p.add_argument("--database-url", help="default: a temporary SQLite file; a PostgreSQL URL names a "
                   "database that is dropped and created")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--strict", action="store_true", help="also fail when the RSS or p99 target is missed")
    p.add_argument("--write-results", action="store_true", help=f"update the soak section of {RESULTS}")
    return p.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
