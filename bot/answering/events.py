"""What a member can do while answering, whatever the platform: the neutral events.

A field key is `focus` or, for one row of a grid, `tooling.ml_pipeline`. `anchor` is a
field of the page the member acted on (its first field), so no server-side session is
needed to know where they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Take:
    """"Take the survey" / "Answer in DMs": start or resume."""

    wave_id: int


@dataclass(frozen=True)
class Pick:
    """One field answered (an option picked, a text written, a skip as None): saved at once."""

    wave_id: int
    key: str
    value: Any


@dataclass(frozen=True)
class Write(Pick):
    """A typed answer (number, text, country): saved at once like a pick."""


@dataclass(frozen=True)
class Next:
    """Leave the page forward. With `values` (a submitted form) the whole page is checked
    and stored, blank meaning skipped; without, blanks left on the page count as skipped."""

    wave_id: int
    anchor: str
    values: dict[str, Any] | None = None
    finish: bool = False


@dataclass(frozen=True)
class Finish(Next):
    """Next on the last page: the survey is complete once every required question is."""

    finish: bool = True


@dataclass(frozen=True)
class Back:
    """The previous page; what is valid and filled in on this one is kept."""

    wave_id: int
    anchor: str
    values: dict[str, Any] | None = None


@dataclass(frozen=True)
class Stop:
    """Stop for now (a closed modal, "Stop for now", quitting): keep what is valid."""

    wave_id: int
    values: dict[str, Any] | None = None


@dataclass(frozen=True)
class Show:
    """Show the page holding `key` (the first page without one) with the stored answers;
    `errors` and `draft` put a problem and what the member gave back on it."""

    wave_id: int
    key: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    draft: dict[str, Any] = field(default_factory=dict)


Event = Take | Pick | Next | Back | Stop | Show


def navigation(button: str, wave_id: int, anchor: str) -> Event:
    """A page's navigation button as its event: "n" Next, "b" Back, "f" Finish (blanks left
    on the page count as skipped), "s" review from the first page (the thank-you's button)."""
    match button:
        case "b":
            return Back(wave_id, anchor)
        case "f":
            return Finish(wave_id, anchor)
        case "s":
            return Show(wave_id)
    return Next(wave_id, anchor)
