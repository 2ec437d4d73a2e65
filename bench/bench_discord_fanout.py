"""Discord reminder fan-out against Discord's global rate limit: which share of it to use.

    .venv/bin/python bench/bench_discord_fanout.py [--members 600] [--shares 0.5,0.8,0.95,1.2]
                                                   [--write-results]

Discord allows a bot 50 REST requests per second in all (the global limit; interaction
callbacks and webhook follow-ups are exempt). A reminder costs two requests per member (open
the DM channel, send). `bot.discord.pacing.FanoutLimiter` spaces the bot's posts and DMs at
`FANOUT_SHARE` of the global limit. For each share this bench runs, in one process, the bot
(`start_discord`, as `stateof run` does) against the fake Discord of `tests/fakes/` with the
global limit enforced (a global 429 with Retry-After past 50 requests in a second), launches a
wave to `--members` members and the fake's 3 default ones (members intent: the channel's
members are invited) and runs
`lifecycle.remind` while a moderator's channel post goes out every second (what else a bot
sends during a fan-out: announcements, summaries, command results in DMs).

Reported per share: reminders sent, the fan-out's time and rate, its ratio to the global
limit, global 429s the fake returned, and the latency of the posts made meanwhile. The best
share is the highest one with no global 429 and posts answered within a second: a global 429
stalls every REST call of the bot (discord.py holds its global lock for the Retry-After).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from bench.common import write_section  # noqa: E402
from tests.fakes.discord import FakeDiscord  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Discord fan-out"
GLOBAL = 50.0


async def one_share(share: float, members: int, folder: Path) -> dict[str, float]:
    """One fan-out at `share` of the global limit on a fresh database; its figures."""
    import bot.discord.client as discord_client
    from bot import lifecycle
    from bot.discord.pacing import FanoutLimiter
    from bot.discord.runtime import start_discord
    from bot.services import build_services
    from bot.settings import Settings
    from surveys.migrate import upgrade
    from surveys.models import Community
    from surveys.ports import ChannelRef, Message

    discord_client.GUILD_READY_TIMEOUT = 0.05
    discord_client.IDENTIFY_INTERVAL = 0.0
    db = folder / f"fanout-{share}.db"
    upgrade(f"sqlite:///{db}")
    async with FakeDiscord() as fake:
        fake.members_intent_enabled = True
        for i in range(members):
            fake.add_member(fake.guild_id, f"member{i}")
        settings = Settings(database_url=f"sqlite+aiosqlite:///{db}",
                            secret_key="bench-secret-key-0123456789-abcdefghijkl",
                            secret_file=folder / ".secret", discord_token=fake.token,
                            discord_api_url=fake.api_url, discord_gateway_url=fake.gateway_url,
                            discord_guild=fake.guild_id, discord_members_intent=True, _env_file=None)
        services = build_services(settings)
        runtime = await start_discord(services)
        try:
            community = await services.community_for("discord", str(fake.guild_id))
            async with services.db.session() as session:
                row = await session.get(Community, community.id)
                assert row is not None
                row.summary_channels = []
            wave, _ = await lifecycle.launch(services, community, "state-of-mlops", "fanout",
                                             [ChannelRef("discord", str(fake.guild_id), str(fake.general))])
            runtime.notifier.limiter = FanoutLimiter(GLOBAL * share)
            fake.global_per_second = GLOBAL
            fake.global_limited = 0
            posts: list[float] = []
            channel = ChannelRef("discord", str(fake.guild_id), str(fake.summary_channel))

            async def moderator_posts() -> None:
                while True:
                    await asyncio.sleep(1.0)
                    started = time.perf_counter()
                    await runtime.notifier.post(channel, Message(title="meanwhile", text="a post"))
                    posts.append(time.perf_counter() - started)

            poster = asyncio.create_task(moderator_posts())
            started = time.perf_counter()
            try:
                result = await lifecycle.remind(services, wave.id)
            finally:
                poster.cancel()
            elapsed = time.perf_counter() - started
        finally:
            await runtime.stop()
            await services.close()
    return {"share": share, "sent": result.sent, "failed": result.failed, "seconds": elapsed,
            "requests_per_s": 2 * result.sent / elapsed, "limited": fake.global_limited,
            "post_p50": statistics.median(posts) if posts else float("nan"),
            "post_max": max(posts) if posts else float("nan"), "posts": len(posts)}


def table(rows: list[dict[str, float]]) -> str:
    """The results as Markdown, with the chosen share."""
    lines = ["| share | reminders sent | failed | time | requests/s | of the global limit | global 429s | "
             "posts meanwhile | post p50 | post max |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['share']:.2f} | {r['sent']:.0f} | {r['failed']:.0f} | {r['seconds']:.1f} s | "
                     f"{r['requests_per_s']:.1f} | {r['requests_per_s'] / GLOBAL:.2f} | {r['limited']:.0f} | "
                     f"{r['posts']:.0f} | {r['post_p50'] * 1000:.0f} ms | {r['post_max'] * 1000:.0f} ms |")
    good = [r for r in rows if r["limited"] == 0 and r["post_max"] < 1.0 and r["failed"] == 0]
    best = max(good, key=lambda r: r["share"]) if good else None
    lines.append("")
    lines.append(f"Highest share with no global 429, every reminder sent and posts within 1 s: "
                 f"{best['share']:.2f}" if best else "No share met the criteria.")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> str:
    shares = [float(s) for s in args.shares.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for share in shares:
            print(f"== share {share}", flush=True)
            rows.append(await one_share(share, args.members, Path(tmp)))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (f"Run {when}: `bench/bench_discord_fanout.py --members {args.members} --shares {args.shares}` "
            f"(SQLite; the fake enforces {GLOBAL:.0f} requests/s)\n\n" + table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=600)
    parser.add_argument("--shares", default="0.5,0.8,0.95,1.2")
    parser.add_argument("--write-results", action="store_true")
    arguments = parser.parse_args()
    block = asyncio.run(main(arguments))
    print(block)
    if arguments.write_results:
        write_section(RESULTS, HEADING, __doc__.split("\n\n")[2].strip() + "\n\n" + block)
