"""The one ISO-BMFF (MP4/MOV) box walker: the integrity check and the demo's damage share it.

An MP4 is a tree of boxes (size, type, body). Two callers need to walk it: the
integrity check asks whether the last top-level box claims bytes the file lacks
(a cut download, as opposed to an index pointing at the wrong place), and the
demo generator finds `moov/trak/.../stco` to damage an index the way real files
break. Both work on a buffer — `bytes`, `bytearray`, or an `mmap` of the file,
so the check reads only the box headers and never the media data.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Top-level box types that mark a file as ISO-BMFF when they open it.
TOP_LEVEL_TYPES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pdin", b"moof", b"styp", b"sidx"}
)


class Buffer(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, key: slice) -> bytes: ...


@dataclass(frozen=True)
class Box:
    type: bytes
    offset: int
    size: int
    header: int  # 8, or 16 for a 64-bit size

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def body(self) -> int:
        return self.offset + self.header


def iter_boxes(data: Buffer, start: int = 0, end: int | None = None, *, clip: bool = True) -> Iterator[Box]:
    """The boxes directly inside `data[start:end]` (the top level by default).

    Stops at the first header that is not a box (size smaller than its header).
    A size of 0 means "to the end". With `clip=False` a box may claim more bytes
    than `end` (that is how an overrun is seen); with `clip=True` the walk stops there.
    """
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield Box(typ, pos, size, header)
        if clip and pos + size > end:
            return
        pos += size


def find_boxes(data: Buffer, path: list[bytes], start: int = 0, end: int | None = None) -> list[Box]:
    """All boxes reached by a path of types, e.g. [b'moov', b'trak']."""
    found = [b for b in iter_boxes(data, start, end) if b.type == path[0]]
    if len(path) == 1:
        return found
    out: list[Box] = []
    for b in found:
        out.extend(find_boxes(data, path[1:], b.body, min(b.end, len(data) if end is None else end)))
    return out


def trak_handler(data: Buffer, trak: Box) -> bytes:
    """The handler type of a track (`vide`, `soun`, …)."""
    for hdlr in find_boxes(data, [b"mdia", b"hdlr"], trak.body, trak.end):
        return bytes(data[hdlr.body + 8:hdlr.body + 12])
    return b""


def video_trak(data: Buffer) -> Box:
    for trak in find_boxes(data, [b"moov", b"trak"]):
        if trak_handler(data, trak) == b"vide":
            return trak
    raise ValueError("no video trak")


def top_level_overrun(path: Path | str) -> bool | None:
    """Does the last top-level box claim bytes the file lacks? None: not a box structure.

    True is the signature of a cut download (mdat declared longer than what
    arrived); False with a broken index means the bytes are there and the
    index points elsewhere.
    """
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if size < 8:
                return None
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                boxes = list(iter_boxes(mm, clip=False))
    except (OSError, ValueError):
        return None
    if not boxes:
        return None
    last = boxes[-1]
    if last.end > size:
        return True
    if last.end < size and size - last.end >= 8:
        return None  # stopped at bytes that are not a box: not a structure we understand
    return False
