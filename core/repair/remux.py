"""Remux: the same packets in a fresh container, optionally without the audio track.

The cheapest repair, for damage that lives in the container and not in the
pictures: a dangling chapter reference (`tref/chap` naming a missing track),
timestamp trouble, junk after the last box, a container that is not what its
extension says. Demuxing and muxing again writes a new index from what the
demuxer actually read. A broken audio track (the trainer uses pictures only)
is dropped rather than copied: a stream copy cannot fix corrupt audio bytes,
and dropping it is what makes such a clip clean.
"""

from __future__ import annotations

import os
from typing import Any

from core.repair.streamcopy import CopyPlan, CopyResult, write_copy


def write(src: str | os.PathLike[str], dst: str | os.PathLike[str], drop_audio: bool,
          crash: Any = None, expected: int = 0) -> CopyResult:
    return write_copy(src, dst, CopyPlan(video=None, audio=not drop_audio), crash=crash, expected=expected)


def describe(res: CopyResult, drop_audio: bool, why: str) -> str:
    parts = [f"stream copy into a fresh container ({res.video_packets} video packets"
             + (", audio track dropped" if drop_audio else f", {res.audio_packets} audio packets") + ")"]
    if why:
        parts.append(why)
    parts.extend(res.notes)
    return "; ".join(parts)
