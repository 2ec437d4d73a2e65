"""The report's colours (charts and HTML) and the WCAG contrast rules they are held to.

Okabe & Ito (2008), "Color Universal Design", with one change: their vermillion #D55E00 is
only 3.87:1 on white, below the 4.5:1 that WCAG AA asks of text, so "down" (a significant
fall, drawn and written) is the darker #B35000 of the same hue (5.17:1 on white). Text written
on a coloured bar takes whichever of white or ink reads better (`text_on`).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

WHITE = "#FFFFFF"
BLUE, SKY, ORANGE, GREEN = "#0072B2", "#56B4E9", "#E69F00", "#009E73"
VERMILLION, PURPLE, YELLOW, GREY = "#B35000", "#CC79A7", "#F0E442", "#A0A0A0"
INK, MUTED, LIGHT = "#222222", "#555555", "#E6E6E6"
UP, DOWN = BLUE, VERMILLION  # a significant rise / fall, in charts and in the HTML tables

AA_TEXT = 4.5  # WCAG 2.1 AA, normal-size text
AA_GRAPHICS = 3.0  # WCAG 2.1 AA, non-text contrast (marks that carry meaning)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """The relative luminance of '#RRGGBB' (WCAG 2.1)."""
    hex_digits = colour.lstrip("#")
    if len(hex_digits) != 6:
        raise ValueError(f"not a #RRGGBB colour: {colour!r}")
    r, g, b = (_channel(int(hex_digits[i:i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two colours, from 1 to 21."""
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(fill: str) -> str:
    """White or ink, whichever has the higher contrast on `fill`."""
    return WHITE if contrast(WHITE, fill) >= contrast(INK, fill) else INK
