"""Secrets at rest: values sealed with a key derived from STATEOF_SECRET_KEY.

A `Sealer` encrypts and authenticates small values (Slack tokens, pending ledger marks)
with Fernet (AES-128-CBC + HMAC-SHA256). Each purpose gets its own key, derived from the
secret with HKDF-SHA256, so a key for one purpose opens nothing else. Tokens are made
with a fixed time of 0: a Fernet token otherwise carries its creation time in clear,
which would time what it seals.
"""

from __future__ import annotations

import base64
import logging

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

SLACK_TOKENS = "stateof/slack-tokens/v1"
LEDGER_MARKS = "stateof/ledger-marks/v1"


class SealError(Exception):
    """A sealed value cannot be opened: another STATEOF_SECRET_KEY sealed it, or it was altered."""


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A Fernet key (url-safe base64 of 32 bytes) for one purpose."""
    if not secret:
        raise ValueError("an empty secret cannot seal anything")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret)
    return base64.urlsafe_b64encode(raw)


class Sealer:
    """Seal and open text for one purpose (see `derive_key`)."""

    def __init__(self, secret: bytes, purpose: str):
        self.purpose = purpose
        self._fernet = Fernet(derive_key(secret, purpose))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt_at_time(text.encode(), 0).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise SealError(
                f"a sealed value ({self.purpose}) cannot be opened with this STATEOF_SECRET_KEY"
            ) from None

    @staticmethod
    def looks_sealed(value: str) -> bool:
        """Whether `value` has the shape of a Fernet token (version byte 0x80)."""
        try:
            raw = base64.urlsafe_b64decode(value.encode("ascii"))
        except (ValueError, UnicodeError):
            return False
        return len(raw) >= 57 and raw[0] == 0x80
