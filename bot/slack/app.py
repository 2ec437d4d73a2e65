"""The Bolt app: an `AsyncApp` with every handler registered here, in one place.

Every listener acknowledges within Slack's 3 s (Bolt answers the HTTP request or the
Socket Mode envelope as soon as `ack` is called; the rest of the listener runs after).
A request delivered twice (an Events API retry with `X-Slack-Retry-Num`, a replayed
command or click with the same trigger_id, an envelope replayed after a Socket Mode
reconnect) is acknowledged and dropped by `dedupe`, whichever worker process it reaches
(the claim is in the database, see bot.once);
page submissions are not dropped but are idempotent (recording changes nothing twice),
so a replay gets the same answer as the first delivery.

Bolt logs rejected request bodies (user ids included) at INFO, so it gets its own logger
at WARNING.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.commands import CONFIRM_DELETE_MY_DATA, DELETE_MY_DATA, STOP_REMINDERS
from bot.slack.answering import team_of
from bot.slack.dm_render import (
    DM_CHOOSE,
    DM_MULTI,
    DM_SAVE,
    DM_SELECT,
    DM_SKIP,
    DM_START,
    DM_STOP,
    DM_WRITE,
    WRITE_CALLBACK,
)
from bot.slack.frontend import SlackFrontend
from bot.slack.modals import BACK_ACTION, PAGE_CALLBACK
from surveys.ports import TAKE_SURVEY

log = logging.getLogger(__name__)

BOLT_LOGGER = "bot.slack.bolt"
DEDUPE_TTL = 3600.0  # seconds a delivery id is remembered (Slack retries within minutes)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"
# What the app asks for when installed (kept to what it uses; see deploy/slack-manifest.yml).
BOT_SCOPES = [
    "commands", "chat:write", "im:write", "users:read", "files:write", "channels:read",
    "groups:read", "usergroups:read",
]


def _action(name: str) -> re.Pattern[str]:
    """An action id and its `:n` variants (repeated buttons in one block)."""
    return re.compile(rf"^{re.escape(name)}(:\d+)?$")


MY_DATA_ACTIONS = re.compile(
    "^(" + "|".join(re.escape(a) for a in (DELETE_MY_DATA, CONFIRM_DELETE_MY_DATA, STOP_REMINDERS))
    + r")(:\d+)?$"
)


def base_action(action_id: str) -> str:
    return action_id.split(":", 1)[0]


def delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one delivery: the event id, or the trigger id of a command/click."""
    if body.get("type") == "event_callback" and body.get("event_id"):
        return "event:" + str(body["event_id"])
    if body.get("type") in ("view_submission", "view_closed"):
        return None  # answered idempotently; a replay must get the same response
    trigger = body.get("trigger_id")
    return "trigger:" + str(trigger) if trigger else None


def bolt_logger() -> logging.Logger:
    logger = logging.getLogger(BOLT_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    return logger


def web_client(base_url: str, token: str | None, session: Any = None) -> AsyncWebClient:
    """Bolt's own client (authorization, OAuth, Socket Mode connections): honours 429s."""
    return AsyncWebClient(
        token=token, base_url=base_url, session=session, logger=bolt_logger(),
        retry_handlers=[AsyncConnectionErrorRetryHandler(),
                        AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


def build_app(
    frontend: SlackFrontend, *, client: AsyncWebClient, signing_secret: str | None,
    oauth_settings: AsyncOAuthSettings | None = None,
) -> AsyncApp:
    """The AsyncApp with the survey's handlers."""
    app = AsyncApp(
        client=client, signing_secret=signing_secret or "", oauth_settings=oauth_settings,
        logger=bolt_logger(), process_before_response=False,
    )
    if oauth_settings is not None:
        app.enable_token_revocation_listeners()
    else:
        # single-token mode keeps no installations; the manifest still subscribes to these
        @app.event("app_uninstalled")
        async def uninstalled(ack: Any) -> None:
            await ack()
            log.warning("the app was uninstalled from a workspace; its token no longer works")

        @app.event("tokens_revoked")
        async def revoked(ack: Any) -> None:
            await ack()
            log.warning("Slack revoked a token of this app")
    answers = frontend.answers
    dm = frontend.dm

    @app.middleware
    async def measured(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Count every request by outcome and time it until Bolt answers Slack (the ack)."""
        started = time.perf_counter()
        try:
            response = await next()
        except Exception:
            metrics.INTERACTIONS.labels("slack", "error").inc()
            raise
        metrics.ACK_SECONDS.labels("slack").observe(time.perf_counter() - started)
        failed = response is not None and response.status >= 400
        metrics.INTERACTIONS.labels("slack", "error" if failed else "ok").inc()
        return response

    @app.middleware
    async def dedupe(body: dict[str, Any], next: Any) -> BoltResponse | None:
        key = delivery_key(body)
        if key is not None and not await answers.once.first(key, DEDUPE_TTL):
            log.info("dropped a repeated Slack delivery (%s)", key.split(":", 1)[0])
            return BoltResponse(status=200, body="")
        return await next()

    @app.command("/survey")
    async def survey(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await frontend.command(ack, body, respond)

    @app.action(BACK_ACTION)
    async def back(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await answers.back(body)

    # -- "Take the survey", and answering in DMs one question at a time (bot.slack.dm_answering)
    def on_button(handle: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """A survey button: ack at once, then `handle(body, button value, respond)`."""
        async def listener(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
            await ack()
            await handle(body, str(action.get("value", "")), respond)
        return listener

    for action_id, handle in ((TAKE_SURVEY, lambda body, value, _respond: answers.take(body, value)),
                              (DM_START, dm.start), (DM_STOP, dm.stop),
                              (DM_WRITE, lambda body, value, _respond: dm.write(body, value))):
        app.action(_action(action_id))(on_button(handle))

    answering = "|".join(re.escape(a) for a in (DM_CHOOSE, DM_SELECT, DM_SAVE, DM_SKIP))

    @app.action(re.compile(rf"^({answering})(:\d+)?$"))
    async def dm_answer(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        await dm.answer(body, action, respond)

    @app.action(_action(DM_MULTI))
    async def dm_ticked(ack: Any) -> None:
        await ack()  # ticking a checkbox saves nothing; "Save" reads the message state

    @app.view(WRITE_CALLBACK)
    async def dm_written(ack: Any, body: dict[str, Any]) -> None:
        await dm.written(ack, body)

    @app.action(MY_DATA_ACTIONS)
    async def my_data(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        await frontend.my_data(body, base_action(str(action["action_id"])), respond)

    @app.view(PAGE_CALLBACK)
    async def page_submitted(ack: Any, body: dict[str, Any]) -> None:
        await answers.submit(ack, body)

    @app.view_closed(PAGE_CALLBACK)
    async def page_closed(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await answers.closed(body)

    @app.event("app_home_opened")
    async def home(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        await frontend.publish_home(team_of(body), str(event["user"]), body.get("enterprise_id"))

    @app.error
    async def failed(error: Exception, body: dict[str, Any]) -> None:
        log.error("a Slack %s request failed: %r", body.get("type") or "command", error,
                  exc_info=error)

    return app
