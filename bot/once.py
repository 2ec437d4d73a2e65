"""Once-only claims shared by every process: "has any worker handled this yet?".

With several HTTP workers behind a load balancer (or a Socket Mode reconnect replaying an
envelope), the same Slack delivery or double click can reach two processes. `Once.first(key)`
answers True for exactly one caller across all processes while the claim lives (`ttl`): an
INSERT of HMAC(secret, key) into `delivery_claims` that only one caller wins, or an UPDATE of
an expired row. Keys are hashed with the pseudonym secret, so the table holds no ids.

When the database does not answer within `timeout`, the claim falls back to this process's
memory (a duplicate across processes is then possible; one in the same process is not) and
the caller is not held up: an ack must go out within Slack's 3 s. Expired rows are deleted
now and then by whoever claims.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from datetime import timedelta

from sqlalchemy import delete, update

from surveys.db import Database, rows_changed
from surveys.models import DeliveryClaim, utcnow
from surveys.upsert import insert_ignore

log = logging.getLogger(__name__)

PURGE_EVERY = 500  # claims between deletions of expired rows


class Once:
    """Claims keyed by delivery ids; `first(key, ttl)` is True for one caller per key and ttl."""

    def __init__(self, db: Database, secret: bytes, *, timeout: float = 1.0, memory: int = 50_000):
        self.db = db
        self.secret = secret
        self.timeout = timeout
        self._memory: OrderedDict[str, float] = OrderedDict()  # fallback, and a fast local "seen"
        self._size = memory
        self._claims = 0

    def digest(self, key: str) -> str:
        return hmac.new(self.secret, key.encode(), hashlib.sha256).hexdigest()

    async def first(self, key: str, ttl: float) -> bool:
        digest = self.digest(key)
        if not self._remember(digest, ttl):
            return False  # this process saw it already
        try:
            return await asyncio.wait_for(self._claim(digest, ttl), self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("once-only claims: the database did not answer (%s: %s); using this process's "
                        "memory", type(exc).__name__, exc)
            return True

    def _remember(self, digest: str, ttl: float) -> bool:
        now = time.monotonic()
        while self._memory:
            oldest, until = next(iter(self._memory.items()))
            if until > now and len(self._memory) < self._size:
                break
            self._memory.pop(oldest)
        if digest in self._memory and self._memory[digest] > now:
            return False
        self._memory[digest] = now + ttl
        self._memory.move_to_end(digest)
        return True

    async def _claim(self, digest: str, ttl: float) -> bool:
        now = utcnow()
        expires = now + timedelta(seconds=ttl)
        async with self.db.session() as session:
            inserted = await session.execute(
                insert_ignore(session, DeliveryClaim, ["key_hash"])
                .values(key_hash=digest, expires_at=expires).returning(DeliveryClaim.key_hash))
            won = inserted.scalar_one_or_none() is not None
            if not won:  # an expired claim may be taken again
                renewed = await session.execute(
                    update(DeliveryClaim).where(DeliveryClaim.key_hash == digest,
                                                DeliveryClaim.expires_at < now).values(expires_at=expires))
                won = rows_changed(renewed) == 1
            self._claims += 1
            if self._claims % PURGE_EVERY == 0:
                await session.execute(delete(DeliveryClaim).where(DeliveryClaim.expires_at < now))
        return won
