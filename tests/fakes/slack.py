"""A local fake of Slack for tests: Web API, upload URLs, response URLs, Socket Mode, OAuth.

The real ``slack_sdk.web.async_client.AsyncWebClient`` and ``slack_bolt.async_app.AsyncApp``
talk to it over real sockets on 127.0.0.1::

    async with FakeSlackAPI() as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        await client.chat_postMessage(channel="C1", text="hi")
        (call,) = fake.calls_to("chat.postMessage")

Socket Mode: ``AsyncSocketModeHandler(app, "xapp-test")`` uses ``app.client`` (so its
``base_url``) to call ``apps.connections.open``; the fake answers with ``fake.socket_url``.
Close the handler *before* stopping the fake (otherwise the client keeps reconnecting).

The module also has helpers for Bolt's HTTP mode: ``sign()``, Slack-shaped request body
builders (``slash_command_body``, ``block_actions_body``, ``view_submission_body``,
``view_closed_body``, ``event_body``), ``SlackHTTPClient`` and ``serve_bolt_app()``.

Gotchas: AsyncApp calls auth.test lazily on the first request (single token) or per request
(installation store), through a per-request copy of ``app.client`` (base_url and
retry_handlers are copied). slack_sdk uses HTTP(S)_PROXY even for 127.0.0.1 (NO_PROXY is
ignored), so unset them in tests. AsyncRateLimitErrorRetryHandler sleeps
``Retry-After + random()`` seconds and is not installed by default.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import math
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_BOT_ID",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_TEAM_DOMAIN",
    "DEFAULT_TEAM_ID",
    "DEFAULT_USER_ID",
    "PNG_MAGIC",
    "FakeSlackAPI",
    "SlackCall",
    "SlackHTTPClient",
    "SlackHTTPResponse",
    "app_home_opened_event",
    "block_actions_body",
    "block_actions_payload",
    "event_body",
    "event_payload",
    "run_oauth_install",
    "serve_bolt_app",
    "sign",
    "slash_command_body",
    "slash_command_payload",
    "state_checkboxes",
    "state_multi_static_select",
    "state_plain_text",
    "state_radio_buttons",
    "state_static_select",
    "url_verification_body",
    "view_closed_body",
    "view_closed_payload",
    "view_payload",
    "view_submission_body",
    "view_submission_payload",
]

DEFAULT_TEAM_ID = "T0TEAM"
DEFAULT_TEAM_NAME = "Fake Team"
DEFAULT_TEAM_DOMAIN = "fake-team"
DEFAULT_BOT_USER_ID = "U0BOT"
DEFAULT_BOT_ID = "B0BOT"
DEFAULT_APP_ID = "A0APP"
DEFAULT_USER_ID = "U0USER"
DEFAULT_CHANNEL_ID = "C0CHAN"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# A URL that refuses connections at once: the default response_url of the body builders,
# so a forgotten response_url fails fast instead of reaching for the internet.
_UNSET_RESPONSE_URL = "http://127.0.0.1:9/response/unset"
# Form fields that slack_sdk sends as JSON strings; the fake decodes them in recorded params.
_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")
_EPOCH = 1_700_000_000

_ids = itertools.count(1)


def _next_id() -> int:
    return next(_ids)


# --------------------------------------------------------------------------------------
# Recorded calls
# --------------------------------------------------------------------------------------


@dataclass
class SlackCall:
    """One Web API call. Unpacks as ``method, params, headers``."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    http_method: str = "POST"
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.params, self.headers))

    @property
    def token(self) -> str | None:
        """The Bearer token (or ``token`` param) the call was made with."""
        return _token_of(self.headers, self.params)

    @property
    def ok(self) -> bool:
        """True when the fake answered HTTP 200 with ``ok: true``."""
        return self.status == 200 and bool(self.response.get("ok"))


def _token_of(headers: dict[str, str], params: dict[str, Any]) -> str | None:
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    tok = params.get("token")
    return tok if isinstance(tok, str) and tok else None


@dataclass
class _Limit:
    per_second: float
    key: str | Callable[[dict[str, Any]], Any] | None
    window: float
    hits: dict[Any, deque[float]] = field(default_factory=lambda: defaultdict(deque))


class _LocalServer:
    """An aiohttp web.Application served on 127.0.0.1 with a free port."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._runner: web.AppRunner | None = None
        self.port: int = 0

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# --------------------------------------------------------------------------------------
# The fake Web API + Socket Mode server
# --------------------------------------------------------------------------------------


class FakeSlackAPI:
    """Fake Slack Web API, upload/response URLs and Socket Mode on one local aiohttp server.

    Every API call is recorded in ``calls`` (including ones answered with errors or 429).
    Unknown tokens are accepted (one default workspace) unless ``strict_tokens=True``;
    a missing token gives ``not_authed``. Limits that Slack enforces on Block Kit
    (50 blocks per message, 100 per view, 24-char modal titles, 100 options per select)
    are checked when ``validate_blocks=True`` (the default).
    """

    def __init__(
        self,
        *,
        team_id: str = DEFAULT_TEAM_ID,
        team_name: str = DEFAULT_TEAM_NAME,
        team_domain: str = DEFAULT_TEAM_DOMAIN,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        bot_id: str = DEFAULT_BOT_ID,
        app_id: str = DEFAULT_APP_ID,
        bot_scopes: str = "chat:write,commands,im:write,users:read,usergroups:read,files:write,channels:read",
        strict_tokens: bool = False,
        validate_blocks: bool = True,
        auto_users: bool = True,
        accept_any_oauth_code: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_scopes = bot_scopes
        self.strict_tokens = strict_tokens
        self.validate_blocks = validate_blocks
        self.auto_users = auto_users
        self.accept_any_oauth_code = accept_any_oauth_code
        self._clock = clock

        self.calls: list[SlackCall] = []
        self.messages: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.responses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.revoked_tokens: set[str] = set()
        self.oauth_client: tuple[str, str] | None = None
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self.rate_limited: Counter[str] = Counter()
        self.limit_hits: Counter[str] = Counter()
        self.socket_received: list[dict[str, Any]] = []
        self.socket_connections = 0

        self._dm_by_user: dict[str, str] = {}
        self._failures: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self._rate_limits: dict[str, deque[int]] = defaultdict(deque)
        self._limits: dict[str, _Limit] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._used_codes: set[str] = set()
        self._counter = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._response_targets: dict[str, tuple[str, str]] = {}

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_route("*", "/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{name}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        self._server = _LocalServer(app)

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> FakeSlackAPI:
        """Start serving on 127.0.0.1 (free port)."""
        await self._server.start()
        return self

    async def stop(self) -> None:
        """Close sockets, fail pending acks and stop the server."""
        for fut in self._pending_acks.values():
            if not fut.done():
                fut.cancel()
        self._pending_acks.clear()
        await self.close_sockets()
        await self._server.stop()

    async def __aenter__(self) -> FakeSlackAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Web API base URL for ``AsyncWebClient(base_url=...)``; ends with ``/api/``."""
        return f"{self.root_url}/api/"

    @property
    def socket_url(self) -> str:
        """The WebSocket URL handed out by ``apps.connections.open``."""
        return f"ws://127.0.0.1:{self.port}/socket"

    def response_url(self, name: str = "default") -> str:
        """A response_url on this fake; what is POSTed there lands in ``responses[name]``."""
        return f"{self.root_url}/response/{name}"

    def message_response_url(self, channel: str, ts: str) -> str:
        """A response_url for a click on the message ``ts`` in ``channel``, as Slack sends
        with block_actions: ``replace_original`` replaces that stored message (text, blocks),
        ``delete_original`` deletes it, anything else is an ephemeral for the clicker. The
        payloads are recorded in ``responses[name]`` as with ``response_url``."""
        name = f"msg{next(self._counter)}"
        self._response_targets[name] = (channel, ts)
        return self.response_url(name)

    # ---- configuration ----------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        members: list[str] | None = None,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> dict[str, Any]:
        """Register a channel (for conversations.info / conversations.members)."""
        ch = self.channels.setdefault(channel_id, {"id": channel_id})
        ch.update(
            name=name or ch.get("name") or channel_id.lower(),
            is_private=is_private,
            is_member=is_member,
            is_archived=is_archived,
            is_im=channel_id.startswith("D"),
        )
        ch["members"] = list(members if members is not None else ch.get("members", []))
        return ch

    def set_members(self, channel_id: str, members: list[str]) -> None:
        """Set the members listed by conversations.members (creates the channel)."""
        if channel_id in self.channels:
            self.channels[channel_id]["members"] = list(members)
        else:
            self.add_channel(channel_id, members=members)

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "UTC",
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """Register a user for users.info (is_admin / is_owner ...)."""
        name = name or user_id.lower()
        real_name = real_name or name.title()
        user = {
            "id": user_id,
            "team_id": team_id or self.team_id,
            "name": name,
            "deleted": deleted,
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": 0,
            "profile": {"real_name": real_name, "display_name": name, "team": team_id or self.team_id},
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": _EPOCH,
        }
        self.users[user_id] = user
        return user

    def add_usergroup(
        self,
        usergroup_id: str,
        handle: str,
        users: list[str],
        *,
        name: str | None = None,
        disabled: bool = False,
    ) -> dict[str, Any]:
        """Register a user group for usergroups.list / usergroups.users.list."""
        group = {
            "id": usergroup_id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": name or handle,
            "description": "",
            "handle": handle,
            "is_external": False,
            "date_create": _EPOCH,
            "date_update": _EPOCH,
            "date_delete": _EPOCH if disabled else 0,
            "auto_type": None,
            "created_by": DEFAULT_USER_ID,
            "updated_by": DEFAULT_USER_ID,
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
            "users": list(users),
            "user_count": len(users),
        }
        self.usergroups[usergroup_id] = group
        return group

    def add_token(
        self,
        token: str,
        *,
        team_id: str | None = None,
        team: str | None = None,
        user_id: str | None = None,
        bot_id: str | None = None,
        enterprise_id: str | None = None,
    ) -> dict[str, Any]:
        """Register what auth.test says about ``token`` (for multi-workspace tests)."""
        ident = self._default_identity(token)
        ident.update(
            {
                k: v
                for k, v in {
                    "team_id": team_id,
                    "team": team,
                    "user_id": user_id,
                    "bot_id": bot_id,
                    "enterprise_id": enterprise_id,
                }.items()
                if v is not None
            }
        )
        self.tokens[token] = ident
        return ident

    def revoke_token(self, token: str) -> None:
        """Make every call with ``token`` fail with ``invalid_auth``."""
        self.revoked_tokens.add(token)

    def add_oauth_code(
        self,
        code: str,
        *,
        team_id: str,
        team_name: str | None = None,
        user_id: str = DEFAULT_USER_ID,
        scope: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        user_scope: str | None = None,
        enterprise_id: str | None = None,
    ) -> None:
        """Register an OAuth code that oauth.v2.access exchanges for an install of ``team_id``."""
        self.oauth_codes[code] = {
            "team_id": team_id,
            "team_name": team_name or f"Team {team_id}",
            "user_id": user_id,
            "scope": scope or self.bot_scopes,
            "bot_user_id": bot_user_id or f"U{team_id}BOT",
            "bot_id": bot_id or f"B{team_id}BOT",
            "user_scope": user_scope,
            "enterprise_id": enterprise_id,
        }

    def handle(self, method: str, fn: Callable[[dict[str, Any]], Any]) -> None:
        """Override (or add) a method: ``fn(params)`` returns the JSON dict (may be async)."""
        self._handlers[method] = fn

    def dm_channel(self, user_id: str) -> str:
        """The D… channel id that conversations.open returns for ``user_id``."""
        if user_id not in self._dm_by_user:
            cid = f"D{next(self._counter):09d}"
            self._dm_by_user[user_id] = cid
            self.channels[cid] = {
                "id": cid,
                "is_im": True,
                "user": user_id,
                "members": [user_id, self.bot_user_id],
                "is_private": True,
                "is_member": True,
                "is_archived": False,
            }
        return self._dm_by_user[user_id]

    # ---- fault injection --------------------------------------------------------------

    def fail_next(
        self, method: str, error: str = "channel_not_found", *, times: int = 1, **extra: Any
    ) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error, **extra}``."""
        for _ in range(times):
            self._failures[method].append({"ok": False, "error": error, **extra})

    def rate_limit_next(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get HTTP 429 with ``Retry-After: retry_after``."""
        for _ in range(times):
            self._rate_limits[method].append(int(retry_after))

    def enforce_limit(
        self,
        method: str,
        per_second: float,
        key: str | Callable[[dict[str, Any]], Any] | None = None,
        *,
        window: float | None = None,
    ) -> None:
        """Answer 429 + Retry-After when ``method`` gets more than ``per_second * window`` calls
        in a sliding ``window`` (default: 1 s, or 1/per_second when below 1/s), per ``key``:
        a param name such as ``"channel"``, a callable of the params, or None (one bucket).
        Tier 2 (20/min) is ``per_second=20/60, window=60``. 429s are counted in ``limit_hits``."""
        if window is None:
            window = max(1.0, 1.0 / per_second)
        self._limits[method] = _Limit(per_second=per_second, key=key, window=window)

    def clear_limits(self) -> None:
        """Remove all enforce_limit rules and pending injected faults."""
        self._limits.clear()
        self._failures.clear()
        self._rate_limits.clear()

    # ---- inspection -------------------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[SlackCall]:
        """Recorded calls of ``method`` (``ok=True`` keeps only successful ones)."""
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def last_call(self, method: str) -> SlackCall:
        """The most recent call of ``method`` (AssertionError if none)."""
        found = self.calls_to(method)
        assert found, f"no call to {method}; calls: {[c.method for c in self.calls]}"
        return found[-1]

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Messages posted with chat.postMessage to ``channel`` (after updates)."""
        return [m for m in self.messages if m["channel"] == channel]

    def reset_calls(self) -> None:
        """Forget recorded calls (state such as messages and views is kept)."""
        self.calls.clear()

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; calls: {[c.method for c in self.calls]}"
            ) from None

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5, what: str = "a condition"
    ) -> None:
        """Wait until ``predicate()`` holds (checked after every recorded call or response)."""
        await self._wait(predicate, timeout, what)

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5, *, ok: bool | None = None
    ) -> list[SlackCall]:
        """Wait until ``method`` was called ``count`` times; returns those calls."""
        await self._wait(lambda: len(self.calls_to(method, ok=ok)) >= count, timeout, f"{count}x {method}")
        return self.calls_to(method, ok=ok)

    async def wait_for_response(
        self, name: str = "default", count: int = 1, timeout: float = 5
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` payloads were POSTed to ``response_url(name)``."""
        await self._wait(
            lambda: len(self.responses[name]) >= count, timeout, f"{count} response(s) to {name}"
        )
        return self.responses[name]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- HTTP handlers ----------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                text = await request.text()
                if text.strip():
                    params.update(json.loads(text))
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for k, v in form.items():
                    if k in params:
                        continue
                    params[k] = v.file.read() if hasattr(v, "file") else v
        for k in _JSON_FIELDS:
            v = params.get(k)
            if isinstance(v, str) and v[:1] in ("[", "{"):
                with contextlib.suppress(ValueError):
                    params[k] = json.loads(v)
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._read_params(request)
        headers = dict(request.headers)
        status, body, extra_headers = await self._dispatch(method, params, headers)
        self.calls.append(SlackCall(method, params, headers, request.method, status, body))
        await self._notify()
        resp_headers = {"X-OAuth-Scopes": self.bot_scopes, **extra_headers}
        return web.json_response(body, status=status, headers=resp_headers)

    async def _dispatch(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._rate_limits.get(method):
            retry_after = self._rate_limits[method].popleft()
            return self._too_many(method, retry_after)
        limit = self._limits.get(method)
        if limit is not None:
            retry_after = self._check_limit(limit, params)
            if retry_after is not None:
                self.limit_hits[method] += 1
                return self._too_many(method, retry_after)
        if self._failures.get(method):
            return 200, dict(self._failures[method].popleft()), {}

        token = _token_of(headers, params)
        if method != "oauth.v2.access":
            auth_error = self._check_token(method, token)
            if auth_error:
                return 200, {"ok": False, "error": auth_error}, {}

        fn = self._handlers.get(method)
        if fn is not None:
            result = fn(params)
            if asyncio.iscoroutine(result):
                result = await result
            return 200, result, {}
        builtin = getattr(self, "_m_" + method.replace(".", "_"), None)
        if builtin is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if method == "oauth.v2.access":
            return 200, builtin(params, headers), {}
        return 200, builtin(params, token), {}

    def _too_many(self, method: str, retry_after: int) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.rate_limited[method] += 1
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}

    def _check_limit(self, limit: _Limit, params: dict[str, Any]) -> int | None:
        if limit.key is None:
            bucket = None
        elif callable(limit.key):
            bucket = limit.key(params)
        else:
            bucket = params.get(limit.key)
        now = self._clock()
        hits = limit.hits[bucket]
        while hits and hits[0] <= now - limit.window:
            hits.popleft()
        if len(hits) >= round(limit.per_second * limit.window, 9):
            return max(1, math.ceil(hits[0] + limit.window - now))
        hits.append(now)
        return None

    def _check_token(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if token in self.revoked_tokens:
            return "invalid_auth"
        is_app_token = token.startswith("xapp-")
        if method.startswith("apps.connections."):
            return None if is_app_token else "not_allowed_token_type"
        if is_app_token:
            return "not_allowed_token_type"
        if self.strict_tokens and token not in self.tokens:
            return "invalid_auth"
        return None

    def _default_identity(self, token: str) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "team_id": self.team_id,
            "team": self.team_name,
            "url": f"https://{self.team_domain}.slack.com/",
            "enterprise_id": None,
        }
        if token.startswith("xoxb-"):
            ident.update(user_id=self.bot_user_id, user="stateof", bot_id=self.bot_id)
        else:
            ident.update(user_id=DEFAULT_USER_ID, user=DEFAULT_USER_ID.lower(), bot_id=None)
        return ident

    def _identity(self, token: str | None) -> dict[str, Any]:
        return self.tokens.get(token or "") or self._default_identity(token or "")

    def _ts(self) -> str:
        n = next(self._counter)
        return f"{_EPOCH + n}.{n:06d}"

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        if request.content_type.startswith("multipart/"):
            data = b""
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, aiohttp.BodyPartReader):
                    data = await part.read(decode=False)
                    if part.filename:
                        break
        else:
            data = await request.read()
        self.uploads[file_id] = data
        self.files[file_id]["content"] = data
        await self._notify()
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        text = await request.text()
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            payload = json.loads(str(form.get("payload", "{}")))
        else:
            payload = json.loads(text) if text.strip() else {}
        self.responses[name].append(payload)
        if name in self._response_targets:
            self._apply_response(self._response_targets[name], payload)
        await self._notify()
        return web.Response(text="ok", content_type="text/html")

    def _apply_response(self, target: tuple[str, str], payload: dict[str, Any]) -> None:
        channel, ts = target
        if payload.get("delete_original"):
            self.messages = [m for m in self.messages if not (m["channel"] == channel and m["ts"] == ts)]
        elif payload.get("replace_original"):
            for stored in self.messages:
                if stored["channel"] == channel and stored["ts"] == ts:
                    stored["text"] = payload.get("text", "")
                    if "blocks" in payload:
                        stored["blocks"] = payload["blocks"]
                    else:
                        stored.pop("blocks", None)
                    stored["edited"] = {"user": self.bot_user_id, "ts": self._ts()}
        else:
            self.ephemerals.append({"type": "message", "text": payload.get("text", ""),
                                    "blocks": payload.get("blocks"), "ts": self._ts(),
                                    "channel": channel, "via_response_url": True, "params": payload})

    # ---- Socket Mode ------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=1.0)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.socket_connections += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        await self._notify()
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                self.socket_received.append(data)
                fut = self._pending_acks.pop(str(data.get("envelope_id")), None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
                await self._notify()
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
            await self._notify()
        return ws

    @property
    def socket_connected(self) -> bool:
        """True while at least one Socket Mode client is connected."""
        return any(not ws.closed for ws in self._sockets)

    async def wait_socket_connected(self, timeout: float = 5, *, count: int = 1) -> None:
        """Wait until a Socket Mode client is connected (hello sent) and ``count`` connections
        were made in total (``count=2`` after ``socket_disconnect()`` waits for the reconnect)."""
        await self._wait(
            lambda: self.socket_connected and self.socket_connections >= count,
            timeout,
            f"Socket Mode connection #{count}",
        )

    async def socket_send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = 5,
    ) -> asyncio.Future[dict[str, Any]]:
        """Send an envelope (``slash_commands`` | ``interactive`` | ``events_api``) to the
        newest connected client; returns a future of the client's ack (same envelope_id)."""
        await self.wait_socket_connected(timeout)
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive" and payload.get("type") in ("view_submission", "block_suggestion")
            )
        eid = envelope_id or f"{next(self._counter):08x}-fake-envelope"
        envelope: dict[str, Any] = {
            "envelope_id": eid,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[eid] = fut
        ws = next(ws for ws in reversed(self._sockets) if not ws.closed)
        await ws.send_json(envelope)
        return fut

    async def socket_request(
        self, type: str, payload: dict[str, Any], *, timeout: float = 5, **kw: Any
    ) -> dict[str, Any]:
        """Send an envelope and wait for its ack (``socket_send_envelope`` + ``await``)."""
        fut = await self.socket_send_envelope(type, payload, timeout=timeout, **kw)
        return await asyncio.wait_for(fut, timeout)

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message (the client then reconnects)."""
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_json(
                    {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
                )

    async def close_sockets(self) -> None:
        """Close every Socket Mode connection from the server side."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        self._sockets.clear()

    # ---- Block Kit limits -------------------------------------------------------------

    def _block_errors(self, blocks: Any, max_blocks: int, pointer: str) -> list[str]:
        if not self.validate_blocks or not isinstance(blocks, list):
            return []
        errors = []
        if len(blocks) > max_blocks:
            errors.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:{pointer}]")
        for i, block in enumerate(blocks):
            if not isinstance(block, dict):
                continue
            elements = []
            for k in ("accessory", "element"):
                if isinstance(block.get(k), dict):
                    elements.append(block[k])
            elements += [e for e in block.get("elements", []) if isinstance(e, dict)]
            for el in elements:
                if len(el.get("options") or []) > 100:
                    errors.append(f"[ERROR] no more than 100 items allowed [json-pointer:{pointer}/{i}]")
                if el.get("type") == "button" and len(str(el.get("value", ""))) > 2000:
                    errors.append(f"[ERROR] must be less than 2001 characters [json-pointer:{pointer}/{i}]")
            for k in ("block_id",):
                if len(str(block.get(k, ""))) > 255:
                    errors.append(
                        f"[ERROR] must be less than 256 characters [json-pointer:{pointer}/{i}/{k}]"
                    )
        return errors

    def _view_errors(self, view: Any) -> list[str]:
        if not isinstance(view, dict):
            return ["[ERROR] missing required field: view"]
        if not self.validate_blocks:
            return []
        errors = self._block_errors(view.get("blocks", []), 100, "/view/blocks")
        if view.get("type") == "modal":
            for k in ("title", "submit", "close"):
                text = (view.get(k) or {}).get("text", "")
                if len(text) > 24:
                    errors.append(f"[ERROR] must be less than 25 characters [json-pointer:/view/{k}/text]")
        if len(str(view.get("private_metadata", ""))) > 3000:
            errors.append("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
        if len(str(view.get("callback_id", ""))) > 255:
            errors.append("[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
        return errors

    # ---- built-in methods (params, token) -> response --------------------------------

    def _m_api_test(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        return {"ok": True, "args": {k: v for k, v in p.items() if k != "token"}}

    def _m_auth_test(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        ident = self._identity(token)
        resp = {
            "ok": True,
            "url": ident["url"],
            "team": ident["team"],
            "user": ident["user"],
            "team_id": ident["team_id"],
            "user_id": ident["user_id"],
            "is_enterprise_install": False,
        }
        if ident.get("bot_id"):
            resp["bot_id"] = ident["bot_id"]
        if ident.get("enterprise_id"):
            resp["enterprise_id"] = ident["enterprise_id"]
        return resp

    def _resolve_channel(self, channel: str) -> str:
        if channel[:1] in ("U", "W"):
            return self.dm_channel(channel)
        return channel

    def _message(self, p: dict[str, Any], ts: str) -> dict[str, Any]:
        msg = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": p.get("text", ""),
            "ts": ts,
        }
        for k in ("blocks", "attachments", "thread_ts", "metadata"):
            if p.get(k) is not None:
                msg[k] = p[k]
        return msg

    def _m_chat_postMessage(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (p.get("text") or p.get("blocks") or p.get("attachments")):
            return {"ok": False, "error": "no_text"}
        errors = self._block_errors(p.get("blocks"), 50, "/blocks")
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": errors},
            }
        channel = self._resolve_channel(str(p["channel"]))
        ts = self._ts()
        msg = self._message(p, ts)
        self.messages.append({**msg, "channel": channel, "params": p})
        return {"ok": True, "channel": channel, "ts": ts, "message": msg}

    def _m_chat_postEphemeral(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if not (p.get("text") or p.get("blocks") or p.get("attachments")):
            return {"ok": False, "error": "no_text"}
        errors = self._block_errors(p.get("blocks"), 50, "/blocks")
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": errors},
            }
        ts = self._ts()
        self.ephemerals.append(
            {**self._message(p, ts), "channel": p["channel"], "to_user": p["user"], "params": p}
        )
        return {"ok": True, "message_ts": ts}

    def _m_chat_update(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        errors = self._block_errors(p.get("blocks"), 50, "/blocks")
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": errors},
            }
        msg = self._message(p, str(p["ts"]))
        for stored in self.messages:
            if stored["channel"] == p["channel"] and stored["ts"] == p["ts"]:
                stored.update({k: v for k, v in msg.items() if k in p or k == "text"})
                stored["edited"] = {"user": self.bot_user_id, "ts": self._ts()}
        return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": p.get("text", ""), "message": msg}

    def _m_chat_delete(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        self.messages = [
            m for m in self.messages if not (m["channel"] == p.get("channel") and m["ts"] == p.get("ts"))
        ]
        return {"ok": True, "channel": p.get("channel"), "ts": p.get("ts")}

    def _m_chat_getPermalink(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        ts = str(p.get("message_ts", "")).replace(".", "")
        link = f"https://{self.team_domain}.slack.com/archives/{p.get('channel')}/p{ts}"
        return {"ok": True, "channel": p.get("channel"), "permalink": link}

    def _m_conversations_open(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        if p.get("channel"):
            return {"ok": True, "channel": {"id": p["channel"]}}
        users = [u for u in str(p.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) == 1:
            cid = self.dm_channel(users[0])
        else:
            cid = f"G{next(self._counter):09d}"
            self.channels[cid] = {
                "id": cid,
                "is_mpim": True,
                "members": users,
                "is_private": True,
                "is_im": False,
            }
        return {"ok": True, "no_op": False, "already_open": False, "channel": {"id": cid}}

    def _m_conversations_members(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        ch = self.channels.get(str(p.get("channel", "")))
        if ch is None:
            return {"ok": False, "error": "channel_not_found"}
        members = ch.get("members", [])
        limit = max(1, min(int(p.get("limit") or 100), 1000))
        start = 0
        if p.get("cursor"):
            try:
                start = int(base64.b64decode(str(p["cursor"])).decode().split(":", 1)[1])
            except (ValueError, IndexError):
                return {"ok": False, "error": "invalid_cursor"}
        page = members[start : start + limit]
        end = start + limit
        next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _m_conversations_list(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Channels (not DMs) with id and name, in one page."""
        channels = [{"id": ch["id"], "name": ch.get("name", ch["id"].lower()),
                     "is_private": bool(ch.get("is_private")), "is_archived": bool(ch.get("is_archived"))}
                    for ch in self.channels.values() if not ch.get("is_im")]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_info(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        ch = self.channels.get(str(p.get("channel", "")))
        if ch is None:
            return {"ok": False, "error": "channel_not_found"}
        is_im = bool(ch.get("is_im"))
        info = {
            "id": ch["id"],
            "created": _EPOCH,
            "is_archived": bool(ch.get("is_archived")),
            "is_im": is_im,
            "is_mpim": bool(ch.get("is_mpim")),
            "is_private": bool(ch.get("is_private")),
            "is_channel": not is_im and not ch.get("is_mpim") and not ch.get("is_private"),
            "is_group": bool(ch.get("is_private")) and not is_im and not ch.get("is_mpim"),
            "is_general": False,
            "is_member": bool(ch.get("is_member", True)),
            "context_team_id": self.team_id,
        }
        if is_im:
            info["user"] = ch.get("user")
        else:
            info["name"] = ch.get("name", ch["id"].lower())
            info["creator"] = DEFAULT_USER_ID
        if str(p.get("include_num_members")) in ("1", "true", "True"):
            info["num_members"] = len(ch.get("members", []))
        return {"ok": True, "channel": info}

    def _m_users_info(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        uid = str(p.get("user", ""))
        if uid not in self.users:
            if not self.auto_users or not uid:
                return {"ok": False, "error": "user_not_found"}
            self.add_user(uid)
        return {"ok": True, "user": copy.deepcopy(self.users[uid])}

    def _m_usergroups_list(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        include_users = str(p.get("include_users")) in ("1", "true", "True")
        include_disabled = str(p.get("include_disabled")) in ("1", "true", "True")
        groups = []
        for g in self.usergroups.values():
            if g["date_delete"] and not include_disabled:
                continue
            g = copy.deepcopy(g)
            if not include_users:
                g.pop("users")
            groups.append(g)
        return {"ok": True, "usergroups": groups}

    def _m_usergroups_users_list(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        g = self.usergroups.get(str(p.get("usergroup", "")))
        if g is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(g["users"])}

    def _make_view(self, spec: dict[str, Any], view_id: str, **over: Any) -> dict[str, Any]:
        view = copy.deepcopy(spec)
        view.update(
            id=view_id,
            team_id=self.team_id,
            state={"values": {}},
            hash=f"{_EPOCH}.{next(self._counter):08d}",
            app_id=self.app_id,
            app_installed_team_id=self.team_id,
            bot_id=self.bot_id,
        )
        for k, v in (("private_metadata", ""), ("callback_id", ""), ("external_id", "")):
            view.setdefault(k, v)
        view.setdefault("clear_on_close", False)
        view.setdefault("notify_on_close", False)
        view.setdefault("root_view_id", view_id)
        view.setdefault("previous_view_id", None)
        view.update(over)
        return view

    def _view_error(self, view: Any) -> dict[str, Any] | None:
        errors = self._view_errors(view)
        if errors:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
        return None

    def _m_views_open(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not (p.get("trigger_id") or p.get("interactivity_pointer")):
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["[ERROR] missing required field: trigger_id"]},
            }
        err = self._view_error(p.get("view"))
        if err:
            return err
        vid = f"V{next(self._counter):09d}"
        view = self._make_view(p["view"], vid)
        self.views[vid] = view
        return {"ok": True, "view": view}

    def _m_views_push(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        return self._m_views_open(p, token)

    def _m_views_update(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        vid = p.get("view_id")
        if not vid and p.get("external_id"):
            vid = next(
                (v["id"] for v in self.views.values() if v.get("external_id") == p["external_id"]), None
            )
        if not vid or vid not in self.views:
            return {"ok": False, "error": "not_found"}
        err = self._view_error(p.get("view"))
        if err:
            return err
        old = self.views[vid]
        if p.get("hash") and p["hash"] != old["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = self._make_view(
            p["view"], vid, root_view_id=old["root_view_id"], previous_view_id=old["previous_view_id"]
        )
        self.views[vid] = view
        return {"ok": True, "view": view}

    def _m_views_publish(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        uid = p.get("user_id")
        if not uid:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["[ERROR] missing required field: user_id"]},
            }
        err = self._view_error(p.get("view"))
        if err:
            return err
        old = self.home_views.get(uid)
        if old and p.get("hash") and p["hash"] != old["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        vid = old["id"] if old else f"V{next(self._counter):09d}"
        view = self._make_view(p["view"], vid)
        self.home_views[uid] = view
        self.views[vid] = view
        return {"ok": True, "view": view}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not p.get("filename") or not p.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        fid = f"F{next(self._counter):09d}"
        self.files[fid] = {"id": fid, "name": p["filename"], "length": int(p["length"]), "content": None}
        return {"ok": True, "upload_url": f"{self.root_url}/upload/{fid}", "file_id": fid}

    def _m_files_completeUploadExternal(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        items = p.get("files")
        if not isinstance(items, list) or not items:
            return {"ok": False, "error": "invalid_arguments"}
        channels = [c for c in str(p.get("channels") or p.get("channel_id") or "").split(",") if c]
        out = []
        for item in items:
            f = self.files.get(item.get("id"))
            if f is None or f["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            content: bytes = f["content"]
            f.update(
                title=item.get("title") or f["name"],
                channels=channels,
                initial_comment=p.get("initial_comment"),
                thread_ts=p.get("thread_ts"),
                completed=True,
            )
            out.append(
                {
                    "id": f["id"],
                    "name": f["name"],
                    "title": f["title"],
                    "mimetype": "image/png" if content.startswith(PNG_MAGIC) else "application/octet-stream",
                    "filetype": "png" if content.startswith(PNG_MAGIC) else "binary",
                    "size": len(content),
                    "user": self._identity(token)["user_id"],
                    "channels": channels,
                    "url_private": f"{self.root_url}/files/{f['id']}/{f['name']}",
                    "permalink": f"https://{self.team_domain}.slack.com/files/{f['id']}",
                }
            )
        return {"ok": True, "files": out}

    def _m_apps_connections_open(self, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_url}

    def _m_oauth_v2_access(self, p: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        client_id, client_secret = p.get("client_id"), p.get("client_secret")
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if auth.lower().startswith("basic "):
            with contextlib.suppress(ValueError):
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if not client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if self.oauth_client is not None:
            if client_id != self.oauth_client[0]:
                return {"ok": False, "error": "invalid_client_id"}
            if client_secret != self.oauth_client[1]:
                return {"ok": False, "error": "bad_client_secret"}
        code = str(p.get("code", ""))
        if not code or code in self._used_codes:
            return {"ok": False, "error": "invalid_code"}
        spec = self.oauth_codes.get(code)
        if spec is None:
            if not self.accept_any_oauth_code:
                return {"ok": False, "error": "invalid_code"}
            self.add_oauth_code(
                code,
                team_id=self.team_id,
                team_name=self.team_name,
                bot_user_id=self.bot_user_id,
                bot_id=self.bot_id,
            )
            spec = self.oauth_codes[code]
        self._used_codes.add(code)
        n = next(self._counter)
        bot_token = f"xoxb-{spec['team_id']}-{n}"
        self.tokens[bot_token] = {
            "team_id": spec["team_id"],
            "team": spec["team_name"],
            "url": f"https://{spec['team_id'].lower()}.slack.com/",
            "user_id": spec["bot_user_id"],
            "user": "stateof",
            "bot_id": spec["bot_id"],
            "enterprise_id": spec["enterprise_id"],
        }
        authed_user: dict[str, Any] = {"id": spec["user_id"]}
        if spec["user_scope"]:
            user_token = f"xoxp-{spec['team_id']}-{n}"
            authed_user.update(scope=spec["user_scope"], access_token=user_token, token_type="user")
            self.tokens[user_token] = {
                **self.tokens[bot_token],
                "user_id": spec["user_id"],
                "user": "installer",
                "bot_id": None,
            }
        return {
            "ok": True,
            "app_id": self.app_id,
            "authed_user": authed_user,
            "scope": spec["scope"],
            "token_type": "bot",
            "access_token": bot_token,
            "bot_user_id": spec["bot_user_id"],
            "team": {"id": spec["team_id"], "name": spec["team_name"]},
            "enterprise": {"id": spec["enterprise_id"], "name": "Enterprise"}
            if spec["enterprise_id"]
            else None,
            "is_enterprise_install": False,
        }


# --------------------------------------------------------------------------------------
# Signed requests for Bolt's HTTP mode
# --------------------------------------------------------------------------------------


def sign(body: bytes | str, secret: str, timestamp: int | str | None = None) -> dict[str, str]:
    """Slack v0 signature headers for ``body`` (``timestamp`` defaults to now)."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _trigger_id(team_id: str) -> str:
    n = _next_id()
    return f"{_EPOCH + n}.{n}.fake{n:08x}{team_id.lower()}"


def _user(user_id: str, team_id: str, user_name: str | None) -> dict[str, Any]:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def slash_command_payload(
    command: str = "/survey",
    text: str = "",
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = "general",
    response_url: str = _UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    enterprise_id: str | None = None,
) -> dict[str, str]:
    """The fields of a slash command as Slack sends them (also the Socket Mode payload)."""
    fields = {
        "token": "fake-verification-token",
        "team_id": team_id,
        "team_domain": team_domain,
    }
    if enterprise_id:
        fields.update(enterprise_id=enterprise_id, enterprise_name="Enterprise")
    fields.update(
        channel_id=channel_id,
        channel_name=channel_name,
        user_id=user_id,
        user_name=user_name or user_id.lower(),
        command=command,
        text=text,
        api_app_id=api_app_id,
        is_enterprise_install="false",
        response_url=response_url,
        trigger_id=trigger_id or _trigger_id(team_id),
    )
    return fields


def slash_command_body(command: str = "/survey", text: str = "", **kw: Any) -> bytes:
    """A slash command request body (application/x-www-form-urlencoded)."""
    return urlencode(slash_command_payload(command, text, **kw)).encode()


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def state_static_select(value: str) -> dict[str, Any]:
    """A ``state.values[block][action]`` entry of a static_select."""
    return {"type": "static_select", "selected_option": _option(value)}


def state_multi_static_select(values: list[str]) -> dict[str, Any]:
    """A state entry of a multi_static_select."""
    return {"type": "multi_static_select", "selected_options": [_option(v) for v in values]}


def state_checkboxes(values: list[str]) -> dict[str, Any]:
    """A state entry of checkboxes."""
    return {"type": "checkboxes", "selected_options": [_option(v) for v in values]}


def state_radio_buttons(value: str | None) -> dict[str, Any]:
    """A state entry of radio_buttons (``None``: nothing chosen)."""
    return {"type": "radio_buttons", "selected_option": _option(value) if value is not None else None}


def state_plain_text(value: str | None) -> dict[str, Any]:
    """A state entry of a plain_text_input."""
    return {"type": "plain_text_input", "value": value}


def view_payload(
    *,
    view_id: str | None = None,
    callback_id: str = "",
    private_metadata: str = "",
    state_values: dict[str, Any] | None = None,
    type: str = "modal",
    blocks: list[dict[str, Any]] | None = None,
    title: str = "Survey",
    team_id: str = DEFAULT_TEAM_ID,
    external_id: str = "",
    previous_view_id: str | None = None,
    root_view_id: str | None = None,
) -> dict[str, Any]:
    """A ``view`` object as Slack puts it into interactive payloads."""
    vid = view_id or f"V{_next_id():09d}"
    view: dict[str, Any] = {
        "id": vid,
        "team_id": team_id,
        "type": type,
        "blocks": blocks or [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": state_values or {}},
        "hash": f"{_EPOCH}.{_next_id():08d}",
        "clear_on_close": False,
        "notify_on_close": False,
        "root_view_id": root_view_id or vid,
        "previous_view_id": previous_view_id,
        "app_id": DEFAULT_APP_ID,
        "external_id": external_id,
        "app_installed_team_id": team_id,
        "bot_id": DEFAULT_BOT_ID,
    }
    if type == "modal":
        view["title"] = {"type": "plain_text", "text": title, "emoji": True}
        view["submit"] = {"type": "plain_text", "text": "Submit", "emoji": True}
        view["close"] = {"type": "plain_text", "text": "Cancel", "emoji": True}
    return view


_ACTION_VALUE_KEYS = {
    "button": "value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "overflow": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "plain_text_input": "value",
}


def block_actions_payload(
    action_id: str,
    value: Any = None,
    *,
    action_type: str = "button",
    block_id: str = "block",
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    trigger_id: str | None = None,
    response_url: str | None = _UNSET_RESPONSE_URL,
    view: dict[str, Any] | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    message_ts: str | None = None,
    message: dict[str, Any] | None = None,
    is_ephemeral: bool = False,
    state_values: dict[str, Any] | None = None,
    action: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload. With ``view`` the container is that view (modal or home,
    no response_url unless given); otherwise a message in ``channel_id``. ``value`` is the
    button value, a select's option value, or a list for multi-selects/checkboxes."""
    action_ts = f"{time.time():.6f}"
    if action is None:
        key = _ACTION_VALUE_KEYS.get(action_type, "value")
        action = {"type": action_type, "action_id": action_id, "block_id": block_id, "action_ts": action_ts}
        if key == "selected_option":
            action[key] = _option(str(value)) if value is not None else None
        elif key == "selected_options":
            action[key] = [_option(str(v)) for v in (value or [])]
        else:
            action[key] = value
        if action_type == "button":
            action["text"] = {"type": "plain_text", "text": "Button", "emoji": True}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "fake-verification-token",
        "trigger_id": trigger_id or _trigger_id(team_id),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        full_view = view_payload(team_id=team_id)
        full_view.update(view)
        if state_values is not None:
            full_view["state"] = {"values": state_values}
        payload["container"] = {"type": "view", "view_id": full_view["id"]}
        payload["view"] = full_view
        payload["state"] = full_view["state"]
        if response_url is not _UNSET_RESPONSE_URL and response_url is not None:
            payload["response_url"] = response_url
    else:
        ts = message_ts or (message or {}).get("ts") or f"{_EPOCH + _next_id()}.000100"
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        }
        payload["channel"] = {
            "id": channel_id,
            "name": "general" if channel_id.startswith("C") else "directmessage",
        }
        if not is_ephemeral:
            payload["message"] = message or {
                "type": "message",
                "user": DEFAULT_BOT_USER_ID,
                "bot_id": DEFAULT_BOT_ID,
                "text": "",
                "ts": ts,
            }
        payload["state"] = {"values": state_values or {}}
        if response_url is not None:
            payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def _form_payload(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions_body(action_id: str, value: Any = None, **kw: Any) -> bytes:
    """A block_actions request body (``payload=<json>`` form field)."""
    return _form_payload(block_actions_payload(action_id, value, **kw))


def view_submission_payload(
    callback_id: str,
    private_metadata: str = "",
    state_values: dict[str, Any] | None = None,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    view_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    trigger_id: str | None = None,
    response_urls: list[dict[str, Any]] | None = None,
    **view_kw: Any,
) -> dict[str, Any]:
    """A ``view_submission`` payload."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "fake-verification-token",
        "trigger_id": trigger_id or _trigger_id(team_id),
        "view": view_payload(
            view_id=view_id,
            callback_id=callback_id,
            private_metadata=private_metadata,
            state_values=state_values,
            blocks=blocks,
            team_id=team_id,
            **view_kw,
        ),
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission_body(
    callback_id: str, private_metadata: str = "", state_values: dict[str, Any] | None = None, **kw: Any
) -> bytes:
    """A view_submission request body (``payload=<json>`` form field)."""
    return _form_payload(view_submission_payload(callback_id, private_metadata, state_values, **kw))


def view_closed_payload(
    callback_id: str,
    private_metadata: str = "",
    state_values: dict[str, Any] | None = None,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    view_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    is_cleared: bool = False,
    **view_kw: Any,
) -> dict[str, Any]:
    """A ``view_closed`` payload (sent only for views with notify_on_close)."""
    view = view_payload(
        view_id=view_id,
        callback_id=callback_id,
        private_metadata=private_metadata,
        state_values=state_values,
        team_id=team_id,
        **view_kw,
    )
    view["notify_on_close"] = True
    return {
        "type": "view_closed",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, team_id, user_name),
        "api_app_id": api_app_id,
        "token": "fake-verification-token",
        "view": view,
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed_body(
    callback_id: str, private_metadata: str = "", state_values: dict[str, Any] | None = None, **kw: Any
) -> bytes:
    """A view_closed request body (``payload=<json>`` form field)."""
    return _form_payload(view_closed_payload(callback_id, private_metadata, state_values, **kw))


def app_home_opened_event(
    user_id: str = DEFAULT_USER_ID,
    *,
    tab: str = "home",
    channel: str | None = None,
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``app_home_opened`` event (the inner ``event`` dict)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel or f"D{user_id[1:]}",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = view
    return event


def event_payload(
    event: dict[str, Any],
    team_id: str = DEFAULT_TEAM_ID,
    *,
    api_app_id: str = DEFAULT_APP_ID,
    event_id: str | None = None,
    bot_user_id: str = DEFAULT_BOT_USER_ID,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """An Events API ``event_callback`` envelope (also the Socket Mode ``events_api`` payload)."""
    return {
        "token": "fake-verification-token",
        "team_id": team_id,
        "enterprise_id": enterprise_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{_next_id():010d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-fake-{_next_id()}",
    }


def event_body(event: dict[str, Any], team_id: str = DEFAULT_TEAM_ID, **kw: Any) -> bytes:
    """An Events API request body (application/json)."""
    return json.dumps(event_payload(event, team_id, **kw)).encode()


def url_verification_body(challenge: str = "fake-challenge") -> bytes:
    """The Events API ``url_verification`` request body."""
    return json.dumps(
        {"token": "fake-verification-token", "challenge": challenge, "type": "url_verification"}
    ).encode()


class SlackHTTPResponse(NamedTuple):
    """Status and body (parsed JSON when the app answered JSON, else text)."""

    status: int
    body: Any


class SlackHTTPClient:
    """POSTs Slack-signed bodies to a Bolt HTTP endpoint, like Slack does."""

    def __init__(
        self, url: str, signing_secret: str, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.url = url
        self.signing_secret = signing_secret
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> SlackHTTPClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        body: bytes,
        *,
        url: str | None = None,
        secret: str | None = None,
        timestamp: int | str | None = None,
        signed: bool = True,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SlackHTTPResponse:
        """POST ``body`` signed with ``secret`` (default: the client's secret); optionally as
        an Events API retry (``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        if content_type is None:
            content_type = (
                "application/json" if body.lstrip().startswith(b"{") else "application/x-www-form-urlencoded"
            )
        hdrs = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if signed:
            hdrs.update(sign(body, secret if secret is not None else self.signing_secret, timestamp))
        if retry_num is not None:
            hdrs["X-Slack-Retry-Num"] = str(retry_num)
            hdrs["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        hdrs.update(headers or {})
        async with self._session.post(url or self.url, data=body, headers=hdrs) as resp:
            text = await resp.text()
            if resp.content_type == "application/json" and text:
                return SlackHTTPResponse(resp.status, json.loads(text))
            return SlackHTTPResponse(resp.status, text)


async def run_oauth_install(
    root_url: str,
    code: str = "fake-oauth-code",
    *,
    install_path: str = "/slack/install",
    redirect_uri_path: str = "/slack/oauth_redirect",
) -> SlackHTTPResponse:
    """Drive Bolt's OAuth flow like a browser: GET the install page (state + cookie), then
    the redirect URI with ``code``; the app then calls oauth.v2.access on the fake.
    ``root_url`` is the app server root, e.g. ``url.removesuffix("/slack/events")``."""
    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.get(root_url + install_path, allow_redirects=False) as resp:
            page = resp.headers.get("Location") or await resp.text()
            cookies = "; ".join(c.split(";", 1)[0] for c in resp.headers.getall("Set-Cookie", []))
        match = re.search(r"[?&;]state=([^&\"'<>\s]+)", page)
        assert match, f"no OAuth state in the install page: {page[:300]}"
        url = f"{root_url}{redirect_uri_path}?code={code}&state={match.group(1)}"
        async with session.get(url, headers={"Cookie": cookies}, allow_redirects=False) as resp:
            return SlackHTTPResponse(resp.status, await resp.text())


@contextlib.asynccontextmanager
async def serve_bolt_app(app: Any, path: str = "/slack/events") -> AsyncIterator[str]:
    """Serve an ``AsyncApp`` in HTTP mode on 127.0.0.1 (free port); yields the endpoint URL.
    OAuth install/redirect GET routes are served too when the app has an oauth_flow."""
    from slack_bolt.app.async_server import AsyncSlackAppServer

    server = _LocalServer(AsyncSlackAppServer(port=0, path=path, app=app, host="127.0.0.1").web_app)
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}{path}"
    finally:
        await server.stop()
