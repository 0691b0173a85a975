"""Fitting text into a number of terminal cells: plain Python, no Textual.

Every list, header and status line in the TUI is one line high at 80 columns as
at 200, so text must be cut to a width — and where it is cut decides whether
the user can still tell two rows apart. Paths are elided in the middle (the
start says where, the end says which file: `train/violent/…_0007.mp4`), prose
is cut at a word boundary, never mid-word.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

ELLIPSIS = "…"


def _clean(text: str) -> str:
    """Names with newlines or tabs cannot break a line."""
    return text.replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")


def _head(text: str, width: int) -> str:
    """The longest prefix of `text` at most `width` cells wide."""
    if text.isascii():
        return text[:width]
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _tail(text: str, width: int) -> str:
    """The longest suffix of `text` at most `width` cells wide."""
    if text.isascii():
        return text[len(text) - width:] if width > 0 else ""
    out, used = [], 0
    for ch in reversed(text):
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(reversed(out))


def fit(text: str, width: int, elide: str = "right") -> str:
    """Exactly `width` cells: padded, or cut with an ellipsis on the `elide` side.

    `elide` is "right" (keep the start), "left" (keep the end) or "middle"
    (paths: keep the file name whole when it fits, and as much of the start as
    the rest allows).
    """
    text = _clean(text)
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    if width == 1:
        return ELLIPSIS
    room = width - 1
    if elide == "left":
        return set_cell_size(ELLIPSIS + _tail(text, room), width)
    if elide == "middle":
        return set_cell_size(elide_middle(text, width), width)
    return set_cell_size(_head(text, room) + ELLIPSIS, width)


def elide_middle(path: str, width: int) -> str:
    """`path` in at most `width` cells, the end of its last component always kept.

    The file name is kept whole when it fits with at least a few cells of the
    start; otherwise a third of the room goes to the start and the rest to the
    end, so `train/violent/clip_long_name_0007.mp4` in 24 cells reads
    `train/v…g_name_0007.mp4`, never `…name_0007.mp4` with the split lost.
    """
    path = _clean(path)
    if cell_len(path) <= width:
        return path
    if width <= 1:
        return ELLIPSIS[:width]
    room = width - 1
    name = path.rsplit("/", 1)[-1]
    name_w = cell_len(name)
    if name_w + 4 <= room and name_w < cell_len(path):
        return _head(path, room - name_w) + ELLIPSIS + name
    left = room // 3
    return _head(path, left) + ELLIPSIS + _tail(path, room - cell_len(_head(path, left)))


def cut_words(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut at the last word boundary (with an ellipsis).

    A status line that must lose something loses whole words: "top reasons:
    truncated 412, moov_missing 97, …" — never "moov_mis".
    """
    text = _clean(text)
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = _head(text, width - 1)
    cut = max(head.rfind(" "), head.rfind(","))
    if cut > 0:
        head = head[:cut].rstrip(" ,·")
    return head + ELLIPSIS
