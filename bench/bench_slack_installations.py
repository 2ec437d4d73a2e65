"""Slack installation stores: ours (bot/slack/installations.py) against slack_sdk's
AsyncSQLAlchemyInstallationStore, in the same run and the same kind of database.

Measures what decides between them (docs/operations.md, "Slack installations"):
- the length of a sealed secret against the String(200) columns of slack_sdk's tables
  (an expiring token's refresh token, sealed, does not fit);
- `async_find_bot` (Bolt's authorize step, on every request) per second over many
  workspaces: ours (sealed, 30 s cache), slack_sdk's as it is (plain text, no cache), and
  slack_sdk's behind its AsyncCacheableInstallationStore.

    python bench/bench_slack_installations.py [--workspaces 50] [--lookups 3000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.async_cacheable_installation_store import (
    AsyncCacheableInstallationStore,
)
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore

from bot.slack.installations import SQLInstallationStore
from surveys.db import Database, sync_url
from surveys.migrate import upgrade
from surveys.sealing import SLACK_TOKENS, Sealer

SECRET = b"k" * 32
COLUMN = 200  # slack_sdk: Column("bot_token", String(200)), and the refresh tokens alike


def _installation(i: int) -> Installation:
    return Installation(
        app_id="A1", enterprise_id=None, team_id=f"T{i:06d}", user_id=f"U{i:06d}",
        bot_token=f"xoxe.xoxb-1-{'b' * 140}{i}", bot_refresh_token=f"xoxe-1-{'r' * 140}{i}",
        bot_token_expires_in=43200, bot_id=f"B{i}", bot_user_id=f"UB{i}", bot_scopes=["chat:write"],
        incoming_webhook_url=f"https://hooks.slack.com/services/T{i:06d}/B00000000/{'X' * 24}",
    )


async def _rate(store, workspaces: int, lookups: int) -> float:
    started = time.perf_counter()
    for n in range(lookups):
        bot = await store.async_find_bot(enterprise_id=None, team_id=f"T{n % workspaces:06d}")
        assert bot is not None and bot.bot_token
    return lookups / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    sealer = Sealer(SECRET, SLACK_TOKENS)
    sample = _installation(1)
    values = {"bot_token (xoxb, not rotating)": f"xoxb-{'1' * 13}-{'2' * 13}-{'a' * 24}",
              "bot_token (rotating, xoxe.xoxb)": sample.bot_token,
              "bot_refresh_token": sample.bot_refresh_token,
              "incoming_webhook_url": sample.incoming_webhook_url}
    for field, value in values.items():
        sealed = len(sealer.seal(value or ""))
        print(f"- {field}: {len(value or '')} characters, sealed {sealed} "
              f"({'fits' if sealed <= COLUMN else 'does not fit'} slack_sdk's String({COLUMN}))")

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(sync_url(url))
        db = Database(url)
        ours = SQLInstallationStore(db, "client", secret=SECRET)
        theirs = AsyncSQLAlchemyInstallationStore("client", db.engine, bots_table_name="bench_sdk_bots",
                                                  installations_table_name="bench_sdk_installations")
        await theirs.create_tables()
        for i in range(args.workspaces):
            await ours.async_save(_installation(i))
            await theirs.async_save(_installation(i))
        rates = {
            "ours (sealed, cached 30 s)": await _rate(ours, args.workspaces, args.lookups),
            "slack_sdk (plain text)": await _rate(theirs, args.workspaces, args.lookups),
            "slack_sdk + AsyncCacheableInstallationStore": await _rate(
                AsyncCacheableInstallationStore(theirs), args.workspaces, args.lookups),
        }
        async with db.engine.begin() as conn:
            await conn.run_sync(theirs.metadata.drop_all)
        await db.engine.dispose()
    reference = rates["slack_sdk (plain text)"]
    print(f"- async_find_bot over {args.workspaces} workspaces, {args.lookups} lookups ({db.dialect}):")
    for name, rate in rates.items():
        print(f"  - {name}: {rate:,.0f}/s, ratio to slack_sdk's {rate / reference:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspaces", type=int, default=50)
    parser.add_argument("--lookups", type=int, default=3000)
    parser.add_argument("--database-url", default="")
    asyncio.run(main(parser.parse_args()))
