"""The frame sampler that training, preview and the scan's usability judgement share.

A training extractor does not play a clip: it asks for `n` frames spread evenly
across it. The scan's `damaged` verdict promises exactly that this sampler still
gets real frames for (most of) the `n` positions, so there is one sampler and
everyone uses it. It streams: it seeks to each position (or decodes forward
when the next position is close), keeps at most one decoded frame per position,
and never holds the whole video.

Sizes are `(width, height)`, the convention of OpenCV and PIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Decode forward rather than seek when the next position is at most this far
# ahead of the last decoded frame: a seek lands on the previous keyframe and
# re-decodes the GOP, which for short clips costs more than just continuing.
FORWARD_DECODE_S = 2.0


@dataclass
class SampledFrames:
    """`n` frames at `times`; None where nothing decodable lies near that time."""

    frames: list[np.ndarray | None]  # RGB uint8, H x W x 3
    times: list[float]  # the positions asked for, seconds from the start
    decodable_range: tuple[float, float]  # first and last decoded frame time, (0, 0) if none
    frame_times: list[float | None] = field(default_factory=list)  # actual time of each frame
    duration_s: float = 0.0
    error: str | None = None  # one line when the file could not be opened at all

    @property
    def found(self) -> int:
        return sum(f is not None for f in self.frames)


def sample_times(duration_s: float, n: int) -> list[float]:
    """`n` times evenly across `[0, duration_s)`: the centre of each of n equal slices.

    Centres rather than `linspace(0, d)` so that no position sits on the very last
    frame, which a truncated or slightly-short clip would not have.
    """
    if n <= 0:
        return []
    if not duration_s or duration_s <= 0:
        return [0.0] * n
    step = duration_s / n
    return [round((i + 0.5) * step, 6) for i in range(n)]


def stream_duration(container: Any, stream: Any) -> float:
    """The declared duration of a video stream in seconds (0.0 if none is declared)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000
    if stream.frames and stream.average_rate:
        return float(stream.frames / stream.average_rate)
    return 0.0


def _scan_duration(container: Any, stream: Any) -> float:
    """Duration from the last packet timestamp, for containers that declare none."""
    last = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base:
            last = max(last, float(packet.pts * packet.time_base))
    container.seek(0)
    return last


def _to_rgb(frame: Any, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        return frame.to_ndarray(format="rgb24")
    w, h = size
    return frame.to_ndarray(format="rgb24", width=int(w), height=int(h))


def sample_frames(
    path: Path | str, n: int, size: tuple[int, int] | None = None, *, tolerance_s: float | None = None
) -> SampledFrames:
    """Decode the frame nearest (at or after) each of `sample_times(duration, n)`.

    A position gets None when no frame within `tolerance_s` of it decodes (default:
    half a slice, at least 0.5 s), e.g. past the end of a truncated file. Never
    raises on a bad file: a file that cannot be opened gives all-None and `error`.
    """
    import av

    times: list[float] = []
    frames: list[np.ndarray | None] = []
    frame_times: list[float | None] = []
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:  # not a media file, unreadable, …
        return SampledFrames([None] * max(n, 0), [0.0] * max(n, 0), (0.0, 0.0),
                             [None] * max(n, 0), 0.0, f"{path}: {exc}")
    try:
        if not container.streams.video:
            return SampledFrames([None] * max(n, 0), [0.0] * max(n, 0), (0.0, 0.0),
                                 [None] * max(n, 0), 0.0, f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = stream_duration(container, stream)
        if duration <= 0:
            duration = _scan_duration(container, stream)
        times = sample_times(duration, n)
        tol = tolerance_s if tolerance_s is not None else max(0.5, duration / max(n, 1) / 2)
        frames, frame_times = _decode_at(container, stream, times, tol, size)
        got = [t for t in frame_times if t is not None]
        rng = (min(got), max(got)) if got else (0.0, 0.0)
        return SampledFrames(frames, times, rng, frame_times, duration)
    except Exception as exc:
        pad = max(n, 0) - len(frames)
        return SampledFrames(frames + [None] * pad, times or [0.0] * max(n, 0), (0.0, 0.0),
                             frame_times + [None] * pad, 0.0, f"{path}: {exc}")
    finally:
        container.close()


def _frames_from(container: Any, stream: Any):
    """Decoded frames from the current position, stepping over packets that fail."""
    import av

    for packet in container.demux(stream):
        try:
            decoded = packet.decode()
        except (av.error.InvalidDataError, ValueError, OSError):  # PyAV 18 has no av.error.ValueError
            continue
        except av.error.EOFError:
            return
        yield from decoded


def _decode_at(
    container: Any, stream: Any, times: list[float], tol: float, size: tuple[int, int] | None
) -> tuple[list[np.ndarray | None], list[float | None]]:
    frames: list[np.ndarray | None] = []
    frame_times: list[float | None] = []
    it = None
    last_t: float | None = None  # time of the last frame pulled from `it`
    pending = None  # a frame pulled past the previous target, not yet used
    tb = stream.time_base
    for target in times:
        need_seek = it is None or last_t is None or target < last_t - 1e-6 or (
            target - last_t > FORWARD_DECODE_S
        )
        if pending is not None and pending_time(pending) >= target - 1e-6 and (
            pending_time(pending) - target <= tol
        ):
            need_seek = False
        if need_seek:
            try:
                container.seek(max(0, int(target / tb)) if tb else 0, stream=stream, backward=True)
            except Exception:
                if it is None:
                    container.seek(0)
            it = _frames_from(container, stream)
            pending = None
            last_t = None
        chosen = None
        chosen_t: float | None = None
        assert it is not None  # set by the first seek
        while True:
            if pending is not None:
                frame, pending = pending, None
            else:
                frame = next(it, None)
            if frame is None:
                break
            ft = pending_time(frame)
            last_t = ft
            if ft < target - 1e-6:
                # Keep the latest frame before the target as a fallback for a
                # position right at a gap or at the very end.
                chosen, chosen_t = frame, ft
                continue
            if chosen is not None and chosen_t is not None and target - chosen_t < ft - target:
                pending = frame
            else:
                chosen, chosen_t = frame, ft
                # The next target may want this frame again only if it is beyond it.
            break
        if chosen is not None and chosen_t is not None and abs(chosen_t - target) <= tol:
            frames.append(_to_rgb(chosen, size))
            frame_times.append(round(chosen_t, 6))
        else:
            frames.append(None)
            frame_times.append(None)
    return frames, frame_times


def pending_time(frame: Any) -> float:
    if frame.time is not None:
        return float(frame.time)
    return 0.0
