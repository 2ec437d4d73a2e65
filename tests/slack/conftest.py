"""Slack test kit fixtures: the fake Slack, settings pointing at it, and the bot started
through `start_slack(services, web_app)` — the path `stateof run` takes — served over HTTP
on a free local port (or connected over Socket Mode)."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.services import build_services
from bot.settings import Settings
from bot.slack.runtime import start_slack
from bot.web import make_web_app
from tests.fakes.slack import FakeSlackAPI
from tests.slack.kit import MODERATOR, SECRET, SlackBot


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk routes even 127.0.0.1 through HTTP(S)_PROXY (it ignores NO_PROXY).
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake():
    async with FakeSlackAPI() as server:
        server.add_user(MODERATOR, is_admin=True)
        yield server


@pytest.fixture
def slack_settings(settings: Settings, fake: FakeSlackAPI) -> Settings:
    return settings.model_copy(update={
        "slack_bot_token": "xoxb-test", "slack_signing_secret": SECRET,
        "slack_api_url": fake.base_url,
    })


@pytest.fixture
def sservices(slack_settings: Settings, db):
    return build_services(slack_settings, db)


async def serve(services, **kw) -> tuple[object, web.AppRunner, str]:
    web_app = make_web_app(services)
    runtime = await start_slack(services, web_app, **kw)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runtime, runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def bot(fake: FakeSlackAPI, sservices):
    runtime, runner, root = await serve(sservices)
    started = SlackBot(fake, sservices, runtime, root + "/slack/events")
    try:
        yield started
    finally:
        await started.close()
        await runtime.stop()
        await runner.cleanup()
