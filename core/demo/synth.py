"""Clean clips for the demo: real encodes with PyAV's bundled FFmpeg (no system ffmpeg).

The two classes differ learnably, per frame and over time, so the training
pipeline can run on the demo end to end: `violent` clips are fast, chaotic,
flickering, high-frequency motion; `nonviolent` clips are slow smooth drifts.
`write_clip` writes one clean clip (also used by the benchmark to build
user-like 640x360 / 30 fps / 8 s clips with AAC audio); the `write_*` shapes
below are the files that are not clips although they carry a video name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.errors import NexaraError

if TYPE_CHECKING:  # numpy is imported where frames are made: `nexara <anything> --help`
    import numpy as np  # and every remote command start would otherwise pay ~50 ms for it


# container -> (file extension, PyAV format name)
CONTAINERS = {
    "mp4": (".mp4", "mp4"),
    "mkv": (".mkv", "matroska"),
    "webm": (".webm", "webm"),
    "avi": (".avi", "avi"),
    "mov": (".mov", "mov"),
    "ts": (".ts", "mpegts"),
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
    audio_seconds: float | None = None,
) -> Path:
    """Encode one clean clip; `size` is (width, height). Returns the path.

    `faststart` moves the MP4 index (moov) to the front, as web uploads do;
    without it the index is written last, as a camera or a plain encode does.
    `video=False` writes an audio-only file (for the no-video-stream case).
    `encoder_options` override the encoder's defaults (e.g. x264's
    `{"x264-params": "open-gop=1:bframes=3"}` for the GOP shapes real uploads have).
    `audio_seconds` lets the audio track run longer (or shorter) than the video.
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
            _write_audio(out, a_s, audio_seconds or seconds, seed)
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
# Files with a video name that are not clips
# ----------------------------------------------------------------------------


def _picture(label: str, size: tuple[int, int], seed: int) -> Any:
    import av

    w, h = int(size[0]) // 2 * 2, int(size[1]) // 2 * 2
    rgb = next(render_frames(label, w, h, 1, 25.0, seed))
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")


def encode_picture(label: str = "violent", size: tuple[int, int] = (160, 120), seed: int = 0,
                   codec: str = "png") -> bytes:
    """One picture as a complete image file (PNG or JPEG bytes), drawn like a demo frame."""
    import av

    frame = _picture(label, size, seed)
    ctx = cast("av.VideoCodecContext", av.CodecContext.create(codec, "w"))
    ctx.width, ctx.height = frame.width, frame.height
    ctx.pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    if codec != "png":
        frame = frame.reformat(format="yuvj420p")
    data = b"".join(bytes(p) for p in ctx.encode(frame)) + b"".join(bytes(p) for p in ctx.encode(None))
    return data


def write_still_image(path: Path | str, label: str = "violent", size: tuple[int, int] = (160, 120),
                      seed: int = 0) -> Path:
    """A PNG picture saved under a video name (a thumbnail a scraper kept as the clip)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_picture(label, size, seed))
    return path


def write_cover_art_only(path: Path | str, label: str = "violent", size: tuple[int, int] = (160, 120),
                         seed: int = 0, seconds: float = 2.0) -> Path:
    """Audio with an attached cover picture and nothing else: its only "video" is the cover."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = encode_picture(label, size, seed, codec="mjpeg")
    with av.open(str(path), mode="w", format="mp4") as out:  # the mov muxer writes it as `covr`
        a_s = out.add_stream("aac", rate=22050)
        a_s.layout = "mono"
        cover = out.add_stream("mjpeg")
        cover.width, cover.height = int(size[0]) // 2 * 2, int(size[1]) // 2 * 2
        cover.pix_fmt = "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        pkt = av.Packet(picture)
        pkt.stream = cover
        pkt.pts = pkt.dts = 0
        pkt.time_base = Fraction(1, 1000)
        out.mux(pkt)
        _write_audio(out, a_s, seconds, seed)
    return path
