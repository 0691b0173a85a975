"""Reading H.264/HEVC syntax: RBSP unescaping and an Exp-Golomb bit reader.

Only headers are ever parsed (parameter sets, the first bytes of a slice), so
this works on short byte strings and never on a whole picture.
"""

from __future__ import annotations


class BitstreamError(ValueError):
    """The bytes do not parse as the syntax element asked for (too short, out of range)."""


def unescape(data: bytes) -> bytes:
    """NAL payload → RBSP: drop the emulation-prevention byte of every 00 00 03."""
    if b"\x00\x00\x03" not in data:
        return data
    out = bytearray()
    i, n = 0, len(data)
    zeros = 0
    while i < n:
        b = data[i]
        if zeros >= 2 and b == 3:
            zeros = 0
            i += 1
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
        i += 1
    return bytes(out)


class BitReader:
    """MSB-first bits of an RBSP, with ue(v)/se(v) Exp-Golomb codes."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.end = len(data) * 8

    @property
    def left(self) -> int:
        return self.end - self.pos

    def u(self, n: int) -> int:
        if n == 0:
            return 0
        if self.pos + n > self.end:
            raise BitstreamError("read past the end")
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def flag(self) -> bool:
        return bool(self.u(1))

    def skip(self, n: int) -> None:
        if self.pos + n > self.end:
            raise BitstreamError("skip past the end")
        self.pos += n

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)

    def more_rbsp_data(self) -> bool:
        """True while payload bits remain before the rbsp_stop_one_bit and its zero padding."""
        if self.pos >= self.end:
            return False
        last = len(self.data) - 1
        while last >= 0 and self.data[last] == 0:
            last -= 1
        if last < 0:
            return False
        byte = self.data[last]
        stop = last * 8 + 7 - ((byte & -byte).bit_length() - 1)  # position of the stop bit
        return self.pos < stop
