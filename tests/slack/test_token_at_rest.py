"""Issue 9, secrets at rest: Slack tokens from OAuth installs are sealed with a key derived from
STATEOF_SECRET_KEY; a dump of the database (every row, and on SQLite the file itself) holds no
usable token, and migration 0004p seals the rows stored before it."""

from __future__ import annotations

import json
from pathlib import Path

from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import create_engine, inspect, text

from bot.slack.installations import SQLInstallationStore
from surveys.db import Database, sync_url
from surveys.migrate import downgrade, upgrade

from ..conftest import PG_URL

BOT_TOKEN = "xoxb-1111-2222-SeCrEtBoTtOkEn"
USER_TOKEN = "xoxp-3333-4444-SeCrEtUsErToKeN"
REFRESH = "xoxe-1-SeCrEtReFrEsH"
WEBHOOK = "https://hooks.slack.com/services/T1/B1/SeCrEtWeBhOoK"
SECRETS = [BOT_TOKEN, USER_TOKEN, REFRESH, WEBHOOK, "SeCrEt"]


def _installation(team: str = "T1") -> Installation:
    return Installation(
        app_id="A1", team_id=team, team_name="Team", user_id="UINSTALLER", bot_id="B1",
        bot_user_id="UBOT", bot_token=BOT_TOKEN, bot_refresh_token=REFRESH, user_token=USER_TOKEN,
        incoming_webhook_url=WEBHOOK, bot_scopes=["chat:write"],
    )


def dump(url: str) -> str:
    """Every row of every table as text: what `pg_dump --data-only` or `.dump` would show."""
    engine = create_engine(sync_url(url))
    try:
        out = []
        with engine.connect() as conn:
            for table in inspect(engine).get_table_names():
                out += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
        return "\n".join(out)
    finally:
        engine.dispose()


def file_bytes(url: str) -> bytes:
    """The SQLite file and its WAL, as a copy of the disk would hold them."""
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


async def test_a_dump_holds_no_usable_token(db, database_url, services):
    store = SQLInstallationStore(db, "cid", secret=services.secret)
    await store.async_save(_installation())
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert (found.bot_token, found.user_token, found.bot_refresh_token, found.incoming_webhook_url) == (
        BOT_TOKEN, USER_TOKEN, REFRESH, WEBHOOK)
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == BOT_TOKEN

    rows = dump(database_url)
    assert "UINSTALLER" in rows  # the dump does show the installation
    assert not [s for s in SECRETS if s in rows], rows
    if database_url.startswith("sqlite"):
        raw = file_bytes(database_url)
        assert b"UINSTALLER" in raw and not [s for s in SECRETS if s.encode() in raw]

    # another key opens nothing: the workspace counts as not installed (reinstall or restore)
    stranger = SQLInstallationStore(db, "cid", secret=b"another-key-0123456789abcdef")
    assert await stranger.async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_migration_seals_tokens_stored_before_it(tmp_path, database_url, db):
    await db.dispose()
    url = sync_url(database_url) if PG_URL else f"sqlite:///{tmp_path / 'old.db'}"
    key = b"migration-key-0123456789abcdef"
    if PG_URL:
        downgrade(url, "0003")
    else:
        upgrade(url, "0003")
    engine = create_engine(url)
    data = {"team_name": "Team", "bot_scopes": ["chat:write"], "user_token": USER_TOKEN,
            "incoming_webhook_url": WEBHOOK}
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO slack_installations (client_id, app_id, team_id, user_id, bot_token, bot_id, "
            "bot_user_id, data, installed_at) VALUES ('cid', 'A1', 'T1', 'UINSTALLER', :token, 'B1', "
            "'UBOT', :data, '2026-01-01 10:00:00')"), {"token": BOT_TOKEN, "data": json.dumps(data)})
    engine.dispose()
    upgrade(url, secret_key=key)

    rows = dump(url)
    assert "UINSTALLER" in rows and not [s for s in SECRETS if s in rows], rows
    if not PG_URL:
        raw = file_bytes(url)  # VACUUMed: no freed page keeps the plaintext
        assert not [s for s in SECRETS if s.encode() in raw]
    migrated = Database(url.replace("sqlite://", "sqlite+aiosqlite://") if not PG_URL else database_url)
    try:
        store = SQLInstallationStore(migrated, "cid", secret=key)
        found = await store.async_find_installation(enterprise_id=None, team_id="T1")
        assert found is not None
        assert (found.bot_token, found.user_token, found.incoming_webhook_url) == (
            BOT_TOKEN, USER_TOKEN, WEBHOOK)
        assert found.team_name == "Team"
    finally:
        await migrated.dispose()
        if PG_URL:  # leave the shared database empty for the next test
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM slack_installations"))
            engine.dispose()
