"""The integrity check of one video file: a graded verdict, measured, with reasons that explain it.

The truth is the trainer's: a clip is usable when the sampler (`core.sampling`)
gets real pictures across its time line (see `core.sampling.assess` for the
definition). The check measures toward that, at three levels:

- `full` decodes every video frame, one thread, and applies the definition to
  the real pictures it got: exactly what the sampler would get.
- `standard` (default) reads every packet and decodes a short window after
  each keyframe. Reading costs nothing extra, so it also looks for the marks
  damage leaves without decoding: packets the demuxer flags or cannot read,
  zero-filled payloads, H.264/HEVC framing that does not parse, timestamp
  gaps, frames missing against the header's count, and FFmpeg messages that
  can mean lost data. A file with none of them is intact between its windows,
  and its packets are its pictures; a file with any is measured as `full`
  would. So `standard` decides like `full` and pays only on damaged files.
- `quick` reads every packet and decodes keyframes only, and measures fully
  on the same marks: cheaper than `standard` on intact files, the same on
  damaged ones.

Verdicts: `corrupt` — a fatal reason (not a video, no index, no video stream,
no frames, a still image, too short) or the definition of usable fails;
`damaged` — usable, but measured loss (concealed or undecodable frames, holes,
a missing tail); `warning` — nothing lost, FFmpeg had something to say
(audio errors, a chapter reference, container notes); `ok` — nothing.
Messages never decide: `core.ffmpeg_messages` names what they mean.

`check_file` never raises and is a top-level function, so worker processes can
run it. FFmpeg's log callback is process-wide, so one check runs at a time per
process (a lock serialises threads that share one).
"""

from __future__ import annotations

import bisect
import math
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.dataset import VideoFile
from core.ffmpeg_messages import UNCLASSIFIED, classify
from core.fingerprint import FrameCollector, fingerprint_of
from core.mp4box import TOP_LEVEL_TYPES, top_level_overrun
from core.reasons import REASONS, Severity, severity_of
from core.records import LEVELS, FileResult, Verdict
from core.sampling import (
    DEFAULT_THRESHOLDS,
    PacketLog,
    Thresholds,
    Timeline,
    Usability,
    assess,
    configure_decoder,
    decode_packet,
    decode_packet_flush,
    demux,
    frame_time,
    pick_video_stream,
    timeline,
)

__all__ = ["DEFAULT_THRESHOLDS", "Thresholds", "check_file", "check_path"]

# FFmpeg log levels (AV_LOG_*) we keep: warnings and worse.
_AV_LOG_WARNING = 24
_AV_LOG_ERROR = 16

_MOV_FAMILY = ("mov", "mp4", "m4a", "3gp")

DECODER_THREADS = 1
# The deblocking filter only smooths pixels; skipping it finds the same errors
# and concealments (measured: identical flags) and saves a quarter of the decode.
DECODER_OPTIONS = {"skip_loop_filter": "all"}

# Messages about reference pictures that are missing. `quick` and `standard`
# skip packets on purpose, so at those levels these are the check's own doing
# (an open GOP or B-frames reaching across the skipped part), not the file's.
_SKIP_ARTIFACT_PAT = re.compile(
    r"missing reference picture|mmco: unref short failure|co located POCs unavailable|"
    r"could not find ref with POC|error constructing the frame RPS|illegal short term buffer|"
    r"reference picture missing|number of reference frames|invalid reference|no reference|"
    r"not all references|requested reference",
    re.IGNORECASE,
)
# Loss codes a message can explain; without measured loss they read as notes.
_LOSS_CODES = {"truncated", "sample_table_broken", "decode_errors", "frames_missing"}
_FATAL_MESSAGE_CODES = {"moov_missing"}

# Decoders that drop a picture whose references are damaged without flagging
# anything (measured on HEVC: 64 flipped bytes, every window clean, 19 of 50
# pictures silently gone). No sample can vouch for the frames between, so for
# these `standard` decodes everything.
MEASURE_FULLY = frozenset({"hevc"})

_lock = threading.Lock()


@dataclass
class _Probe:
    """What one pass over a file observed, before it is turned into a verdict."""

    level: str = "standard"
    logs: list[tuple[int, str, str]] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    extra_messages: list[str] = field(default_factory=list)
    log: PacketLog = field(default_factory=PacketLog)
    timeline: Timeline | None = None
    real: list[float] = field(default_factory=list)  # times of decoded real pictures
    frames: int = 0
    frames_corrupt: int = 0
    keyframes: int = 0
    keyframes_corrupt: int = 0
    bad_gops: list[float] = field(default_factory=list)  # keyframes that failed or were concealed
    packets_decoded: int = 0
    packets_failed: int = 0
    audio_failed: int = 0
    format_name: str = ""
    video_codec: str = ""
    audio_codecs: set[str] = field(default_factory=set)
    box_overrun: bool | None = None
    opened: bool = False
    has_video: bool = False
    partial: bool = False  # packets were skipped on purpose (quick, standard)
    marks: list[str] = field(default_factory=list)  # signs of damage seen without decoding
    escalated: bool = False
    width: int | None = None
    height: int | None = None
    # Fingerprint hook (core.fingerprint, issue 15): fed every real picture this pass decodes.
    fp: FrameCollector = field(default_factory=FrameCollector)


def check_file(
    root: Path | str, video: VideoFile, level: str = "standard", thresholds: Thresholds | None = None
) -> FileResult:
    """Check ROOT/video.rel at `level`; never raises (an internal failure is a `corrupt` verdict)."""
    t0 = time.perf_counter()
    th = thresholds or DEFAULT_THRESHOLDS
    base = FileResult(
        path=video.rel, split=video.split, cls=video.cls, verdict=Verdict.OK,
        size=video.size, mtime_ns=video.mtime_ns, level=level,
    )
    try:
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}")
        result = _check(Path(root) / video.rel, base, level, th)
    except Exception as exc:  # the contract: a verdict, never an exception
        result = replace(base, verdict=Verdict.CORRUPT, reasons=["check_failed"],
                         messages=[f"nexara: checker failed: {type(exc).__name__}: {exc}"])
    result.seconds = round(time.perf_counter() - t0, 4)
    return result


def check_path(path: Path | str, level: str = "standard", thresholds: Thresholds | None = None) -> FileResult:
    """Check a single file by path (for tests, preview and one-off use)."""
    p = Path(path)
    try:
        st = p.stat()
        size, mtime = st.st_size, st.st_mtime_ns
    except OSError:
        size, mtime = 0, 0
    return check_file(p.parent, VideoFile(p.name, "", "", size, mtime), level, thresholds)


def _check(path: Path, base: FileResult, level: str, th: Thresholds) -> FileResult:
    # The cheap, certain cases first: no decoder involved.
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            size = os.fstat(fh.fileno()).st_size
    except PermissionError:
        return _fatal(base, "unreadable", f"{base.path}: permission denied")
    except IsADirectoryError:
        return _fatal(base, "unreadable", f"{base.path}: is a directory")
    except OSError as exc:
        return _fatal(base, "unreadable", f"{base.path}: {exc.strerror or exc}")
    base.size = size
    if size == 0:
        return _fatal(base, "empty_file", f"{base.path}: 0 bytes")

    with _lock:
        probe = _run_av(path, level, th)
        if level != "full" and probe.has_video and (
                probe.video_codec in MEASURE_FULLY or _suspicious(probe, th)):
            marks = probe.marks
            probe = _run_av(path, "full", th)
            probe.escalated = True
            probe.marks = marks
    if head[4:8] in TOP_LEVEL_TYPES or any(m in probe.format_name for m in _MOV_FAMILY):
        probe.box_overrun = top_level_overrun(path)
    result = _decide(base, probe, head, th)
    # Fingerprint hook (core.fingerprint, issue 15): the pictures of the pass that decided — the
    # full pass when standard escalated — hashed; nothing is decoded for it.
    if result.usable:
        result.fingerprint = fingerprint_of(path, probe.fp, size)
    return result


def _fatal(base: FileResult, code: str, message: str) -> FileResult:
    return replace(base, verdict=Verdict.CORRUPT, reasons=[code], messages=[message])


def _run_av(path: Path, level: str, th: Thresholds) -> _Probe:
    """Open, demux and decode as `level` asks, with FFmpeg's log for this file captured."""
    import av
    import av.logging as avlog

    # fingerprint hook (core.fingerprint): a full pass offers it the standard windows' pictures only
    probe = _Probe(level=level, fp=FrameCollector(windowed=level == "full"))
    old_level = avlog.get_level()
    old_skip = avlog.get_skip_repeated()
    avlog.set_level(_AV_LOG_WARNING)
    avlog.set_skip_repeated(False)  # we count repeats ourselves
    try:
        # Not thread-local: the decoder's own threads log too.
        with avlog.Capture(local=False) as logs:
            try:
                _measure(av, path, level, th, probe)
            finally:
                probe.logs = list(logs)
    finally:
        avlog.set_skip_repeated(old_skip)
        avlog.set_level(old_level)
    return probe


def _nal_length_size(codec: str, extradata: bytes | None) -> int:
    """The NAL length prefix size of length-prefixed H.264/HEVC (avcC/hvcC), 0 for Annex B or other codecs."""
    if not extradata or extradata[0] != 1:
        return 0
    if codec == "h264" and len(extradata) >= 5:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) >= 22:
        return (extradata[21] & 3) + 1
    return 0


def _framing_ok(data: bytes, nls: int) -> bool:
    """Do the length-prefixed NAL units tile the packet exactly, each with a valid header?"""
    i, end = 0, len(data)
    while i < end:
        if i + nls > end:
            return False
        n = int.from_bytes(data[i:i + nls], "big")
        i += nls
        if n == 0 or i + n > end or data[i] & 0x80:  # forbidden_zero_bit
            return False
        i += n
    return True


def _measure(av: Any, path: Path, level: str, th: Thresholds, probe: _Probe) -> None:
    try:
        container = av.open(str(path), mode="r")
    except PermissionError:
        probe.reasons.add("unreadable")
        probe.extra_messages.append(f"{path.name}: permission denied")
        return
    except av.error.InvalidDataError:
        probe.reasons.add("_open_failed")
        return
    except (av.error.FFmpegError, OSError) as exc:
        probe.reasons.add("_open_failed")
        probe.extra_messages.append(f"open failed: {exc}")
        return
    with container:
        probe.opened = True
        probe.format_name = container.format.name or ""
        probe.audio_codecs = {s.codec_context.name for s in container.streams.audio if s.codec_context}
        vs = pick_video_stream(container)
        if vs is None:
            if container.streams.video:
                probe.reasons.add("no_video_stream")
                probe.extra_messages.append("nexara: the only video is an attached picture (cover art)")
            else:
                probe.reasons.add("no_video_stream" if container.streams else "_no_streams")
            return
        probe.has_video = True
        probe.video_codec = vs.codec_context.name if vs.codec_context else ""
        probe.width, probe.height = (vs.width or None), (vs.height or None)
        configure_decoder(vs)
        vs.codec_context.options = dict(DECODER_OPTIONS)
        audio = container.streams.audio[0] if container.streams.audio else None
        nls = _nal_length_size(probe.video_codec, vs.codec_context.extradata) if level != "full" else 0
        zeros = b"\0" * th.zero_run
        # A float, not the stream's Fraction: Fraction arithmetic on every packet
        # and frame was ~5 % of a full check of a low-bitrate clip.
        tb = float(vs.time_base) if vs.time_base else 0.0
        log = probe.log
        in_window = 0
        skipped = False
        audio_seen = 0
        gop_bad = False
        gop_key: float | None = None
        gop_real = 0
        flushed = False
        for packet in demux(container, [], log.demux_errors):
            stream = packet.stream
            if stream is not vs:
                if stream.type == "audio" and packet.size:
                    log.add_other(packet)
                if stream is audio and level != "quick" and (level == "full" or audio_seen < th.standard_audio_packets):
                    if decode_packet(packet) is None and packet.size:
                        probe.audio_failed += 1
                    audio_seen += 1
                continue
            if packet.size == 0:  # the flush packet at the end
                _take(decode_packet(packet) or [], probe, tb)
                flushed = True
                continue
            log.add_video(packet, tb)
            if level != "full":
                data = bytes(packet)
                if zeros in data and not probe.marks:
                    probe.marks.append("zero-filled video data")
                if nls and not _framing_ok(data, nls):
                    probe.marks.append("NAL framing does not parse")
            if packet.is_keyframe:
                if skipped:
                    # Start the next GOP from a clean decoder: frames that refer
                    # across the gap are then dropped silently instead of reported
                    # as missing references, which would be our doing.
                    _take(decode_packet_flush(vs), probe, tb)
                    skipped = False
                if gop_key is not None and (gop_bad or len(probe.real) == gop_real):
                    probe.bad_gops.append(gop_key)
                gop_bad = False
                gop_real = len(probe.real)
                ts = packet.pts if packet.pts is not None else packet.dts
                gop_key = ts * tb if ts is not None else None
                in_window = 0
            if level == "full" or (level == "standard" and in_window < th.window_frames) or (
                level == "quick" and packet.is_keyframe
            ):
                if level == "full" and in_window < th.window_frames:  # fingerprint hook: a standard window
                    probe.fp.mark(packet.pts if packet.pts is not None else packet.dts)
                in_window += 1
                probe.packets_decoded += 1
                frames = decode_packet(packet)
                if frames is None:
                    probe.packets_failed += 1
                    gop_bad = gop_bad or bool(packet.is_keyframe)
                    continue
                for f in frames:
                    if f.key_frame and f.is_corrupt:
                        gop_bad = True
                _take(frames, probe, tb)
            else:
                skipped = probe.partial = True
        if not flushed:  # the demuxer gave up before the end: take what the decoder holds
            _take(decode_packet_flush(vs), probe, tb)
        if gop_key is not None and (gop_bad or len(probe.real) == gop_real):
            probe.bad_gops.append(gop_key)
        probe.timeline = timeline(container, vs, log)


def _take(frames: list[Any], probe: _Probe, tb: float) -> None:
    for f in frames:
        probe.frames += 1
        if f.key_frame:
            probe.keyframes += 1
            probe.keyframes_corrupt += bool(f.is_corrupt)
        if f.is_corrupt:
            probe.frames_corrupt += 1
            continue
        t = frame_time(f, tb)
        if t is not None:
            probe.real.append(t)
            probe.fp.add(f, t)  # fingerprint hook (core.fingerprint): a real decoded picture


def _suspicious(probe: _Probe, th: Thresholds) -> bool:
    """Did the `standard` pass see any mark of damage between its windows? Then measure fully."""
    marks = probe.marks
    log = probe.log
    tl = probe.timeline
    if probe.packets_failed or probe.frames_corrupt:
        marks.append("a decoded frame was concealed or failed")
    if log.corrupt_packets:
        marks.append("the demuxer flagged packets corrupt")
    if log.demux_errors:
        marks.append("the demuxer raised")
    if probe.frames < probe.packets_decoded:
        marks.append("the decoder dropped frames")
    for _lvl, name, msg in probe.logs:
        if name and name in probe.audio_codecs:
            continue
        if name == probe.video_codec and _SKIP_ARTIFACT_PAT.search(msg):
            continue
        if classify(name or "", msg).loss:
            marks.append(f"message: {msg.strip()[:60]}")
            break
    if tl is not None:
        fi = tl.frame_interval
        times = sorted(set(round(t, 6) for t in log.times))
        if len(times) < log.packets:
            marks.append("repeated timestamps")
        if any(b - a > 1.5 * fi + 1e-6 for a, b in zip(times, times[1:], strict=False)):
            marks.append("timestamp gaps")
        if tl.declared_frames and tl.declared_frames > log.packets:
            marks.append("fewer packets than the header declares")
        if tl.end - tl.packets_end > th.max_missing_frames * fi + 1e-6:
            marks.append("packets end before the declared end")
    if not log.packets:
        marks.append("no video packets")
    return bool(marks)


def _estimated_real(probe: _Probe) -> list[float]:
    """At `standard` on an unmarked file and at `quick`: the packets are the pictures,
    except (quick) the GOPs whose keyframe failed."""
    times = probe.log.times
    if not probe.bad_gops:
        return list(times)
    keys = sorted(probe.log.keyframes)
    bad = set(probe.bad_gops)
    out = []
    for t in times:
        i = bisect.bisect_right(keys, t + 1e-9) - 1
        if i < 0 or keys[i] not in bad:
            out.append(t)
    return out


def _messages_codes(probe: _Probe, reasons: set[str]) -> tuple[list[tuple[int, str, str]], set[str]]:
    """The log lines worth showing and the reason codes they name."""
    shown: list[tuple[int, str, str]] = []
    codes: set[str] = set()
    partial = probe.partial and not probe.escalated
    for lvl, name, msg in probe.logs:
        name = name or ""
        if name and name in probe.audio_codecs:
            codes.add("audio_errors")
            shown.append((lvl, name, msg))
            continue
        if partial and name == probe.video_codec and _SKIP_ARTIFACT_PAT.search(msg):
            continue  # our own skipping, not the file
        c = classify(name, msg)
        if c.code is None and c.rule is not None and "low score" in c.rule.source:
            reasons.add("_low_score")
        if c.rule is not None and "codec parameters" in c.rule.source:
            continue  # FFmpeg's probe giving up early: the measurement speaks instead
        if c.rule is not None and c.rule.source.startswith(("Consider increasing", "decoding for stream")):
            continue
        shown.append((lvl, name, msg))
        if c.code is None:
            continue
        if c.code == UNCLASSIFIED and name == probe.video_codec:
            codes.add("decoder_warning" if lvl > _AV_LOG_ERROR else UNCLASSIFIED)
            continue
        codes.add(c.code)
    return shown, codes


def _format_messages(logs: list[tuple[int, str, str]], cap: int) -> list[str]:
    counts: Counter[str] = Counter()
    for _lvl, name, msg in logs:
        text = " ".join(msg.split())  # one line each, whatever FFmpeg wrapped
        counts[f"[{name}] {text}" if name else text] += 1
    out: list[str] = []
    for line, n in counts.items():  # insertion order: first occurrence first
        if len(out) >= cap:
            out.append(f"… {len(counts) - cap} more distinct messages")
            break
        out.append(line if n == 1 else f"{line} (x{n})")
    return out


def _decide(base: FileResult, probe: _Probe, head: bytes, th: Thresholds) -> FileResult:
    reasons = set(probe.reasons)
    shown, codes = _messages_codes(probe, reasons)
    low_score = "_low_score" in reasons
    reasons.discard("_low_score")
    if probe.audio_failed:
        codes.add("audio_errors")

    # Open failures and files without pictures.
    if "_open_failed" in reasons or "_no_streams" in reasons:
        iso = head[4:8] in TOP_LEVEL_TYPES
        reasons -= {"_open_failed", "_no_streams"}
        if "moov_missing" in codes and iso:
            reasons.add("moov_missing")
        elif "unreadable" not in reasons:
            reasons.add("not_a_video")
        codes = set()
    if "no_video_stream" in reasons and low_score:
        reasons.discard("no_video_stream")
        reasons.add("not_a_video")
    if "moov_missing" in codes and not probe.has_video:
        reasons.add("moov_missing")
    codes.discard("moov_missing")

    usability: Usability | None = None
    loss = False
    notes: list[str] = []
    tl = probe.timeline
    if probe.has_video and tl is not None and not any(severity_of(r) is Severity.FATAL for r in reasons):
        full = probe.level == "full"
        real = probe.real if full else _estimated_real(probe)
        usability = assess(real, tl, th)
        fi = tl.frame_interval
        slack = th.max_missing_frames * fi + 1e-6
        times = sorted(real)
        real_end = times[-1] + fi if times else tl.start
        missing = (1.0 - usability.coverage) * tl.duration
        tail_gap = max(0.0, tl.end - real_end)
        head_gap = max(0.0, times[0] - tl.start) if times else 0.0
        deficit = bool(tl.declared_frames) and tl.declared_frames - tl.packets > th.max_missing_frames
        bad = probe.frames_corrupt + probe.packets_failed
        loss = missing > slack or deficit or bad > 0 or (not full and bool(probe.bad_gops))
        # Packets missing at the end (a cut file, or an index pointing elsewhere), as
        # opposed to packets there whose pictures did not decode.
        intact_end = probe.log.intact_end if probe.log.intact_end is not None else tl.start
        tail_missing = loss and tail_gap > 0.5 * fi and (tl.end - intact_end > 0.5 * fi or deficit)
        holes = loss and missing - tail_gap - head_gap > 0.5 * fi
        if usability.distinct == 0:
            reasons.add("no_frames")
        elif usability.reason:
            reasons.add(usability.reason)
            what = "one picture" if usability.reason == "still_image" else f"{tl.pictures} pictures"
            notes.append(f"nexara: {what} over {usability.duration:.2f} s — not a clip "
                         f"(needs {th.min_frames} pictures over {th.min_duration_s:g} s)")
        if tail_missing or deficit:
            index_broken = probe.box_overrun is False or "sample_table_broken" in codes
            reasons.add("sample_table_broken" if index_broken else "truncated")
        if bad:
            reasons.add("decode_errors")
        if holes and not bad:
            reasons.add("frames_missing")
        if loss:
            for c in codes & _LOSS_CODES:
                if c == "truncated" and not tail_missing:
                    reasons.add("frames_missing")
                elif c == "truncated" and "sample_table_broken" in reasons:
                    continue  # samples "past the end" because the index points there
                else:
                    reasons.add(c)
        if loss or not usability.usable:
            notes.append(
                f"nexara: {usability.served} of {usability.positions} positions have a real picture "
                f"(usable needs {usability.needed}); {usability.coverage:.0%} of the "
                f"{usability.duration:.2f} s time line ({tl.evidence}) covered")
    # Messages that name a loss nobody measured are notes.
    for c in (codes - _LOSS_CODES) if loss else codes:
        if c in _LOSS_CODES:
            reasons.add("decoder_warning" if c == "decode_errors" else "container_warning")
        else:
            reasons.add(c)

    if "decode_errors" in reasons:
        reasons.discard("decoder_warning")
    fatal = any(severity_of(r) is Severity.FATAL for r in reasons)
    if fatal or (usability is not None and not usability.usable):
        verdict = Verdict.CORRUPT
    elif loss:
        verdict = Verdict.DAMAGED
    elif reasons:
        verdict = Verdict.WARNING
    else:
        verdict = Verdict.OK

    messages = notes + probe.extra_messages + _format_messages(shown, th.max_messages)
    if probe.frames_corrupt:
        messages.append(f"nexara: {probe.frames_corrupt} of {probe.frames} decoded frame(s) flagged corrupt (concealed)")
    if probe.packets_failed:
        messages.append(f"nexara: {probe.packets_failed} video packet(s) failed to decode")
    if verdict is Verdict.CORRUPT and not messages:
        messages.extend(f"nexara: {REASONS[r].summary}" for r in sorted(reasons) if r in REASONS
                        and severity_of(r) is Severity.FATAL)
    if probe.audio_failed and not any("aac" in m or "audio" in m for m in messages):
        messages.append(f"{probe.audio_failed} audio packet(s) failed to decode")
    reached = None
    if tl is not None and probe.has_video:
        real = probe.real if probe.level == "full" else _estimated_real(probe)
        if real:
            reached = max(real) + tl.frame_interval - tl.start
    duration = tl.duration if tl is not None else None
    return replace(
        base,
        verdict=verdict,
        reasons=sorted(reasons, key=_reason_order),
        messages=messages[: th.max_messages + 1],
        frames_decoded=probe.frames,
        frames_corrupt=probe.frames_corrupt,
        packets_failed=probe.packets_failed,
        frames_expected=_frames_expected(tl),
        duration_s=round(duration, 3) if duration else None,
        decoded_s=round(reached, 3) if reached is not None else None,
        codec=probe.video_codec or None,
        container=probe.format_name or None,
        fps=round(1 / tl.frame_interval, 3) if tl is not None and tl.frame_interval else None,
        width=probe.width,
        height=probe.height,
        coverage=round(usability.coverage, 4) if usability is not None else None,
        positions_served=usability.served if usability is not None else None,
        positions=usability.positions if usability is not None else None,
        measured=probe.level,
    )


def _frames_expected(tl: Timeline | None) -> int | None:
    if tl is None:
        return None
    if tl.declared_frames:
        return tl.declared_frames
    if tl.frame_interval:
        return max(1, math.floor(tl.duration / tl.frame_interval + 0.5))
    return None


def _reason_order(code: str) -> tuple[int, str]:
    order = {Severity.FATAL: 0, Severity.DAMAGING: 1, Severity.COSMETIC: 2}
    return (order[severity_of(code)], code)
