"""A demo dataset of real encoded clips, damaged the ways scraped datasets break.

Everything is encoded with PyAV's bundled FFmpeg (no system ffmpeg), and every
damage is done to the bytes of a real encoded file: a truncated download is a
real file cut short, a broken sample table is a real `stco` box with wrong
offsets, a bit-flip lands inside a real packet found by demuxing the file.
That is what makes the scanner's tests mean something.

The two classes differ learnably, per frame and over time, so the training
pipeline can run on the demo end to end: `violent` clips are fast, chaotic,
flickering, high-frequency motion; `nonviolent` clips are slow smooth drifts.

`make_demo` writes `DIR/{train,val,test}/{violent,nonviolent}/` and
`DIR/ground_truth.json`; `write_clip` writes one clean clip (also used by the
benchmark to build user-like 640x360 / 30 fps / 8 s clips with AAC audio).
"""

from __future__ import annotations

import json
import math
import random
import struct
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.demo_dupes import plant_duplicates
from core.errors import NexaraError

if TYPE_CHECKING:  # numpy is imported where frames are made: `nexara <anything> --help`
    import numpy as np  # and every remote command start would otherwise pay ~50 ms for it

GROUND_TRUTH_NAME = "ground_truth.json"
LABELS = ("violent", "nonviolent")
SPLITS = ("train", "val", "test")

# ----------------------------------------------------------------------------
# Clean clips
# ----------------------------------------------------------------------------

# container -> (file extension, PyAV format name)
CONTAINERS = {
    "mp4": (".mp4", "mp4"),
    "mkv": (".mkv", "matroska"),
    "webm": (".webm", "webm"),
    "avi": (".avi", "avi"),
    "mov": (".mov", "mov"),
}

# codec -> (PyAV encoder, encoder options)
CODECS: dict[str, tuple[str, dict[str, str]]] = {
    # scenecut=0: keyframes only every `keyframe_s`, as in typical uploads; the
    # chaotic "violent" content would otherwise make every frame a keyframe.
    "h264": ("libx264", {"preset": "veryfast", "x264-params": "scenecut=0"}),
    "hevc": ("libx265", {"preset": "ultrafast", "x265-params": "log-level=none:scenecut=0"}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}),
    "mpeg4": ("mpeg4", {"qscale": "4"}),
}


RENDER_MAX_WIDTH = 192  # larger clips are drawn at this width and scaled up (fast benchmark clips)


def render_frames(
    label: str, width: int, height: int, n_frames: int, fps: float, seed: int
) -> Iterator[np.ndarray]:
    """RGB uint8 frames of `width` x `height` for one clip of `label`.

    Drawn at no more than RENDER_MAX_WIDTH pixels wide and scaled up (nearest
    neighbour for violent: hard edges stay hard; bilinear for nonviolent: smooth
    stays smooth), so a benchmark's 640x360 clips cost little more than small ones.
    """
    if width <= RENDER_MAX_WIDTH:
        yield from _render(label, width, height, n_frames, fps, seed)
        return
    import cv2

    rw = RENDER_MAX_WIDTH
    rh = max(2, round(height * rw / width))
    interp = cv2.INTER_NEAREST if label == "violent" else cv2.INTER_LINEAR
    for small in _render(label, rw, rh, n_frames, fps, seed):
        yield cv2.resize(small, (width, height), interpolation=interp)


def _render(
    label: str, width: int, height: int, n_frames: int, fps: float, seed: int
) -> Iterator[np.ndarray]:
    """RGB uint8 frames for one clip of `label`, generated one at a time.

    violent: 4-7 saturated blocks that jump to random places every frame, with
    motion-blur streaks, a flickering background and per-pixel noise (lots of
    high-frequency energy in every single frame). nonviolent: a smooth colour
    gradient and one soft blob drifting slowly (almost no high frequencies).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xn, yn = xx / max(width - 1, 1), yy / max(height - 1, 1)
    if label == "violent":
        n_blobs = int(rng.integers(4, 8))
        colors = rng.integers(0, 256, size=(n_blobs, 3))
        for _ in range(n_frames):
            base = float(rng.uniform(30, 170))
            frame = np.empty((height, width, 3), np.float32)
            frame[:] = base
            # Blocky grain (4x4 cells): high-frequency in every frame, yet cheap
            # to render and encodable at a realistic bitrate.
            grain = rng.normal(0, 20, size=((height + 3) // 4, (width + 3) // 4, 1)).astype(np.float32)
            frame += grain.repeat(4, axis=0).repeat(4, axis=1)[:height, :width]
            for b in range(n_blobs):
                bw = int(rng.integers(max(4, width // 10), max(6, width // 3)))
                bh = int(rng.integers(max(4, height // 10), max(6, height // 3)))
                x0 = int(rng.integers(0, max(1, width - bw)))
                y0 = int(rng.integers(0, max(1, height - bh)))
                dx = int(rng.integers(-width // 4, width // 4 + 1))
                # motion-blur streak: a faded copy smeared along the jump
                sx0, sx1 = sorted((x0, min(max(x0 + dx, 0), width - 1)))
                frame[y0:y0 + bh, sx0:sx1 + bw] = 0.5 * frame[y0:y0 + bh, sx0:sx1 + bw] + 0.5 * colors[b]
                frame[y0:y0 + bh, x0:x0 + bw] = colors[b]
                if rng.random() < 0.3:
                    colors[b] = rng.integers(0, 256, size=3)
            # thin stripes: edges everywhere
            if rng.random() < 0.5:
                frame[:: int(rng.integers(3, 7))] *= 0.6
            yield np.clip(frame, 0, 255).astype(np.uint8)
    else:
        c0 = rng.uniform(60, 200, size=3).astype(np.float32)
        c1 = rng.uniform(60, 200, size=3).astype(np.float32)
        blob_c = rng.uniform(80, 255, size=3).astype(np.float32)
        angle = float(rng.uniform(0, 2 * math.pi))
        speed = float(rng.uniform(0.03, 0.08))  # fraction of the frame per second
        bx, by = float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8))
        radius = float(rng.uniform(0.15, 0.3)) * min(width, height)
        for i in range(n_frames):
            t = i / fps
            phase = 0.5 + 0.5 * np.sin(2 * math.pi * (xn * math.cos(angle) + yn * math.sin(angle)) + 0.4 * t)
            frame = c0 * phase[..., None] + c1 * (1 - phase[..., None])
            cx = (bx + speed * t * math.cos(angle)) % 1.0 * width
            cy = (by + speed * t * math.sin(angle)) % 1.0 * height
            g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
            frame = frame * (1 - 0.6 * g[..., None]) + blob_c * 0.6 * g[..., None]
            yield np.clip(frame, 0, 255).astype(np.uint8)


def write_clip(
    path: Path | str,
    label: str = "violent",
    container: str = "mp4",
    codec: str = "h264",
    size: tuple[int, int] = (160, 120),
    fps: float = 25.0,
    seconds: float = 2.0,
    audio: bool = False,
    faststart: bool = True,
    seed: int = 0,
    keyframe_s: float = 1.0,
    video: bool = True,
    encoder_options: dict[str, str] | None = None,
) -> Path:
    """Encode one clean clip; `size` is (width, height). Returns the path.

    `faststart` moves the MP4 index (moov) to the front, as web uploads do;
    without it the index is written last, as a camera or a plain encode does.
    `video=False` writes an audio-only file (for the no-video-stream case).
    `encoder_options` override the encoder's defaults (e.g. x264's
    `{"x264-params": "open-gop=1:bframes=3"}` for the GOP shapes real uploads have).
    The pictures are a pure function of the seed; the encoded bytes may differ
    by a few bytes between runs (libx264's rate control is not bit-exact).
    """
    import av

    path = Path(path)
    if container not in CONTAINERS:
        raise NexaraError(f"{path}: unknown container {container!r} (one of {', '.join(CONTAINERS)})")
    if codec not in CODECS:
        raise NexaraError(f"{path}: unknown codec {codec!r} (one of {', '.join(CODECS)})")
    fmt = CONTAINERS[container][1]
    encoder, opts = CODECS[codec]
    opts = {**opts, **(encoder_options or {})}
    width, height = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)
    rate = Fraction(fps).limit_denominator(1000)
    n_frames = max(1, round(seconds * fps))
    options = {"movflags": "faststart"} if faststart and container in ("mp4", "mov") else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=fmt, options=options) as out:
        vs = None
        if video:
            vs = out.add_stream(encoder, rate=rate, options=dict(opts))
            vs.width, vs.height = width, height
            vs.pix_fmt = "yuv420p"
            vs.codec_context.gop_size = max(1, round(keyframe_s * fps))
            vs.codec_context.time_base = 1 / rate
        a_s = None
        if audio:
            acodec = "libopus" if container == "webm" else "aac"
            a_s = out.add_stream(acodec, rate=48000 if acodec == "libopus" else 22050)
            a_s.layout = "mono"
        if vs is not None:
            for i, rgb in enumerate(render_frames(label, width, height, n_frames, float(rate), seed)):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                frame.time_base = 1 / rate
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
        if a_s is not None:
            _write_audio(out, a_s, seconds, seed)
    return path


def _write_audio(out: Any, a_s: Any, seconds: float, seed: int) -> None:
    import av
    import numpy as np

    sr = a_s.codec_context.sample_rate or a_s.rate
    frame_size = a_s.codec_context.frame_size or 1024
    total = int(seconds * sr)
    freq = 220.0 + (seed % 7) * 55.0
    pts = 0
    while pts < total:
        n = min(frame_size, total - pts)
        t = (np.arange(pts, pts + frame_size) / sr).astype(np.float32)
        samples = (0.2 * np.sin(2 * math.pi * freq * t)).astype(np.float32)
        if n < frame_size:
            samples[n:] = 0
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = sr
        frame.pts = pts
        frame.time_base = Fraction(1, sr)
        out.mux(a_s.encode(frame))
        pts += frame_size
    out.mux(a_s.encode(None))


# ----------------------------------------------------------------------------
# MP4 box surgery (just enough to damage an index the way real files break)
# ----------------------------------------------------------------------------

_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta"}


@dataclass
class Box:
    type: bytes
    offset: int
    size: int
    header: int

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def body(self) -> int:
        return self.offset + self.header


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes directly inside `data[start:end]` (top level by default)."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield Box(typ, pos, size, header)
        pos += size


def find_boxes(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> list[Box]:
    """All boxes reached by a path of types, e.g. [b'moov', b'trak']."""
    found = [b for b in iter_boxes(data, start, end) if b.type == path[0]]
    if len(path) == 1:
        return found
    out: list[Box] = []
    for b in found:
        out.extend(find_boxes(data, path[1:], b.body, b.end))
    return out


def _trak_handler(data: bytes, trak: Box) -> bytes:
    for hdlr in find_boxes(data, [b"mdia", b"hdlr"], trak.body, trak.end):
        return data[hdlr.body + 8:hdlr.body + 12]
    return b""


def video_trak(data: bytes) -> Box:
    for trak in find_boxes(data, [b"moov", b"trak"]):
        if _trak_handler(data, trak) == b"vide":
            return trak
    raise ValueError("no video trak")


# ----------------------------------------------------------------------------
# Damage: each function rewrites the bytes of a real encoded file in place
# ----------------------------------------------------------------------------


def _packets(path: Path) -> list[tuple[str, int, int, bool]]:
    """(stream type, byte position, size, keyframe) of every packet in the file."""
    import av

    out = []
    with av.open(str(path)) as c:
        for p in c.demux():
            if p.size and p.pos is not None and p.pos >= 0:
                out.append((p.stream.type, int(p.pos), int(p.size), bool(p.is_keyframe)))
    return out


def _flip(data: bytearray, start: int, end: int, count: int, rng: random.Random) -> None:
    for _ in range(count):
        if end <= start:
            return
        i = rng.randrange(start, end)
        data[i] ^= 1 << rng.randrange(8) | 0x10


def _slice_ranges(data: bytes | bytearray, pos: int, size: int) -> list[tuple[int, int]]:
    """Byte ranges of the coded-slice NAL payloads in an AVCC (length-prefixed) H.264 packet.

    Flipping bits there damages the coded picture itself (the decoder conceals
    macroblocks, as with the user's `mb_type … in P slice too large`) instead of
    breaking the packet framing or hitting an SEI text that nobody reads.
    """
    out = []
    i, end = pos, pos + size
    while i + 5 <= end:
        n = struct.unpack(">I", bytes(data[i:i + 4]))[0]
        if n <= 0 or i + 4 + n > end:
            break
        if data[i + 4] & 0x1F in (1, 5) and n > 8:  # non-IDR / IDR slice
            # skip the NAL header and the start of the slice header
            out.append((i + 4 + min(6, n // 4), i + 4 + n))
        i += 4 + n
    return out or [(pos + min(16, size // 4), pos + size)]


def _flip_slices(data: bytearray, pos: int, size: int, share: int, rng: random.Random) -> None:
    for a, b in _slice_ranges(data, pos, size):
        _flip(data, a, b, max(4, (b - a) // share), rng)


def damage_bitflip_packet(path: Path, rng: random.Random) -> None:
    """Flip bits inside the slice data of one mid-clip P-frame: a few frames concealed.

    Some flips decode silently into slightly wrong pixels (CABAC does not always
    notice); that clip would be fine, not damaged. So the flip is retried on
    another packet until the decoder reports it, keeping the ground truth honest.
    """
    original = path.read_bytes()
    pk = [p for p in _packets(path) if p[0] == "video"]
    candidates = [p for p in pk[len(pk) // 3: 2 * len(pk) // 3] if not p[3] and p[2] > 64] or pk
    candidates.sort(key=lambda p: -p[2])
    for attempt in range(12):
        _, pos, size, _ = candidates[attempt % len(candidates)]
        data = bytearray(original)
        a, b = rng.choice(_slice_ranges(data, pos, size))
        _flip(data, a, b, max(8, (b - a) // 16), rng)
        path.write_bytes(bytes(data))
        if _video_errors(path):
            return
    raise RuntimeError(f"{path}: could not produce a detectable bit-flip")


def _video_errors(path: Path) -> int:
    """How many error lines the video decoder prints on a plain full decode."""
    import av
    import av.logging as avlog

    old = avlog.get_level()
    avlog.set_level(avlog.ERROR)
    try:
        with avlog.Capture(local=False) as logs, av.open(str(path)) as c:
            vs = c.streams.video[0]
            bad = 0
            for packet in c.demux(vs):
                try:
                    bad += sum(f.is_corrupt for f in packet.decode())
                except av.error.FFmpegError:
                    bad += 1
        return bad + sum(1 for lvl, name, _ in logs if name == vs.codec_context.name and lvl <= avlog.ERROR)
    finally:
        avlog.set_level(old)


def damage_bitflip_stream(path: Path, rng: random.Random) -> None:
    """Flip bits in the slice data of every video packet, keyframes included: picture destroyed.

    As with one packet, a flip can decode silently; "the whole stream is
    destroyed" must hold for every keyframe too (everything else is predicted
    from them), so keyframes the decoder does not flag are flipped again.
    """
    data = bytearray(path.read_bytes())
    packets = [p for p in _packets(path) if p[0] == "video" and p[2] > 8]
    for _, pos, size, _ in packets:
        _flip_slices(data, pos, size, 8, rng)
    extradata = _extradata(path)
    for _, pos, size, key in packets:
        if not key:
            continue
        for _ in range(8):
            if _keyframe_flagged(extradata, bytes(data[pos:pos + size])):
                break
            _flip_slices(data, pos, size, 8, rng)
    path.write_bytes(bytes(data))


def _extradata(path: Path) -> bytes | None:
    import av

    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.extradata


def _keyframe_flagged(extradata: bytes | None, payload: bytes) -> bool:
    """Does a fresh H.264 decoder conceal (flag corrupt) or reject this keyframe packet?"""
    import av
    import av.logging as avlog

    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_count = 1  # frame threads can lose the corrupt flag of a lone frame
    if extradata:
        ctx.extradata = extradata
    old = avlog.get_level()
    avlog.set_level(avlog.ERROR)
    try:
        with avlog.Capture(local=False):  # keep the decoder's complaints off stderr
            try:
                frames = list(ctx.decode(av.Packet(payload))) + list(ctx.decode(None))
            except av.error.FFmpegError:
                return True
        # Concealed (flagged corrupt) or not decodable at all; an error line
        # alone can come with a frame the decoder still calls intact.
        return not frames or any(f.is_corrupt for f in frames)
    finally:
        avlog.set_level(old)


def damage_audio(path: Path, rng: random.Random) -> None:
    """Corrupt most AAC packets; the video packets are untouched."""
    data = bytearray(path.read_bytes())
    audio = [p for p in _packets(path) if p[0] == "audio"]
    for _, pos, size, _ in audio[1::2]:
        if size > 4:
            _flip(data, pos + 1, pos + size, max(3, size // 5), rng)
            data[pos] ^= 0xFF
    path.write_bytes(bytes(data))


def damage_truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def damage_sample_table(path: Path, rng: random.Random) -> None:
    """Point every chunk offset of the video track's stco/co64 past the end of the file."""
    data = bytearray(path.read_bytes())
    trak = video_trak(bytes(data))
    boxes = find_boxes(bytes(data), [b"mdia", b"minf", b"stbl", b"stco"], trak.body, trak.end)
    wide = False
    if not boxes:
        boxes = find_boxes(bytes(data), [b"mdia", b"minf", b"stbl", b"co64"], trak.body, trak.end)
        wide = True
    if not boxes:
        raise ValueError(f"{path}: no stco/co64 box")
    box = boxes[0]
    count = struct.unpack(">I", data[box.body + 4:box.body + 8])[0]
    base = len(data) + rng.randrange(1 << 16, 1 << 20)
    for i in range(count):
        if wide:
            struct.pack_into(">Q", data, box.body + 8 + 8 * i, base + 4096 * i)
        else:
            struct.pack_into(">I", data, box.body + 8 + 4 * i, base + 4096 * i)
    path.write_bytes(bytes(data))


def damage_chapter_ref(path: Path, rng: random.Random) -> None:
    """Add a `tref/chap` to the video track that names a track id that does not exist.

    The file must have its moov at the end (no faststart) so that growing moov
    does not move the media data the chunk offsets point at.
    """
    data = path.read_bytes()
    moov = find_boxes(data, [b"moov"])[0]
    if moov.end != len(data):
        raise ValueError(f"{path}: moov must be last to add a chapter reference")
    trak = video_trak(data)
    chap = struct.pack(">I4sI", 12, b"chap", 99)
    tref = struct.pack(">I4s", 8 + len(chap), b"tref") + chap
    out = bytearray(data[: trak.end] + tref + data[trak.end:])
    struct.pack_into(">I", out, trak.offset, trak.size + len(tref))
    struct.pack_into(">I", out, moov.offset, moov.size + len(tref))
    path.write_bytes(bytes(out))


HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    "<body><h1>Not Found</h1><p>The requested URL /videos/{name} was not found on this server.</p>\n"
    "<hr><address>nginx/1.18.0 (Ubuntu)</address></body></html>\n"
)


@dataclass(frozen=True)
class DamageKind:
    """One way a file breaks, and what a correct scanner must say about it."""

    name: str
    usable: bool
    verdicts: tuple[str, ...]  # allowed verdicts at standard and full
    reasons: tuple[str, ...]  # reason codes the full check must report
    description: str


DAMAGE_KINDS: dict[str, DamageKind] = {
    k.name: k
    for k in [
        DamageKind("clean", True, ("ok",), (), "an intact clip"),
        DamageKind("zero_byte", False, ("corrupt",), ("empty_file",), "a 0-byte file (failed download)"),
        DamageKind("html_page", False, ("corrupt",), ("not_a_video",), "an HTML 404 page saved as .mp4"),
        DamageKind("random_bytes", False, ("corrupt",), ("not_a_video",), "random non-video bytes"),
        DamageKind("truncated_moov_end", False, ("corrupt",), ("moov_missing",),
                   "download cut short, index (moov) was at the end: lost"),
        DamageKind("truncated_faststart", False, ("corrupt",), ("truncated",),
                   "download cut at half, index at the front: second half missing"),
        DamageKind("truncated_tail", True, ("damaged",), ("truncated",),
                   "download cut in the last few percent: almost all frames there"),
        DamageKind("sample_table_broken", False, ("corrupt",), ("sample_table_broken",),
                   "every video chunk offset (stco) points past the end of the file"),
        DamageKind("bitflip_packet", True, ("damaged", "ok"), ("decode_errors",),
                   "bit-flips inside one P-frame packet: a few frames concealed"),
        DamageKind("bitflip_stream", False, ("corrupt",), ("decode_errors",),
                   "bit-flips across every video packet: the picture is destroyed"),
        DamageKind("audio_damage", True, ("warning", "ok"), ("audio_errors",),
                   "corrupt AAC packets, video intact"),
        DamageKind("chapter_ref_missing", True, ("warning",), ("chapter_ref_missing",),
                   "a tref/chap box referencing a track that does not exist"),
        DamageKind("no_video_stream", False, ("corrupt",), ("no_video_stream",),
                   "an audio-only .mp4"),
    ]
}


def apply_damage(path: Path, kind: str, rng: random.Random) -> None:
    """Damage an already written clip of the right shape (see `_base_spec`)."""
    if kind in ("clean", "no_video_stream"):
        return
    if kind == "zero_byte":
        path.write_bytes(b"")
    elif kind == "html_page":
        path.write_text(HTML_PAGE.format(name=path.name), encoding="utf-8")
    elif kind == "random_bytes":
        path.write_bytes(rng.randbytes(rng.randrange(20_000, 60_000)))
    elif kind == "truncated_moov_end":
        damage_truncate(path, 0.6)
    elif kind == "truncated_faststart":
        damage_truncate(path, 0.5)
    elif kind == "truncated_tail":
        damage_truncate(path, 0.97)
    elif kind == "sample_table_broken":
        damage_sample_table(path, rng)
    elif kind == "bitflip_packet":
        damage_bitflip_packet(path, rng)
    elif kind == "bitflip_stream":
        damage_bitflip_stream(path, rng)
    elif kind == "audio_damage":
        damage_audio(path, rng)
    elif kind == "chapter_ref_missing":
        damage_chapter_ref(path, rng)
    else:
        raise NexaraError(f"unknown damage kind {kind!r}")


def _base_spec(kind: str) -> dict[str, Any]:
    """The clean clip each damage starts from."""
    if kind == "truncated_moov_end" or kind == "chapter_ref_missing":
        return {"container": "mp4", "codec": "h264", "faststart": False, "audio": kind == "chapter_ref_missing"}
    if kind == "audio_damage":
        return {"container": "mp4", "codec": "h264", "faststart": True, "audio": True}
    if kind == "no_video_stream":
        return {"container": "mp4", "codec": "h264", "audio": True, "video": False}
    return {"container": "mp4", "codec": "h264", "faststart": True, "audio": False}


def make_damaged(path: Path | str, kind: str, label: str = "violent", seed: int = 0,
                 size: tuple[int, int] = (160, 120), fps: float = 25.0, seconds: float = 2.0) -> Path:
    """Write a clip and damage it as `kind` (one of DAMAGE_KINDS)."""
    if kind not in DAMAGE_KINDS:
        raise NexaraError(f"unknown damage kind {kind!r} (one of {', '.join(DAMAGE_KINDS)})")
    path = Path(path)
    rng = random.Random(seed)
    if kind in ("zero_byte", "html_page", "random_bytes"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    else:
        write_clip(path, label, size=size, fps=fps, seconds=seconds, seed=seed, **_base_spec(kind))
    apply_damage(path, kind, rng)
    return path


# ----------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------


@dataclass
class GroundTruthEntry:
    damage: str
    usable: bool
    expected_verdicts: list[str]
    expected_reasons: list[str]
    container: str = ""
    codec: str = ""


@dataclass
class GroundTruth:
    version: int = 1
    files: dict[str, GroundTruthEntry] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "files": {k: asdict(v) for k, v in sorted(self.files.items())}}

    def write(self, root: Path) -> Path:
        p = Path(root) / GROUND_TRUTH_NAME
        p.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
        return p

    @classmethod
    def load(cls, root: Path) -> GroundTruth:
        p = Path(root) / GROUND_TRUTH_NAME
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NexaraError(f"{p}: no ground truth here (run `nexara demo make`)") from exc
        except (OSError, ValueError) as exc:
            raise NexaraError(f"{p}: unreadable ground truth: {exc}") from exc
        return cls(d.get("version", 1), {k: GroundTruthEntry(**v) for k, v in d["files"].items()})


# Clean clip variants, cycled through so every container/codec/size/fps shows up.
CLEAN_VARIANTS: list[dict[str, Any]] = [
    {"container": "mp4", "codec": "h264", "audio": True},
    {"container": "mp4", "codec": "h264", "faststart": False},
    {"container": "mkv", "codec": "h264"},
    {"container": "webm", "codec": "vp9"},
    {"container": "avi", "codec": "mpeg4"},
    {"container": "mp4", "codec": "hevc"},
    {"container": "mp4", "codec": "h264", "size": (178, 98), "fps": 12.5},
    {"container": "mkv", "codec": "h264", "fps": 30.0, "audio": True},
]

# Where the damage goes: heavy in train/violent, as in the user's data.
DAMAGE_PLAN: dict[tuple[str, str], list[str]] = {
    ("train", "violent"): [k for k in DAMAGE_KINDS if k != "clean"],
    ("train", "nonviolent"): ["zero_byte", "truncated_tail", "audio_damage", "chapter_ref_missing"],
    ("val", "violent"): ["html_page", "bitflip_packet"],
    ("val", "nonviolent"): ["random_bytes"],
    ("test", "violent"): ["bitflip_stream", "truncated_moov_end"],
    ("test", "nonviolent"): ["truncated_faststart"],
}

SIZES = {
    "small": {"size": (160, 120), "fps": 25.0, "seconds": 2.0, "keyframe_s": 1.0},
    "bench": {"size": (640, 360), "fps": 30.0, "seconds": 8.0, "keyframe_s": 2.0},
}


def _name(label: str, i: int, ext: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return f"clip ünïcode {i:02d}{ext}"
    if r < 0.3:
        return f"{label} clip {i:02d} (copy){ext}"
    return f"{label}_{i:04d}{ext}"


def make_demo(
    root: Path | str,
    clips_per_class: int = 16,
    seed: int = 0,
    kinds: list[str] | None = None,
    size: str = "small",
    seconds: float | None = None,
) -> GroundTruth:
    """Write the demo dataset under ROOT and its ground truth; returns the ground truth.

    `clips_per_class` clean clips per class in train (40 % of that, at least
    one, in val and test); `kinds` restricts the damage kinds written (None = the
    full plan, [] = no damaged files). Deterministic for a given seed.
    """
    it = iter_make_demo(root, clips_per_class, seed, kinds, size, seconds)
    while True:
        try:
            next(it)
        except StopIteration as stop:
            return stop.value


def iter_make_demo(
    root: Path | str,
    clips_per_class: int = 16,
    seed: int = 0,
    kinds: list[str] | None = None,
    size: str = "small",
    seconds: float | None = None,
) -> Generator[tuple[int, int, str], None, GroundTruth]:
    """`make_demo`, yielding (done, total, rel) after each file; returns the ground truth."""
    if size not in SIZES:
        raise NexaraError(f"unknown demo size {size!r} (one of {', '.join(SIZES)})")
    if clips_per_class < 1:
        raise NexaraError(f"--clips-per-class {clips_per_class}: must be at least 1")
    if kinds is not None:
        unknown = [k for k in kinds if k not in DAMAGE_KINDS]
        if unknown:
            raise NexaraError(f"unknown damage kind(s): {', '.join(unknown)} (one of {', '.join(DAMAGE_KINDS)})")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise NexaraError(f"{root}: exists and is not a folder")
    if root.exists() and any(root.iterdir()) and not (root / GROUND_TRUTH_NAME).exists():
        raise NexaraError(f"{root}: not empty and not a Nexara demo; refusing to write into it")
    spec = dict(SIZES[size])
    if seconds is not None:
        spec["seconds"] = float(seconds)
    rng = random.Random(seed)
    counter = 0
    jobs: list[tuple[Path, str, str, dict[str, Any], int]] = []
    for split in SPLITS:
        n_clean = clips_per_class if split == "train" else max(1, math.ceil(clips_per_class * 0.4))
        for label in LABELS:
            folder = root / split / label
            plan = DAMAGE_PLAN[(split, label)]
            if kinds is not None:
                plan = [k for k in plan if k in kinds]
            specs: list[tuple[str, dict[str, Any]]] = []
            for _ in range(n_clean):
                specs.append(("clean", CLEAN_VARIANTS[counter % len(CLEAN_VARIANTS)]))
                counter += 1
            specs.extend((k, _base_spec(k)) for k in plan)
            for i, (kind, variant) in enumerate(specs):
                v = {**spec, **variant}
                name = _name(label, i, CONTAINERS[v["container"]][0], rng)
                jobs.append((folder / name, label, kind, v, rng.randrange(1 << 30)))
    gt = GroundTruth()
    # A rerun replaces the previous demo's files, never anything else.
    old = GroundTruth.load(root).files if (root / GROUND_TRUTH_NAME).exists() else {}
    for rel in old:
        (root / rel).unlink(missing_ok=True)
    for done, (path, label, kind, v, clip_seed) in enumerate(jobs, 1):
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind in ("zero_byte", "html_page", "random_bytes"):
            path.write_bytes(b"")
        else:
            write_clip(path, label, seed=clip_seed, **v)
        apply_damage(path, kind, random.Random(clip_seed))
        dk = DAMAGE_KINDS[kind]
        rel = path.relative_to(root).as_posix()
        gt.files[rel] = GroundTruthEntry(
            kind, dk.usable, list(dk.verdicts), list(dk.reasons),
            v["container"], v["codec"] if v.get("video", True) else "",
        )
        yield done, len(jobs), rel
    gt.write(root)
    plant_duplicates(root, gt, clips_per_class, kinds)  # duplicates hook (issue 15, core.demo_dupes)
    return gt


def check_against(gt: GroundTruth, results: dict[str, Any], level: str) -> list[str]:
    """Where scan results disagree with the ground truth: one line per file (empty: all agree).

    `results` maps a relative path to a FileResult. The verdict must be one the
    ground truth allows and usable/unusable must match at every level; the
    expected reason codes must be present at `full`, and at `standard` where the
    verdict is not `ok` (standard may miss damage hidden in non-key frames).
    """
    problems = []
    for rel, e in sorted(gt.files.items()):
        r = results.get(rel)
        if r is None:
            problems.append(f"{rel}: no result")
            continue
        v = r.verdict.value
        if r.usable != e.usable:
            problems.append(f"{rel} ({e.damage}): usable={r.usable}, expected {e.usable} [{v} {r.reasons}]")
        elif level != "quick" and v not in e.expected_verdicts:
            problems.append(f"{rel} ({e.damage}): verdict {v}, expected one of {e.expected_verdicts}")
        elif (level == "full" or (level == "standard" and v != "ok")) and not set(e.expected_reasons) <= set(r.reasons):
            problems.append(f"{rel} ({e.damage}): reasons {r.reasons}, expected {e.expected_reasons}")
    return problems


def demo_stats(gt: GroundTruth) -> dict[str, Any]:
    total = len(gt.files)
    damaged = sum(e.damage != "clean" for e in gt.files.values())
    unusable = sum(not e.usable for e in gt.files.values())
    return {"files": total, "damaged": damaged, "unusable": unusable,
            "kinds": sorted({e.damage for e in gt.files.values()})}

