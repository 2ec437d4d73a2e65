"""Answers acknowledged with "Saving your answers…" are stored, or the member sees an error
that keeps their input (issue 10, item 1).

Before: a database that hung longer than the ack budget and then dropped connections left
every member on "Saving…" forever, and the acknowledged answers were lost.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import make_url

from bot.saving import UNSAVED, SavePolicy
from bot.services import build_services
from surveys.db import Database
from surveys.models import Answer
from tests.conftest import PG_URL
from tests.faults.outage import Outage
from tests.faults.proxy import TCPProxy
from tests.slack.conftest import serve
from tests.slack.kit import SlackBot, block_text, count, fill, input_blocks

MEMBERS = 8


async def _open_first_pages(bot, wave_id: int) -> list:
    members = [bot.member(f"USAVE{i}") for i in range(MEMBERS)]
    for m in members:
        await m.take(wave_id)
    return members


async def test_a_failover_behind_saving_loses_no_answer(bot, fake, sservices):
    wave_id = await bot.launch()
    members = await _open_first_pages(bot, wave_id)
    fields = sum(len(input_blocks(m.view)) for m in members)
    updates = len(fake.calls_to("views.update"))
    outage = Outage(sservices.db)
    try:
        outage.begin(hang=2.6, down=1.0)  # longer than the 2 s ack budget, then connections drop
        acks = await asyncio.gather(*(m.submit() for m in members))
        assert all("Saving your answers" in block_text(a.body["view"]["blocks"]) for a in acks)
        assert max(bot.latencies[-MEMBERS:]) < 3.0
        done = await fake.wait_for("views.update", updates + MEMBERS, timeout=30)
    finally:
        outage.restore()
    assert outage.failed >= MEMBERS
    shown = [block_text(c.params["view"]["blocks"]) for c in done[updates:]]
    assert all("Page 2 of" in text for text in shown), shown
    assert await count(sservices, Answer) == fields  # every acknowledged field, once


async def test_a_database_down_past_the_deadline_keeps_the_input(bot, fake, sservices):
    sservices_answers = bot.runtime.frontend.answers
    sservices_answers.save_policy = SavePolicy(deadline=2.5, attempt_timeout=1.0, first_delay=0.2)
    wave_id = await bot.launch()
    (member, *_) = await _open_first_pages(bot, wave_id)
    values = fill(member.view)
    updates = len(fake.calls_to("views.update"))
    outage = Outage(sservices.db)
    try:
        outage.begin(down=60)
        ack = await member.submit(values)
        assert "Saving your answers" in block_text(ack.body["view"]["blocks"])
        (call,) = (await fake.wait_for("views.update", updates + 1, timeout=15))[updates:]
    finally:
        outage.restore()
    view = call.params["view"]
    assert UNSAVED.split(":")[0] in block_text(view["blocks"])
    # the member's choices are still selected, so submitting again needs no retyping
    for block in input_blocks(view):
        element = block["element"]
        assert element.get("initial_option") or element.get("initial_options") or element.get("initial_value")
    assert await count(sservices, Answer) == 0
    member.view = {**view, "id": call.params["view_id"]}
    again = await member.submit(values)
    assert "Page 2 of" in block_text(again.body["view"]["blocks"])
    assert await count(sservices, Answer) == len(input_blocks(view))


@pytest.mark.skipif(not PG_URL, reason="the proxy stands in front of PostgreSQL (STATEOF_TEST_DATABASE_URL)")
async def test_a_postgresql_failover_through_the_proxy_loses_no_answer(fake, slack_settings, database_url):
    url = make_url(database_url)
    async with TCPProxy([(url.host or "127.0.0.1", url.port or 5432)]) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        db = Database(proxied)
        services = build_services(slack_settings.model_copy(update={"database_url": proxied}), db)
        runtime, runner, root = await serve(services)
        bot = SlackBot(fake, services, runtime, root + "/slack/events")
        try:
            wave_id = await bot.launch()
            members = await _open_first_pages(bot, wave_id)
            fields = sum(len(input_blocks(m.view)) for m in members)
            updates = len(fake.calls_to("views.update"))
            proxy.hang()
            submits = asyncio.gather(*(m.submit() for m in members))
            await asyncio.sleep(2.6)  # the database hangs past the ack budget ...
            proxy.refuse()
            proxy.drop()  # ... then its connections drop (a failover)
            await asyncio.sleep(1.0)
            proxy.heal()
            acks = await submits
            assert all("Saving your answers" in block_text(a.body["view"]["blocks"]) for a in acks)
            done = await fake.wait_for("views.update", updates + MEMBERS, timeout=40)
            shown = [block_text(c.params["view"]["blocks"]) for c in done[updates:]]
            assert all("Page 2 of" in text for text in shown), shown
            assert await count(services, Answer) == fields
        finally:
            await bot.close()
            await runtime.stop()
            await runner.cleanup()
            await services.close()
