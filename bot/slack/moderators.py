"""Who may run moderator commands in a Slack workspace.

A moderator is a workspace admin or owner (`users.info`: is_admin / is_owner /
is_primary_owner) or a member of the user group named by `STATEOF_SLACK_MODERATOR_GROUP`
(its handle, e.g. `survey-mods` or `@survey-mods`, or its display name; `usergroups.list`
with users). Answers are cached for `ttl` seconds so a burst of commands costs one lookup.
Any Slack error counts as "not a moderator" (the command is then refused politely).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class ModeratorCheck:
    """Cached admin/owner and user-group membership checks."""

    def __init__(self, group: str | None = None, *, ttl: float = 60.0):
        self.group = (group or "").strip().lstrip("@").lower() or None
        self.ttl = ttl
        self._users: dict[tuple[str, str], tuple[float, bool]] = {}
        self._groups: dict[str, tuple[float, set[str] | None]] = {}

    def forget(self) -> None:
        self._users.clear()
        self._groups.clear()

    async def is_moderator(self, client: AsyncWebClient, team_id: str, user_id: str) -> bool:
        key = (team_id, user_id)
        now = time.monotonic()
        cached = self._users.get(key)
        if cached and cached[0] > now:
            return cached[1]
        allowed = await self._is_admin(client, user_id)
        if not allowed and self.group:
            members = await self._group_members(client, team_id)
            allowed = members is not None and user_id in members
        self._users[key] = (now + self.ttl, allowed)
        return allowed

    async def _is_admin(self, client: AsyncWebClient, user_id: str) -> bool:
        try:
            user: dict[str, Any] = (await client.users_info(user=user_id))["user"]
        except SlackApiError as exc:
            log.warning("users.info failed: %s", _error(exc))
            return False
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    async def _group_members(self, client: AsyncWebClient, team_id: str) -> set[str] | None:
        now = time.monotonic()
        cached = self._groups.get(team_id)
        if cached and cached[0] > now:
            return cached[1]
        members: set[str] | None = None
        try:
            groups = (await client.usergroups_list(include_users=True))["usergroups"]
            for group in groups:
                names = {str(group.get("handle", "")).lower(), str(group.get("name", "")).lower()}
                if self.group in names:
                    users = group.get("users")
                    if users is None:
                        users = (await client.usergroups_users_list(usergroup=group["id"]))["users"]
                    members = set(users)
                    break
            else:
                log.warning("the moderator user group '%s' does not exist in workspace %s",
                            self.group, team_id)
        except SlackApiError as exc:
            log.warning("cannot read user groups (%s); only admins and owners are moderators",
                        _error(exc))
        self._groups[team_id] = (now + self.ttl, members)
        return members


def _error(exc: SlackApiError) -> str:
    response = exc.response
    return str(response.get("error")) if response is not None else str(exc)
