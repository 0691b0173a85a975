"""One file through the repair: evidence → candidate in staging → verified at `full` → kept or not.

A candidate is only ever written into a staging folder outside the dataset's
split folders, and judged by the scan engine itself (`core.integrity.
check_file` at `full`: every frame decoded). It is kept when

- it is usable (not `corrupt`) and at least `min_seconds` long — or, for a
  clip that was short to begin with, at least `keep_share` of its declared
  duration (a 2 s clip that comes back as 1.9 s is as good as the dataset's
  other 2 s clips),
- it is better than the original (a lower verdict: corrupt → damaged/
  warning/ok, damaged → warning/ok, warning → ok), and
- where the original is already usable, it keeps at least `keep_share` of
  the original's decodable seconds: a usable clip is not traded for a much
  shorter clean one.

The strategies (`evidence.strategies_for`) are tried in order, the first kept
candidate wins; what was tried and why each failed goes into the report.
"""

from __future__ import annotations

import base64
import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import VideoFile
from core.quarantine.crash import CrashHook  # points here: repair_mid_write, repair_before_apply
from core.records import FileResult, Verdict
from core.repair import evidence
from core.repair.bits import BitstreamError
from core.repair.h264 import Unsupported
from core.repair.rebuild_index import RebuildError
from core.repair.streamcopy import CopyError
from core.repair.trim import TrimError

DEFAULT_MIN_SECONDS = 2.0
DEFAULT_KEEP_SHARE = 0.9
_RANK = {Verdict.OK: 0, Verdict.WARNING: 1, Verdict.DAMAGED: 2, Verdict.CORRUPT: 3}


@dataclass
class RepairOptions:
    min_seconds: float = DEFAULT_MIN_SECONDS
    keep_share: float = DEFAULT_KEEP_SHARE
    reference: str | None = None  # ROOT-relative clip to borrow a decoder configuration from
    preview_frames: int = 0  # frames of the candidate to sample into the event (TUI)
    preview_width: int = 40


@dataclass
class Tried:
    strategy: str
    result: str  # "kept" | "rejected" | "failed"
    why: str
    verdict: str = ""
    seconds: float = 0.0


@dataclass
class Attempt:
    """What repair can do for one file."""

    rel: str
    split: str
    cls: str
    size: int
    mtime_ns: int
    before: dict[str, Any]  # the original's verdict, reasons, decoded_s, duration_s
    status: str  # "repairable" | "not_repairable" | "no_strategy"
    why: str = ""  # for not_repairable / no_strategy
    strategy: str = ""
    detail: str = ""
    reference: str = ""
    seconds_recovered: float = 0.0
    seconds_present: float | None = None
    after: dict[str, Any] | None = None  # the verified candidate's FileResult
    tried: list[Tried] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)  # preview of the candidate
    staged: str = ""  # absolute path of the verified candidate (local only, not in events)

    @property
    def repairable(self) -> bool:
        return self.status == "repairable"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("staged")
        if not self.frames:
            d.pop("frames")
        return d

    def result(self) -> FileResult | None:
        return FileResult.from_dict(self.after) if self.after else None


@dataclass
class Context:
    root: Path
    staging: Path  # candidates go to staging/<rel>
    options: RepairOptions
    picker: Any  # core.repair.reference.ReferencePicker (built lazily by the caller)
    crash: CrashHook = field(default_factory=CrashHook)


def accept(r: FileResult, v: FileResult, opts: RepairOptions) -> str | None:
    """None if the verified candidate `v` is kept in place of `r`, else why not."""
    got = v.decoded_s or 0.0
    if not v.usable:
        return f"the candidate does not verify: {v.verdict.value} ({', '.join(v.reasons) or 'no reason'})"
    declared = r.duration_s or 0.0
    whole = declared > 0 and got + 1e-6 >= opts.keep_share * declared  # a short clip, nearly all of it
    if got + 1e-6 < opts.min_seconds and not whole:
        return f"too short: {got:.2f} s < --min-seconds {opts.min_seconds:g}"
    if _RANK[v.verdict] >= _RANK[r.verdict]:
        return f"no better than the original ({v.verdict.value}, was {r.verdict.value})"
    if r.usable:
        had = r.decoded_s or r.duration_s or 0.0
        if had and got < opts.keep_share * had - 1e-6:
            return (f"would keep {got:.2f} of {had:.2f} s (< {opts.keep_share:.0%}); "
                    "the original is usable as it is")
    return None


def _present(r: FileResult) -> float | None:
    return r.duration_s if r.duration_s else r.decoded_s


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def attempt(r: FileResult, ctx: Context) -> Attempt:
    """Try the strategies the evidence allows; leaves the kept candidate at ctx.staging/<rel>."""
    src = ctx.root / r.path
    a = Attempt(r.path, r.split, r.cls, r.size, r.mtime_ns,
                {"verdict": r.verdict.value, "reasons": list(r.reasons), "decoded_s": r.decoded_s,
                 "duration_s": r.duration_s, "size": r.size},
                status="no_strategy", seconds_present=_present(r))
    ev = evidence.strategies_for(r, src)
    if not ev.strategies:
        a.why = ev.why_not
        return a
    dst = ctx.staging / r.path
    dst.parent.mkdir(parents=True, exist_ok=True)
    a.status = "not_repairable"
    for strategy in ev.strategies:
        _remove(dst)
        try:
            detail, present, reference = _build(strategy, src, dst, r, ctx)
        except (CopyError, TrimError, RebuildError, Unsupported, BitstreamError, OSError) as exc:
            a.tried.append(Tried(strategy, "failed", str(exc)))
            _remove(dst)
            continue
        except Exception as exc:  # noqa: BLE001 - a library error on a hostile file: that file fails
            a.tried.append(Tried(strategy, "failed", f"{type(exc).__name__}: {exc}"))
            _remove(dst)
            continue
        v = verify(ctx.staging, r, dst)
        why = accept(r, v, ctx.options)
        a.tried.append(Tried(strategy, "rejected" if why else "kept", why or detail, v.verdict.value,
                             v.decoded_s or 0.0))
        if why is None:
            a.status, a.strategy, a.detail, a.reference = "repairable", strategy, detail, reference
            a.seconds_recovered = round(v.decoded_s or 0.0, 3)
            if present is not None:
                a.seconds_present = round(present, 3)
            a.after = v.to_dict()
            a.staged = str(dst)
            if ctx.options.preview_frames:
                a.frames = preview(dst, ctx.options.preview_frames, ctx.options.preview_width)
            return a
        _remove(dst)
    last = a.tried[-1] if a.tried else None
    a.why = f"{last.strategy}: {last.why}" if last else "nothing was tried"
    return a


def verify(staging: Path, r: FileResult, dst: Path) -> FileResult:
    from core.integrity import check_file

    st = dst.stat()
    return check_file(staging, VideoFile(r.path, r.split, r.cls, st.st_size, st.st_mtime_ns), "full")


def _build(strategy: str, src: Path, dst: Path, r: FileResult, ctx: Context) -> tuple[str, float | None, str]:
    """Write the candidate; (detail, seconds present if the strategy knows better, reference rel)."""
    if strategy in (evidence.REMUX, evidence.REMUX_NO_AUDIO):
        from core.repair import remux

        drop = strategy == evidence.REMUX_NO_AUDIO
        why = ("the audio track is broken and the trainer uses pictures only" if drop
               else "the damage is in the container: " + ", ".join(r.reasons))
        res = remux.write(src, dst, drop_audio=drop, crash=ctx.crash, expected=r.frames_decoded)
        return remux.describe(res, drop, why), None, ""
    if strategy == evidence.TRIM:
        from core.repair import trim

        an = trim.analyse(src)
        choice = trim.choose(an, trim.runs(an))
        if choice is None:
            raise TrimError(f"no clean stretch starting at a keyframe ({an.bad} of {len(an.packets)} "
                            "packets bad)")
        trim.write(src, dst, an, choice, crash=ctx.crash)
        return trim.describe(an, choice), an.duration or None, ""
    if strategy == evidence.REBUILD:
        from core.repair import rebuild_index as rb

        own = None
        if "sample_table_broken" in r.reasons:
            with contextlib.suppress(RebuildError):
                own = rb.read_config(src)
        pick = ctx.picker.pick(str(src), r.path, own=own)
        w = rb.walk(src, pick.config)
        ordered = rb.order(w, pick.config)
        if not ordered.units:
            raise RebuildError("no complete picture found in mdat")
        fmt = "mov" if src.suffix.lower() == ".mov" else "mp4"
        rb.write_mp4(src, dst, fmt, ordered, pick.config, crash=ctx.crash)
        found = len(w.units) / float(pick.config.rate)
        present = found if "moov_missing" in r.reasons else (r.duration_s or found)
        detail = rb.describe(w, ordered, pick.config) + f"; reference: {pick.why}"
        return detail, present, pick.rel
    raise RebuildError(f"unknown strategy {strategy}")


def preview(path: Path, n: int, width: int) -> list[dict[str, Any]]:
    """Frames sampled across the candidate, as `nexara preview --json` sends them."""
    from core.sampling import sample_frames

    dims = None
    with contextlib.suppress(Exception):
        import av

        with av.open(str(path)) as c:
            vs = c.streams.video[0]
            dims = (vs.width, vs.height)
    size = (width, max(2, round(width * dims[1] / dims[0]))) if dims and dims[0] else None
    s = sample_frames(path, n, size=size)
    out: list[dict[str, Any]] = []
    for t, f in zip(s.times, s.frames, strict=True):
        if f is None:
            out.append({"t": round(t, 3), "missing": True})
        else:
            out.append({"t": round(t, 3), "w": int(f.shape[1]), "h": int(f.shape[0]),
                        "rgb": base64.b64encode(f.tobytes()).decode("ascii")})
    return out
