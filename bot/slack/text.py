"""Untrusted text for Slack: escaping, defusing and clipping to Block Kit's limits.

Community text (questionnaire labels, wave names, survey titles, a member's own answers)
goes into Slack in two ways:

- `mrkdwn` strings (a message's fallback `text`, notifications): `&`, `<` and `>` are
  HTML-escaped as Slack asks, so `<!channel>`, `<@U…>` or `<https://…|links>` arrive as
  the characters themselves and never ping or link.
- `plain_text` objects (headers, sections, labels, options, buttons): Slack renders them
  without markup. To be sure no client ever reads a mention there, the `<` of `<!`, `<@`
  and `<#` gets a zero-width space after it (invisible when displayed).

Every block therefore uses `plain_text` for community text; `mrkdwn` is only used for the
escaped fallback text. `clip` keeps each string inside Slack's per-field limits.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

ZWSP = "\u200b"
_MENTION_START = re.compile(r"<(?=[!@#])")


def clip(text: str | None, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def escape(text: str | None) -> str:
    """Escape for Slack `mrkdwn` / message `text`: only &, < and > (Slack decodes just these)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str | None, limit: int | None = None) -> str:
    """Text for a `plain_text` object: mention-like sequences defused, clipped to `limit`."""
    defused = _MENTION_START.sub("<" + ZWSP, text or "")
    return clip(defused, limit) if limit else defused


def mrkdwn(text: str | None, limit: int | None = None) -> str:
    """Escaped text for a `mrkdwn` field, clipped after escaping (entities are not cut)."""
    escaped = escape(text)
    if limit is None or len(escaped) <= limit:
        return escaped
    cut = escaped[: max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def chunks(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` characters, at line breaks when possible."""
    out: list[str] = []
    current = ""
    for line in (text or "").split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current:
        out.append(current)
    return out
