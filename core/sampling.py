"""The frame sampler training, preview and the scan share — and the definition of usable it owns.

A training extractor does not play a clip: it asks for `n` pictures spread
evenly across it. So "usable" is defined here, by this sampler, and every scan
level decides toward it:

    At `Thresholds.positions` evenly spaced positions across the video stream's
    own time line, the sampler gets a real decoded picture (not concealed by the
    decoder, not a repeat of a picture from far away) within the tolerance of
    each position, for at least `min_served_share` of the positions; and the
    clip has motion: at least `min_frames` distinct pictures over at least
    `min_duration_s`.

The time line runs from the first video timestamp to the declared end of the
video stream, taken from the best evidence the file has (`Timeline`): the
stream's own duration, the header's frame count (an AVI that lost its index
still says how many frames it had), a Matroska track's DURATION tag, or the
container's duration when every stream stops short of it (a cut file, not an
audio track that outlasts the video).

The sampler streams: one demux pass (timestamps only, no decoding) measures the
time line, a second decodes forward from the start on one thread (frame threads
lose the decoder's "concealed" flag), skipping whole GOPs that hold no position,
and keeps at most one picture per position. A packet that fails to decode is
skipped; an exception from the demuxer itself (a resync in MPEG-TS, an Ogg CRC)
restarts demuxing where it stopped. It never raises on a bad file and never
holds the whole video.

Sizes are `(width, height)`, the convention of OpenCV and PIL.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy only where frames are converted: the scan workers never need it
    import numpy as np

# Decode forward rather than skip when the next needed keyframe is at most this
# far ahead: skipping a GOP saves decoding it but restarts the decoder cold.
FORWARD_DECODE_S = 2.0
# An exception from the demuxer itself is retried this many times in a row
# (each retry reads on from where the demuxer stopped) before giving up.
MAX_DEMUX_RETRIES = 32


@dataclass(frozen=True)
class Thresholds:
    """Every number a verdict depends on, in one place.

    The definition of usable (the sampler's; see the module docstring):

    positions: evenly spaced positions across the video time line (the
        trainer samples about 20 frames per clip).
    min_served_share: the share of positions that must get a real picture.
        At 0.8 a sampler taking 20 frames misses at most 4.
    tolerance_share: how far from its position a picture may lie, as a share
        of the spacing between positions (0.5: the positions' windows tile the
        time line) — but never less than `min_tolerance_frames` frame
        intervals (so one late frame is not a hole) and never more than
        `max_tolerance_s` (a picture a second away is a repeat from far away).
    min_frames / min_duration_s: motion. Fewer distinct pictures or a shorter
        time line is not a clip (`still_image`, `too_short`).

    How the scan measures toward it:

    max_missing_frames: frames a clip may lack against its declared length
        (containers round durations) before the loss counts as damage.
    max_messages: unique FFmpeg log lines kept per file (with repeat counts).
    window_frames: frames decoded after each keyframe at `standard`.
    standard_audio_packets: audio packets decoded at `standard` (about 1 s);
        audio never changes usability, so `full` alone decodes all of it.
    zero_run: this many zero bytes in a row inside a video packet is a
        zero-filled hole, not compressed data (H.264/HEVC cannot contain it).
    """

    positions: int = 20
    min_served_share: float = 0.8
    tolerance_share: float = 0.5
    min_tolerance_frames: float = 1.5
    max_tolerance_s: float = 1.0
    min_frames: int = 5
    min_duration_s: float = 0.3
    max_missing_frames: int = 2
    max_messages: int = 30
    window_frames: int = 3
    standard_audio_packets: int = 48
    zero_run: int = 16

    @property
    def min_served(self) -> int:
        return math.ceil(self.min_served_share * self.positions - 1e-9)


DEFAULT_THRESHOLDS = Thresholds()


# ----------------------------------------------------------------------------
# The time line
# ----------------------------------------------------------------------------


@dataclass
class Timeline:
    """The video stream's time line in seconds, and where its end comes from."""

    start: float
    end: float
    frame_interval: float
    evidence: str  # "stream duration", "header frame count", "track DURATION tag", "container duration", "packets"
    declared_frames: int = 0  # the header's frame count, 0 where the container keeps none
    packets: int = 0  # video packets the demuxer returned
    packets_end: float = 0.0  # end of the last video packet
    pictures: int = 0  # distinct video packet timestamps: the pictures the stream holds

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass
class PacketLog:
    """What one demux pass saw of the video stream: timestamps only, no decoding."""

    times: list[float] = field(default_factory=list)  # every video packet's pts (or dts), seconds
    keyframes: list[float] = field(default_factory=list)
    ends: float | None = None  # end of the last video packet
    intact_end: float | None = None  # end of the last video packet the demuxer read whole
    other_end: float | None = None  # end of the last packet of any other stream
    packets: int = 0
    corrupt_packets: int = 0  # flagged corrupt by the demuxer (a partial read)
    demux_errors: list[str] = field(default_factory=list)

    def add_video(self, packet: Any, tb: float) -> None:
        self.packets += 1
        if packet.is_corrupt:
            self.corrupt_packets += 1
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None or not tb:
            return
        t = ts * tb
        self.times.append(t)
        if packet.is_keyframe:
            self.keyframes.append(t)
        end = t + (packet.duration or 0) * tb
        if self.ends is None or end > self.ends:
            self.ends = end
        if not packet.is_corrupt and (self.intact_end is None or end > self.intact_end):
            self.intact_end = end

    def add_other(self, packet: Any) -> None:
        ts = packet.pts if packet.pts is not None else packet.dts
        tb = packet.time_base
        if ts is None or not tb:
            return
        end = float((ts + (packet.duration or 0)) * tb)
        if self.other_end is None or end > self.other_end:
            self.other_end = end


def pick_video_stream(container: Any) -> Any | None:
    """The clip's video stream: the first video stream that is not an attached picture (cover art)."""
    for s in container.streams.video:
        disp = int(getattr(s, "disposition", 0) or 0)
        if disp & 0x400:  # AV_DISPOSITION_ATTACHED_PIC
            continue
        return s
    return None


def _tag_seconds(value: str | None) -> float | None:
    """A Matroska DURATION tag ("00:00:02.000000000") in seconds."""
    if not value:
        return None
    try:
        h, m, s = value.strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def frame_interval(times: list[float], stream: Any) -> float:
    """The typical time between pictures: the declared rate where the timestamps agree
    with it (millisecond clocks jitter), else the median step between timestamps."""
    uniq = sorted(set(round(t, 6) for t in times))
    steps = [b - a for a, b in zip(uniq, uniq[1:], strict=False) if b - a > 1e-6]
    median = float(statistics.median(steps)) if len(steps) >= 2 else None
    declared = None
    rate = getattr(stream, "average_rate", None) or getattr(stream, "guessed_rate", None)
    if rate:
        try:
            declared = float(1 / rate)
        except (ZeroDivisionError, TypeError):
            declared = None
    if declared and (median is None or abs(declared - median) <= 0.25 * median):
        return declared
    if median:
        return median
    return steps[0] if steps else 0.04


def timeline(container: Any, stream: Any, log: PacketLog) -> Timeline:
    """The video time line from the best evidence: the stream's and header's claims, else the container's.

    The end is the latest a video-specific declaration allows (stream duration,
    header frame count, track DURATION tag). Without one, the container's
    duration counts only when no stream reached it (a cut file); when another
    stream did (an audio track outlasting the video), the video simply ends
    where its packets end.
    """
    tb = float(stream.time_base) if stream.time_base else 0.0
    fi = frame_interval(log.times, stream)
    if log.times:
        start = min(log.times)
    elif stream.start_time is not None and tb:
        start = stream.start_time * tb
    else:
        start = 0.0
    s0 = stream.start_time * tb if stream.start_time is not None and tb else start
    declared_frames = int(stream.frames or 0)
    packets_end = log.ends if log.ends is not None else start
    if log.times:
        packets_end = max(packets_end, max(log.times) + fi)
    candidates: list[tuple[float, str]] = []
    if stream.duration and tb:
        candidates.append((s0 + stream.duration * tb, "stream duration"))
    if declared_frames > 1:
        candidates.append((s0 + declared_frames * fi, "header frame count"))
    tag = _tag_seconds((stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration"))
    if tag:
        candidates.append((tag, "track DURATION tag"))
    if candidates:
        end, evidence = max(candidates)
    elif container.duration:
        c_start = (container.start_time or 0) / 1_000_000
        c_end = c_start + container.duration / 1_000_000
        reached = max(packets_end, log.other_end or 0.0)
        if reached >= c_end - 2 * fi:
            end, evidence = packets_end, "packets"
        else:
            end, evidence = c_end, "container duration"
    else:
        end, evidence = packets_end, "packets"
    if packets_end > end:
        end, evidence = packets_end, "packets"
    if end - start < fi:
        end = start + fi  # a single picture spans one frame interval
    pictures = len(set(round(t, 6) for t in log.times))
    return Timeline(start, end, fi, evidence, declared_frames, log.packets, packets_end, pictures)


# ----------------------------------------------------------------------------
# The definition of usable
# ----------------------------------------------------------------------------


@dataclass
class Usability:
    """How a clip measures against the definition of usable."""

    positions: int
    served: int  # positions with a real picture within the tolerance
    needed: int
    coverage: float  # share of the time line covered by real pictures, holes subtracted
    distinct: int  # distinct real pictures
    duration: float
    reason: str | None = None  # "still_image" / "too_short": the stream itself cannot show motion
    min_frames: int = 2

    @property
    def usable(self) -> bool:
        return self.reason is None and self.served >= self.needed and self.distinct >= self.min_frames


def position_times(tl: Timeline, n: int) -> list[float]:
    """`n` positions evenly across the time line: the centre of each of n equal slices.

    Centres rather than the two ends, so no position sits on the very first or
    last frame, which a slightly short clip would not have.
    """
    if n <= 0:
        return []
    step = tl.duration / n
    return [tl.start + (i + 0.5) * step for i in range(n)]


def tolerance(tl: Timeline, n: int, th: Thresholds = DEFAULT_THRESHOLDS) -> float:
    floor = th.min_tolerance_frames * tl.frame_interval
    tol = max(th.tolerance_share * tl.duration / max(n, 1), floor)
    return min(tol, max(th.max_tolerance_s, floor))


def served_positions(real_times: list[float], positions: list[float], tol: float) -> list[float | None]:
    """For each position, the nearest real picture's time within `tol` (earlier wins a tie), or None."""
    out: list[float | None] = []
    for p in positions:
        i = bisect.bisect_left(real_times, p)
        best: float | None = None
        for j in (i - 1, i):
            if 0 <= j < len(real_times):
                t = real_times[j]
                if abs(t - p) <= tol + 1e-9 and (best is None or abs(t - p) < abs(best - p) - 1e-12):
                    best = t
        out.append(best)
    return out


def coverage(real_times: list[float], tl: Timeline) -> float:
    """The share of the time line covered by real pictures: each covers one frame interval."""
    if tl.duration <= 0:
        return 0.0
    covered = 0.0
    reach = tl.start
    for t in real_times:
        a, b = max(t, reach, tl.start), min(t + tl.frame_interval, tl.end)
        if b > a:
            covered += b - a
            reach = b
    return min(1.0, covered / tl.duration)


def assess(real_times: list[float], tl: Timeline, th: Thresholds = DEFAULT_THRESHOLDS,
           n: int | None = None) -> Usability:
    """The definition of usable, applied to the times of the real pictures a decode produced."""
    n = th.positions if n is None else n
    times = sorted(set(round(t, 6) for t in real_times))
    positions = position_times(tl, n)
    served = sum(t is not None for t in served_positions(times, positions, tolerance(tl, n, th)))
    # Motion is a property of the stream (what it holds), not of the damage: a destroyed
    # clip is not a "still image". Too few real pictures still fails usability below.
    reason = None
    pictures = max(tl.pictures, len(times))
    if pictures == 1:
        reason = "still_image"
    elif pictures and (pictures < th.min_frames or tl.duration < th.min_duration_s):
        reason = "too_short"
    needed = math.ceil(th.min_served_share * n - 1e-9)
    return Usability(n, served, needed, coverage(times, tl), len(times), tl.duration, reason,
                     max(2, th.min_frames))


# ----------------------------------------------------------------------------
# Robust demuxing and decoding (shared with the integrity check)
# ----------------------------------------------------------------------------


def demux(container: Any, streams: list[Any], errors: list[str]) -> Iterator[Any]:
    """container.demux(*streams), going on after the demuxer itself raises.

    PyAV ends the generator on any error from av_read_frame; a careful loader
    reads on, because the demuxer resyncs (MPEG-TS after lost packets, Ogg
    after a bad CRC) and the next packets are fine. Each failure is recorded in
    `errors`; `MAX_DEMUX_RETRIES` failures in a row without a packet end it.
    """
    import av

    failures = 0
    while True:
        try:
            for packet in container.demux(*streams):
                failures = 0
                yield packet
            return
        except av.error.EOFError:
            return
        except (av.error.FFmpegError, IndexError, ValueError, OSError, MemoryError) as exc:
            failures += 1
            errors.append(f"{type(exc).__name__}: {exc}")
            if failures >= MAX_DEMUX_RETRIES:
                return


def decode_packet(packet: Any) -> list[Any] | None:
    """The frames of one packet, or None when the decoder rejected it."""
    try:
        return packet.decode()
    except Exception:  # InvalidDataError and friends: the packet is bad, the next may not be
        return None


def frame_time(frame: Any, tb: float) -> float | None:
    ts = frame.pts if frame.pts is not None else getattr(frame, "dts", None)
    if ts is None or not tb:
        return None
    return ts * tb


def configure_decoder(stream: Any) -> None:
    """One thread: frame threads lose the decoder's concealment flag (measured: 17 concealed
    frames of 50 seen single-threaded, 0 with slice threads), and the scan and the
    sampler must see the same pictures as real."""
    ctx = stream.codec_context
    ctx.thread_count = 1
    with contextlib.suppress(Exception):  # older PyAV: thread_count=1 is enough
        ctx.thread_type = "NONE"


# ----------------------------------------------------------------------------
# The sampler
# ----------------------------------------------------------------------------


@dataclass
class SampledFrames:
    """`n` frames at `times`; None where no real picture lies near that time."""

    frames: list[np.ndarray | None]  # RGB uint8, H x W x 3
    times: list[float]  # the positions asked for, seconds on the file's clock
    decodable_range: tuple[float, float]  # first and last real picture time, (0, 0) if none
    frame_times: list[float | None] = field(default_factory=list)  # actual time of each frame
    duration_s: float = 0.0
    error: str | None = None  # one line when the file could not be opened at all
    usability: Usability | None = None  # the definition of usable at these n positions
    timeline: Timeline | None = None

    @property
    def found(self) -> int:
        return sum(f is not None for f in self.frames)

    @property
    def usable(self) -> bool:
        return self.usability is not None and self.usability.usable


def sample_times(duration_s: float, n: int) -> list[float]:
    """`n` times evenly across `[0, duration_s)`: the centre of each of n equal slices."""
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


def _to_rgb(frame: Any, size: tuple[int, int] | None) -> np.ndarray:
    # threads=1: PyAV 18 defaults to FFmpeg's automatic slice threads, a new pool per frame;
    # one thread gives the same pixels at half the CPU (165 vs 361 µs for 160×120 → 224×224)
    if size is None:
        return frame.to_ndarray(format="rgb24", threads=1)
    w, h = size
    return frame.to_ndarray(format="rgb24", width=int(w), height=int(h), threads=1)


def _empty(n: int, error: str) -> SampledFrames:
    n = max(n, 0)
    return SampledFrames([None] * n, [0.0] * n, (0.0, 0.0), [None] * n, 0.0, error)


def measure_timeline(path: Path | str) -> tuple[Timeline | None, PacketLog | None, str | None]:
    """The demux pass alone: the video time line of a file (None and a line when there is none)."""
    import av

    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        return None, None, f"{path}: {exc}"
    with container:
        vs = pick_video_stream(container)
        if vs is None:
            return None, None, f"{path}: no video stream"
        log = _demux_pass(container, vs)
        return timeline(container, vs, log), log, None


def _demux_pass(container: Any, vs: Any) -> PacketLog:
    log = PacketLog()
    tb = float(vs.time_base) if vs.time_base else 0.0
    for packet in demux(container, [], log.demux_errors):
        if packet.size == 0:
            continue
        if packet.stream is vs:
            log.add_video(packet, tb)
        else:
            log.add_other(packet)
    return log


def sample_frames(
    path: Path | str, n: int, size: tuple[int, int] | None = None, *, tolerance_s: float | None = None,
    thresholds: Thresholds | None = None,
) -> SampledFrames:
    """The real picture nearest each of `n` positions across the video time line.

    A position gets None when no real picture lies within the tolerance
    (`tolerance()`, or `tolerance_s`). With `n = thresholds.positions`,
    `usability` is the definition of usable. Never raises on a bad file: a
    file that cannot be opened gives all-None and `error`.
    """
    import av

    th = thresholds or DEFAULT_THRESHOLDS
    n = max(n, 0)
    tl, log, error = measure_timeline(path)
    if tl is None or log is None:
        return _empty(n, error or f"{path}: unreadable")
    positions = position_times(tl, n)
    tol = tolerance_s if tolerance_s is not None else tolerance(tl, n, th)
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        return _empty(n, f"{path}: {exc}")
    try:
        vs = pick_video_stream(container)
        if vs is None:
            return _empty(n, f"{path}: no video stream")
        configure_decoder(vs)
        picks, real = _decode_for(container, vs, positions, tol, log)
        frames: list[np.ndarray | None] = []
        frame_times: list[float | None] = []
        for pick in picks:
            if pick is None:
                frames.append(None)
                frame_times.append(None)
            else:
                t, frame = pick
                frames.append(_to_rgb(frame, size))
                frame_times.append(round(t, 6))
        rng = (min(real), max(real)) if real else (0.0, 0.0)
        usability = assess(real, tl, th, n)
        usability.served = sum(p is not None for p in picks)
        return SampledFrames(frames, [round(p, 6) for p in positions], rng, frame_times, tl.duration,
                             None, usability, tl)
    except Exception as exc:  # a decoder bug must cost this clip, not the extraction
        return _empty(n, f"{path}: {type(exc).__name__}: {exc}")
    finally:
        container.close()


def _gops_needed(positions: list[float], tol: float, keyframes: list[float]) -> list[tuple[float, bool]]:
    """Each keyframe time with whether its GOP must be decoded: a position's window
    [p - tol, p + tol] overlaps it, or a needed GOP starts within FORWARD_DECODE_S
    after it (decoding on is cheaper than restarting the decoder cold)."""
    ks = sorted(set(keyframes))
    need = []
    for i, k in enumerate(ks):
        nxt = ks[i + 1] if i + 1 < len(ks) else math.inf
        need.append(any(p - tol < nxt and p + tol >= k for p in positions))
    out = []
    next_needed = math.inf
    for k, nd in zip(reversed(ks), reversed(need), strict=True):
        out.append((k, nd or next_needed - k <= FORWARD_DECODE_S))
        if nd:
            next_needed = k
    return list(reversed(out))


def _decode_for(
    container: Any, vs: Any, positions: list[float], tol: float, log: PacketLog
) -> tuple[list[tuple[float, Any] | None], list[float]]:
    """Decode forward, keep the nearest real picture to each position; the real pictures' times.

    Whole GOPs that no position's window needs are demuxed but not decoded;
    the decoder is drained and reset before it resumes at a keyframe, so every
    decoded picture is the one a plain forward decode gives an intact file.
    """
    tb = float(vs.time_base) if vs.time_base else 0.0
    picks: list[tuple[float, Any] | None] = [None] * len(positions)
    real: list[float] = []
    seen: set[float] = set()
    if not positions:
        return picks, real
    gops = dict(_gops_needed(positions, tol, log.keyframes))
    last_needed = positions[-1] + tol

    def take(frame: Any) -> None:
        if frame.is_corrupt:
            return
        t = frame_time(frame, tb)
        if t is None:
            return
        key = round(t, 6)
        if key in seen:
            return  # a repeat of a picture already seen
        seen.add(key)
        real.append(t)
        i = bisect.bisect_left(positions, t - tol - 1e-9)
        while i < len(positions) and positions[i] <= t + tol + 1e-9:
            p = positions[i]
            cur = picks[i]
            if abs(t - p) <= tol + 1e-9 and (cur is None or abs(t - p) < abs(cur[0] - p) - 1e-12):
                picks[i] = (t, frame)
            i += 1

    decoding = True
    errors: list[str] = []
    for packet in demux(container, [vs], errors):
        if packet.size == 0:  # the flush packet
            if decoding:
                for f in decode_packet(packet) or []:
                    take(f)
            break
        if packet.is_keyframe:
            ts = packet.pts if packet.pts is not None else packet.dts
            t = ts * tb if ts is not None and tb else None
            if t is not None:
                if t > last_needed + FORWARD_DECODE_S:
                    break  # nothing later is needed; the drain below takes what is held
                want = gops.get(t, True)
                if want != decoding:
                    if decoding:
                        for f in decode_packet_flush(vs):
                            take(f)
                    decoding = want
        if decoding:
            for f in decode_packet(packet) or []:
                take(f)
    else:
        return picks, sorted(real)
    if decoding:
        for f in decode_packet_flush(vs):
            take(f)
    return picks, sorted(real)


def decode_packet_flush(vs: Any) -> list[Any]:
    """Drain the frames a decoder still holds, then reset it for a fresh start."""
    ctx = vs.codec_context
    out: list[Any] = []
    with contextlib.suppress(Exception):
        out = list(ctx.decode(None))
    ctx.flush_buffers()
    return out
