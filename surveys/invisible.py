"""Characters a reader cannot see: control characters, bidirectional overrides, zero-width
marks. Questionnaire text refuses them; messages about user input show them escaped."""

from __future__ import annotations

import logging
import unicodedata

log = logging.getLogger(__name__)

# Format characters that hide or reorder text (the zero-width joiner U+200D of emoji stays).
_HIDDEN = frozenset(
    "\u200b\u200c\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def is_invisible(ch: str) -> bool:
    """A control character (category Cc), a line/paragraph separator, or a hiding format mark."""
    return ch in _HIDDEN or ch in "\u2028\u2029" or unicodedata.category(ch) == "Cc"


def invisible_in(text: str, allowed: str = "") -> list[str]:
    """The distinct invisible characters of `text` (except `allowed`), in order of appearance."""
    found: list[str] = []
    for ch in text:
        if ch not in allowed and is_invisible(ch) and ch not in found:
            found.append(ch)
    return found


def escape_char(ch: str) -> str:
    """`\\n`, `\\t`, `\\r`, else `\\xNN` / `\\uNNNN` for a character that cannot be seen."""
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch) or (
        f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def shown(text: str, limit: int = 80) -> str:
    """`text` safe to print in one line: invisible characters escaped, cut at `limit`
    characters (with the number of characters left out)."""
    out = "".join(escape_char(ch) if is_invisible(ch) else ch for ch in text[:limit])
    if len(text) > limit:
        out += f"… ({len(text) - limit} more characters)"
    return out
