"""Real copies of real clips for the duplicates tests (the copy makers live in core.demo.copies)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from core.demo import reencode, remux

__all__ = ["reencode", "remux", "frame_count", "mean_abs_diff"]


def frame_count(path: Path | str) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def mean_abs_diff(a: Path | str, b: Path | str) -> float:
    """How different two clips' first frames are (a sanity check that a copy is not identical bytes)."""
    with av.open(str(a)) as ca, av.open(str(b)) as cb:
        fa = next(ca.decode(video=0)).to_ndarray(format="gray").astype(np.float32)
        fb = next(cb.decode(video=0)).reformat(width=fa.shape[1], height=fa.shape[0]).to_ndarray(
            format="gray").astype(np.float32)
    return float(np.abs(fa - fb).mean())
