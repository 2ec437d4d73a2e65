"""Who answers: a platform member, and the pseudonym their answers are stored under."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """A person on a platform: `platform` (slack, discord, console), `space`, `user` ids."""

    platform: str
    space: str
    user: str

    def key(self) -> str:
        return f"{self.platform}:{self.space}:{self.user}"


def pseudonym(secret: bytes, member: Member) -> str:
    """HMAC-SHA256(secret, platform:space:user), hex. Irreversible without the secret."""
    return hmac.new(secret, member.key().encode(), hashlib.sha256).hexdigest()
