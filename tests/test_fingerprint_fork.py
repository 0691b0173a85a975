"""A process forked after its parent fingerprinted a clip must fingerprint too.

The whole suite once hung here: the parent's scaler (PyAV 18 defaults to FFmpeg's
automatic slice threads) was inherited through fork() without the threads of its
pool, and the child's first thumbnail waited forever. A process pool forked by a
long-lived process that has scanned (the TUI's host, a test run) is ordinary use.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from core.demo import write_clip
from core.integrity import check_path


def _fingerprinted_frames(path: str) -> int:
    r = check_path(Path(path), "standard")
    return len(r.fingerprint.hashes) if r.fingerprint is not None else -1


def test_a_forked_child_fingerprints_after_its_parent_did(tmp_path: Path):
    clip = tmp_path / "a.mp4"
    write_clip(clip, "nonviolent", seconds=3, seed=4)
    here = _fingerprinted_frames(str(clip))  # the parent's scaler now exists
    assert here > 0
    with multiprocessing.get_context("fork").Pool(1) as pool:
        there = pool.apply_async(_fingerprinted_frames, (str(clip),)).get(timeout=60)
    assert there == here
