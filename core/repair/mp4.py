"""The top-level boxes of an ISO-BMFF (MP4/MOV) file, read header by header.

Only 16 bytes per box are read, so walking a multi-gigabyte file costs a few
reads. A download cut short leaves its last box (usually `mdat`) claiming more
bytes than arrived: that box is reported clipped to the end of the file,
which is exactly the media data the index rebuild walks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ISO_TYPES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pdin", b"moof",
             b"styp", b"sidx", b"meta", b"mfra", b"junk", b"pnot", b"prfl", b"PICT"}


@dataclass(frozen=True)
class TopBox:
    type: bytes
    offset: int
    header: int
    end: int  # clipped to the end of the file
    declared_end: int  # where the box says it ends (past EOF for a cut file)

    @property
    def body(self) -> int:
        return self.offset + self.header

    @property
    def cut(self) -> bool:
        return self.declared_end > self.end


def top_boxes(path: str | os.PathLike[str]) -> list[TopBox]:
    """The top-level boxes; stops at the first header that is not a box (junk, a torn tail)."""
    out: list[TopBox] = []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(16)
            n = int.from_bytes(hdr[:4], "big")
            typ = hdr[4:8]
            header = 8
            if n == 1:
                if len(hdr) < 16:
                    break
                n = int.from_bytes(hdr[8:16], "big")
                header = 16
            elif n == 0:
                n = size - pos  # "to the end of the file": how a killed recorder leaves mdat
            if typ not in ISO_TYPES and not (out and typ.isalnum()):
                break
            if n < header:
                break
            out.append(TopBox(typ, pos, header, min(pos + n, size), pos + n))
            pos += n
    return out


def mdat_ranges(path: str | os.PathLike[str]) -> list[tuple[int, int, bool]]:
    """(start, end, cut) of the media data of every `mdat` box, clipped to the file."""
    return [(b.body, b.end, b.cut) for b in top_boxes(path) if b.type == b"mdat" and b.end > b.body]


def has_moov(path: str | os.PathLike[str]) -> bool:
    return any(b.type == b"moov" and not b.cut for b in top_boxes(path))
