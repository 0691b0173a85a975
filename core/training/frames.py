"""Frames for the backbone: the shared sampler, resized, with gaps filled.

Decoding goes through `core.sampling.sample_frames`, the sampler the scan's
`damaged` verdict was judged against, so a clip the scan called usable yields
the frames training expects. A position the sampler could not decode (a
concealed or truncated stretch) takes the nearest decoded frame: the temporal
head needs a fixed number of frames, and a repeated neighbour is the least
invented substitute.

`oversample = k` (odd) samples k*n positions; position `i*k + k//2` is exactly
the i-th of the n plain positions, and its neighbours are the temporal shifts
used by augmentation and TTA — so all views of a clip come from one decode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def fill_gaps(frames: list[np.ndarray | None]) -> list[np.ndarray] | None:
    """Replace each None by the nearest decoded frame (earlier wins a tie); None if none decoded."""
    have = [i for i, f in enumerate(frames) if f is not None]
    if not have:
        return None
    out: list[np.ndarray] = []
    j = 0
    for i, f in enumerate(frames):
        if f is not None:
            out.append(f)
            continue
        while j + 1 < len(have) and abs(have[j + 1] - i) < abs(have[j] - i):
            j += 1
        out.append(frames[have[j]])  # type: ignore[arg-type]
    return out


def clip_frames(path: Path | str, n: int, size: int, oversample: int = 1) -> np.ndarray | None:
    """`(n * oversample, size, size, 3)` uint8 RGB frames evenly across the clip, or None if none decode."""
    from core.sampling import sample_frames

    if oversample < 1 or oversample % 2 == 0:
        raise ValueError(f"oversample must be odd and >= 1, got {oversample}")
    sampled = sample_frames(path, n * oversample, size=(size, size))
    filled = fill_gaps(sampled.frames)
    if filled is None:
        return None
    out = np.stack(filled)
    if out.shape[1:3] != (size, size):  # a sampler that ignored the size hint
        import cv2

        out = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in out])
    return out.astype(np.uint8, copy=False)
