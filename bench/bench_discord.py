"""Discord under load: 500 members answer within a minute through the gateway fake.

    .venv/bin/python bench/bench_discord.py [--members 500] [--window 60] [--think 0.5]
                                            [--database-url URL] [--write-results]

The bot runs as `stateof run` does (`bot.runner.run_bot`: migrations, scheduler, web
server, `start_discord`) in its own process, pointed at the fake Discord of `tests/fakes/` by
DISCORD_API_URL / DISCORD_GATEWAY_URL. This process plays Discord and the members: each
member clicks "Take the survey" and answers every page through selects, grid selects, a
modal and Next/Finish, exactly as in `tests/discord/`.

Measured in one run:
1. load: `--members` members arrive evenly over `--window` seconds and answer with
   `--think` seconds between clicks. Every interaction must get its first callback within
   Discord's 3 s; p50/p95/p99/max are reported, and all answers must be in the database.
2. throughput: `--concurrency` members answer back to back, no think time (interactions
   per second), against
3. the reference: a bare discord.py client in its own process whose handler only
   acknowledges (`interaction.response.defer()`), driven by the same harness with the same
   concurrency and interaction kind (a select on an answer page). The ratio is 2 / 3.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from bench.common import CPUMeter, free_port, stop_process, write_part  # noqa: E402
from tests.discord.kit import DiscordMember, custom_ids  # noqa: E402
from tests.fakes.discord import FakeDiscord, InteractionRecord  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Discord"
INTRO = """\
`bench/bench_discord.py`: the bot runs `stateof run`'s `run_bot` in its own process against the
fake Discord (REST + gateway WebSocket); members answer the whole State of MLOps questionnaire
through the gateway: "Take the survey", a select per question and per grid row (every pick is
saved at once), a modal for the free text, Next/Finish (about 26 interactions per member).
"first" = gateway dispatch → the interaction's first callback (Discord's 3-second window:
the answer, or a deferral when the work takes over 1.5 s); "seen" = dispatch → the member sees
the final page (after a deferral: the edit). The reference is a bare discord.py client whose
handler only calls `interaction.response.defer()`, driven the same way in the same run.
At the peak the members click about 170 times a second, more than one bot process saves on
these 2 shared CPUs: clicks wait their turn, are deferred within 1.5 s of Discord creating
them, and the page follows once saved ("seen"); none misses the 3 seconds."""

# What `stateof run` does after reading its options (bot.cli.run → bot.runner.run_bot).
RUN_BOT = textwrap.dedent("""
    import asyncio, logging, sys
    from bot.logs import setup_logging
    from bot.runner import run_bot
    from bot.settings import load_settings
    settings = load_settings()
    setup_logging(settings.log_format, settings.log_level)
    main = run_bot(settings, host="127.0.0.1", port=int(sys.argv[1]), chat=False)
    if len(sys.argv) > 2:  # --profile: write a cProfile of the bot process
        import cProfile
        cProfile.run("asyncio.run(main)", sys.argv[2])
    else:
        asyncio.run(main)
""")

BARE_BOT = textwrap.dedent("""
    import asyncio, os, yarl, discord
    from discord.http import Route
    from discord.gateway import DiscordWebSocket
    Route.BASE = os.environ["DISCORD_API_URL"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])

    class Ack(discord.Client):
        async def on_interaction(self, interaction):
            await interaction.response.defer()

    Ack(intents=discord.Intents(guilds=True)).run(os.environ["DISCORD_TOKEN"], log_handler=None)
""")


@dataclass
class Phase:
    name: str
    records: list[InteractionRecord] = field(default_factory=list)
    elapsed: float = 0.0
    members: int = 0

    @property
    def latencies(self) -> list[float]:
        return sorted(r.latency for r in self.records if r.latency is not None)

    def pct(self, p: float) -> float:
        values = self.latencies
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]

    @property
    def settled(self) -> list[float]:
        """Seconds from dispatch until the member saw the final answer (after any deferral)."""
        return sorted(r.settled_at - r.dispatched_at for r in self.records if r.settled_at is not None)

    def settled_pct(self, p: float) -> float:
        values = self.settled
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]

    @property
    def late(self) -> int:
        return sum(1 for r in self.records if r.latency is None or r.latency >= 3.0)

    @property
    def rate(self) -> float:
        return len(self.records) / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        lat = self.latencies
        return (f"{self.name}: {len(self.records)} interactions in {self.elapsed:.1f} s "
                f"({self.rate:.0f}/s), first answer p50 {self.pct(50) * 1000:.0f} ms, "
                f"p95 {self.pct(95) * 1000:.0f} ms, p99 {self.pct(99) * 1000:.0f} ms, "
                f"max {(lat[-1] if lat else float('nan')) * 1000:.0f} ms, over 3 s: {self.late}, "
                f"deferred: {sum(1 for r in self.records if r.deferred)}; final answer seen p50 "
                f"{self.settled_pct(50) * 1000:.0f} ms, p99 {self.settled_pct(99) * 1000:.0f} ms")


def chooser(rng: random.Random):
    def choose(select: dict) -> list[str]:
        values = [o["value"] for o in select["options"] if not o["value"].startswith("~")]
        top = min(int(select.get("max_values") or 1), len(values))
        if top > 1:
            return rng.sample(values, rng.randint(1, top))
        return [rng.choice(values)]
    return choose


def prepare_database(url: str | None, workdir: Path) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if not url:
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    u = make_url(url)
    if u.get_backend_name() == "postgresql":  # a fresh database of its own
        admin = create_engine(u.set(drivername="postgresql+psycopg", database="postgres"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{u.database}"'))
        admin.dispose()
    return url


class Bot:
    """A bot process attached to the fake (`stateof run`, or the bare acknowledging client)."""

    def __init__(self, fake: FakeDiscord, env: dict[str, str], argv: list[str], log: Path):
        self.fake, self.env, self.argv, self.log = fake, env, argv, log
        self.proc: subprocess.Popen | None = None

    async def start(self, identified: int) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, cwd=self.log.parent)
        try:
            await self.fake.wait_identified(identified, timeout=60)
        except TimeoutError:
            raise SystemExit(f"the bot did not connect; see {self.log}") from None
        await asyncio.sleep(2.5)  # discord.py waits 2 s for more GUILD_CREATEs before on_ready

    def stop(self) -> None:
        stop_process(self.proc)


async def answer_survey(fake: FakeDiscord, announcement: dict, rng: random.Random,
                        think: float, phase: Phase) -> bool:
    # Discord lets a deferred answer follow for 15 minutes; wait long enough to see it.
    member = DiscordMember(fake, fake.add_member(fake.guild_id, f"m{len(fake.users)}"), timeout=120)
    if think:
        original = member._send

        async def paced(payload: dict) -> InteractionRecord:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            return await original(payload)

        member._send = paced  # type: ignore[method-assign]
    try:
        await member.take(announcement)
        thanks = await member.answer_all(chooser(rng), text="Getting models into production")
        return any(cid.endswith(":s") for cid in custom_ids(thanks, "stateof:nav:"))
    finally:
        phase.records.extend(member.records)


async def load(fake: FakeDiscord, announcement: dict, members: int, window: float, think: float,
               seed: int) -> tuple[Phase, int]:
    phase = Phase("load", members=members)
    rng = random.Random(seed)

    async def arrive(i: int) -> bool:
        await asyncio.sleep(window * i / members)
        return await answer_survey(fake, announcement, random.Random(rng.random()), think, phase)

    started = time.monotonic()
    done = await asyncio.gather(*(arrive(i) for i in range(members)), return_exceptions=True)
    phase.elapsed = time.monotonic() - started
    failures = [d for d in done if isinstance(d, BaseException)]
    if failures:
        print(f"  {len(failures)} members failed, first: {failures[0]!r}")
    return phase, sum(1 for d in done if d is True)


async def saturate_ours(fake: FakeDiscord, announcement: dict, concurrency: int, members: int) -> Phase:
    phase = Phase("throughput (stateof)", members=members)
    queue = list(range(members))

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        while queue:
            queue.pop()
            await answer_survey(fake, announcement, rng, 0.0, phase)

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    phase.elapsed = time.monotonic() - started
    return phase


async def saturate_bare(fake: FakeDiscord, page: dict, concurrency: int, count: int) -> Phase:
    phase = Phase("throughput (bare discord.py ack)")
    select = next(cid for cid in custom_ids(page, "stateof:pick:"))
    value = next(c for c in _components(page) if c.get("custom_id") == select)["options"][0]["value"]
    remaining = [count]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            payload = fake.click(page, select, user=fake.member, values=[value])
            phase.records.append(await fake.interact(payload, settle=False))

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.elapsed = time.monotonic() - started
    return phase


def _components(message: dict) -> list[dict]:
    from tests.fakes.discord import iter_components

    return list(iter_components(message.get("components")))


def completed_responses(url: str) -> int:
    from sqlalchemy import create_engine, text

    from surveys.db import sync_url

    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        done = conn.execute(text("SELECT count(*) FROM responses WHERE completed_at IS NOT NULL")).scalar()
    engine.dispose()
    return int(done or 0)


def write_results(db: str, block: str) -> None:
    """Replace this database's part of the "## Discord" section of bench/RESULTS.md."""
    write_part(RESULTS, HEADING, INTRO, db, block, order=("SQLite", "PostgreSQL"))


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-discord-"))
    url = prepare_database(args.database_url, workdir)
    async with FakeDiscord() as fake:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "DISCORD_", "STATEOF_"))}
        env.update({
            "STATEOF_DATABASE_URL": url, "STATEOF_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijkl",
            "DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_url,
            "DISCORD_GATEWAY_URL": fake.gateway_url, "STATEOF_DISCORD_GUILD": str(fake.guild_id),
            "STATEOF_LOG_LEVEL": "WARNING",
        })
        profile = [str(workdir / "bot.prof")] if args.profile else []
        stateof = Bot(fake, env, [sys.executable, "-c", RUN_BOT, str(free_port()), *profile],
                      workdir / "stateof.log")
        print(f"database: {url.split('@')[-1]}; bot log: {stateof.log}")
        await stateof.start(identified=1)
        print(f"bot process: {stateof.proc.pid}", flush=True)
        try:
            mod = DiscordMember(fake, fake.moderator)
            await mod.command("launch", {"survey": "state-of-mlops", "wave": "2026",
                                         "channel": fake.general})
            announcement = fake.channel_messages(fake.general)[-1]
            loaded, finished = await load(fake, announcement, args.members, args.window, args.think,
                                          args.seed)
            in_db = completed_responses(url)
            print(loaded.line())
            print(f"  members finished: {finished}/{args.members}; completed in the database: {in_db}")
            page_holder = DiscordMember(fake, fake.add_member(fake.guild_id, "page"))
            page = await page_holder.take(announcement)
            ours_runs: list[tuple[Phase, float]] = []
            for _ in range(args.runs):
                meter = CPUMeter(stateof.proc.pid)
                meter.start()
                ours = await saturate_ours(fake, announcement, args.concurrency,
                                           args.throughput_members)
                meter.stop()
                ours_runs.append((ours, meter.per_request_ms(len(ours.records))))
                print(ours.line(), f"; CPU per click {ours_runs[-1][1]:.2f} ms", flush=True)
        finally:
            stateof.stop()
        bare = Bot(fake, env, [sys.executable, "-c", BARE_BOT], workdir / "bare.log")
        await bare.start(identified=2)
        bare_runs: list[tuple[Phase, float]] = []
        try:
            for ours, _cpu in ours_runs:
                meter = CPUMeter(bare.proc.pid)
                meter.start()
                reference = await saturate_bare(fake, page, args.concurrency, len(ours.records))
                meter.stop()
                bare_runs.append((reference, meter.per_request_ms(len(reference.records))))
                print(reference.line(), f"; CPU per click {bare_runs[-1][1]:.2f} ms", flush=True)
        finally:
            bare.stop()
    ours, reference = ours_runs[-1][0], bare_runs[-1][0]
    cpu = cpu_summary([c for _, c in ours_runs], [c for _, c in bare_runs])
    print(cpu)
    ratio = ours.rate / reference.rate if reference.rate else float("nan")
    ok = loaded.late == 0 and finished == args.members and in_db >= args.members
    print(f"throughput ratio stateof / bare ack: {ratio:.2f}")
    print("PASS" if ok else "FAIL", "(every interaction answered within 3 s, all members stored)")
    if args.write_results:
        db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        write_results(db, textwrap.dedent(f"""\
            Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} CPUs (shared with other work), \
Python {sys.version.split()[0]}: `bench/bench_discord.py --members {args.members} \
--window {args.window:g} --think {args.think:g} --concurrency {args.concurrency}`

            | phase | n | per s | first p50 | p95 | p99 | max | over 3 s | deferred | seen p50 | seen p99 |
            |---|---|---|---|---|---|---|---|---|---|---|
            {_row(loaded)}
            {_row(ours)}
            {_row(reference)}

            - load: {args.members} members arriving over {args.window:g} s, {args.think:g} s (±50%)
              between clicks: {finished}/{args.members} reached the thank-you page; completed
              responses stored: {in_db}; every interaction answered within 3 s: \
{'yes' if loaded.late == 0 else 'NO'}.
            - throughput ratio, stateof / bare discord.py handler that only acknowledges,
              {args.concurrency} members in flight, same run (last of {args.runs}): {ratio:.2f}.
            - {cpu}
            """))
        print(f"wrote {RESULTS}")
    return 0 if ok else 1


def cpu_summary(ours: list[float], bare: list[float]) -> str:
    """CPU per click of the bot and of the bare handler (run i against run i): min / median."""
    ratios = sorted(b / o for o, b in zip(ours, bare, strict=True) if o)
    mine, mid = sorted(ours), len(ours) // 2
    return (f"**CPU per click ({len(ours)} runs): stateof min {mine[0]:.2f} / median "
            f"{mine[mid]:.2f} ms, bare discord.py handler median {sorted(bare)[mid]:.2f} ms; "
            f"ratio bare / stateof min {ratios[0]:.2f} / median {ratios[mid]:.2f}** "
            f"(target ≤ 2 ms and ≥ 0.2×)")


def _ms(seconds: float) -> str:
    return "—" if seconds != seconds else f"{seconds * 1000:.0f} ms"  # NaN: not measured


def _row(p: Phase) -> str:
    lat = p.latencies
    return (f"| {p.name} | {len(p.records)} | {p.rate:.0f} | {_ms(p.pct(50))} | {_ms(p.pct(95))} | "
            f"{_ms(p.pct(99))} | {_ms(lat[-1] if lat else float('nan'))} | {p.late} | "
            f"{sum(1 for r in p.records if r.deferred)} | {_ms(p.settled_pct(50))} | "
            f"{_ms(p.settled_pct(99))} |")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which members arrive")
    parser.add_argument("--think", type=float, default=0.5, help="seconds between a member's clicks")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--throughput-members", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="throughput runs of each")
    parser.add_argument("--database-url", help="default: a temporary SQLite file; a PostgreSQL "
                        "URL names a database that is dropped and created")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the bot process")
    parser.add_argument("--write-results", action="store_true", help=f"update our section of {RESULTS}")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(asyncio.run(main(parse())))
