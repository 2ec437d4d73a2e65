"""A local fake of Discord for tests: the REST API under /api/v10 and a gateway WebSocket.

The real discord.py client talks to it over real sockets on 127.0.0.1::

    async with FakeDiscord() as fake:
        discord.http.Route.BASE = fake.api_url                      # or DISCORD_API_URL
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)  # or DISCORD_GATEWAY_URL
        ... start the client with token ``fake.token`` ...
        await fake.wait_identified()
        record = await fake.interact(fake.command("survey", "status", user=fake.moderator))
        record.callback_type  # 4, 5, 6, 7, 8 or 9

REST: answers JSON with content-type exactly ``application/json`` (discord.py parses nothing
else), records every request (``fake.requests``, with decoded multipart files), keeps
messages (``fake.messages``; files in ``fake.files``), interaction callbacks, webhook
follow-ups and edits (``fake.interactions[id]``), synced commands (``fake.commands``) and
DMs. A DM to a user in ``fake.dm_closed`` fails with 403 / code 50007 like Discord. Failures
can be injected (``fake.inject(...)``: 429 with ``Retry-After`` and a ``Via`` header, as
discord.py needs to treat it as a rate limit rather than a Cloudflare ban; or any status).
Interactions follow Discord's rules: one callback per interaction (a second gets 400/40060),
a callback after ``deadline`` seconds gets 404/10062, the first follow-up after a deferred
"thinking" response edits the loading message.

Gateway (``/gateway``): HELLO → IDENTIFY → READY (guilds unavailable) + GUILD_CREATE per
guild (an IDENTIFY asking for the privileged members intent is closed with 4014 unless
``fake.members_intent_enabled``); heartbeats are ACKed, RESUME answers RESUMED (on the
resumed session's shard). Frames are plain JSON text (no zlib; discord.py accepts both).

Sharding as Discord does it: ``GET /gateway/bot`` recommends ``fake.shards`` shards (and
names ``fake.bot_gateway_url`` as the gateway when set, as Discord names its own); an
IDENTIFY with ``shard: [id, count]`` gets READY for that shard (``"shard": [id, count]``)
listing, and GUILD_CREATE for, only the guilds with ``(guild_id >> 22) % count == id``
(no ``shard`` means ``[0, 1]``; an id not below the count is closed with 4010). Events are
dispatched on the shard of their guild: ``fake.dispatch(event, data, guild_id=…)`` and
``send_interaction`` go to the sessions running that guild's shard, DMs to shard 0
(``fake.shard_of(guild_id, count)`` says which; ``fake.session_shards`` lists the running
ones).

Payload builders make interactions the way Discord sends them: ``command`` (a chat-input
command with a subcommand and typed options, resolved channels), ``autocomplete``,
``click`` (a button or select on a recorded message, with that message embedded) and
``modal_submit`` (Label components wrapping text inputs or selects).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "APP_ID",
    "GUILD_ID",
    "MANAGE_GUILD",
    "MEMBER_PERMISSIONS",
    "PNG_MAGIC",
    "FakeDiscord",
    "InteractionRecord",
    "RecordedRequest",
    "iter_components",
]

DISCORD_EPOCH = 1420070400000
APP_ID = 1100000000000000001
GUILD_ID = 1200000000000000001
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Permission bits (https://discord.com/developers/docs/topics/permissions)
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_HISTORY = 1 << 16
USE_APP_COMMANDS = 1 << 31
MEMBER_PERMISSIONS = (VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_HISTORY
                      | USE_APP_COMMANDS)

# Gateway opcodes
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 9, 10, 11

GUILD_MEMBERS_INTENT = 1 << 1

# Interaction callback types
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE_RESULT, MODAL = 1, 4, 5, 6, 7, 8, 9

EPHEMERAL = 1 << 6
LOADING = 1 << 7
COMPONENTS_V2 = 1 << 15


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Increasing Discord-style ids."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self, ago: float = 0.0) -> int:
        """A new id; `ago` seconds in the past (its timestamp is a creation time)."""
        ms = int((time.time() - ago) * 1000) - DISCORD_EPOCH
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: list[dict[str, Any]] = field(default_factory=list)  # {name, filename, content_type, data}
    status: int = 0
    at: float = 0.0


_RECORD = web.RequestKey("record", RecordedRequest) if hasattr(web, "RequestKey") else "record"


@dataclass
class InteractionRecord:
    """One interaction: its payload and everything the bot answered."""

    payload: dict[str, Any]
    dispatched_at: float = 0.0
    shards: list[tuple[int, int]] = field(default_factory=list)  # (id, count) of each delivery
    callback_type: int | None = None
    callback_data: dict[str, Any] | None = None
    callback_at: float | None = None
    callback_files: list[dict[str, Any]] = field(default_factory=list)
    rejected_callbacks: list[dict[str, Any]] = field(default_factory=list)
    message_id: int | None = None  # the response message (type 4/5) or the updated one (6/7)
    followups: list[dict[str, Any]] = field(default_factory=list)  # messages, in order
    edits: list[dict[str, Any]] = field(default_factory=list)  # PATCH @original bodies
    settled_at: float | None = None  # when the member saw the final answer
    _settled: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _answered: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def latency(self) -> float | None:
        """Seconds from dispatch to the first callback (Discord's 3-second window)."""
        return None if self.callback_at is None else self.callback_at - self.dispatched_at

    @property
    def deferred(self) -> bool:
        return self.callback_type in (DEFERRED_MESSAGE, DEFERRED_UPDATE)

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.callback_data if self.callback_type == MODAL else None

    @property
    def choices(self) -> list[dict[str, Any]]:
        if self.callback_type != AUTOCOMPLETE_RESULT or not self.callback_data:
            return []
        return list(self.callback_data.get("choices", []))


def iter_components(components: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Every component in a (possibly nested) component tree, depth first."""
    for comp in components or []:
        yield comp
        if comp.get("components"):
            yield from iter_components(comp["components"])
        if comp.get("component"):
            yield from iter_components([comp["component"]])
        if comp.get("accessory"):
            yield from iter_components([comp["accessory"]])


@dataclass
class Injection:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakeDiscord:
    """The fake Discord: one HTTP server for REST and the gateway."""

    def __init__(self, *, token: str = "fake-discord-token", deadline: float = 3.0,
                 guild_id: int = GUILD_ID, guild_name: str = "Fake Guild"):
        self.token = token
        self.deadline = deadline
        self.ids = Snowflakes()
        self.app_id = APP_ID
        self.bot_user = self.user_payload(APP_ID, "stateof", bot=True)
        self.users: dict[int, dict[str, Any]] = {APP_ID: self.bot_user}
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.files: dict[int, bytes] = {}  # attachment id → bytes
        self.requests: list[RecordedRequest] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None = global)
        self.dm_closed: set[int] = set()
        self.members_intent_enabled = False  # the portal switch for the privileged intent
        # READY's resume_gateway_url (None: this fake). Discord names its own regional host there,
        # which a client behind a gateway proxy must not follow.
        self.resume_gateway_url: str | None = None
        self.invalidate_resumes = False  # answer RESUME with INVALID_SESSION (d=false)
        self.dm_channels: dict[int, int] = {}  # user id → DM channel id
        self.identifies: list[dict[str, Any]] = []
        self.shards = 1  # what GET /gateway/bot recommends
        # the URL GET /gateway/bot names (None: this fake); Discord names its own gateway there
        self.bot_gateway_url: str | None = None
        self._shard_of_session: dict[str, tuple[int, int]] = {}  # session id → (id, count)
        self.sessions: list[_Session] = []
        self._injections: list[Injection] = []
        # Discord's global limit (requests per second per bot; None: not enforced). Interaction
        # callbacks and webhooks (follow-ups, edits of a response) are exempt, as on Discord.
        self.global_per_second: float | None = None
        self.global_limited = 0  # requests refused with a global 429
        self._global_window: collections.deque[float] = collections.deque()
        self._identified = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        # the default guild: two text channels, a moderator role, a moderator and members
        self.guild_id = guild_id
        self.add_guild(guild_id, guild_name)
        self.general = self.add_channel(guild_id, "general")
        self.summary_channel = self.add_channel(guild_id, "survey-results")
        self.moderator_role = self.add_role(guild_id, "Survey team")
        self.owner = self.add_member(guild_id, "owner", permissions=ADMINISTRATOR | MEMBER_PERMISSIONS)
        self.moderator = self.add_member(guild_id, "mod", permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
        self.member = self.add_member(guild_id, "member")
        self.guilds[guild_id]["owner_id"] = str(self.owner)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- world -----------------------------------------------------------------------------
    @staticmethod
    def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        data = {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name,
                "avatar": None, "public_flags": 0, "flags": 0}
        if bot:
            data["bot"] = True
        return data

    def add_guild(self, guild_id: int, name: str) -> dict[str, Any]:
        everyone = {"id": str(guild_id), "name": "@everyone", "color": 0, "hoist": False, "icon": None,
                    "unicode_emoji": None, "position": 0, "permissions": str(MEMBER_PERMISSIONS),
                    "managed": False, "mentionable": False, "flags": 0}
        guild = {
            "id": str(guild_id), "name": name, "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": str(APP_ID), "afk_channel_id": None, "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "roles": [everyone], "emojis": [], "stickers": [], "features": [], "mfa_level": 0,
            "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
            "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
            "premium_subscription_count": 0, "preferred_locale": "en-US",
            "public_updates_channel_id": None, "nsfw_level": 0, "premium_progress_bar_enabled": False,
            "joined_at": _now_iso(), "large": False, "unavailable": False, "member_count": 0,
            "channels": [], "members": [], "threads": [], "voice_states": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }
        self.guilds[guild_id] = guild
        self._add_guild_member(guild_id, self.bot_user, [], MEMBER_PERMISSIONS)
        return guild

    def add_channel(self, guild_id: int, name: str, channel_id: int | None = None) -> int:
        channel_id = channel_id or self.ids.next()
        guild = self.guilds[guild_id]
        data = {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": name,
                "position": len(guild["channels"]), "permission_overwrites": [], "nsfw": False,
                "parent_id": None, "topic": None, "last_message_id": None, "rate_limit_per_user": 0,
                "flags": 0}
        guild["channels"].append({k: v for k, v in data.items() if k != "guild_id"})
        self.channels[channel_id] = data
        return channel_id

    def add_role(self, guild_id: int, name: str, permissions: int = 0) -> int:
        role_id = self.ids.next()
        roles = self.guilds[guild_id]["roles"]
        roles.append({"id": str(role_id), "name": name, "color": 0, "hoist": False, "icon": None,
                      "unicode_emoji": None, "position": len(roles), "permissions": str(permissions),
                      "managed": False, "mentionable": False, "flags": 0})
        return role_id

    def add_member(self, guild_id: int, name: str, *, user_id: int | None = None,
                   roles: list[int] | None = None, permissions: int = MEMBER_PERMISSIONS) -> int:
        """A guild member; `permissions` is what interactions report for them."""
        user_id = user_id or self.ids.next()
        user = self.users.setdefault(user_id, self.user_payload(user_id, name))
        self._add_guild_member(guild_id, user, roles or [], permissions)
        return user_id

    def _add_guild_member(self, guild_id: int, user: dict, roles: list[int], permissions: int) -> None:
        guild = self.guilds[guild_id]
        guild["members"].append({
            "user": user, "roles": [str(r) for r in roles], "joined_at": _now_iso(), "deaf": False,
            "mute": False, "flags": 0, "pending": False, "nick": None, "avatar": None,
            "premium_since": None, "communication_disabled_until": None,
            "_permissions": permissions,
        })
        guild["member_count"] = len(guild["members"])

    def guild_member(self, guild_id: int, user_id: int) -> dict[str, Any]:
        for m in self.guilds[guild_id]["members"]:
            if int(m["user"]["id"]) == user_id:
                return m
        raise KeyError(f"user {user_id} is not in guild {guild_id}")

    def _public_guild(self, guild: dict[str, Any]) -> dict[str, Any]:
        data = dict(guild)
        data["members"] = [{k: v for k, v in m.items() if not k.startswith("_")} for m in guild["members"]]
        return data

    # -- failures ----------------------------------------------------------------------------
    def inject(self, method: str, path_regex: str, *, status: int = 429, times: int = 1,
               retry_after: float = 0.05, body: dict[str, Any] | None = None,
               global_: bool = False) -> None:
        """Fail the next `times` requests matching METHOD and a regex on the path (no /api/v10)."""
        headers: dict[str, str] = {}
        if status == 429:
            body = body or {"message": "You are being rate limited.", "retry_after": retry_after,
                            "global": global_, "code": 0}
            headers = {"Retry-After": f"{retry_after}", "Via": "1.1 google",
                       "X-RateLimit-Scope": "global" if global_ else "user"}
            if global_:
                headers["X-RateLimit-Global"] = "true"
        self._injections.append(Injection(method.upper(), re.compile(path_regex), status, times,
                                          body or {"message": "injected failure", "code": 0}, headers))

    # -- REST ----------------------------------------------------------------------------------
    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        if status == 204:
            return web.Response(status=204, headers=headers)
        body = json.dumps(data).encode()
        out = {"Content-Type": "application/json"}
        out.update(headers or {})
        return web.Response(body=body, status=status, headers=out)

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return FakeDiscord._json({"message": message, "code": code}, status)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        path = request.path.removeprefix("/api/v10")
        record = RecordedRequest(request.method, path, dict(request.query), dict(request.headers),
                                 at=time.monotonic())
        await self._read_body(request, record)
        request[_RECORD] = record
        self.requests.append(record)
        for inj in self._injections:
            if inj.times > 0 and inj.method == request.method and inj.pattern.search(path):
                inj.times -= 1
                record.status = inj.status
                return self._json(inj.body, inj.status, inj.headers)
        open_route = path.startswith(("/interactions/", "/webhooks/"))
        if not open_route and request.headers.get("Authorization") != f"Bot {self.token}":
            record.status = 401
            return self._error(401, 0, "401: Unauthorized")
        if not open_route and (wait := self._global_wait()) > 0:
            self.global_limited += 1
            record.status = 429
            return self._json({"message": "You are being rate limited.", "retry_after": wait,
                               "global": True, "code": 0}, 429,
                              {"Retry-After": f"{wait:.3f}", "Via": "1.1 google",
                               "X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"})
        response = await handler(request)
        record.status = response.status
        return response

    def _global_wait(self) -> float:
        """Seconds until the global limit admits another request (0: admitted now, counted)."""
        if not self.global_per_second:
            return 0.0
        now = time.monotonic()
        window = self._global_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.global_per_second:
            return max(window[0] + 1.0 - now, 0.001)
        window.append(now)
        return 0.0

    @staticmethod
    async def _read_body(request: web.Request, record: RecordedRequest) -> None:
        if not request.can_read_body:
            return
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part is None:
                    break
                data = await part.read()  # type: ignore[union-attr]
                name = part.name or ""  # type: ignore[union-attr]
                if name == "payload_json":
                    record.json = json.loads(data)
                else:
                    record.files.append({"name": name, "filename": part.filename,  # type: ignore[union-attr]
                                         "content_type": part.headers.get("Content-Type", ""),
                                         "data": bytes(data)})
        else:
            raw = await request.read()
            if raw:
                with contextlib.suppress(ValueError):
                    record.json = json.loads(raw)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        record: RecordedRequest = request[_RECORD]
        path, method = record.path, request.method
        for pattern, verb, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return await handler(record, **match.groupdict())
        return self._error(404, 0, "404: Not Found")

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            (r"/users/@me", "GET", self._get_me),
            (r"/users/@me/channels", "POST", self._open_dm),
            (r"/users/(?P<user_id>\d+)", "GET", self._get_user),
            (r"/oauth2/applications/@me", "GET", self._get_app),
            (r"/applications/@me", "GET", self._get_app),
            (r"/gateway", "GET", self._get_gateway),
            (r"/gateway/bot", "GET", self._get_gateway),
            (r"/applications/(?P<app>\d+)/commands", "PUT", self._put_commands),
            (r"/applications/(?P<app>\d+)/commands", "GET", self._get_commands),
            (r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands", "PUT", self._put_commands),
            (r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands", "GET", self._get_commands),
            (r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback", "POST", self._callback),
            (r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)", "POST", self._followup),
            (r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)", "GET",
             self._get_webhook_message),
            (r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)", "PATCH",
             self._edit_webhook_message),
            (r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)", "DELETE",
             self._delete_webhook_message),
            (r"/channels/(?P<cid>\d+)", "GET", self._get_channel),
            (r"/channels/(?P<cid>\d+)/messages", "POST", self._post_message),
            (r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", "GET", self._get_message),
            (r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", "PATCH", self._patch_message),
        ]

    async def _get_me(self, record: RecordedRequest) -> web.Response:
        return self._json(self.bot_user)

    async def _get_user(self, record: RecordedRequest, user_id: str) -> web.Response:
        user = self.users.get(int(user_id))
        return self._json(user) if user else self._error(404, 10013, "Unknown User")

    async def _get_app(self, record: RecordedRequest) -> web.Response:
        owner = self.user_payload(1000000000000000001, "owner")
        return self._json({
            "id": str(self.app_id), "name": "stateof", "icon": None, "description": "",
            "rpc_origins": [], "bot_public": True, "bot_require_code_grant": False,
            "owner": owner, "team": None, "verify_key": "0" * 64, "flags": 0, "summary": "",
            "bot": self.bot_user, "interactions_endpoint_url": None, "tags": [],
        })

    async def _get_gateway(self, record: RecordedRequest) -> web.Response:
        url = self.bot_gateway_url or self.gateway_url
        return self._json({"url": url, "shards": self.shards, "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})

    async def _put_commands(self, record: RecordedRequest, app: str,
                            guild: str | None = None) -> web.Response:
        out = []
        for cmd in record.json or []:
            stored = dict(cmd)
            stored.setdefault("type", 1)
            stored.update({"id": str(self.ids.next()), "application_id": str(self.app_id),
                           "version": str(self.ids.next())})
            if guild:
                stored["guild_id"] = guild
            out.append(stored)
        self.commands[int(guild) if guild else None] = out
        return self._json(out)

    async def _get_commands(self, record: RecordedRequest, app: str,
                            guild: str | None = None) -> web.Response:
        return self._json(self.commands.get(int(guild) if guild else None, []))

    async def _get_channel(self, record: RecordedRequest, cid: str) -> web.Response:
        channel = self.channels.get(int(cid))
        return self._json(channel) if channel else self._error(404, 10003, "Unknown Channel")

    async def _open_dm(self, record: RecordedRequest) -> web.Response:
        user_id = int((record.json or {}).get("recipient_id", 0))
        if user_id not in self.users:
            return self._error(400, 50035, "Invalid Form Body")
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            channel_id = self.ids.next()
            self.dm_channels[user_id] = channel_id
            self.channels[channel_id] = {"id": str(channel_id), "type": 1, "last_message_id": None,
                                         "recipients": [self.users[user_id]], "flags": 0}
        return self._json(self.channels[channel_id])

    def _dm_recipient(self, channel_id: int) -> int | None:
        for user_id, cid in self.dm_channels.items():
            if cid == channel_id:
                return user_id
        return None

    async def _post_message(self, record: RecordedRequest, cid: str) -> web.Response:
        channel_id = int(cid)
        if channel_id not in self.channels:
            return self._error(404, 10003, "Unknown Channel")
        recipient = self._dm_recipient(channel_id)
        if recipient is not None and recipient in self.dm_closed:
            return self._error(403, 50007, "Cannot send messages to this user")
        message = self._make_message(channel_id, record)
        return self._json(message)

    async def _get_message(self, record: RecordedRequest, cid: str, mid: str) -> web.Response:
        message = self.messages.get(int(mid))
        return self._json(message) if message else self._error(404, 10008, "Unknown Message")

    async def _patch_message(self, record: RecordedRequest, cid: str, mid: str) -> web.Response:
        message = self.messages.get(int(mid))
        if message is None:
            return self._error(404, 10008, "Unknown Message")
        self._apply_edit(message, record)
        return self._json(message)

    # -- messages ------------------------------------------------------------------------------
    def _make_message(self, channel_id: int, record: RecordedRequest | None = None,
                      body: dict[str, Any] | None = None, files: list[dict[str, Any]] | None = None,
                      *, webhook: bool = False, extra_flags: int = 0) -> dict[str, Any]:
        body = body if body is not None else ((record.json if record else None) or {})
        files = files if files is not None else (record.files if record else [])
        channel = self.channels.get(channel_id, {})
        message = {
            "id": str(self.ids.next()), "channel_id": str(channel_id), "author": self.bot_user,
            "content": body.get("content") or "", "timestamp": _now_iso(), "edited_timestamp": None,
            "tts": bool(body.get("tts", False)), "mention_everyone": False, "mentions": [],
            "mention_roles": [], "attachments": [], "embeds": body.get("embeds") or [],
            "pinned": False, "type": 0, "flags": int(body.get("flags") or 0) | extra_flags,
            "components": body.get("components") or [],
            "allowed_mentions": body.get("allowed_mentions"),
        }
        if channel.get("guild_id"):
            message["guild_id"] = channel["guild_id"]
        if webhook:
            message["webhook_id"] = str(self.app_id)
            message["application_id"] = str(self.app_id)
        message["attachments"] = self._attachments(body, files)
        self.messages[int(message["id"])] = message
        return message

    def _attachments(self, body: dict[str, Any], files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        out = []
        for index, f in enumerate(files):
            attachment_id = self.ids.next()
            self.files[attachment_id] = f["data"]
            meta = described.get(str(index), {})
            name = meta.get("filename") or f["filename"]
            out.append({
                "id": str(attachment_id), "filename": name, "size": len(f["data"]),
                "url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{name}",
                "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{name}",
                "content_type": f["content_type"] or None, "description": meta.get("description"),
                "ephemeral": False,
            })
        return out

    def _apply_edit(self, message: dict[str, Any], record: RecordedRequest,
                    body: dict[str, Any] | None = None) -> None:
        body = body if body is not None else (record.json or {})
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if "flags" in body and body["flags"] is not None:
            keep = int(message.get("flags") or 0) & EPHEMERAL
            message["flags"] = int(body["flags"]) | keep
        message["flags"] = int(message.get("flags") or 0) & ~LOADING
        if record.files or "attachments" in body:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message.get("attachments", []) if a["id"] in kept_ids]
            message["attachments"] = kept + self._attachments(body, record.files)
        message["edited_timestamp"] = _now_iso()

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages posted in a channel (not interaction responses), oldest first."""
        return [m for m in self.messages.values()
                if int(m["channel_id"]) == channel_id and "webhook_id" not in m]

    def dms(self, user_id: int) -> list[dict[str, Any]]:
        channel_id = self.dm_channels.get(user_id)
        return self.channel_messages(channel_id) if channel_id else []

    def attachment_data(self, attachment: dict[str, Any]) -> bytes:
        return self.files[int(attachment["id"])]

    # -- interactions ---------------------------------------------------------------------------
    async def _callback(self, record: RecordedRequest, iid: str, token: str) -> web.Response:
        found = self.interactions.get(int(iid))
        if found is None or found.token != token:
            return self._error(404, 10062, "Unknown interaction")
        body = record.json or {}
        if found.callback_type is not None:
            found.rejected_callbacks.append(body)
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        now = time.monotonic()
        if now - found.dispatched_at > self.deadline:
            found.rejected_callbacks.append(body)
            return self._error(404, 10062, "Unknown interaction")
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        found.callback_type, found.callback_data, found.callback_at = kind, data, now
        found.callback_files = record.files
        payload = found.payload
        channel_id = int(payload.get("channel_id") or payload.get("channel", {}).get("id") or 0)
        resource: dict[str, Any] = {"type": kind}
        loading = False
        if kind in (MESSAGE, DEFERRED_MESSAGE):
            loading = kind == DEFERRED_MESSAGE
            message = self._make_message(channel_id, record, data, webhook=True,
                                         extra_flags=LOADING if loading else 0)
            found.message_id = int(message["id"])
            resource["message"] = message
        elif kind == UPDATE:
            message = self._interaction_message(found)
            if message is not None:
                self._apply_edit(message, record, data)
                found.message_id = int(message["id"])
                resource["message"] = message
        elif kind == DEFERRED_UPDATE:
            message = self._interaction_message(found)
            found.message_id = int(message["id"]) if message else None
        found._answered.set()
        if kind in (MESSAGE, UPDATE, AUTOCOMPLETE_RESULT, MODAL, PONG):
            self._settle(found)
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        return self._json({
            "interaction": {"id": iid, "type": payload["type"], "response_message_id":
                            str(found.message_id) if found.message_id else None,
                            "response_message_loading": loading,
                            "response_message_ephemeral": ephemeral},
            "resource": resource,
        })

    def _interaction_message(self, found: InteractionRecord) -> dict[str, Any] | None:
        embedded = found.payload.get("message")
        if embedded is None:
            return None
        return self.messages.get(int(embedded["id"]))

    def _settle(self, found: InteractionRecord) -> None:
        if found.settled_at is None:
            found.settled_at = time.monotonic()
        found._settled.set()

    async def _followup(self, record: RecordedRequest, app: str, token: str) -> web.Response:
        found = self._by_token.get(token)
        if found is None or found.callback_type is None:
            return self._error(404, 10015, "Unknown Webhook")
        original = self.messages.get(found.message_id or 0)
        if (found.callback_type == DEFERRED_MESSAGE and original is not None
                and int(original.get("flags") or 0) & LOADING):
            self._apply_edit(original, record)  # the first follow-up replaces "thinking…"
            message = original
        else:
            channel_id = int(found.payload.get("channel_id") or 0)
            message = self._make_message(channel_id, record, webhook=True)
        found.followups.append(message)
        self._settle(found)
        return self._json(message)

    def _webhook_message(self, token: str, mid: str) -> tuple[InteractionRecord | None, dict | None]:
        found = self._by_token.get(token)
        if found is None:
            return None, None
        if mid == "@original":
            return found, self.messages.get(found.message_id or 0)
        return found, self.messages.get(int(mid))

    async def _get_webhook_message(
        self, record: RecordedRequest, app: str, token: str, mid: str
    ) -> web.Response:
        _, message = self._webhook_message(token, mid)
        return self._json(message) if message else self._error(404, 10008, "Unknown Message")

    async def _edit_webhook_message(
        self, record: RecordedRequest, app: str, token: str, mid: str
    ) -> web.Response:
        found, message = self._webhook_message(token, mid)
        if found is None or message is None:
            return self._error(404, 10008, "Unknown Message")
        self._apply_edit(message, record)
        found.edits.append(record.json or {})
        self._settle(found)
        return self._json(message)

    async def _delete_webhook_message(
        self, record: RecordedRequest, app: str, token: str, mid: str
    ) -> web.Response:
        _, message = self._webhook_message(token, mid)
        if message is None:
            return self._error(404, 10008, "Unknown Message")
        self.messages.pop(int(message["id"]), None)
        return self._json(None, 204)

    # -- gateway -------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        session = _Session(self, ws, query=dict(request.query))
        self.sessions.append(session)
        try:
            await session.run()
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
        return ws

    async def wait_identified(self, count: int = 1, timeout: float = 10.0) -> None:
        """Until `count` IDENTIFY/RESUME handshakes have completed (READY or RESUMED sent)."""
        async with self._identified:
            await asyncio.wait_for(
                self._identified.wait_for(lambda: len(self.identifies) >= count), timeout
            )

    async def _on_identified(self, data: dict[str, Any]) -> None:
        async with self._identified:
            self.identifies.append(data)
            self._identified.notify_all()

    @staticmethod
    def shard_of(guild_id: int | None, count: int) -> int:
        """The shard Discord sends a guild's events on (DMs: shard 0)."""
        return 0 if guild_id is None else (int(guild_id) >> 22) % count

    @property
    def session_shards(self) -> list[tuple[int, int]]:
        """(shard id, shard count) of every identified session, in connection order."""
        return [s.shard for s in self.sessions if s.ready]

    async def dispatch(self, event: str, data: dict[str, Any], *,
                       guild_id: int | None = None) -> list[tuple[int, int]]:
        """Send a DISPATCH event on the shard of `guild_id` (default: the data's `guild_id`;
        none: shard 0, as Discord sends DMs), to every identified session running it.

        Returns the (shard id, shard count) of each session it went to."""
        if guild_id is None and data.get("guild_id"):
            guild_id = int(data["guild_id"])
        sessions = [s for s in self.sessions if s.ready and s.runs(guild_id)]
        if not sessions:
            raise RuntimeError(f"no identified gateway session runs the shard of guild {guild_id}")
        for session in sessions:
            await session.send_dispatch(event, data)
        return [s.shard for s in sessions]

    async def disconnect_all(self, code: int = 4000) -> None:
        """Close every gateway session (the client reconnects and resumes)."""
        for session in list(self.sessions):
            await session.ws.close(code=code)

    # -- interaction payloads -------------------------------------------------------------------
    def _base_interaction(self, kind: int, user: int, *, guild_id: int | None = None,
                          channel_id: int | None = None, permissions: int | None = None,
                          data: dict[str, Any] | None = None) -> dict[str, Any]:
        interaction_id = self.ids.next()
        guild_id = self.guild_id if guild_id is None else guild_id
        channel_id = channel_id or self.general
        payload: dict[str, Any] = {
            "id": str(interaction_id), "application_id": str(self.app_id), "type": kind,
            "token": f"itoken-{interaction_id}", "version": 1, "locale": "en-US",
            "app_permissions": str(MEMBER_PERMISSIONS), "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id or 0)},
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(channel_id),
            "channel": {k: v for k, v in self.channels.get(
                channel_id, {"id": str(channel_id), "type": 0}).items() if k != "recipients"},
        }
        if data is not None:
            payload["data"] = data
        if guild_id:
            member = dict(self.guild_member(guild_id, user))
            perms = member.pop("_permissions") if permissions is None else permissions
            member.pop("_permissions", None)
            member["permissions"] = str(perms)
            payload.update({"guild_id": str(guild_id), "guild_locale": "en-US", "member": member,
                            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
                            "context": 0})
        else:
            payload.update({"user": self.users[user], "context": 1})
        return payload

    def command(self, name: str, sub: str | None = None, options: dict[str, Any] | None = None,
                *, user: int | None = None, focused: str | None = None, **kw: Any) -> dict[str, Any]:
        """A chat-input command (`/name sub opt:value`); channel ids given as ints are resolved."""
        registered = self._registered(name)
        typed: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        spec = {o["name"]: o for o in self._sub_spec(registered, sub)}
        for key, value in (options or {}).items():
            kind = spec.get(key, {}).get("type", 3)
            option: dict[str, Any] = {"name": key, "type": kind, "value": value}
            if kind == 7:
                option["value"] = str(value)
                channel = self.channels[int(value)]
                resolved.setdefault("channels", {})[str(value)] = {
                    "id": str(value), "type": channel["type"], "name": channel.get("name"),
                    "permissions": str(MEMBER_PERMISSIONS), "guild_id": channel.get("guild_id"),
                    "parent_id": None, "flags": 0,
                }
            if key == focused:
                option["focused"] = True
            typed.append(option)
        data: dict[str, Any] = {"id": registered.get("id", str(self.ids.next())), "name": name, "type": 1}
        if sub is not None:
            data["options"] = [{"name": sub, "type": 1, "options": typed}]
        else:
            data["options"] = typed
        if resolved:
            data["resolved"] = resolved
        if registered.get("guild_id"):
            data["guild_id"] = registered["guild_id"]
        kind = 4 if focused else 2
        return self._base_interaction(kind, user or self.member, data=data, **kw)

    def autocomplete(self, name: str, sub: str | None, options: dict[str, Any], focused: str,
                     **kw: Any) -> dict[str, Any]:
        return self.command(name, sub, options, focused=focused, **kw)

    def _registered(self, name: str) -> dict[str, Any]:
        for cmds in self.commands.values():
            for cmd in cmds:
                if cmd.get("name") == name:
                    return cmd
        return {}

    @staticmethod
    def _sub_spec(cmd: dict[str, Any], sub: str | None) -> list[dict[str, Any]]:
        if sub is None:
            return list(cmd.get("options", []))
        for option in cmd.get("options", []):
            if option.get("name") == sub:
                return list(option.get("options", []))
        return []

    def click(self, message: dict[str, Any] | int, custom_id: str, *, user: int | None = None,
              values: list[str] | None = None, **kw: Any) -> dict[str, Any]:
        """A button press or select choice on a recorded message (embedded as Discord does)."""
        msg = self.messages[message] if isinstance(message, int) else message
        msg = self.messages.get(int(msg["id"]), msg)
        component = next((c for c in iter_components(msg.get("components"))
                          if c.get("custom_id") == custom_id), None)
        if component is None:
            raise KeyError(f"no component {custom_id!r} on message {msg['id']}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        kw.setdefault("channel_id", int(msg["channel_id"]))
        payload = self._base_interaction(3, user or self.member, data=data, **kw)
        payload["message"] = json.loads(json.dumps(msg))
        return payload

    def modal_submit(self, modal: dict[str, Any], values: dict[str, Any], *, user: int | None = None,
                     message: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """Submit a modal the bot opened (a type-9 callback's data): text inputs by custom_id.

        A value that is a list answers a select inside a Label.
        """
        components = []
        for top in modal.get("components", []):
            inner = top.get("component") if top.get("type") == 18 else (top.get("components") or [None])[0]
            if not inner or "custom_id" not in inner:
                continue
            value = values.get(inner["custom_id"], "")
            if isinstance(value, list):
                submitted: dict[str, Any] = {"type": inner["type"], "custom_id": inner["custom_id"],
                                             "values": value}
            else:
                submitted = {"type": 4, "custom_id": inner["custom_id"], "value": value}
            if top.get("type") == 18:
                components.append({"type": 18, "id": top.get("id", 1), "component": submitted})
            else:
                components.append({"type": 1, "components": [submitted]})
        data = {"custom_id": modal["custom_id"], "components": components}
        if message is not None:
            kw.setdefault("channel_id", int(message["channel_id"]))
        payload = self._base_interaction(5, user or self.member, data=data, **kw)
        if message is not None:
            payload["message"] = json.loads(json.dumps(self.messages.get(int(message["id"]), message)))
        return payload

    async def send_interaction(self, payload: dict[str, Any], *, lag: float = 0.0) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE; a payload already sent is sent again (same id).

        Like Discord, the interaction's id (a snowflake, so its creation time) and token are
        made when it is first sent, not when the payload was built. `lag` makes it arrive that
        many seconds after Discord created it (a slow gateway or a busy bot): the 3-second
        deadline counts from creation.
        """
        record = self.interactions.get(int(payload["id"]))
        if record is None:
            payload["id"] = str(self.ids.next(ago=lag))
            payload["token"] = f"itoken-{payload['id']}"
            record = InteractionRecord(payload)
            self.interactions[record.id] = record
            self._by_token[record.token] = record
            record.dispatched_at = time.monotonic() - lag
        record.shards += await self.dispatch("INTERACTION_CREATE", payload)
        return record

    async def interact(self, payload: dict[str, Any], *, settle: bool = True,
                       timeout: float = 10.0) -> InteractionRecord:
        """Send an interaction and wait for its answer (and, when deferred, the follow-up)."""
        record = await self.send_interaction(payload)
        await self.wait_answered(record, settle=settle, timeout=timeout)
        return record

    @staticmethod
    async def wait_answered(record: InteractionRecord, *, settle: bool = True,
                            timeout: float = 10.0) -> None:
        """Until the interaction is answered (`settle`: and its final answer is shown)."""
        event = record._settled if settle else record._answered
        await asyncio.wait_for(event.wait(), timeout)

    def response_message(self, record: InteractionRecord) -> dict[str, Any] | None:
        """The message an interaction's answer shows (new, updated or edited)."""
        if record.followups:
            return self.messages.get(int(record.followups[-1]["id"]), record.followups[-1])
        return self.messages.get(record.message_id or 0)


class _Session:
    """One gateway connection."""

    def __init__(self, fake: FakeDiscord, ws: web.WebSocketResponse, query: dict[str, str]):
        self.fake = fake
        self.ws = ws
        self.query = query
        self.seq = 0
        self.ready = False
        self.session_id = f"session-{fake.ids.next()}"
        self.shard: tuple[int, int] = (0, 1)
        self._lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        async with self._lock:
            await self.ws.send_str(json.dumps(payload))

    async def send_dispatch(self, event: str, data: dict[str, Any]) -> None:
        async with self._lock:
            self.seq += 1
            await self.ws.send_str(json.dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data}))

    def runs(self, guild_id: int | None) -> bool:
        """Whether this session's shard carries the guild's events (None: DMs, shard 0)."""
        shard_id, count = self.shard
        return self.fake.shard_of(guild_id, count) == shard_id

    async def run(self) -> None:
        await self.send({"op": HELLO, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op = frame.get("op")
            if op == HEARTBEAT:
                await self.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            elif op == IDENTIFY:
                await self._identify(frame.get("d") or {})
            elif op == RESUME:
                if self.fake.invalidate_resumes:
                    await self.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
                    continue
                self.ready = True
                resumed = frame.get("d") or {}
                self.seq = int(resumed.get("seq") or 0)  # the sequence carries on
                self.session_id = str(resumed.get("session_id") or self.session_id)
                self.shard = self.fake._shard_of_session.get(self.session_id, self.shard)
                await self.send_dispatch("RESUMED", {})
                await self.fake._on_identified({"resume": frame.get("d")})

    async def _identify(self, data: dict[str, Any]) -> None:
        fake = self.fake
        if data.get("token") != fake.token:
            await self.ws.close(code=4004, message=b"Authentication failed.")
            return
        privileged = int(data.get("intents") or 0) & GUILD_MEMBERS_INTENT
        if privileged and not fake.members_intent_enabled:
            await self.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard") or [0, 1]
        try:
            shard_id, count = int(shard[0]), int(shard[1])
        except (TypeError, ValueError, IndexError):
            shard_id, count = -1, 0
        if not 0 <= shard_id < count:
            await self.ws.close(code=4010, message=b"Invalid shard.")
            return
        self.shard = (shard_id, count)
        fake._shard_of_session[self.session_id] = self.shard
        guilds = [g for gid, g in fake.guilds.items() if fake.shard_of(gid, count) == shard_id]
        await self.send_dispatch("READY", {
            "v": 10, "user": fake.bot_user,
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "session_id": self.session_id,
            "resume_gateway_url": fake.resume_gateway_url or fake.gateway_url,
            "application": {"id": str(fake.app_id), "flags": 0}, "private_channels": [],
            "relationships": [], "presences": [], "geo_ordered_rtc_regions": [],
            "_trace": ["fake-discord"], "shard": [shard_id, count],
        })
        for guild in guilds:
            await self.send_dispatch("GUILD_CREATE", fake._public_guild(guild))
        self.ready = True
        await fake._on_identified(data)
