"""Trim to the decodable footage, by stream copy: keep what decodes, drop what does not.

For a download cut short with its index at the front, a cut Matroska/WebM
file, a file whose tail was never written, or damage in the middle. Every
video packet is decoded once, in order, on one thread, with FFmpeg's log
captured per packet; a packet is bad if it fails, logs a decoder error or
yields a frame the decoder flags as concealed. Since every picture is
predicted from earlier ones, a bad packet taints the rest of its group of
pictures up to the next keyframe.

A *run* is a stretch of clean packets that starts at a keyframe. Its tail is
cut back so that the pictures it keeps leave no hole in display order (a P
frame whose B frames were lost is dropped with them), and leading pictures of
an open GOP (shown before their keyframe, predicted from the GOP before) are
dropped when the GOP before is not kept. Then:

- one run: keep it (the usual case: everything up to the damage);
- several runs, every gap between them at most `MAX_GAP_S`: keep them all,
  concatenated, with their original timestamps (the gap stays a gap, so the
  time line is honest; the training sampler's 0.5 s tolerance still finds a
  picture at every position);
- otherwise the longest run alone: a longer gap would leave sampler positions
  empty, and closing it up would put footage at times it did not happen.

The kept footage is shifted to start at zero. Audio packets are kept where
they lie inside the kept footage and decode cleanly.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from typing import Any

from core.repair.streamcopy import CopyPlan, CopyResult, write_copy

MAX_GAP_S = 1.0
_AV_LOG_ERROR = 16


class TrimError(ValueError):
    """Why nothing could be trimmed (one line for the report)."""


@dataclass
class Packet:
    index: int  # decode order among video packets
    pts: float | None  # seconds
    dur: float
    key: bool
    bad: bool = False


@dataclass
class Run:
    start: float  # seconds (display time of the first kept picture)
    end: float  # end of the last kept picture
    packets: list[int]

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Analysis:
    packets: list[Packet]
    audio_bad: list[tuple[float, float]] = field(default_factory=list)  # spans of audio that fails
    frame_dur: float = 0.04
    duration: float = 0.0  # declared (0 if none)

    @property
    def bad(self) -> int:
        return sum(p.bad for p in self.packets)


@dataclass
class Choice:
    runs: list[Run]
    mode: str  # "prefix" | "longest run" | "runs concatenated" | "whole"
    why: str

    @property
    def packets(self) -> set[int]:
        return {i for r in self.runs for i in r.packets}

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.runs)

    @property
    def start(self) -> float:
        return self.runs[0].start


def analyse(path: str | os.PathLike[str]) -> Analysis:
    """Decode every video packet (and every audio packet) and mark the bad ones."""
    import av
    import av.logging as avlog

    old_level = avlog.get_level()
    avlog.set_level(_AV_LOG_ERROR)
    try:
        with avlog.Capture(local=False) as logs:
            return _analyse(av, path, logs)
    finally:
        avlog.set_level(old_level)


def _analyse(av: Any, path: str | os.PathLike[str], logs: list[Any]) -> Analysis:
    try:
        container = av.open(os.fspath(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise TrimError(f"cannot open: {exc}") from exc
    with container:
        if not container.streams.video:
            raise TrimError("no video stream")
        vs = container.streams.video[0]
        vs.codec_context.thread_count = 1  # errors then belong to the packet being decoded
        # As in the scan: the deblocking filter only smooths pixels, errors come from entropy
        # decoding; skipping it finds the same bad packets in about three quarters of the time.
        vs.codec_context.options = {"skip_loop_filter": "all"}
        name = vs.codec_context.name
        tb = float(vs.time_base) if vs.time_base else 0.0
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        an = Analysis([], frame_dur=float(1 / rate) if rate else 0.04)
        if vs.duration and vs.time_base:
            an.duration = float(vs.duration * vs.time_base)
        elif container.duration:
            an.duration = container.duration / 1_000_000
        streams = [vs]
        aus = container.streams.audio[0] if container.streams.audio else None
        if aus is not None:
            streams.append(aus)
        by_pts: dict[int, Packet] = {}
        it = container.demux(*streams)
        while True:
            try:
                pkt = next(it)
            except StopIteration:
                break
            except av.error.FFmpegError:
                break  # the data ends here
            if pkt.stream is not vs:
                _audio(av, pkt, an)
                continue
            if pkt.size == 0:
                _decode(av, pkt, vs, an, by_pts, logs, name, None)
                continue
            p = Packet(len(an.packets), pkt.pts * tb if pkt.pts is not None and tb else None,
                       float((pkt.duration or 0) * tb) if tb else 0.0, bool(pkt.is_keyframe))
            if p.pts is None:
                p.bad = True
            else:
                by_pts[pkt.pts] = p
            an.packets.append(p)
            _decode(av, pkt, vs, an, by_pts, logs, name, p)
        try:
            for f in vs.codec_context.decode(None):
                _frame(f, by_pts)
        except av.error.FFmpegError:
            pass
    return an


def _decode(av: Any, pkt: Any, vs: Any, an: Analysis, by_pts: dict[int, Packet], logs: list[Any],
            name: str, p: Packet | None) -> None:
    before = len(logs)
    try:
        frames = pkt.decode()
    except (av.error.FFmpegError, ValueError):
        if p is not None:
            p.bad = True
        return
    if p is not None and any(n == name for _, n, _ in logs[before:]):
        p.bad = True
    for f in frames:
        _frame(f, by_pts)


def _frame(f: Any, by_pts: dict[int, Packet]) -> None:
    if f.is_corrupt and f.pts is not None and f.pts in by_pts:
        by_pts[f.pts].bad = True


def _audio(av: Any, pkt: Any, an: Analysis) -> None:
    if pkt.size == 0:
        return
    try:
        pkt.decode()
    except (av.error.FFmpegError, ValueError):
        tb = pkt.time_base or pkt.stream.time_base
        if pkt.pts is not None and tb:
            start = float(pkt.pts * tb)
            an.audio_bad.append((start, start + float((pkt.duration or 0) * tb)))


def runs(an: Analysis) -> list[Run]:
    """The clean keyframe-started runs, each cut back to what it can show without a hole."""
    out: list[Run] = []
    pk = an.packets
    i = 0
    while i < len(pk):
        if not (pk[i].key and not pk[i].bad and pk[i].pts is not None):
            i += 1  # after a bad packet, only a keyframe can start clean footage again
            continue
        j = i
        while j < len(pk) and not pk[j].bad:
            j += 1
        # [i, j): clean packets from a keyframe up to the first bad one.
        members = list(range(i, j))
        if i > 0:  # leading pictures of an open GOP need the GOP before, which is not kept
            key_pts = pk[i].pts or 0.0
            members = [k for k in members if (pk[k].pts or 0.0) >= key_pts - 1e-9]
        run = _whole_prefix(pk, members, an.frame_dur)
        if run is not None:
            out.append(run)
        i = j + 1
    return out


def _whole_prefix(pk: list[Packet], members: list[int], frame_dur: float) -> Run | None:
    """The longest decode-order prefix of `members` whose pictures show without a hole."""
    if not members:
        return None
    tol = 1.5 * frame_dur
    best = 0
    shown: list[float] = []

    # Incremental: a prefix is whole when its sorted display times step by at most `tol`.
    gaps = 0
    for n, k in enumerate(members, start=1):
        t = pk[k].pts
        assert t is not None
        pos = bisect.bisect(shown, t)
        left = shown[pos - 1] if pos > 0 else None
        right = shown[pos] if pos < len(shown) else None
        if left is not None and right is not None and right - left > tol:
            gaps -= 1
        if left is not None and t - left > tol:
            gaps += 1
        if right is not None and right - t > tol:
            gaps += 1
        shown.insert(pos, t)
        if gaps == 0:
            best = n
    if best == 0:
        return None
    kept = members[:best]
    times = sorted(pk[k].pts or 0.0 for k in kept)
    last = max(kept, key=lambda k: pk[k].pts or 0.0)
    end = times[-1] + (pk[last].dur or frame_dur)
    return Run(times[0], end, kept)


def choose(an: Analysis, rs: list[Run]) -> Choice | None:
    if not rs:
        return None
    total = len(an.packets)
    if len(rs) == 1:
        r = rs[0]
        if len(r.packets) == total:
            if an.duration and r.end < an.duration - max(0.25, 2 * an.frame_dur):
                return Choice(rs, "prefix", f"the data ends at {r.end:.2f} s of {an.duration:.2f} s; "
                                            "kept all of it")
            return Choice(rs, "whole", "every packet decodes cleanly")
        first_bad = next((p.index for p in an.packets if p.bad), total)
        if r.packets and r.packets[0] == 0 and max(r.packets) < first_bad:
            return Choice(rs, "prefix", f"kept everything before the damage at {_t(an, first_bad)}")
        return Choice(rs, "longest run", "the only clean stretch")
    gaps = [b.start - a.end for a, b in zip(rs, rs[1:], strict=False)]
    if all(g <= MAX_GAP_S for g in gaps):
        return Choice(rs, "runs concatenated",
                      f"{len(rs)} clean stretches with gaps of at most {max(gaps):.2f} s "
                      f"(≤ {MAX_GAP_S:g} s) kept at their original times")
    best = max(rs, key=lambda r: r.seconds)
    return Choice([best], "longest run",
                  f"{len(rs)} clean stretches, a gap of {max(gaps):.2f} s > {MAX_GAP_S:g} s between them: "
                  "kept the longest, not footage shifted to times it did not happen")


def _t(an: Analysis, index: int) -> str:
    p = an.packets[index] if index < len(an.packets) else None
    return f"{p.pts:.2f} s" if p is not None and p.pts is not None else "the end"


def write(src: str | os.PathLike[str], dst: str | os.PathLike[str], an: Analysis, choice: Choice,
          crash: Any = None) -> CopyResult:
    spans = [(r.start, r.end) for r in choice.runs]
    bad_audio = an.audio_bad

    def audio_keep(a: float, b: float) -> bool:
        inside = any(a >= s - 1e-6 and b <= e + 1e-6 for s, e in spans)
        return inside and not any(a < be and b > bs for bs, be in bad_audio)

    plan = CopyPlan(video=choice.packets, audio=True, audio_keep=audio_keep, shift_s=choice.start)
    return write_copy(src, dst, plan, crash=crash, expected=len(choice.packets))


def describe(an: Analysis, choice: Choice) -> str:
    spans = ", ".join(f"{r.start:.2f}–{r.end:.2f} s" for r in choice.runs)
    return (f"{choice.mode}: kept {spans} ({len(choice.packets)} of {len(an.packets)} pictures; "
            f"{an.bad} bad packet(s)); {choice.why}")
