"""Transport: signatures (401), Socket Mode, OAuth installs, 429s and paced fan-out."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from bot.services import build_services
from bot.slack.ratelimit import SlackRateLimiter
from bot.slack.runtime import start_slack
from surveys.models import SlackInstallation, Wave
from tests.conftest import use_version_1
from tests.fakes.slack import (
    block_actions_payload,
    run_oauth_install,
    slash_command_body,
    slash_command_payload,
    view_submission_body,
    view_submission_payload,
)
from tests.slack.conftest import serve
from tests.slack.kit import GENERAL, MEMBER, MODERATOR, SECRET, SlackBot, answers, count, fill


async def test_bad_or_stale_signature_is_401_and_changes_nothing(bot, fake, sservices):
    launch = slash_command_body("/survey", f"launch state-of-mlops 2026 <#{GENERAL}|g>",
                                user_id=MODERATOR, response_url=fake.response_url("x"))
    assert (await bot.post(launch, secret="not-the-secret")).status == 401
    assert (await bot.post(launch, timestamp=int(time.time()) - 600)).status == 401  # replayed later
    assert (await bot.post(launch, signed=False)).status == 401
    submit = view_submission_body("stateof_page", '{"w":1,"t":"T0TEAM","k":["title"],"i":0}', {})
    assert (await bot.post(submit, secret="wrong")).status == 401
    await asyncio.sleep(0.1)
    assert await count(sservices, Wave) == 0 and await answers(sservices) == 0
    assert fake.calls_to("chat.postMessage") == [] and fake.responses["x"] == []


async def test_rate_limited_post_is_retried_after_retry_after(bot, fake):
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    await bot.launch()
    calls = fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert len(fake.messages_in(GENERAL)) == 1
    assert bot.runtime.clients.limiter.stats.retried["chat.postMessage"] == 1


async def test_reminder_fan_out_is_paced_below_the_limit(fake, sservices):
    # Slack's Tier 3 (conversations.open, 50/min) scaled 60× so the test runs in seconds.
    limiter = SlackRateLimiter(scale=60)
    fake.enforce_limit("conversations.open", per_second=50.0)
    runtime, runner, root = await serve(sservices, limiter=limiter)
    bot = SlackBot(fake, sservices, runtime, root + "/slack/events")
    try:
        fake.set_members(GENERAL, [MODERATOR] + [f"U{i:04d}" for i in range(120)])
        await bot.launch()
        started = time.monotonic()
        text = await bot.command("remind", user=MODERATOR)
        # more than fit in a chat reply's time: the reply comes at once, the DMs follow
        assert "Sending 121 reminders" in text and time.monotonic() - started < 2

        def result_dm(call) -> bool:
            return "Reminders sent: 121" in f"{call.params.get('text')}{call.params.get('blocks')}"

        await fake._wait(lambda: any(result_dm(c) for c in fake.calls_to("chat.postMessage")), 30,
                         "the moderator's result DM")
        elapsed = time.monotonic() - started
        assert fake.limit_hits["conversations.open"] == 0 and fake.rate_limited["conversations.open"] == 0
        assert elapsed >= 120 / 50 * 0.9  # paced, not a burst
        again = await bot.command("remind", user=MODERATOR)
        assert "Reminders sent: 0" in again  # reminded within the hour: nobody is nagged twice
    finally:
        await bot.close()
        await runtime.stop()
        await runner.cleanup()


async def test_socket_mode_end_to_end(fake, slack_settings, db):
    settings = slack_settings.model_copy(update={"slack_app_token": "xapp-test",
                                                 "slack_signing_secret": None})
    services = build_services(settings, db)
    use_version_1(services.catalog)  # written for version 1 of the built-in questionnaire
    runtime = await start_slack(services)
    try:
        assert runtime.mode == "socket" and "slack" in services.notifiers
        await fake.wait_socket_connected()
        assert fake.last_call("apps.connections.open").token == "xapp-test"
        fake.set_members(GENERAL, [MODERATOR, MEMBER])
        ack = await fake.socket_request("slash_commands", slash_command_payload(
            "/survey", f"launch state-of-mlops 2026 <#{GENERAL}|general>", user_id=MODERATOR,
            response_url=fake.response_url("launch")))
        assert "Working on it" in ack["payload"]["text"]
        (reply,) = await fake.wait_for_response("launch", timeout=15)
        assert "is open and announced" in reply["text"]
        async with services.db.session() as session:
            wave_id = (await session.execute(select(Wave.id))).scalar_one()

        ack = await fake.socket_request("interactive", block_actions_payload(
            "take_survey", str(wave_id), user_id=MEMBER))
        assert set(ack) == {"envelope_id"}
        view = (await fake.wait_for("views.open"))[-1].response["view"]
        payload = view_submission_payload(view["callback_id"], view["private_metadata"], fill(view),
                                          user_id=MEMBER, view_id=view["id"])
        ack = await fake.socket_request("interactive", payload)
        assert ack["payload"]["response_action"] == "update"
        assert ack["payload"]["view"]["blocks"]
        assert await answers(services) == 4

        ack = await fake.socket_request("slash_commands", slash_command_payload(
            "/survey", "status", user_id=MEMBER))
        assert "for survey moderators" in ack["payload"]["text"]
    finally:
        await runtime.stop()
    assert "slack" not in services.notifiers


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_oauth_install_serves_the_new_workspace(fake, settings, db):
    fake.add_oauth_code("code-T2", team_id="T2", team_name="Second")
    fake.oauth_client = ("cid", "csecret")
    oauth = settings.model_copy(update={
        "slack_client_id": "cid", "slack_client_secret": "csecret",
        "slack_signing_secret": SECRET, "slack_api_url": fake.base_url,
    })
    services = build_services(oauth, db)
    runtime, runner, root = await serve(services)
    bot = SlackBot(fake, services, runtime, root + "/slack/events")
    try:
        done = await run_oauth_install(root, "code-T2")
        assert done.status == 200
        token = fake.last_call("oauth.v2.access").response["access_token"]
        async with services.db.session() as session:
            (row,) = (await session.execute(select(SlackInstallation))).scalars().all()
        assert row.team_id == "T2" and row.sealed_secrets and token not in row.sealed_secrets
        resp = await bot.post(slash_command_body("/survey", "help", team_id="T2", user_id="UT2"))
        assert resp.status == 200 and "/survey my-data" in resp.body["text"]
        assert fake.last_call("users.info").token == token  # the workspace's own token
        unknown = await bot.post(slash_command_body("/survey", "help", team_id="T3"))
        assert unknown.status != 200 or "my-data" not in str(unknown.body)
    finally:
        await bot.close()
        await runtime.stop()
        await runner.cleanup()
