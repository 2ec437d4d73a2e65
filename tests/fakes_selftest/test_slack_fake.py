"""Self-tests of tests/fakes/slack.py against the real slack_sdk and slack_bolt clients."""

from __future__ import annotations

import asyncio
import random
import struct
import zlib

import pytest
import pytest_asyncio
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import (
    DEFAULT_BOT_USER_ID,
    DEFAULT_TEAM_ID,
    PNG_MAGIC,
    FakeSlackAPI,
    SlackHTTPClient,
    app_home_opened_event,
    block_actions_body,
    block_actions_payload,
    event_body,
    event_payload,
    run_oauth_install,
    serve_bolt_app,
    sign,
    slash_command_body,
    slash_command_payload,
    state_multi_static_select,
    state_static_select,
    view_closed_body,
    view_submission_body,
    view_submission_payload,
)

pytestmark = [
    pytest.mark.asyncio,
    # slack_sdk's oauth_v2_access passes aiohttp.BasicAuth, deprecated in aiohttp 3.14.
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
]

SECRET = "test-signing-secret"


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        PNG_MAGIC
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk routes even 127.0.0.1 through HTTP(S)_PROXY (it ignores NO_PROXY).
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest_asyncio.fixture
async def fake():
    async with FakeSlackAPI() as f:
        yield f


def client_for(fake: FakeSlackAPI, token: str = "xoxb-test") -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.base_url)


async def test_sign_matches_slack_sdk_verifier() -> None:
    body = slash_command_body(text="hello world")
    headers = sign(body, SECRET)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not SignatureVerifier("other").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


async def test_auth_test_and_post_message(fake: FakeSlackAPI) -> None:
    client = client_for(fake)
    assert fake.base_url.endswith("/api/")
    auth = await client.auth_test()
    assert auth["team_id"] == DEFAULT_TEAM_ID
    assert auth["user_id"] == DEFAULT_BOT_USER_ID
    assert auth["bot_id"] and auth["url"] and auth["team"]

    r1 = await client.chat_postMessage(
        channel="C1", text="one", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]
    )
    r2 = await client.chat_postMessage(channel="C1", text="two")
    assert r1["channel"] == "C1" and float(r2["ts"]) > float(r1["ts"])
    calls = await fake.wait_for("chat.postMessage", count=2)
    method, params, headers = calls[0]
    assert method == "chat.postMessage"
    assert params["text"] == "one" and params["blocks"][0]["type"] == "section"
    assert headers["Authorization"] == "Bearer xoxb-test" and calls[0].token == "xoxb-test"
    assert [m["text"] for m in fake.messages_in("C1")] == ["one", "two"]

    upd = await client.chat_update(channel="C1", ts=r1["ts"], text="one!")
    assert upd["ts"] == r1["ts"] and fake.messages_in("C1")[0]["text"] == "one!"
    eph = await client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert eph["message_ts"] and fake.ephemerals[0]["to_user"] == "U1"

    with pytest.raises(SlackApiError) as err:
        await client.api_call("no.such.method")
    assert err.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(base_url=fake.base_url).auth_test()
    assert err.value.response["error"] == "not_authed"


async def test_directory_methods(fake: FakeSlackAPI) -> None:
    client = client_for(fake)
    dm = await client.conversations_open(users="U1")
    assert dm["channel"]["id"].startswith("D")
    assert (await client.conversations_open(users="U1"))["channel"]["id"] == dm["channel"]["id"]
    posted = await client.chat_postMessage(channel="U1", text="hi")
    assert posted["channel"] == dm["channel"]["id"]

    fake.add_channel("C1", name="general", members=[f"U{i}" for i in range(5)])
    members, cursor = [], None
    while True:
        page = await client.conversations_members(channel="C1", limit=2, cursor=cursor)
        members += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert members == [f"U{i}" for i in range(5)]
    assert len(fake.calls_to("conversations.members")) == 3
    info = await client.conversations_info(channel="C1", include_num_members=True)
    assert info["channel"]["name"] == "general" and info["channel"]["num_members"] == 5
    with pytest.raises(SlackApiError):
        await client.conversations_info(channel="C404")

    fake.add_user("UADMIN", is_admin=True)
    assert (await client.users_info(user="UADMIN"))["user"]["is_admin"] is True
    assert (await client.users_info(user="UPLAIN"))["user"]["is_admin"] is False

    fake.add_usergroup("S1", "mlops-team", ["U1", "U2"])
    groups = await client.usergroups_list(include_users=True)
    assert groups["usergroups"][0]["handle"] == "mlops-team" and groups["usergroups"][0]["users"] == [
        "U1",
        "U2",
    ]
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]


async def test_views_and_limits(fake: FakeSlackAPI) -> None:
    client = client_for(fake)
    modal = {
        "type": "modal",
        "callback_id": "survey",
        "title": {"type": "plain_text", "text": "Survey"},
        "blocks": [],
    }
    opened = await client.views_open(trigger_id="t1", view=modal)
    vid = opened["view"]["id"]
    assert vid.startswith("V") and opened["view"]["callback_id"] == "survey"
    updated = await client.views_update(view_id=vid, view=modal, hash=opened["view"]["hash"])
    assert updated["view"]["id"] == vid
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id=vid, view=modal, hash=opened["view"]["hash"])
    assert err.value.response["error"] == "hash_conflict"
    pushed = await client.views_push(trigger_id="t2", view=modal)
    assert pushed["view"]["id"] != vid
    home = await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert (await client.views_publish(user_id="U1", view={"type": "home", "blocks": []}))["view"][
        "id"
    ] == home["view"]["id"]

    too_long = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id="t3", view=too_long)
    assert err.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x", blocks=[{"type": "divider"}] * 51)
    assert err.value.response["error"] == "invalid_blocks"


async def test_files_upload_v2_stores_png(fake: FakeSlackAPI) -> None:
    png = tiny_png()
    client = client_for(fake)
    resp = await client.files_upload_v2(channel="C1", content=png, filename="chart.png", title="Chart")
    assert resp["file"]["mimetype"] == "image/png"
    file_id = resp["file"]["id"]
    assert fake.uploads[file_id] == png and fake.uploads[file_id].startswith(PNG_MAGIC)
    assert fake.files[file_id]["channels"] == ["C1"] and fake.files[file_id]["title"] == "Chart"
    url_call = fake.last_call("files.getUploadURLExternal")
    assert url_call.params["filename"] == "chart.png" and int(url_call.params["length"]) == len(png)


async def test_rate_limit_then_success_is_retried(
    fake: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The retry handler sleeps Retry-After + random() seconds; pin the jitter for speed.
    monkeypatch.setattr(random, "random", lambda: 0.0)
    client = client_for(fake)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    fake.rate_limit_next("chat.postMessage", retry_after=0)
    resp = await client.chat_postMessage(channel="C1", text="hi")
    assert resp["ok"]
    calls = fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert fake.rate_limited["chat.postMessage"] == 1

    # Without the handler the 429 surfaces with Retry-After.
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await client_for(fake).chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "7"

    fake.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="hi")
    assert err.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]


async def test_enforce_limit_counts_429s() -> None:
    now = [100.0]
    async with FakeSlackAPI(clock=lambda: now[0]) as fake:
        fake.enforce_limit("chat.postMessage", per_second=2, key="channel")
        client = client_for(fake)
        await client.chat_postMessage(channel="C1", text="1")
        await client.chat_postMessage(channel="C1", text="2")
        await client.chat_postMessage(channel="C2", text="other channel")
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel="C1", text="3")
        assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "1"
        now[0] += 1.0
        await client.chat_postMessage(channel="C1", text="3")
        assert fake.limit_hits["chat.postMessage"] == 1


async def test_oauth_v2_access_issues_working_token(fake: FakeSlackAPI) -> None:
    fake.oauth_client = ("cid", "csecret")
    fake.add_oauth_code("code-1", team_id="T2", team_name="Second")
    client = AsyncWebClient(base_url=fake.base_url)
    resp = await client.oauth_v2_access(client_id="cid", client_secret="csecret", code="code-1")
    assert resp["team"] == {"id": "T2", "name": "Second"} and resp["token_type"] == "bot"
    token = resp["access_token"]
    auth = await client.auth_test(token=token)
    assert auth["team_id"] == "T2" and auth["bot_id"]
    with pytest.raises(SlackApiError) as err:
        await client.oauth_v2_access(client_id="cid", client_secret="csecret", code="code-1")
    assert err.value.response["error"] == "invalid_code"
    with pytest.raises(SlackApiError) as err:
        await client.oauth_v2_access(client_id="cid", client_secret="wrong", code="code-2")
    assert err.value.response["error"] == "bad_client_secret"


async def test_bolt_http_mode(fake: FakeSlackAPI) -> None:
    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-test", base_url=fake.base_url),
        signing_secret=SECRET,
        process_before_response=True,
    )
    seen: dict[str, object] = {}

    @app.command("/survey")
    async def survey(ack, command, respond):
        await ack("on it")
        seen["command"] = command
        await respond("done")

    @app.action("take")
    async def take(ack, body, client):
        await ack()
        seen["action"] = body["actions"][0]["value"]
        await client.views_open(
            trigger_id=body["trigger_id"],
            view={"type": "modal", "title": {"type": "plain_text", "text": "Survey"}, "blocks": []},
        )

    @app.action("pick")
    async def pick(ack, body):
        await ack()
        seen["pick"] = body["actions"][0]["selected_options"]

    @app.view("page")
    async def page(ack, view):
        await ack()
        seen["view"] = (view["private_metadata"], view["state"]["values"])

    @app.view_closed("page")
    async def closed(ack, view):
        await ack()
        seen["closed"] = view["id"]

    @app.event("app_home_opened")
    async def home(event, client):
        seen["home"] = event["user"]

    async with serve_bolt_app(app) as url, SlackHTTPClient(url, SECRET) as http:
        resp = await http.post(
            slash_command_body("/survey", "start", user_id="U1", response_url=fake.response_url("cmd"))
        )
        assert resp.status == 200 and resp.body == "on it"
        assert seen["command"]["text"] == "start"
        assert (await fake.wait_for_response("cmd"))[0]["text"] == "done"
        assert len(fake.calls_to("auth.test")) == 1  # single-workspace authorization, lazily

        assert (await http.post(block_actions_body("take", "wave-1"))).status == 200
        assert seen["action"] == "wave-1" and fake.last_call("views.open").params["trigger_id"]
        body = block_actions_body(
            "pick", ["a", "b"], action_type="multi_static_select", view={"callback_id": "page"}
        )
        assert (await http.post(body)).status == 200
        assert [o["value"] for o in seen["pick"]] == ["a", "b"]

        values = {"b1": {"a1": state_static_select("x")}, "b2": {"a2": state_multi_static_select(["p", "q"])}}
        assert (await http.post(view_submission_body("page", '{"wave": 1}', values))).status == 200
        assert seen["view"] == ('{"wave": 1}', values)
        assert (await http.post(view_closed_body("page", view_id="VCLOSED"))).status == 200
        assert seen["closed"] == "VCLOSED"

        assert (await http.post(event_body(app_home_opened_event("U9")))).status == 200
        assert seen["home"] == "U9"
        retry = await http.post(
            event_body(app_home_opened_event("U8")), retry_num=1, retry_reason="http_timeout"
        )
        assert retry.status == 200

        bad = await http.post(slash_command_body("/survey"), secret="wrong-secret")
        assert bad.status == 401
        stale = await http.post(slash_command_body("/survey"), timestamp=1)
        assert stale.status == 401


async def test_socket_mode_slash_command(fake: FakeSlackAPI) -> None:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-test", base_url=fake.base_url))
    ran = asyncio.Event()

    @app.command("/survey")
    async def survey(ack, command):
        await ack(text=f"got {command['text']}")
        ran.set()

    handler = AsyncSocketModeHandler(app, "xapp-test")  # uses app.client -> the fake's base_url
    try:
        await handler.connect_async()
        await fake.wait_socket_connected()
        assert fake.last_call("apps.connections.open").token == "xapp-test"
        ack_future = await fake.socket_send_envelope("slash_commands", slash_command_payload("/survey", "hi"))
        ack = await asyncio.wait_for(ack_future, 5)
        assert ack["payload"] == {"text": "got hi"} and ack["envelope_id"]
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        await handler.close_async()


async def test_socket_mode_interactive_events_and_reconnect(fake: FakeSlackAPI) -> None:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-test", base_url=fake.base_url))
    home_published = asyncio.Event()

    @app.action("take")
    async def take(ack):
        await ack()

    @app.view("page")
    async def page(ack):
        await ack(response_action="errors", errors={"b1": "pick one"})

    @app.event("app_home_opened")
    async def home(event, client):
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})
        home_published.set()

    handler = AsyncSocketModeHandler(app, "xapp-test")
    try:
        await handler.connect_async()
        ack = await fake.socket_request("interactive", block_actions_payload("take", "v"))
        assert set(ack) == {"envelope_id"}
        ack = await fake.socket_request("interactive", view_submission_payload("page", "", {}))
        assert ack["payload"] == {"response_action": "errors", "errors": {"b1": "pick one"}}
        await fake.socket_request("events_api", event_payload(app_home_opened_event("U5")))
        await asyncio.wait_for(home_published.wait(), 5)
        assert "U5" in fake.home_views

        await fake.socket_disconnect()  # Slack's refresh: the client reconnects via apps.connections.open
        await fake.wait_socket_connected(count=2)
        assert len(fake.calls_to("apps.connections.open")) == 2
        assert set(await fake.socket_request("interactive", block_actions_payload("take", "v"))) == {
            "envelope_id"
        }
    finally:
        await handler.close_async()


async def test_bolt_oauth_flow_installs_then_serves_team(fake: FakeSlackAPI, tmp_path) -> None:
    fake.add_oauth_code("code-T2", team_id="T2", team_name="Second")
    settings = AsyncOAuthSettings(
        client_id="cid",
        client_secret="csecret",
        scopes=["chat:write", "commands"],
        installation_store=FileInstallationStore(base_dir=str(tmp_path)),
        state_store=FileOAuthStateStore(expiration_seconds=60, base_dir=str(tmp_path)),
    )
    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(base_url=fake.base_url),  # the OAuth flow and authorize use this client
        oauth_settings=settings,
    )

    @app.command("/survey")
    async def survey(ack, context):
        await ack(f"{context.team_id} {context.bot_token}")

    async with serve_bolt_app(app) as url:
        done = await run_oauth_install(url.removesuffix("/slack/events"), "code-T2")
        assert done.status == 200 and "T2" in done.body
        token = fake.last_call("oauth.v2.access").response["access_token"]
        async with SlackHTTPClient(url, SECRET) as http:
            resp = await http.post(slash_command_body(team_id="T2"))
        assert resp == (200, f"T2 {token}")
