"""Issue 9: after 40 members answer at once through Slack, SQL alone cannot pair the
participation ledger with the pseudonymous responses (tests/linkage.py plays the attack),
neither right after the run nor after the ledger's daily batch was applied."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from sqlalchemy import select

from surveys.identity import Member, pseudonym
from surveys.models import Participation, Respondent, utcnow
from tests.fakes.slack import block_actions_body
from tests.linkage import attack
from tests.slack.kit import GENERAL, MODERATOR, TEAM, SlackMember, block_text

INVITED = [f"UINV{i:02d}" for i in range(30)]  # channel members at launch: on the ledger
WALK_INS = [f"UWALK{i:02d}" for i in range(10)]  # not in the channel: on the ledger once they start


class ConcurrentMember(SlackMember):
    """A member whose modal is found by its own trigger id (others open theirs meanwhile)."""

    async def take(self, wave_id: int) -> dict:
        trigger = f"{self.user}.trigger"
        resp = await self.bot.post(block_actions_body("take_survey", str(wave_id), user_id=self.user,
                                                      trigger_id=trigger))
        assert resp.status == 200

        def opened():
            return next((c for c in self.fake.calls_to("views.open")
                         if str(c.params.get("trigger_id")) == trigger), None)

        await self.fake.wait_until(lambda: opened() is not None, timeout=60, what=f"{self.user}'s modal")
        self.view = opened().response["view"]
        await self._settle(0)
        return self.view

    def _updates(self) -> list:
        return [c for c in self.fake.calls_to("views.update") if c.params.get("view_id") == self.view["id"]]

    async def _settle(self, seen: int) -> None:
        """Follow a "loading" or "Saving your answers…" view to the page views.update sends."""
        if not any(w in block_text(self.view.get("blocks", [])) for w in ("loading", "Saving your answers")):
            return
        view_id = self.view["id"]
        await self.fake.wait_until(lambda: len(self._updates()) > seen, timeout=60,
                                   what=f"{self.user}'s next page")
        self.view = {**self._updates()[-1].response["view"], "id": view_id}

    async def answer_everything(self, rng: random.Random) -> None:
        for _ in range(20):
            await asyncio.sleep(rng.uniform(0, 0.05))
            if not self.view.get("submit"):
                return
            seen = len(self._updates())
            await self.submit()
            await self._settle(seen)
        raise AssertionError(f"the questionnaire did not end: {block_text(self.view.get('blocks', []))}")


async def _truth(services, users: list[str]) -> dict[str, int]:
    """Ledger user id → respondent id, computed with the secret (what the attacker lacks)."""
    async with services.db.session() as session:
        rows = dict((await session.execute(select(Respondent.pseudonym, Respondent.id))).all())
    return {u: rows[pseudonym(services.secret, Member("slack", TEAM, u))] for u in users}


async def test_ledger_and_responses_cannot_be_paired_after_a_concurrent_run(bot, fake, sservices):
    fake.set_members(GENERAL, [MODERATOR, *INVITED])
    wave_id = await bot.launch("2026")
    rng = random.Random(9)
    order = INVITED + WALK_INS
    rng.shuffle(order)  # who answers first has nothing to do with the channel's member list

    active, most = 0, 0

    async def one(i: int, user: str) -> None:
        nonlocal active, most
        # arrivals in groups of 6 every 0.3 s: a group's members start in the same instant, so
        # at least 6 answer at once however fast one member finishes (a concurrent run)
        await asyncio.sleep((i // 6) * 0.3)
        active += 1
        most = max(most, active)
        member = ConcurrentMember(bot, user)
        await member.take(wave_id)
        await member.answer_everything(random.Random(i))
        active -= 1

    await asyncio.gather(*(one(i, u) for i, u in enumerate(order)))
    assert most >= 5, most  # a concurrent run: many members answering at the same time
    truth = await _truth(sservices, order)
    assert len(truth) == 40

    right_after = await attack(sservices.db, wave_id, truth)
    assert right_after.matched < right_after.threshold, right_after

    ledger = getattr(sservices.flow, "ledger", None)
    if ledger is not None:  # the next day's batch: completions land on the ledger, shuffled
        await ledger.flush(sservices.db, today=utcnow() + timedelta(days=1))
        async with sservices.db.session() as session:
            done = set((await session.execute(
                select(Participation.user_id).where(Participation.completed.is_(True)))).scalars())
        assert done == set(order)  # reminders now skip every one of them
    next_day = await attack(sservices.db, wave_id, truth)
    assert next_day.matched < next_day.threshold, next_day
