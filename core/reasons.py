"""The catalogue of reason codes a verdict can carry.

One place, so the CLI, the report, the quarantine filters and the TUI all agree
on what a code means and how bad it is. A `fatal` reason makes a file
`corrupt`. `damaging` ones explain a loss the check measured (`damaged`, or
`corrupt` when the definition of usable in `core.sampling` fails); `cosmetic`
ones are notes (`warning`). Messages alone never make a reason damaging.
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
    Reason("still_image", Severity.FATAL, "One picture, not a clip (an image with a video name, a single-frame video)."),
    Reason("too_short", Severity.FATAL, "Too few pictures or too short a time line to show motion."),
    Reason("truncated", Severity.DAMAGING, "The file ends before the duration its header declares."),
    Reason("sample_table_broken", Severity.DAMAGING, "The container's sample table points outside the file or is inconsistent."),
    Reason("decode_errors", Severity.DAMAGING, "Some video packets failed to decode or frames were concealed."),
    Reason("frames_missing", Severity.DAMAGING,
           "Part of the time line has no picture: packets lost, zero-filled or dropped with their references."),
    Reason("timestamps", Severity.COSMETIC, "Non-monotonic or missing timestamps; frames still decode."),
    Reason("audio_errors", Severity.COSMETIC, "Audio stream errors only; video is intact (the trainer ignores audio)."),
    Reason("chapter_ref_missing", Severity.COSMETIC, "A QuickTime chapter track reference is dangling; harmless."),
    Reason("container_warning", Severity.COSMETIC, "A container-level warning; every picture was there."),
    Reason("decoder_warning", Severity.COSMETIC, "The video decoder complained, but every picture decoded."),
    Reason("unclassified_message", Severity.COSMETIC,
           "FFmpeg printed a message Nexara does not know; the clip was measured fully and the verdict is "
           "that measurement's (please report the message)."),
    Reason("timeout", Severity.FATAL, "Checking the file exceeded the hard time limit (decoder hang)."),
    Reason("crash", Severity.FATAL, "The decoder process died while checking this file."),
    Reason("check_failed", Severity.FATAL, "Nexara's checker itself failed on this file; the message says why."),
]

REASONS: dict[str, Reason] = {r.code: r for r in _REASONS}


def severity_of(code: str) -> Severity:
    r = REASONS.get(code)
    return r.severity if r else Severity.DAMAGING
