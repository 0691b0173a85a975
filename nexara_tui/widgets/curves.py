"""Training curves in the terminal: loss and accuracy (train vs. val) and per-class recall.

Three plotext plots side by side. They are redrawn from the records at most as
often as updates arrive (the follower batches those to ~4/s), and plotting a
few hundred points is a millisecond affair, so no diffing is needed here.
Colours are named ANSI colours, readable at 256 colours over SSH.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot

from core.monitor.records import EpochRecord

_CLASS_COLOURS = ("red", "cyan", "yellow", "magenta", "green", "blue")


def _recall_of(cls: str) -> Callable[[EpochRecord], float | None]:
    return lambda r: r.recall.get(cls)


def _series(records: Sequence[EpochRecord], get) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in records:
        v = get(r)
        if v is not None and math.isfinite(v):
            xs.append(r.epoch)
            ys.append(v)
    return xs, ys


def epoch_ticks(epochs: Sequence[int], most: int = 6) -> list[int]:
    """Whole-epoch x ticks, at most `most`, evenly spaced on a round step (1, 2, 5, 10, 20…)."""
    if not epochs:
        return []
    lo, hi = min(epochs), max(epochs)
    span = max(1, hi - lo)
    step = 1
    for base in (1, 2, 5):
        for mag in (1, 10, 100, 1000):
            if span / (base * mag) <= most - 1:
                step = base * mag
                break
        else:
            continue
        break
    first = -(-lo // step) * step
    ticks = list(range(first, hi + 1, step))
    return ticks or [lo]


class Curves(Horizontal):
    DEFAULT_CSS = """
    Curves { height: 14; }
    Curves PlotextPlot { width: 1fr; height: 100%; }
    """

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="plot-loss")
        yield PlotextPlot(id="plot-acc")
        yield PlotextPlot(id="plot-recall")

    def on_mount(self) -> None:
        self.draw([], [])

    def draw(self, records: Sequence[EpochRecord], classes: Sequence[str],
             best: int | None = None) -> None:
        specs: list[tuple[str, str, list[tuple[str, str, Callable[[EpochRecord], float | None]]]]] = [
            ("#plot-loss", "loss", [("train", "blue", lambda r: r.loss),
                                    ("val", "orange", lambda r: r.val_loss)]),
            ("#plot-acc", "accuracy", [("train", "blue", lambda r: r.accuracy),
                                       ("val", "orange", lambda r: r.val_accuracy)]),
            ("#plot-recall", "val recall per class",
             [(c, _CLASS_COLOURS[i % len(_CLASS_COLOURS)], _recall_of(c))
              for i, c in enumerate(classes)]),
        ]
        for sel, title, lines in specs:
            widget = self.query_one(sel, PlotextPlot)
            plt = widget.plt
            plt.clear_data()
            plt.clear_figure()
            plt.title(title)
            drawn = False
            for label, colour, get in lines:
                xs, ys = _series(records, get)
                if xs:
                    plt.plot(xs, ys, label=label, color=colour, marker="braille")
                    drawn = True
            if drawn and best is not None:
                plt.vline(best, "green")
            if drawn:
                ticks = epoch_ticks([r.epoch for r in records])
                plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
            if not drawn:
                plt.title(f"{title} (no data yet)")
            widget.refresh()
