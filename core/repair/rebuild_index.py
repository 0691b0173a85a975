"""Rebuild a lost index: turn the `mdat` of an MP4/MOV without a usable `moov` back into a clip.

A download or recording cut before its index was written (FFmpeg: "moov atom
not found"), or an index whose chunk offsets point elsewhere, leaves the coded
pictures intact in `mdat`, each a run of length-prefixed NAL units, with the
audio chunks interleaved between them. untrunc rebuilds such a file by hand
from a healthy file of the same camera; this does the same for a whole
dataset:

1. The decoder configuration (avcC/hvcC: parameter sets, NAL length size) and
   the frame rate come from a reference: a healthy clip of the same encoder
   (`core.repair.reference` picks it), or the file's own `moov` when only its
   sample table is broken.
2. `mdat` is walked NAL unit by NAL unit. A unit is believed only if its
   length fits, its header is legal and it parses against the reference's
   parameter sets (a slice: its PPS exists, first_mb is inside the picture,
   frame_num continues the previous picture; an SEI: well-formed messages).
   Anything else is not video (an audio chunk, padding): the walk steps
   forward byte by byte to the next such landmark. Only offsets are kept,
   never the pictures themselves.
3. Units are cut into access units at the first slice of each picture
   (first_mb_in_slice == 0 / first_slice_segment_in_pic_flag) and at the
   parameter sets, delimiters and SEI that precede one.
4. Display order is computed, not guessed: each picture's order count comes
   from its slice header and the SPS (H.264 8.2.1, HEVC 8.3.1), as untrunc
   does; pictures are sorted by it within each coded video sequence. So
   B-frames get their right presentation times, and a tail whose B-frames were
   cut off is trimmed back to the last picture with nothing missing before it.
5. A new video-only MP4 is written by stream copy with the reference's
   decoder configuration (`add_stream_from_template`) at the reference's frame
   rate. Audio is not rebuilt: the trainer uses pictures only, and guessing
   AAC frame boundaries without an index is where such tools go wrong.

What it cannot do: pictures whose bytes are gone (past the cut) stay gone;
a file whose first picture is missing has nothing to start decoding from; a
stream unlike every healthy clip of the dataset has no configuration to
borrow (name one with `--reference`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from core.repair.bits import BitstreamError
from core.repair.h264 import AvcConfig, Unsupported
from core.repair.h264 import PocCounter as AvcPoc
from core.repair.hevc import HevcConfig
from core.repair.hevc import PocCounter as HevcPoc
from core.repair.mp4 import mdat_ranges
from core.repair.nal import MAX_NON_VCL_BYTES, SLICE_HEAD_BYTES, NalInfo

_WINDOW = 1 << 16
# Give up on a file after skipping this much without finding a picture: it is
# not the stream the configuration describes (or not video at all).
MAX_SKIP_BYTES = 32 << 20


class RebuildError(ValueError):
    """Why no index could be rebuilt (one line, for the report)."""


@dataclass
class DecoderConfig:
    """What the rebuild borrows from a reference clip."""

    codec: str  # "h264" | "hevc"
    extradata: bytes
    parsed: AvcConfig | HevcConfig
    width: int
    height: int
    rate: Fraction  # frames per second
    source: str  # the reference's path (its stream is the template of the new one)
    profile: str = ""

    @property
    def length_size(self) -> int:
        return self.parsed.length_size

    def key(self) -> tuple[Any, ...]:
        return (self.codec, self.profile, self.width, self.height, self.length_size, self.extradata)


def config_from_stream(path: str, stream: Any) -> DecoderConfig:
    """The decoder configuration of an open video stream (RebuildError if it has none we can use)."""
    cc = stream.codec_context
    name = cc.name if cc else ""
    extradata = bytes(cc.extradata or b"") if cc else b""
    if name not in ("h264", "hevc"):
        raise RebuildError(f"reference codec {name or 'unknown'}: only H.264 and HEVC can be rebuilt")
    try:
        parsed: AvcConfig | HevcConfig = (AvcConfig if name == "h264" else HevcConfig).from_extradata(extradata)
    except (BitstreamError, Unsupported, IndexError) as exc:
        raise RebuildError(f"reference decoder configuration unusable: {exc}") from exc
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise RebuildError("reference has no frame rate")
    return DecoderConfig(name, extradata, parsed, int(stream.width or 0), int(stream.height or 0),
                         Fraction(rate), path, str(cc.profile or ""))


def read_config(path: str | os.PathLike[str]) -> DecoderConfig:
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise RebuildError(f"{path}: no video stream")
            return config_from_stream(str(path), c.streams.video[0])
    except av.error.FFmpegError as exc:
        raise RebuildError(f"{path}: cannot open: {exc}") from exc


# -- walking mdat ---------------------------------------------------------------------------------


class _Reader:
    """Random access over a file through one cached window (never the whole file)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.start = 0
        self.buf = b""

    def at(self, off: int, n: int) -> bytes:
        if off < self.start or off + n > self.start + len(self.buf):
            self.start = off
            self.buf = os.pread(self.fd, max(n, _WINDOW), off)
        i = off - self.start
        return self.buf[i:i + n]


@dataclass
class Nal:
    offset: int  # of the length prefix
    size: int  # prefix included
    info: NalInfo


@dataclass
class AccessUnit:
    nals: list[Nal] = field(default_factory=list)
    first: NalInfo | None = None  # the first slice's header
    decode: int = 0
    sequence: int = 0
    poc: int = 0
    rank: int = 0  # display position

    @property
    def keyframe(self) -> bool:
        return bool(self.first and self.first.keyframe)

    @property
    def size(self) -> int:
        return sum(n.size for n in self.nals)


@dataclass
class WalkResult:
    units: list[AccessUnit]
    skipped_bytes: int  # bytes that were not believed to be video (audio, padding, garbage)
    video_bytes: int
    cut: bool  # the data ended inside a unit or the mdat box claims more than the file has
    nals: int


class _Walker:
    def __init__(self, fd: int, cfg: DecoderConfig, max_skip: int = MAX_SKIP_BYTES):
        self.r = _Reader(fd)
        self.cfg = cfg
        self.ls = cfg.length_size
        self.max_skip = max_skip

    def nal_at(self, pos: int, end: int) -> tuple[int, NalInfo | None]:
        """(total size, info) of the NAL unit at pos; info None if not believable there."""
        ls = self.ls
        if pos + ls + 1 > end:
            return 0, None
        n = int.from_bytes(self.r.at(pos, ls), "big")
        if n < 1 or pos + ls + n > end:
            return ls + n, None
        first = self.r.at(pos + ls, 2)
        vcl = self._is_vcl(first)
        take = min(n, SLICE_HEAD_BYTES) if vcl else n
        if not vcl and n > MAX_NON_VCL_BYTES:
            return ls + n, None
        head = self.r.at(pos + ls, take)
        return ls + n, self.cfg.parsed.parse_nal(head, n)

    def _is_vcl(self, first: bytes) -> bool:
        if self.cfg.codec == "h264":
            return (first[0] & 0x1F) in (1, 5)
        t = (first[0] >> 1) & 0x3F
        return t < 32

    def landmark(self, pos: int, end: int, prev: NalInfo | None) -> int | None:
        """The size of the run of believable units at pos that leads to a picture start, if any."""
        total = 0
        p = pos
        for _ in range(8):  # parameter sets / SEI / delimiters before the slice
            size, info = self.nal_at(p, end)
            if info is None:
                return None
            if info.vcl:
                return total + size if info.first_in_pic and self.cfg.parsed.continues(prev, info) else None
            if not info.starts_au:
                return None
            total += size
            p += size
        return None

    def find_landmark(self, pos: int, end: int, prev: NalInfo | None) -> int | None:
        """The next position ≥ pos where a picture (or its prefix units) starts."""
        ls = self.ls
        limit = min(end, pos + self.max_skip)
        p = pos
        while p + ls + 2 <= limit:
            if ls == 4:
                # A NAL unit under 16 MB has a zero first length byte: jump from zero to zero.
                window = self.r.at(p, min(_WINDOW, limit - p))
                i = window.find(b"\x00")
                if i < 0:
                    p += len(window)
                    continue
                p += i
                if p + ls + 2 > limit:
                    return None
            if self.landmark(p, end, prev) is not None:
                return p
            p += 1
        return None


def walk(path: str | os.PathLike[str], cfg: DecoderConfig, max_units: int | None = None,
         max_skip: int = MAX_SKIP_BYTES) -> WalkResult:
    """Every believable NAL unit in the file's media data, cut into access units.

    `max_units` stops after that many pictures and `max_skip` gives up after that many bytes
    without a picture (both for probing a configuration, which must be cheap when it is wrong)."""
    ranges = mdat_ranges(path)
    if not ranges:
        raise RebuildError("no mdat box: no media data to rebuild from")
    units: list[AccessUnit] = []
    skipped = video = count = 0
    cut = any(c for _, _, c in ranges)
    fd = os.open(path, os.O_RDONLY)
    try:
        w = _Walker(fd, cfg, max_skip)
        prev_pic: NalInfo | None = None
        for start, end, range_cut in ranges:
            cur: AccessUnit | None = None
            first_of_range = len(units)
            pos = start
            in_sync = False
            while pos < end and (max_units is None or len(units) < max_units):
                if not in_sync:
                    nxt = w.find_landmark(pos, end, prev_pic)
                    if nxt is None and prev_pic is not None:
                        nxt = w.find_landmark(pos, end, None)  # frame_num broke: take any picture start
                        if nxt is not None:
                            prev_pic = None  # ...and continue from it
                    if nxt is None:
                        skipped += end - pos
                        break
                    skipped += nxt - pos
                    pos, in_sync = nxt, True
                    if cur is not None and cur.first is not None:
                        units.append(cur)
                    cur = None  # a chunk holds whole samples: after skipped bytes, a new picture
                size, info = w.nal_at(pos, end)
                if info is None or (info.vcl and info.first_in_pic
                                    and not w.cfg.parsed.continues(prev_pic, info)):
                    in_sync = False  # not video here (audio, padding, the cut): look for the next picture
                    continue
                new_pic = (info.vcl and info.first_in_pic) or (not info.vcl and info.starts_au)
                if cur is None or (new_pic and cur.first is not None):
                    if cur is not None and cur.first is not None:
                        units.append(cur)
                    cur = AccessUnit()
                cur.nals.append(Nal(pos, size, info))
                if info.vcl and info.first_in_pic:
                    cur.first = info
                    prev_pic = info
                video += size
                count += 1
                pos += size
            full = max_units is not None and len(units) >= max_units
            if cur is not None and cur.first is not None and not full:
                units.append(cur)  # (a walk stopped at max_units may hold half of the next picture)
            if range_cut and len(units) > first_of_range and not full:
                units.pop()  # the picture at the cut may be missing slices: never keep half a picture
    finally:
        os.close(fd)
    return WalkResult(units, skipped, video, cut, count)


# -- display order ----------------------------------------------------------------------------------


@dataclass
class Ordered:
    units: list[AccessUnit]  # decode order, each with rank (display position)
    delay: int  # dts = decode index - delay keeps every pts >= dts
    dropped_leading: int = 0  # pictures before the first keyframe (nothing to decode them from)
    dropped_rasl: int = 0  # HEVC leading pictures of the opening CRA
    dropped_tail: int = 0  # cut-off pictures, or pictures whose display predecessors are missing
    notes: list[str] = field(default_factory=list)


def order(result: WalkResult, cfg: DecoderConfig) -> Ordered:
    """Decode order → picture order counts → display ranks; trims what cannot be shown whole."""
    units = list(result.units)
    lead = 0
    while lead < len(units) and not units[lead].keyframe:
        lead += 1
    units = units[lead:]
    rasl = 0
    kept: list[AccessUnit] = []
    if cfg.codec == "h264":
        apoc = AvcPoc(cfg.parsed)  # type: ignore[arg-type]
        seq = -1
        for u in units:
            assert u.first is not None
            if u.first.idr:
                seq += 1
            u.sequence = max(seq, 0)
            u.poc = apoc.poc(u.first)
            kept.append(u)
    else:
        hpoc = HevcPoc(cfg.parsed)  # type: ignore[arg-type]
        seq = -1
        for u in units:
            assert u.first is not None
            if hpoc.starts_sequence(u.first):
                seq += 1
            u.sequence = max(seq, 0)
            u.poc = hpoc.poc(u.first)
            if hpoc.undecodable(u.first):
                rasl += 1
                continue
            kept.append(u)
            if any(n.info.end_of_sequence for n in u.nals):
                hpoc.end_of_sequence()
    for i, u in enumerate(kept):
        u.decode = i
    _rank(kept, cfg.codec)
    # The longest decode-order prefix whose pictures leave no hole in display order.
    best = 0
    hi = -1
    for i, u in enumerate(kept):
        hi = max(hi, u.rank)
        if hi == i:
            best = i + 1
    tail = len(kept) - best
    kept = kept[:best]
    delay = max((u.decode - u.rank for u in kept), default=0)
    out = Ordered(kept, max(delay, 0), lead, rasl, tail)
    if lead:
        out.notes.append(f"{lead} picture(s) before the first keyframe dropped")
    if rasl:
        out.notes.append(f"{rasl} leading picture(s) of the opening CRA dropped (their references are gone)")
    if tail:
        out.notes.append(f"{tail} picture(s) at the cut dropped (display order would have a hole)")
    return out


def _rank(units: list[AccessUnit], codec: str) -> None:
    """Display positions from picture order counts: position = (POC - first POC of its coded
    video sequence) / POC step, so a picture that is missing (cut off) leaves a hole in the ranks
    instead of silently shifting every later picture one place forward.

    The step is a property of the stream, so it is the gcd of the gaps between sorted POCs over
    all sequences; with too few pictures to tell, it is also held to the usual encoders' step
    (2 per frame in H.264, 1 in HEVC), e.g. for a last sequence of only an IDR and a P frame.
    """
    import math

    by_seq: dict[int, list[AccessUnit]] = {}
    for u in units:
        by_seq.setdefault(u.sequence, []).append(u)
    firsts: dict[int, int] = {}
    step, gaps = 0, 0
    for seq, group in by_seq.items():
        pocs = sorted({u.poc for u in group})
        firsts[seq] = pocs[0]
        for a, b in zip(pocs, pocs[1:], strict=False):
            step = math.gcd(step, b - a)
            gaps += 1
    if gaps < 4:
        step = math.gcd(step, 2 if codec == "h264" else 1)
    step = step or 1
    base = 0
    for seq in sorted(by_seq):
        top = 0
        for u in by_seq[seq]:
            u.rank = base + (u.poc - firsts[seq]) // step
            top = max(top, u.rank)
        base = top + 1


# -- writing ----------------------------------------------------------------------------------------


def iter_packets(path: str | os.PathLike[str], ordered: Ordered) -> Iterator[tuple[bytes, AccessUnit]]:
    """Each access unit's bytes (length-prefixed NAL units, as in the file), in decode order."""
    fd = os.open(path, os.O_RDONLY)
    try:
        for u in ordered.units:
            yield b"".join(os.pread(fd, n.size, n.offset) for n in u.nals), u
    finally:
        os.close(fd)


def write_mp4(src: str | os.PathLike[str], out: str | os.PathLike[str], fmt: str,
              ordered: Ordered, cfg: DecoderConfig, crash: Any = None) -> int:
    """Mux the access units into a new video-only file with the reference's decoder configuration."""
    import av

    tb = 1 / cfg.rate
    written = 0
    with av.open(cfg.source) as ref, av.open(str(out), mode="w", format=fmt) as oc:
        vs = oc.add_stream_from_template(ref.streams.video[0])
        vs.time_base = tb
        half = len(ordered.units) // 2
        for data, u in iter_packets(src, ordered):
            pkt = av.Packet(data)
            pkt.pts = u.rank
            pkt.dts = u.decode - ordered.delay
            pkt.duration = 1
            pkt.time_base = tb
            pkt.is_keyframe = u.keyframe
            pkt.stream = vs
            oc.mux(pkt)
            written += 1
            if crash is not None and written == half:
                crash.hit("repair_mid_write")
    return written


def seconds(ordered: Ordered, cfg: DecoderConfig) -> float:
    return float(len(ordered.units) / cfg.rate)


def describe(result: WalkResult, ordered: Ordered, cfg: DecoderConfig) -> str:
    src = Path(cfg.source).name
    parts = [f"{len(ordered.units)} picture(s) from mdat with the decoder configuration of {src}"
             f" ({cfg.codec} {cfg.width}x{cfg.height}, {float(cfg.rate):g} fps)"]
    if result.skipped_bytes:
        parts.append(f"{result.skipped_bytes} non-video byte(s) skipped")
    parts.extend(ordered.notes)
    return "; ".join(parts)
