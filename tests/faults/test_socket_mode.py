"""Socket Mode reconnects (issue 10, "Across processes": not reached by the campaign).

Slack drops the WebSocket (a refresh, a network cut) and the client reconnects; an envelope
whose ack was lost on the old connection is delivered again on the new one. Nothing may be
lost or done twice: the replayed click opens no second modal, answers submitted around the
reconnects are stored once.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.services import build_services
from bot.slack.runtime import start_slack
from surveys.models import Answer, Wave
from tests.fakes.slack import block_actions_payload, slash_command_payload, view_submission_payload
from tests.slack.kit import GENERAL, MEMBER, MODERATOR, count, fill, input_blocks


async def test_reconnects_lose_nothing_and_repeat_nothing(fake, slack_settings, db):
    settings = slack_settings.model_copy(update={"slack_app_token": "xapp-test",
                                                 "slack_signing_secret": None})
    services = build_services(settings, db)
    runtime = await start_slack(services)
    try:
        await fake.wait_socket_connected()
        fake.set_members(GENERAL, [MODERATOR, MEMBER])
        await fake.socket_request("slash_commands", slash_command_payload(
            "/survey", f"launch state-of-mlops 2026 <#{GENERAL}|general>", user_id=MODERATOR,
            response_url=fake.response_url("launch")))
        (reply,) = await fake.wait_for_response("launch", timeout=15)
        assert "is open and announced" in reply["text"]
        async with services.db.session() as session:
            wave_id = (await session.execute(select(Wave.id))).scalar_one()

        click = block_actions_payload("take_survey", str(wave_id), user_id=MEMBER)
        await fake.socket_request("interactive", click)
        view = (await fake.wait_for("views.open"))[-1].response["view"]

        await fake.close_sockets()  # the connection is cut ...
        await fake.wait_socket_connected(count=2, timeout=15)  # ... and the client comes back
        await fake.socket_request("interactive", click)  # Slack re-delivers the click it lost the ack of
        submission = view_submission_payload(view["callback_id"], view["private_metadata"], fill(view),
                                             user_id=MEMBER, view_id=view["id"])
        first = await fake.socket_request("interactive", submission)
        assert first["payload"]["response_action"] == "update"

        await fake.socket_disconnect()  # Slack asks for a refresh: a new connection replaces this one
        await fake.wait_socket_connected(count=3, timeout=15)
        again = await fake.socket_request("interactive", submission)  # the submission, replayed
        assert again["payload"]["response_action"] == "update"

        assert len(fake.calls_to("views.open")) == 1  # one modal for one click
        assert await count(services, Answer) == len(input_blocks(view))  # stored, once
    finally:
        await runtime.stop()
        await services.close()
