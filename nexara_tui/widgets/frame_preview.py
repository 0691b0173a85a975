"""Frames sampled across a clip, drawn in the terminal with half-block characters.

Each cell shows two pixels: `▀` with the upper pixel as foreground and the lower
as background (the rich-pixels technique). It works in every terminal, over SSH
and in tmux; Rich downgrades the colours on 256- or 16-colour terminals. A
position where nothing could be decoded is drawn as a hatched box of the same
size, labelled "no frame", so a gap is never mistaken for a dark frame.

Frames arrive as `nexara preview --json` sends them: {"t", "w", "h", "rgb":
base64 raw RGB} or {"t", "missing": true}. Decoding is cheap (a few KB per
frame), so it happens on the UI thread when the panel is drawn.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from textual.widgets import Static

UPPER_HALF = "▀"
_GAP_STYLE = Style(color="red", bgcolor="grey15")
_LABEL_STYLE = Style(color="grey70")
_BAD_LABEL = Style(color="red", bold=True)


def frame_rows(frame: dict[str, Any], step: int = 1) -> list[list[Segment]] | None:
    """One frame as terminal rows of half-block segments; None if it carries no usable pixels.

    `step` > 1 keeps every step-th pixel (nearest neighbour) to fit more frames per line.
    """
    try:
        w, h = int(frame["w"]), int(frame["h"])
        rgb = base64.b64decode(frame["rgb"], validate=False)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    if w <= 0 or h <= 0 or len(rgb) < w * h * 3:
        return None
    styles: dict[tuple[int, int, int, int, int, int], Style] = {}
    rows: list[list[Segment]] = []
    for y in range(0, h, 2 * step):
        top = (y * w) * 3
        bot = ((y + step) * w) * 3 if y + step < h else None
        row: list[Segment] = []
        for x in range(0, w, step):
            i = top + 3 * x
            r1, g1, b1 = rgb[i], rgb[i + 1], rgb[i + 2]
            if bot is not None:
                j = bot + 3 * x
                r2, g2, b2 = rgb[j], rgb[j + 1], rgb[j + 2]
            else:
                r2 = g2 = b2 = 0
            key = (r1, g1, b1, r2, g2, b2)
            st = styles.get(key)
            if st is None:
                st = styles[key] = Style(color=Color.from_rgb(r1, g1, b1), bgcolor=Color.from_rgb(r2, g2, b2))
            row.append(Segment(UPPER_HALF, st))
        rows.append(list(Segment.simplify(row)))
    return rows


def gap_rows(w: int, h: int) -> list[list[Segment]]:
    """A hatched box the size of a frame, saying that nothing decoded here."""
    rows = []
    label = " no frame "
    for y in range(max(1, (h + 1) // 2)):
        line = ("╱" * w)
        if y == max(1, (h + 1) // 2) // 2 and w >= len(label):
            start = (w - len(label)) // 2
            line = line[:start] + label + line[start + len(label):]
        rows.append([Segment(line, _GAP_STYLE)])
    return rows


class FramesRenderable:
    """A grid of frames, as many per line as the width allows, each with its time under it."""

    def __init__(self, frames: Sequence[dict[str, Any]]):
        self.frames = list(frames)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.frames:
            yield Segment("(no frames)", _LABEL_STYLE)
            yield Segment.line()
            return
        good = [f for f in self.frames if not f.get("missing")]
        w0 = max((int(f.get("w", 0) or 0) for f in good), default=32) or 32
        h0 = max((int(f.get("h", 0) or 0) for f in good), default=18) or 18
        # Shrink (every 2nd or 3rd pixel) until at least two frames fit side by side.
        want = min(2, len(self.frames))
        step = 1
        while step < 3 and (options.max_width + 1) // (-(-w0 // step) + 1) < want:
            step += 1
        fw, fh = -(-w0 // step), -(-h0 // step)
        tiles: list[tuple[list[list[Segment]], str, bool]] = []
        for f in self.frames:
            decoded = None if f.get("missing") else frame_rows(f, step)
            bad = decoded is None
            rows = gap_rows(fw, fh) if decoded is None else decoded
            t = f.get("t")
            label = (f"t={float(t):.1f}s" if isinstance(t, (int, float)) else "") + (" ✗" if bad else "")
            tiles.append((rows, label, bad))
        per_line = max(1, (options.max_width + 1) // (fw + 1))
        height = (fh + 1) // 2
        for start in range(0, len(tiles), per_line):
            group = tiles[start:start + per_line]
            for y in range(height):
                for k, (rows, _, _) in enumerate(group):
                    if k:
                        yield Segment(" ")
                    if y < len(rows):
                        yield from rows[y]
                        pad = fw - sum(s.cell_length for s in rows[y])
                    else:
                        pad = fw
                    if pad > 0:
                        yield Segment(" " * pad)
                yield Segment.line()
            for k, (_, label, bad) in enumerate(group):
                if k:
                    yield Segment(" ")
                yield Segment(label[:fw].ljust(fw), _BAD_LABEL if bad else _LABEL_STYLE)
            yield Segment.line()


class FramePreview(Static):
    """Shows the frames of one clip (or a message while they load)."""

    DEFAULT_CSS = """
    FramePreview { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.frames: list[dict[str, Any]] = []

    def show_frames(self, frames: Sequence[dict[str, Any]]) -> None:
        self.frames = list(frames)
        self.update(FramesRenderable(self.frames))

    def show_message(self, text: str) -> None:
        self.frames = []
        self.update(text)

    @property
    def missing_count(self) -> int:
        return sum(1 for f in self.frames if f.get("missing") or frame_rows(f) is None)
