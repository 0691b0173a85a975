"""Damage: each function rewrites the bytes of a real encoded file the way files really break.

A truncated download is a real file cut short, a broken sample table is a real
`stco` box with wrong offsets, a bit-flip lands inside a real packet found by
demuxing the file. That is what makes the scanner's tests mean something.
`DAMAGE_KINDS` says, for each kind, what a correct scanner must answer.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.demo.synth import write_clip
from core.errors import NexaraError
from core.mp4box import find_boxes, video_trak


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
        DamageKind("still_image", False, ("corrupt",), ("still_image",),
                   "a PNG picture saved with a video name"),
        DamageKind("single_frame", False, ("corrupt",), ("still_image",),
                   "a real H.264 video holding one frame"),
        DamageKind("cover_art_only", False, ("corrupt",), ("no_video_stream",),
                   "audio with an attached cover picture and no video"),
        DamageKind("zero_filled_middle", False, ("corrupt",), ("decode_errors",),
                   "the middle 40 % of the media data is zeros (a block that never arrived)"),
        DamageKind("preallocated", False, ("corrupt",), ("decode_errors",),
                   "a preallocated file written only to 45 %: full size, zeros after"),
        DamageKind("hevc_dropped_refs", False, ("corrupt",), ("frames_missing",),
                   "HEVC with its reference frames dropped: the frames that need them vanish silently"),
        DamageKind("avi_lost_index", False, ("corrupt",), ("truncated",),
                   "an AVI cut at 60 %: index lost, the header still declares every frame"),
        DamageKind("ts_packet_loss", True, ("damaged",), (),
                   "MPEG-TS with a run of transport packets lost mid-clip (resync)"),
        DamageKind("audio_outlasts_video", True, ("ok",), (),
                   "an intact clip whose audio runs a second longer than its video"),
    ]
}

# Kinds whose file is not an encoded clip to begin with.
_PLACEHOLDER = ("zero_byte", "html_page", "random_bytes")


def write_base(path: Path, kind: str, label: str, seed: int, spec: dict[str, Any]) -> None:
    """Write the file a damage kind starts from (see `_base_spec`)."""
    from core.demo.synth import write_cover_art_only, write_still_image

    size = spec.get("size", (160, 120))
    if kind in _PLACEHOLDER:
        path.write_bytes(b"")
    elif kind == "still_image":
        write_still_image(path, label, size, seed)
    elif kind == "cover_art_only":
        write_cover_art_only(path, label, size, seed, spec.get("seconds", 2.0))
    else:
        clip = {k: v for k, v in spec.items() if k not in ("audio_seconds",)}
        if kind == "single_frame":
            clip["seconds"] = 1 / clip.get("fps", 25.0)
        write_clip(path, label, seed=seed, audio_seconds=spec.get("audio_seconds"), **clip)


def apply_damage(path: Path, kind: str, rng: random.Random) -> None:
    """Damage an already written clip of the right shape (see `_base_spec`)."""
    if kind in ("clean", "no_video_stream", "still_image", "single_frame", "cover_art_only",
                "audio_outlasts_video"):
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
    elif kind == "zero_filled_middle":
        damage_zero_middle(path, 0.3, 0.7)
    elif kind == "preallocated":
        damage_preallocated(path, 0.45)
    elif kind == "hevc_dropped_refs":
        damage_drop_references(path)
    elif kind == "avi_lost_index":
        damage_truncate(path, 0.6)
    elif kind == "ts_packet_loss":
        damage_ts_packet_loss(path, 0.45, 0.08)
    else:
        raise NexaraError(f"unknown damage kind {kind!r}")


def _base_spec(kind: str) -> dict[str, Any]:
    """The clean clip each damage starts from."""
    if kind == "truncated_moov_end" or kind == "chapter_ref_missing":
        return {"container": "mp4", "codec": "h264", "faststart": False, "audio": kind == "chapter_ref_missing"}
    if kind == "audio_damage":
        return {"container": "mp4", "codec": "h264", "faststart": True, "audio": True}
    if kind in ("no_video_stream", "cover_art_only"):
        return {"container": "mp4", "codec": "h264", "audio": True, "video": False}
    if kind == "hevc_dropped_refs":
        return {"container": "mkv", "codec": "hevc",
                "encoder_options": {"x265-params": "log-level=none:scenecut=0:bframes=3:b-pyramid=1"}}
    if kind == "avi_lost_index":
        return {"container": "avi", "codec": "mpeg4"}
    if kind == "ts_packet_loss":
        return {"container": "ts", "codec": "h264"}
    if kind == "audio_outlasts_video":
        return {"container": "mkv", "codec": "h264", "audio": True, "audio_seconds": 3.0}
    return {"container": "mp4", "codec": "h264", "faststart": True, "audio": False}


def make_damaged(path: Path | str, kind: str, label: str = "violent", seed: int = 0,
                 size: tuple[int, int] = (160, 120), fps: float = 25.0, seconds: float = 2.0) -> Path:
    """Write a clip and damage it as `kind` (one of DAMAGE_KINDS)."""
    if kind not in DAMAGE_KINDS:
        raise NexaraError(f"unknown damage kind {kind!r} (one of {', '.join(DAMAGE_KINDS)})")
    path = Path(path)
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = {"size": size, "fps": fps, "seconds": seconds, **_base_spec(kind)}
    write_base(path, kind, label, seed, spec)
    apply_damage(path, kind, rng)
    return path


# ----------------------------------------------------------------------------
# The damages added for measured verdicts
# ----------------------------------------------------------------------------


def _media_range(data: bytes) -> tuple[int, int]:
    """Byte range of the media payload: the mdat body of an MP4, else after the first 10 %."""
    for b in find_boxes(data, [b"mdat"]):
        return b.body, min(b.end, len(data))
    return len(data) // 10, len(data)


def damage_zero_middle(path: Path, a: float, b: float) -> None:
    """Zero a share of the media data, from fraction a to b of it: a block that never arrived."""
    data = bytearray(path.read_bytes())
    lo, hi = _media_range(bytes(data))
    s, e = lo + int((hi - lo) * a), lo + int((hi - lo) * b)
    data[s:e] = bytes(e - s)
    path.write_bytes(bytes(data))


def damage_preallocated(path: Path, written: float) -> None:
    """A download client preallocated the whole file and wrote only the first `written` share."""
    data = bytearray(path.read_bytes())
    cut = int(len(data) * written)
    data[cut:] = bytes(len(data) - cut)
    path.write_bytes(bytes(data))


def damage_drop_references(path: Path) -> None:
    """Remux without the reference pictures of most GOPs: the frames predicted from them
    cannot be decoded, and HEVC drops them without a word."""
    import av

    tmp = path.with_name(path.name + ".remux")
    with av.open(str(path)) as src, av.open(str(tmp), "w", format=src.format.name.split(",")[0]) as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        index = 0
        for pkt in src.demux(vin):
            if pkt.dts is None or not pkt.size:
                continue
            index += 1
            # Keep the first GOP whole; afterwards drop every packet but the keyframes and
            # one packet in four: most reference pictures go, with everything built on them.
            if index > 25 and not pkt.is_keyframe and index % 4:
                continue
            pkt.stream = vout
            dst.mux(pkt)
    tmp.replace(path)


def damage_ts_packet_loss(path: Path, at: float, share: float) -> None:
    """Cut a run of 188-byte transport packets out of an MPEG-TS file (a lossy link)."""
    data = path.read_bytes()
    n = len(data) // 188
    a = int(n * at)
    b = a + max(1, int(n * share))
    path.write_bytes(data[: a * 188] + data[b * 188:])
