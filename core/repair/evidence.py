"""Which repair strategies a file's scan result gives reason to try, cheapest first.

A strategy is tried only where the evidence says it can help; everything else
is left alone with a one-line why, so a repair run never wastes a decode on
an HTML page or hands back footage it had to invent.

    reasons (from the scan)                         strategies
    ─────────────────────────────────────────────   ──────────────────────────────
    chapter_ref_missing, timestamps,                remux (fresh container)
      container_warning (container damage only)
    audio_errors (video intact)                     remux without the audio track
    truncated, decode_errors                        trim to the decodable footage
    moov_missing (MP4/MOV)                          rebuild the index (reference clip)
    sample_table_broken (MP4/MOV)                   trim if frames decode, rebuild
                                                      the index (the file's own or a
                                                      reference configuration)
    empty_file, not_a_video, unreadable,            nothing: no footage to recover
      no_video_stream, timeout, crash, check_failed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.records import FileResult, Verdict
from core.repair.mp4 import ISO_TYPES
from core.repair.streamcopy import format_for

REMUX, REMUX_NO_AUDIO, TRIM, REBUILD = "remux", "remux_drop_audio", "trim", "rebuild_index"
STRATEGIES = (REMUX, REMUX_NO_AUDIO, TRIM, REBUILD)

HOPELESS = {
    "empty_file": "a 0-byte file holds no footage",
    "not_a_video": "the bytes are not a video",
    "unreadable": "the file cannot be read",
    "no_video_stream": "there is no video stream",
    "timeout": "the decoder hung on it during the scan",
    "crash": "the decoder crashed on it during the scan",
    "check_failed": "the checker failed on it",
}
CONTAINER_ONLY = {"chapter_ref_missing", "timestamps", "container_warning"}


@dataclass
class Evidence:
    strategies: list[str] = field(default_factory=list)
    why_not: str = ""  # when there are none


def _iso(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8)[4:8] in ISO_TYPES
    except OSError:
        return False


def strategies_for(r: FileResult, path: Path) -> Evidence:
    reasons = set(r.reasons)
    if r.verdict is Verdict.OK:
        return Evidence(why_not="nothing to repair")
    for code, why in HOPELESS.items():
        if code in reasons:
            return Evidence(why_not=f"{code}: {why}")
    if format_for(path) is None:
        return Evidence(why_not=f"no container format to write for {path.suffix or 'a file without extension'}")
    out: list[str] = []
    iso = _iso(path)
    if "moov_missing" in reasons:
        if not iso:
            return Evidence(why_not="moov_missing in a file that is not MP4/MOV")
        return Evidence([REBUILD])
    if "sample_table_broken" in reasons and iso:
        if r.frames_decoded:
            out.append(TRIM)
        out.append(REBUILD)
        return Evidence(out)
    if reasons & {"truncated", "decode_errors", "sample_table_broken", "no_frames"}:
        if "no_frames" in reasons and iso:
            return Evidence([REBUILD])
        if "no_frames" in reasons:
            return Evidence(why_not="no_frames: nothing decodes and there is no index to rebuild")
        return Evidence([TRIM])
    if "audio_errors" in reasons:
        return Evidence([REMUX_NO_AUDIO])
    if reasons and reasons <= CONTAINER_ONLY:
        return Evidence([REMUX])
    return Evidence(why_not="no strategy fits reasons " + (", ".join(sorted(reasons)) or "(none)"))
