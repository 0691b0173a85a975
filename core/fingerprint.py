"""A fingerprint of a clip's footage, made from the pictures the scan decodes anyway.

Two clips are the same footage when a viewer would call them the same video:
a re-encode at another quality, a downscaled copy, a remux into another
container, a copy with a few seconds cut off the head or tail, a copy with a
small logo burnt into a corner. None of those keep the bytes, so the byte hash
(`content`) only finds exact copies; the rest is found by the pictures.

Per clip we keep a few dozen decoded frames spread over its time line: the
pictures of the `standard` check's windows — each keyframe and the frames of
the packets right after it (`Thresholds.window_frames`) — thinned evenly in
time once there are more than `MAX_FRAMES`. A `full` check (asked for, or
`standard` measuring a suspicious file or an HEVC stream fully) decodes every
picture but offers the collector only those of the same windows (`mark`), so
an intact clip gets the same fingerprint at `standard` and at `full`, and a
damaged one the same less its concealed pictures; `quick` decodes keyframes
only, and its fingerprint is theirs (the keyframes every level shares). Each is
shrunk by FFmpeg's area scaler to a 16×16 YUV 4:2:0 thumbnail; its descriptor
is the luma with its mean removed (256 values, brightness-invariant) and the
8×8 chroma around neutral grey (128 values: absolute colour), the four corners
damped (logos live there), and
its hash is the SimHash of that descriptor: the signs of 64 fixed random
projections. For two descriptors at angle θ each bit differs with probability
θ/π, so the Hamming distance measures how alike two pictures are, evenly over
the whole picture. A frame carries its time, so matching can ask for several
frames of one clip to match frames of the other at one consistent time offset
(`core.dupes`).

Why these choices (measured on real copies of demo clips vs distinct clips of
the same generator, see the README):
- not pHash (the DCT-sign hash of `imagehash.phash`, tried first): on smooth
  footage most of its 64 low-frequency coefficients sit at the median, so half
  its bits are compression noise — re-encoded copies of smooth clips came out
  18 bits apart, as far as unrelated clips. Random projections have no such
  degenerate bits.
- colour in the descriptor: without chroma, distinct smooth clips of one
  generator (same gradient shape, other colours) were 4 bits apart; with it, 14+.
- low-information frames (flat, black, fades: spatial variation of luma and
  chroma below `FLAT_STD` grey levels, see `information`) are dropped: every
  clip that starts black would match every other. Concealed frames (`is_corrupt`) are skipped: their pictures are
  the decoder's guess.
- our own ~20 lines of numpy rather than `imagehash`: imagehash takes a PIL
  image, so every frame would be converted to a full-size RGB PIL image
  (PyAV's `to_image`, plus Pillow and SciPy as dependencies) only to be shrunk
  again, and it has no colour-aware, non-degenerate hash for smooth footage;
  here FFmpeg's scaler makes the thumbnail straight from the decoded picture
  (~75 µs per 640×360 frame, measured; no colour conversion for yuv420p video)
  and one matrix product hashes all frames of a clip at once.

Cost in the scan: one thumbnail per kept frame (a standard check of an 8 s clip
keeps ~12) and the byte hash of `core.journal.fast_hash` (size, head, tail and
eight samples: ~640 KiB read, from the page cache the scan just filled).

Versioned: `FP_VERSION` is stored with every fingerprint (the projection is
part of it); a scan re-checks a usable file whose fingerprint is missing or of
another version.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

FP_VERSION = 2  # 2: the standard windows at every level, float32 projection, sampled byte hash
THUMB = 16  # thumbnail side (pixels), luma; chroma is THUMB // 2 (yuv420p)
THUMB_BYTES = THUMB * THUMB * 3 // 2
BITS = 64
MAX_FRAMES = 48  # frames kept per clip (evenly thinned in time beyond this)
FLAT_STD = 3.0  # grey levels of spatial variation (see `information`): below it, no picture
CORNER_WEIGHT = 0.25  # how much the corner squares count (see _corner_weights)
_PROJECTION_SEED = 20260915  # part of FP_VERSION: another seed is another hash


@dataclass
class Fingerprint:
    """What `core.dupes` compares: the byte hash and the hashed frames on the clip's time line."""

    content: str  # content_hash of the bytes ("" when unreadable)
    size: int
    times: list[float] = field(default_factory=list)  # seconds, ascending
    hashes: list[int] = field(default_factory=list)  # unsigned 64-bit pHash per frame
    frames_seen: int = 0  # real decoded frames offered to the collector
    flat: int = 0  # of the kept frames, how many were dropped as low-information
    version: int = FP_VERSION

    def to_blob(self) -> bytes:
        """Compact storage: n, then n float32 times, then n uint64 hashes (little-endian)."""
        n = len(self.hashes)
        return struct.pack(f"<I{n}f{n}Q", n, *self.times, *self.hashes)

    @staticmethod
    def frames_from_blob(blob: bytes) -> tuple[list[float], list[int]]:
        (n,) = struct.unpack_from("<I", blob)
        vals = struct.unpack_from(f"<{n}f{n}Q", blob, 4)
        return list(vals[:n]), list(vals[n:])


class FrameCollector:
    """Receives the real pictures a check decodes; keeps a time-spread sample of thumbnails.

    Called once per decoded picture from the integrity check (`add`), so it must
    be cheap when it declines one: a picture outside the windows (`mark`), or a
    non-key picture closer than `gap` seconds to the last kept one, is declined
    before any pixel is touched. Keyframes are always kept: every level decodes
    them (quick: only them). When more than MAX_FRAMES are kept, every other
    non-key picture is dropped and `gap` doubles.

    Windows: a `full` pass calls `mark(ts)` with the timestamp of each packet a
    `standard` pass would have decoded (a keyframe and the packets right after
    it); from then on only pictures with a marked timestamp are taken. The
    decoder hands out pictures in presentation order at every level, so both
    passes offer the same pictures in the same order, and the thinning (which
    depends only on that sequence) keeps the same ones.
    """

    def __init__(self, max_frames: int = MAX_FRAMES, windowed: bool = False) -> None:
        self.max_frames = max_frames
        self.gap = 0.0
        self.last_t: float | None = None
        self.times: list[float] = []
        self.thumbs: list[bytes] = []
        self.keys: list[bool] = []
        self.seen = 0
        self.window: set[int] | None = set() if windowed else None  # marked packet timestamps (full)
        self._reformatter: Any = None

    def mark(self, ts: int | None) -> None:
        """A packet inside a `standard` window (its pts, else dts, in the stream's time base)."""
        if self.window is not None and ts is not None:
            self.window.add(ts)

    def add(self, frame: Any, t: float) -> None:
        """A real (not concealed) decoded picture at `t` seconds."""
        if self.window is not None:
            ts = frame.pts if frame.pts is not None else getattr(frame, "dts", None)
            if ts not in self.window:
                return
        self.seen += 1
        key = bool(frame.key_frame)
        if not key and self.last_t is not None and abs(t - self.last_t) < self.gap:
            return
        if self._reformatter is None:
            self._reformatter = _reformatter()
        # yuv420p: no colour conversion for most video (measured 74 µs vs 463 µs for yuv444p
        # at 640×360), and its 8×8 chroma is the resolution the descriptor uses
        small = self._reformatter.reformat(frame, width=THUMB, height=THUMB, format="yuv420p",
                                           interpolation="AREA", threads=1)
        self.thumbs.append(b"".join(_plane_bytes(p) for p in small.planes))
        self.times.append(t)
        self.keys.append(key)
        self.last_t = t
        if len(self.thumbs) > self.max_frames:
            self._thin()

    def _thin(self) -> None:
        """Drop every other non-key frame (every other frame when only keyframes are left)."""
        nonkey = [i for i, k in enumerate(self.keys) if not k]
        drop = set(nonkey[1::2]) if len(nonkey) >= 2 else set(range(1, len(self.keys), 2))
        keep = [i for i in range(len(self.keys)) if i not in drop]
        self.thumbs = [self.thumbs[i] for i in keep]
        self.times = [self.times[i] for i in keep]
        self.keys = [self.keys[i] for i in keep]
        span = max(self.times) - min(self.times) if self.times else 0.0
        self.gap = max(self.gap * 2, span / self.max_frames)

    def finish(self, content: str, size: int) -> Fingerprint:
        fp = Fingerprint(content=content, size=size, frames_seen=self.seen)
        if not self.thumbs:
            return fp
        import numpy as np

        order = np.argsort(np.asarray(self.times), kind="stable")
        stack = np.frombuffer(b"".join(self.thumbs[i] for i in order), np.uint8).reshape(
            len(order), THUMB_BYTES)
        times = [float(self.times[i]) for i in order]
        d = descriptors(stack)  # once: both the information test and the hash use it
        informative = _information(d) >= FLAT_STD
        fp.flat = int((~informative).sum())
        hashes = _simhash(d[informative])
        fp.times = [round(t, 3) for t, keep in zip(times, informative, strict=True) if keep]
        fp.hashes = [int(h) for h in hashes]
        return fp


_REFORMATTER: Any = None


def _reformatter() -> Any:
    """One scaler per process, reused across files: its SwsContext (the area filter for one
    input size) is rebuilt only when the input size changes, not for every clip. One check
    runs at a time per process (core.integrity's lock), so sharing is safe.

    One thread (`threads=1` at the call): PyAV 18's default is FFmpeg's automatic slice
    threads, a pool per SwsContext — for a 16×16 thumbnail pure overhead, and a pool
    inherited through fork() has no threads behind it, so the child's first scale waited
    forever (a process pool forked from a process that had scanned hung the test suite).
    A forked child also starts with a fresh scaler (`os.register_at_fork`)."""
    global _REFORMATTER
    if _REFORMATTER is None:
        from av.video.reformatter import VideoReformatter

        _REFORMATTER = VideoReformatter()
    return _REFORMATTER


def _forget_reformatter() -> None:
    global _REFORMATTER
    _REFORMATTER = None


os.register_at_fork(after_in_child=_forget_reformatter)


def _plane_bytes(plane: Any) -> bytes:
    """A plane's pixels without the row padding FFmpeg adds."""
    raw, w, h, ls = bytes(plane), plane.width, plane.height, plane.line_size
    if ls == w:
        return raw[: w * h]
    return b"".join(raw[r * ls: r * ls + w] for r in range(h))


_PROJECTION: Any = None


def descriptors(yuv: np.ndarray) -> np.ndarray:
    """(n, THUMB_BYTES) uint8 yuv420p thumbnails (Y 16×16, U 8×8, V 8×8) → (n, 384) descriptors."""
    import numpy as np

    x = yuv.astype(np.float32)  # float32: half the memory traffic of the projection, same signs
    n, h = len(x), THUMB // 2
    y = x[:, : THUMB * THUMB]
    y = (y - y.mean(axis=1, keepdims=True)) * _corner_weights(THUMB).ravel()
    uv = x[:, THUMB * THUMB:].reshape(n, 2, h, h) - 128.0
    uv = (uv * _corner_weights(h)).reshape(n, -1)
    return np.concatenate([y, uv], axis=1)


def _corner_weights(side: int) -> np.ndarray:
    """1 everywhere but the four corner squares (a quarter of the side each way): CORNER_WEIGHT.

    Logos, watermarks and channel bugs sit in corners; distinct footage differs
    everywhere, so damping the corners costs little discrimination and keeps a
    burnt-in logo from turning a copy into another picture.
    """
    import numpy as np

    w = _WEIGHTS.get(side)
    if w is None:
        w = np.ones((side, side))
        c = max(1, side // 4)
        for ys in (slice(0, c), slice(side - c, side)):
            for xs in (slice(0, c), slice(side - c, side)):
                w[ys, xs] = CORNER_WEIGHT
        w.setflags(write=False)
        _WEIGHTS[side] = w
    return w


_WEIGHTS: dict[int, Any] = {}


def information(yuv: np.ndarray) -> np.ndarray:
    """How much picture a thumbnail holds: the RMS spatial variation of luma and chroma
    (corners damped as in the descriptor), in grey levels. A black, flat or faded frame is ~0;
    a clip whose two colours have the same brightness still varies in chroma."""

    return _information(descriptors(yuv))


def _information(d: np.ndarray) -> np.ndarray:
    import numpy as np

    n_y = THUMB * THUMB
    y, uv = d[:, :n_y], d[:, n_y:].reshape(len(d), 2, -1)
    w = _corner_weights(THUMB // 2).ravel()
    uv = (uv - (uv * w).sum(axis=2, keepdims=True) / w.sum()) * w
    return np.sqrt((y ** 2).mean(axis=1) + (uv ** 2).mean(axis=(1, 2)))


def simhash(yuv: np.ndarray) -> np.ndarray:
    """64-bit SimHash of each thumbnail's descriptor: (n, THUMB_BYTES) uint8 → (n,) uint64."""
    import numpy as np

    if len(yuv) == 0:
        return np.zeros(0, np.uint64)
    return _simhash(descriptors(yuv))


def _simhash(d: np.ndarray) -> np.ndarray:
    import numpy as np

    global _PROJECTION
    if len(d) == 0:
        return np.zeros(0, np.uint64)
    if _PROJECTION is None:
        _PROJECTION = np.random.default_rng(_PROJECTION_SEED).standard_normal(
            (d.shape[1], BITS)).astype(np.float32)
    # einsum, not `@`: a 48×384 by 384×64 product is microseconds in a plain loop, while a
    # multithreaded BLAS spinning up its threads inside every scan worker costs milliseconds
    bits = np.einsum("nd,dk->nk", d.astype(np.float32, copy=False), _PROJECTION) > 0
    # bit k of the hash is projection k (little-endian bit and byte order)
    return np.packbits(bits, axis=1, bitorder="little").view("<u8").reshape(-1).astype(np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance between uint64 arrays (broadcasting)."""
    import numpy as np

    x = np.bitwise_xor(a, b)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    # numpy < 2.0: count bytes through a lookup table
    table = np.array([bin(i).count("1") for i in range(256)], np.uint8)
    return table[x.view(np.uint8).reshape(*x.shape, 8)].sum(axis=-1)


_HEAD_BYTES = 64 * 1024
_SAMPLE_BYTES = 4 * 1024
_SAMPLES = 8


def content_hash(path: Any) -> str:
    """The byte hash exact copies share: BLAKE2b-128 over the size, the first and last 64 KiB
    and eight 4 KiB samples between (the whole file below 160 KiB).

    A sample, like the journal's `fast_hash` (which reads 640 KiB for an identity check):
    two files that agree on size and every sampled byte but differ elsewhere would be
    called exact copies — only a copy with bytes changed in place can do that, and it
    is the same footage anyway. A quarter of fast_hash's reads and hashing: it runs on
    every usable clip of every scan.
    """
    from core.fsops import sampled_digest

    # the whole file up to and including 160 KiB (`whole_below` is exclusive)
    return "b2s:" + sampled_digest(path, _HEAD_BYTES, _SAMPLE_BYTES, _SAMPLES,
                                   2 * _HEAD_BYTES + _SAMPLES * _SAMPLE_BYTES + 1)


def fingerprint_of(path: Any, collector: FrameCollector | None, size: int) -> Fingerprint | None:
    """The fingerprint of a checked file: its byte hash and the collector's frames; never raises."""
    if collector is None:
        return None
    try:
        content = content_hash(path)
    except OSError:
        content = ""
    try:
        return collector.finish(content, size)
    except Exception:  # noqa: BLE001 - a fingerprint must never cost a verdict
        return Fingerprint(content=content, size=size, frames_seen=collector.seen)
