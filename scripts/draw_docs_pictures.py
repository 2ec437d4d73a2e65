"""Draw the explanatory pictures of docs/ (not charts of data): `python scripts/draw_docs_pictures.py`.

docs/img/wave-timeline.png: a yearly wave's life — opens, reminders, closes, the final
summary, and the weekly summaries around it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

log = logging.getLogger(__name__)

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
BLUE, ORANGE, GREEN, GREY, SKY = "#0072B2", "#E69F00", "#009E73", "#7f7f7f", "#56B4E9"


def wave_timeline() -> Figure:
    fig = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.16, 0.96, 0.66))
    ax.set_xlim(-3, 41)
    ax.set_ylim(-1.8, 1.9)
    ax.axis("off")
    ax.fill_between([0, 30], -0.22, 0.22, color=SKY, alpha=0.3, lw=0)
    ax.plot([-3, 41], [0, 0], color=GREY, lw=1)
    ax.text(15, 0.62, "open: members answer in the channel or in DMs; every page is saved",
            ha="center", va="center", fontsize=8.5, color="#1f2328")
    above = [(0, "opens 1 Mar 09:00", BLUE), (15, "reminder halfway", ORANGE),
             (30, "closes 31 Mar 09:00", BLUE)]
    for x, label, colour in above:
        ax.plot([x], [0], marker="o", ms=10, color=colour, zorder=3)
        ax.text(x, 1.25, label, ha="center", va="center", fontsize=8.5, color=colour, fontweight="bold")
    ax.plot([28], [0], marker="o", ms=10, color=ORANGE, zorder=3)
    ax.text(27.4, -0.55, "reminder 48 h before close", ha="right", va="center", fontsize=8,
            color=ORANGE, fontweight="bold")
    notes = [(0, "center", "announcement with a\nTake the survey button"),
             (15, "center", "DM to who started or was\ninvited and has not finished"),
             (30.6, "left", "final summary: charts\nvs earlier years")]
    for x, align, note in notes:
        ax.text(x, -1.25, note, ha=align, va="center", fontsize=7.5, color="#444444")
    for x in (-2, 5, 12, 19, 26, 33, 40):
        ax.plot([x], [0], marker="v", ms=7, color=GREEN, zorder=3)
    fig.text(0.02, 0.94, "A yearly wave, as the scheduler runs it", fontsize=12, fontweight="bold",
             ha="left", va="top")
    fig.text(0.02, 0.11, "▼ weekly summary (Mon 09:00): progress while a wave is open, the next "
             "opening date while none is", fontsize=7.5, color=GREEN, ha="left")
    fig.text(0.02, 0.04, 'schedule: /survey schedule state-of-mlops "0 9 1 3 *" duration:30d '
             "reminders:halfway,48h (community time zone)", fontsize=7.5, color=GREY, ha="left")
    return fig


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "wave-timeline.png"
    wave_timeline().savefig(path, metadata={"Software": None})
    log.warning("wrote %s", path)


if __name__ == "__main__":
    main()
