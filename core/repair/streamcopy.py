"""Stream copy with PyAV: packets from one container into a fresh one, never re-encoded.

Shared by the remux and trim strategies. The new container's format is the one
the file's extension names (the repaired clip keeps its name, so a Matroska
file saved as `.mp4` becomes a real MP4). Packets keep their bytes; only
timestamps may be shifted so the kept footage starts at zero.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# extension → FFmpeg muxer
FORMAT_BY_EXT = {
    ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".3gp": "3gp", ".3g2": "3g2",
    ".mkv": "matroska", ".webm": "webm", ".avi": "avi", ".flv": "flv",
    ".ts": "mpegts", ".mts": "mpegts", ".m2ts": "mpegts", ".mpg": "mpeg", ".mpeg": "mpeg",
    ".ogv": "ogg", ".wmv": "asf",
}
# Containers that need a decode timestamp on every packet.
_NEEDS_DTS = {"mp4", "mov", "3gp", "3g2", "avi", "flv", "mpegts", "mpeg", "asf"}


class CopyError(ValueError):
    """The stream copy could not be written (one line for the report)."""


def format_for(path: str | os.PathLike[str]) -> str | None:
    return FORMAT_BY_EXT.get(os.path.splitext(os.fspath(path))[1].lower())


@dataclass
class CopyPlan:
    """Which packets to copy: by stream kind, the decode-order indexes to keep (None: all)."""

    video: set[int] | None = None
    audio: bool = True
    audio_keep: Callable[[float, float], bool] | None = None  # (start s, end s) → keep this packet
    shift_s: float = 0.0  # subtracted from every timestamp (the kept footage starts at 0)


@dataclass
class CopyResult:
    video_packets: int = 0
    audio_packets: int = 0
    dropped_no_dts: int = 0  # packets without a decode timestamp, in a container that needs one
    dropped_non_monotonic: int = 0  # packets whose dts did not increase
    notes: list[str] = field(default_factory=list)


def write_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str], plan: CopyPlan,
               crash: Any = None, expected: int = 0) -> CopyResult:
    """Copy the selected packets of src's first video stream (and first audio stream) into dst."""
    import av

    fmt = format_for(dst)
    if fmt is None:
        raise CopyError(f"no container format for the extension of {os.fspath(dst)!r}")
    out = CopyResult()
    try:
        with av.open(os.fspath(src)) as ic, av.open(os.fspath(dst), mode="w", format=fmt) as oc:
            if not ic.streams.video:
                raise CopyError("no video stream")
            ivs = ic.streams.video[0]
            streams = [ivs]
            ias = ic.streams.audio[0] if plan.audio and ic.streams.audio else None
            if ias is not None:
                streams.append(ias)
            omap = {}
            for s in streams:
                try:
                    o = oc.add_stream_from_template(s)
                except (ValueError, av.error.FFmpegError) as exc:
                    if s is ivs:
                        raise CopyError(f"{fmt} cannot hold {ivs.codec_context.name} video: {exc}") from exc
                    out.notes.append(f"audio dropped: {fmt} cannot hold it")
                    continue
                o.time_base = s.time_base
                omap[s.index] = o
            last_dts: dict[int, int] = {}
            v_index = -1
            half = expected // 2
            for pkt in _demux(ic, [s for s in streams if s.index in omap], out):
                if pkt.size == 0:
                    continue
                is_video = pkt.stream.index == ivs.index
                tb = pkt.time_base or pkt.stream.time_base
                if is_video:
                    v_index += 1
                    if plan.video is not None and v_index not in plan.video:
                        continue
                elif plan.audio_keep is not None:
                    if pkt.pts is None or not tb:
                        continue
                    start = float(pkt.pts * tb)
                    if not plan.audio_keep(start, start + float((pkt.duration or 0) * tb)):
                        continue
                shift = round(plan.shift_s / tb) if tb and plan.shift_s else 0
                if pkt.dts is None and fmt in _NEEDS_DTS:
                    out.dropped_no_dts += 1
                    continue
                if pkt.pts is not None:
                    pkt.pts -= shift
                if pkt.dts is not None:
                    pkt.dts -= shift
                    prev = last_dts.get(pkt.stream.index)
                    if prev is not None and pkt.dts <= prev:
                        out.dropped_non_monotonic += 1
                        continue
                    last_dts[pkt.stream.index] = pkt.dts
                pkt.stream = omap[pkt.stream.index]
                oc.mux(pkt)
                if is_video:
                    out.video_packets += 1
                    if crash is not None and out.video_packets == half:
                        crash.hit("repair_mid_write")
                else:
                    out.audio_packets += 1
    except av.error.FFmpegError as exc:
        raise CopyError(f"stream copy failed: {exc}") from exc
    if out.dropped_no_dts:
        out.notes.append(f"{out.dropped_no_dts} packet(s) without a decode timestamp dropped")
    if out.dropped_non_monotonic:
        out.notes.append(f"{out.dropped_non_monotonic} packet(s) with non-increasing timestamps dropped")
    if not out.video_packets:
        raise CopyError("no video packet could be copied")
    return out


def _demux(ic: Any, streams: list[Any], out: CopyResult) -> Any:
    """The packets up to where the data ends: a cut file stops the demuxer with an error."""
    import av

    it = ic.demux(*streams)
    while True:
        try:
            yield next(it)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            out.notes.append(f"reading stopped: {exc}")
            return
