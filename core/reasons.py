"""The catalogue of reason codes a verdict can carry.

One place, so the CLI, the report, the quarantine filters and the TUI all agree
on what a code means and how bad it is. Severity decides the verdict:
any `fatal` reason makes a file `corrupt`; `damaging` ones make it `damaged`
(or `corrupt` past the thresholds in `core.integrity`); `cosmetic` ones only a
`warning`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    FATAL = "fatal"
    DAMAGING = "damaging"
    COSMETIC = "cosmetic"


@dataclass(frozen=True)
class Reason:
    code: str
    severity: Severity
    summary: str


_REASONS = [
    Reason("empty_file", Severity.FATAL, "The file has zero bytes."),
    Reason("not_a_video", Severity.FATAL, "The bytes are not a media container (HTML page, text, garbage)."),
    Reason("unreadable", Severity.FATAL, "The file cannot be opened (permission denied or I/O error)."),
    Reason("moov_missing", Severity.FATAL, "MP4/MOV index (moov atom) is missing: nothing can be located."),
    Reason("no_video_stream", Severity.FATAL, "The container holds no video stream."),
    Reason("no_frames", Severity.FATAL, "No video frame could be decoded."),
    Reason("truncated", Severity.DAMAGING, "The file ends before the duration its header declares."),
    Reason("sample_table_broken", Severity.DAMAGING, "The container's sample table points outside the file or is inconsistent."),
    Reason("decode_errors", Severity.DAMAGING, "Some video packets failed to decode or frames were concealed."),
    Reason("timestamps", Severity.COSMETIC, "Non-monotonic or missing timestamps; frames still decode."),
    Reason("audio_errors", Severity.COSMETIC, "Audio stream errors only; video is intact (the trainer ignores audio)."),
    Reason("chapter_ref_missing", Severity.COSMETIC, "A QuickTime chapter track reference is dangling; harmless."),
    Reason("container_warning", Severity.COSMETIC, "A container-level warning that does not affect decoding."),
    Reason("timeout", Severity.FATAL, "Checking the file exceeded the hard time limit (decoder hang)."),
    Reason("crash", Severity.FATAL, "The decoder process died while checking this file."),
    Reason("check_failed", Severity.FATAL, "Nexara's checker itself failed on this file; the message says why."),
]

REASONS: dict[str, Reason] = {r.code: r for r in _REASONS}


def severity_of(code: str) -> Severity:
    r = REASONS.get(code)
    return r.severity if r else Severity.DAMAGING
