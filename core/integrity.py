"""The integrity check of one video file: a graded verdict with reasons.

Two common ways of judging a clip are wrong in opposite directions. OpenCV's
open-and-read-three-frames keeps truncated and destroyed files; `ffmpeg -v error`
drops every file that printed anything, including a harmless dangling chapter
reference or a broken audio packet. This module decodes with PyAV, captures the
FFmpeg log of this one file, and turns what happened into reason codes
(`core.reasons`) and a verdict:

- `corrupt`: a fatal reason, no frames, most of what was decoded is concealed
  garbage, or too little of the declared duration is there;
- `damaged`: the video decoder reported errors or the file ends a little early,
  but a sampler asking for frames across the clip (`core.sampling`) gets real
  frames for most positions;
- `warning`: only cosmetic messages (audio errors, chapter reference, container
  notes): the trainer, which ignores audio, is unaffected;
- `ok`: nothing to report.

Levels trade time for certainty, never a usable clip for an unusable one:
`quick` reads the container, the index and every packet, and decodes keyframes
only; `standard` (default) also decodes a short window of frames after every
keyframe and the first second of audio; `full` decodes every frame. Truncation and broken
indexes are found by demuxing, which every level does, so all three agree on
those; only damage hidden inside non-key frames needs `full`.

`check_file` never raises and is a top-level function, so worker processes can
run it. FFmpeg's log callback is process-wide, so one check runs at a time per
process (a lock serialises threads that share one).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.dataset import VideoFile
from core.fingerprint import FrameCollector, fingerprint_of
from core.reasons import REASONS, Severity, severity_of
from core.records import LEVELS, FileResult, Verdict


@dataclass(frozen=True)
class Thresholds:
    """Every number the verdict depends on, in one place.

    min_coverage_usable: the share of the declared duration that must be present
        (decodable) for the clip to be usable. A sampler taking 20 frames across
        the clip then misses at most 4 of them. Below it: corrupt.
    max_missing_s / max_missing_frames: how far short of the declared duration
        a clip may end before it counts as `truncated` (containers round
        durations; audio tracks often run a frame or two longer).
    max_bad_fraction: the share of decoded video units (frames flagged corrupt
        plus packets that failed), or of decoded keyframes flagged corrupt, above
        which the picture counts as destroyed: corrupt. At or below it, with any
        bad unit: damaged.
    max_messages: unique FFmpeg log lines kept per file (with repeat counts).
    window_frames: frames decoded after each keyframe at `standard` (the
        keyframe included), enough to catch a stream whose P-frames are broken.
    standard_audio_packets: audio packets decoded at `standard`, from the start
        and contiguous (skipping some would make MP3 complain falsely); about 1 s
        of AAC. Audio never changes usability, so `full` alone decodes all of it.
    """

    min_coverage_usable: float = 0.8
    max_missing_s: float = 0.25
    max_missing_frames: int = 2
    max_bad_fraction: float = 0.5
    max_messages: int = 30
    window_frames: int = 3
    standard_audio_packets: int = 48


DEFAULT_THRESHOLDS = Thresholds()

# FFmpeg log levels (AV_LOG_*) we keep: warnings and worse.
_AV_LOG_WARNING = 24
_AV_LOG_ERROR = 16

_MOV_FAMILY = ("mov", "mp4", "m4a", "3gp")
_ISO_BOX_TYPES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pdin", b"moof", b"styp", b"sidx"}

_TRUNCATION_PAT = re.compile(
    r"partial file|packet corrupt|ended prematurely|stream ends prematurely|truncat|read error|end of file",
    re.IGNORECASE,
)
_TIMESTAMP_PAT = re.compile(r"timestamp|monoton|dts|pts", re.IGNORECASE)
_IGNORED_PAT = re.compile(
    r"could not find codec parameters|decoding for stream \d+ failed|consider increasing the value",
    re.IGNORECASE,
)

DECODER_THREADS = 1
DECODER_OPTIONS = {"skip_loop_filter": "all"}

# Messages about reference pictures that are missing. `quick` and `standard`
# skip packets on purpose, so at those levels these are the check's own doing
# (an open GOP or B-frames reaching across the skipped part), not the file's:
# they are dropped there. `full` skips nothing and keeps them: there, FFmpeg's
# "mmco: unref short failure" is real damage.
_SKIP_ARTIFACT_PAT = re.compile(
    r"missing reference picture|mmco: unref short failure|co located POCs unavailable|"
    r"could not find ref with POC|error constructing the frame RPS|illegal short term buffer|"
    r"reference picture missing|number of reference frames|invalid reference|no reference",
    re.IGNORECASE,
)

_lock = threading.Lock()


@dataclass
class _Probe:
    """What one check observed, before it is turned into a verdict."""

    logs: list[tuple[int, str, str]] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    extra_messages: list[str] = field(default_factory=list)
    frames: int = 0
    frames_corrupt: int = 0
    keyframes: int = 0
    keyframes_corrupt: int = 0
    packets: int = 0
    packets_failed: int = 0
    audio_failed: int = 0
    last_frame_end: float | None = None  # end time of the last decoded frame
    last_packet_end: float | None = None  # end time of the last demuxed video packet
    duration: float | None = None
    duration_from_stream: bool = False
    frame_dur: float = 0.04
    format_name: str = ""
    video_codec: str = ""
    audio_codecs: set[str] = field(default_factory=set)
    box_overrun: bool | None = None  # mov family: the last top-level box runs past EOF
    opened: bool = False
    partial: bool = False  # packets were skipped on purpose (quick, standard)
    declared_frames: int = 0  # the container's frame count, where it keeps one
    width: int | None = None
    height: int | None = None
    fp: Any = None  # fingerprint hook: a core.fingerprint.FrameCollector fed every decoded frame


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

    probe = _Probe(fp=FrameCollector())
    with _lock:
        _run_av(path, level, th, probe)
    if _looks_mov(path, head, probe):
        probe.box_overrun = _box_overrun(path, size)
    result = _decide(base, probe, head, th)
    # --- fingerprint hook (core.fingerprint, issue 15): the frames decoded above, hashed ---
    if result.usable:
        result.fingerprint = fingerprint_of(path, probe.fp, size)
    return result


def _fatal(base: FileResult, code: str, message: str) -> FileResult:
    return replace(base, verdict=Verdict.CORRUPT, reasons=[code], messages=[message])


def _looks_mov(path: Path, head: bytes, probe: _Probe) -> bool:
    return head[4:8] in _ISO_BOX_TYPES or any(m in probe.format_name for m in _MOV_FAMILY)


def _box_overrun(path: Path, size: int) -> bool | None:
    """Walk the top-level ISO-BMFF boxes: does the last one claim bytes the file lacks?

    That is the signature of a cut download (mdat declared longer than what
    arrived), as opposed to an index that points at the wrong place.
    """
    try:
        with open(path, "rb") as fh:
            pos = 0
            while pos + 8 <= size:
                fh.seek(pos)
                hdr = fh.read(16)
                box_size = int.from_bytes(hdr[:4], "big")
                if box_size == 1 and len(hdr) >= 16:
                    box_size = int.from_bytes(hdr[8:16], "big")
                elif box_size == 0:
                    return False  # "to the end of the file"
                if box_size < 8:
                    return None  # not a box structure we understand
                if pos + box_size > size:
                    return True
                pos += box_size
        return False
    except OSError:
        return None


def _run_av(path: Path, level: str, th: Thresholds, probe: _Probe) -> None:
    """Open, demux and decode as `level` asks, recording everything in `probe`."""
    import av
    import av.logging as avlog

    old_level = avlog.get_level()
    old_skip = avlog.get_skip_repeated()
    avlog.set_level(_AV_LOG_WARNING)
    avlog.set_skip_repeated(False)  # we count repeats ourselves
    try:
        # Not thread-local: the decoder's own threads log too.
        with avlog.Capture(local=False) as logs:
            try:
                _decode(av, path, level, th, probe)
            finally:
                probe.logs = list(logs)
    finally:
        avlog.set_skip_repeated(old_skip)
        avlog.set_level(old_level)


def _decode(av: Any, path: Path, level: str, th: Thresholds, probe: _Probe) -> None:
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
        if container.duration:
            probe.duration = container.duration / 1_000_000
        probe.audio_codecs = {s.codec_context.name for s in container.streams.audio if s.codec_context}
        if not container.streams.video:
            probe.reasons.add("no_video_stream" if container.streams else "_no_streams")
            return
        vs = container.streams.video[0]
        probe.video_codec = vs.codec_context.name if vs.codec_context else ""
        probe.width, probe.height = (vs.width or None), (vs.height or None)
        probe.declared_frames = int(vs.frames or 0)
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        if rate:
            probe.frame_dur = float(1 / rate)
        if vs.duration and vs.time_base:
            probe.duration = float(vs.duration * vs.time_base)
            probe.duration_from_stream = True
        if probe.fp is not None:  # fingerprint hook (core.fingerprint): how densely to sample
            probe.fp.expect(probe.duration, level)
        # One decoder thread: a scan runs one worker per core, and frame threads on
        # top of that only add contention (measured: slower on a busy box).
        vs.codec_context.thread_count = DECODER_THREADS
        # The deblocking filter only smooths pixels; skipping it finds the same
        # errors (they come from entropy decoding) and saves about a quarter of
        # the decode time. The sampler, which feeds training, never skips it.
        vs.codec_context.options = dict(DECODER_OPTIONS)
        streams = [vs]
        if level != "quick" and container.streams.audio:
            streams.append(container.streams.audio[0])
        # A float, not the stream's Fraction: Fraction arithmetic on every packet
        # and frame was ~5 % of a full check of a low-bitrate clip, and the
        # thresholds it feeds are tenths of a second.
        tb = float(vs.time_base) if vs.time_base else 0.0
        in_window = 0
        skipped = False
        audio_seen = 0
        for packet in container.demux(*streams):
            if packet.stream is not vs:
                if level == "full" or audio_seen < th.standard_audio_packets:
                    _decode_audio(packet, probe)
                audio_seen += 1
                continue
            if packet.size == 0:  # the flush packet at the end
                _decode_video(packet, probe, tb)
                continue
            probe.packets += 1
            if packet.pts is not None and tb:
                end = (packet.pts + (packet.duration or 0)) * tb
                if probe.last_packet_end is None or end > probe.last_packet_end:
                    probe.last_packet_end = end
            if packet.is_keyframe:
                if skipped:
                    # Start the next GOP from a clean decoder: frames that refer
                    # across the gap (open GOPs, B-frames) are then dropped
                    # silently instead of reported as missing references, which
                    # would be our doing, not the file's.
                    _drain(vs, probe, tb)
                    skipped = False
                in_window = 0
            if level == "full" or (level == "standard" and in_window < th.window_frames) or (
                level == "quick" and packet.is_keyframe
            ):
                in_window += 1
                _decode_video(packet, probe, tb)
            else:
                skipped = probe.partial = True


def _decode_video(packet: Any, probe: _Probe, tb: float) -> None:
    try:
        frames = packet.decode()
    except Exception:  # InvalidDataError and friends: the packet is bad, go on
        probe.packets_failed += 1
        return
    for f in frames:
        _count_frame(f, probe, tb)


def _drain(vs: Any, probe: _Probe, tb: float) -> None:
    """Take the frames the decoder still holds, then reset it for a fresh start."""
    ctx = vs.codec_context
    try:
        for f in ctx.decode(None):
            _count_frame(f, probe, tb)
    except Exception:
        pass
    ctx.flush_buffers()


def _count_frame(f: Any, probe: _Probe, tb: float) -> None:
    if probe.fp is not None:  # fingerprint hook (core.fingerprint): every decoded picture
        probe.fp.add(f, tb)
    probe.frames += 1
    if f.is_corrupt:
        probe.frames_corrupt += 1
    if f.key_frame:
        probe.keyframes += 1
        probe.keyframes_corrupt += bool(f.is_corrupt)
    if f.pts is not None and tb:
        end = f.pts * tb + probe.frame_dur
        if probe.last_frame_end is None or end > probe.last_frame_end:
            probe.last_frame_end = end


def _decode_audio(packet: Any, probe: _Probe) -> None:
    try:
        packet.decode()
    except Exception:
        probe.audio_failed += 1


def _classify(name: str, message: str, level: int, probe: _Probe) -> str | None:
    """The reason code one FFmpeg log line stands for (None: ignore it)."""
    if "Referenced QT chapter track not found" in message:
        return "chapter_ref_missing"
    if "moov atom not found" in message:
        return "moov_missing"
    if _IGNORED_PAT.search(message) or "detected only with low score" in message:
        return None
    if name and name in probe.audio_codecs:
        return "audio_errors"
    if name and name == probe.video_codec and probe.partial and _SKIP_ARTIFACT_PAT.search(message):
        return "_skip_artifact"
    if name and name == probe.video_codec:
        return "decode_errors" if level <= _AV_LOG_ERROR else "decode_warnings"
    if _TRUNCATION_PAT.search(message):
        return "_demux_eof"
    if _TIMESTAMP_PAT.search(message):
        return "timestamps"
    return "container_warning"


def _format_messages(logs: list[tuple[int, str, str]], cap: int) -> list[str]:
    counts: Counter[str] = Counter()
    for _lvl, name, msg in logs:
        text = " ".join(msg.split())  # one line each, whatever FFmpeg wrapped
        counts[f"[{name}] {text}" if name else text] += 1
    out = []
    for line, n in counts.items():  # insertion order: first occurrence first
        if len(out) >= cap:
            out.append(f"… {len(counts) - cap} more distinct messages")
            break
        out.append(line if n == 1 else f"{line} (x{n})")
    return out


def _decide(base: FileResult, probe: _Probe, head: bytes, th: Thresholds) -> FileResult:
    reasons = set(probe.reasons)
    low_score = any("detected only with low score" in m for _, _, m in probe.logs)
    shown: list[tuple[int, str, str]] = []
    for lvl, name, msg in probe.logs:
        code = _classify(name, msg, lvl, probe)
        if code == "_skip_artifact":
            continue
        shown.append((lvl, name, msg))
        if code:
            reasons.add(code)
    if probe.audio_failed:
        reasons.add("audio_errors")

    # Open failures and files without pictures.
    if "_open_failed" in reasons or "_no_streams" in reasons:
        iso = head[4:8] in _ISO_BOX_TYPES
        reasons -= {"_open_failed", "_no_streams", "container_warning"}
        if "moov_missing" in reasons and not iso:
            reasons.discard("moov_missing")  # "moov not found" in bytes that were never an MP4
        if "moov_missing" not in reasons and "unreadable" not in reasons:
            reasons.add("not_a_video")
    if "no_video_stream" in reasons and low_score:
        reasons.discard("no_video_stream")
        reasons.add("not_a_video")

    # How much of the declared duration is there.
    reached = probe.last_frame_end if base.level == "full" else probe.last_packet_end
    if base.level == "full" and probe.last_packet_end is not None and reached is not None:
        reached = min(reached, probe.last_packet_end + probe.frame_dur)
    coverage = 1.0
    if probe.duration and probe.duration > 0 and probe.opened and "no_video_stream" not in reasons:
        coverage = min(1.0, (reached or 0.0) / probe.duration)
        missing = probe.duration - (reached or 0.0)
        short = missing > max(th.max_missing_s, th.max_missing_frames * probe.frame_dur)
        eof = "_demux_eof" in reasons
        if short and (eof or probe.duration_from_stream or coverage < th.min_coverage_usable):
            if probe.box_overrun is False:
                reasons.add("sample_table_broken")  # the bytes are there; the index points elsewhere
            else:
                reasons.add("truncated")
        elif eof:
            reasons.add("sample_table_broken" if probe.box_overrun is False else "truncated")
    reasons.discard("_demux_eof")

    units = probe.frames + probe.packets_failed
    bad = probe.frames_corrupt + probe.packets_failed
    if "decode_warnings" in reasons:
        reasons.discard("decode_warnings")
        reasons.add("decode_errors")
    if bad:
        reasons.add("decode_errors")

    fatal = any(severity_of(r) is Severity.FATAL for r in reasons)
    if probe.opened and not fatal and "no_video_stream" not in reasons and probe.frames == 0:
        reasons.add("no_frames")
        fatal = True

    # Destroyed: most decoded units are bad, or most keyframes are (every other
    # frame is predicted from them, so the picture is garbage throughout; this
    # also makes the sample of `quick`/`standard` decide like `full`).
    destroyed = (units > 0 and bad / units > th.max_bad_fraction) or (
        probe.keyframes > 0 and probe.keyframes_corrupt / probe.keyframes > th.max_bad_fraction
    )
    if fatal or destroyed or coverage < th.min_coverage_usable:
        verdict = Verdict.CORRUPT
    elif any(severity_of(r) is Severity.DAMAGING for r in reasons):
        verdict = Verdict.DAMAGED
    elif reasons:
        verdict = Verdict.WARNING
    else:
        verdict = Verdict.OK

    messages = probe.extra_messages + _format_messages(shown, th.max_messages)
    if probe.frames_corrupt:
        messages.append(f"nexara: {probe.frames_corrupt} of {probe.frames} decoded frame(s) flagged corrupt (concealed)")
    if probe.packets_failed:
        messages.append(f"nexara: {probe.packets_failed} video packet(s) failed to decode")
    if verdict is Verdict.CORRUPT and not messages:
        messages.extend(f"nexara: {REASONS[r].summary}" for r in sorted(reasons) if r in REASONS
                        and severity_of(r) is Severity.FATAL)
    if probe.audio_failed and not any("aac" in m or "audio" in m for m in messages):
        messages.append(f"{probe.audio_failed} audio packet(s) failed to decode")
    return replace(
        base,
        verdict=verdict,
        reasons=sorted(reasons, key=_reason_order),
        messages=messages[: th.max_messages + 1],
        frames_decoded=probe.frames,
        frames_corrupt=probe.frames_corrupt,
        packets_failed=probe.packets_failed,
        frames_expected=_frames_expected(probe),
        duration_s=round(probe.duration, 3) if probe.duration else None,
        decoded_s=round(reached, 3) if reached is not None else None,
        codec=probe.video_codec or None,
        container=probe.format_name or None,
        fps=round(1 / probe.frame_dur, 3) if probe.opened and probe.video_codec and probe.frame_dur else None,
        width=probe.width,
        height=probe.height,
    )


def _frames_expected(probe: _Probe) -> int | None:
    if probe.declared_frames:
        return probe.declared_frames
    if probe.duration and probe.frame_dur and probe.video_codec:
        return round(probe.duration / probe.frame_dur)
    return None


def _reason_order(code: str) -> tuple[int, str]:
    order = {Severity.FATAL: 0, Severity.DAMAGING: 1, Severity.COSMETIC: 2}
    return (order[severity_of(code)], code)
