"""OAuth installations and OAuth states kept in our database (slack_installations,
slack_oauth_states), so one deployment serves many workspaces and every HTTP worker
behind a load balancer sees the same installations.

`SQLInstallationStore` implements slack_sdk's `AsyncInstallationStore` (Bolt's authorize
middleware calls `async_find_bot` on each request; the newest installation of a workspace
wins) and `SQLOAuthStateStore` its `AsyncOAuthStateStore` (one-time `state` values for
/slack/install → /slack/oauth_redirect). Bot lookups are cached for `cache_seconds`.

Secrets at rest: the bot and user tokens, refresh tokens and the incoming-webhook URL are
sealed together in `sealed_secrets` with a key derived from STATEOF_SECRET_KEY
(surveys.sealing); a database dump holds no usable token. A row sealed under another key
is treated as no installation (logged once per lookup: reinstall the app or restore the key).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, select

from surveys.db import Database, rows_changed
from surveys.models import SlackInstallation, SlackOAuthState, utcnow
from surveys.sealing import SLACK_TOKENS, Sealer, SealError

log = logging.getLogger(__name__)

SECRET_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token",
                 "incoming_webhook_url")


def split_secrets(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public fields, secret fields that are set) of an installation dict."""
    public = {k: v for k, v in data.items() if k not in SECRET_FIELDS}
    hidden = {k: data[k] for k in SECRET_FIELDS if data.get(k)}
    return public, hidden


def seal_secrets(secret: bytes, values: dict[str, Any]) -> str:
    return Sealer(secret, SLACK_TOKENS).seal(json.dumps(values, sort_keys=True))


def open_secrets(secret: bytes, sealed: str) -> dict[str, Any]:
    """The secret fields; SealError when another key sealed them."""
    return dict(json.loads(Sealer(secret, SLACK_TOKENS).open(sealed)))


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


class SQLInstallationStore(AsyncInstallationStore):
    """Slack installations in the `slack_installations` table."""

    def __init__(self, db: Database, client_id: str = "", *, secret: bytes,
                 cache_seconds: float = 30.0):
        self.db = db
        self.secret = secret
        self.client_id = client_id
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str | None, str | None], tuple[float, Installation | None]] = {}

    @property
    def logger(self) -> logging.Logger:
        return log

    # -- writing ---------------------------------------------------------------------
    async def async_save(self, installation: Installation) -> None:
        data, hidden = split_secrets(_jsonable(installation.to_dict_for_copying()))
        team_id = None if installation.is_enterprise_install else installation.team_id
        async with self.db.session() as session:
            session.add(SlackInstallation(
                client_id=self.client_id, app_id=installation.app_id,
                enterprise_id=installation.enterprise_id, team_id=team_id,
                user_id=installation.user_id,
                sealed_secrets=seal_secrets(self.secret, hidden) if hidden else None,
                bot_id=installation.bot_id, bot_user_id=installation.bot_user_id,
                data=data, installed_at=utcnow(),
            ))
        self._cache.clear()
        log.info("Slack app installed in workspace %s", installation.team_id or installation.enterprise_id)

    async def async_save_bot(self, bot: Bot) -> None:
        """Bot-only saves (token rotation) are stored as an installation without a user."""
        data = bot.to_dict_for_copying()
        data.pop("custom_values", None)
        installation = Installation(
            user_id="", **{k: v for k, v in data.items() if k in _INSTALLATION_ARGS}
        )
        await self.async_save(installation)

    # -- reading ---------------------------------------------------------------------
    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        if is_enterprise_install:
            team_id = None
        key = (enterprise_id, team_id)
        cached = self._cache.get(key)
        now = time.monotonic()
        if user_id is None and cached and cached[0] > now:
            return cached[1]
        stmt = select(SlackInstallation).where(*_workspace(enterprise_id, team_id))
        if self.client_id:
            stmt = stmt.where(SlackInstallation.client_id == self.client_id)
        if user_id is not None:
            stmt = stmt.where(SlackInstallation.user_id == user_id)
        stmt = stmt.order_by(SlackInstallation.installed_at.desc(), SlackInstallation.id.desc()).limit(1)
        async with self.db.session() as session:
            row = (await session.execute(stmt)).scalar_one_or_none()
        found = self._to_installation(row) if row is not None else None
        if user_id is None:
            self._cache[key] = (now + self.cache_seconds, found)
        return found

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if installation is None or not installation.bot_token:
            return None
        return installation.to_bot()

    def _to_installation(self, row: SlackInstallation) -> Installation | None:
        hidden: dict[str, Any] = {}
        if row.sealed_secrets:
            try:
                hidden = open_secrets(self.secret, row.sealed_secrets)
            except SealError:
                log.error("the Slack tokens of workspace %s were sealed with another "
                          "STATEOF_SECRET_KEY: reinstall the app there or restore the key",
                          row.team_id or row.enterprise_id)
                return None
        data = {k: v for k, v in {**(row.data or {}), **hidden}.items() if k in _INSTALLATION_ARGS}
        data.update(
            app_id=row.app_id, enterprise_id=row.enterprise_id,
            team_id=row.team_id if row.team_id is not None else data.get("team_id"),
            bot_id=row.bot_id, bot_user_id=row.bot_user_id,
            user_id=row.user_id or data.get("user_id") or "",
        )
        data.setdefault("installed_at", row.installed_at.timestamp())
        return Installation(**data)

    # -- deleting (app_uninstalled / tokens_revoked) -----------------------------------
    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self._delete(enterprise_id, team_id, user_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._delete(enterprise_id, team_id, None)

    async def _delete(self, enterprise_id: str | None, team_id: str | None, user_id: str | None) -> None:
        stmt = delete(SlackInstallation).where(*_workspace(enterprise_id, team_id))
        if user_id is not None:
            stmt = stmt.where(SlackInstallation.user_id == user_id)
        async with self.db.session() as session:
            await session.execute(stmt)
        self._cache.clear()
        log.info("Slack installation removed for workspace %s", team_id or enterprise_id)


_INSTALLATION_ARGS = {
    "app_id", "enterprise_id", "enterprise_name", "enterprise_url", "team_id", "team_name",
    "bot_token", "bot_id", "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at",
    "user_id", "user_token", "user_scopes", "user_refresh_token", "user_token_expires_at",
    "incoming_webhook_url", "incoming_webhook_channel", "incoming_webhook_channel_id",
    "incoming_webhook_configuration_url", "is_enterprise_install", "token_type", "installed_at",
    "custom_values",
}


def _workspace(enterprise_id: str | None, team_id: str | None) -> list[Any]:
    """A workspace is its team id; an org-wide (Enterprise Grid) install has none."""
    if team_id is not None:
        return [SlackInstallation.team_id == team_id]
    return [SlackInstallation.team_id.is_(None), SlackInstallation.enterprise_id == enterprise_id]




class SQLOAuthStateStore(AsyncOAuthStateStore):
    """One-time OAuth `state` values in `slack_oauth_states`, valid for `expiration_seconds`."""

    def __init__(self, db: Database, expiration_seconds: int = 600):
        self.db = db
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.db.session() as session:
            await session.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at < now))
            session.add(SlackOAuthState(
                state=state, expires_at=now + timedelta(seconds=self.expiration_seconds)
            ))
        return state

    async def async_consume(self, state: str) -> bool:
        async with self.db.session() as session:
            result = await session.execute(
                delete(SlackOAuthState).where(
                    SlackOAuthState.state == state, SlackOAuthState.expires_at >= utcnow()
                )
            )
            return rows_changed(result) == 1
