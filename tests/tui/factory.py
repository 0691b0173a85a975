"""Building the app and its data for tests, snapshots and benchmarks (posting's pattern).

Everything here is real: a dataset folder with files on disk, a real scan
store (`core.store.ScanStore`) holding a verdict per file in the engine's own
record format, a real `LocalHost` running the real `nexara` subprocesses. Only
what would make a picture differ from run to run is fixed: the root is given
to the app as a path relative to the test's working directory (the header
shows `ds`, not a temp path), seeds are fixed, and nothing on screen reads a
clock.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from core.records import FileResult, Verdict

SPLITS = (("train", 0.7), ("val", 0.15), ("test", 0.15))
CLASSES = ("violent", "nonviolent")
# (verdict, reasons, FFmpeg-like message) for the problem files, in rotation.
PROBLEMS = (
    (Verdict.CORRUPT, ["moov_missing"], "moov atom not found"),
    (Verdict.CORRUPT, ["truncated"], "stream ends 3.2 s before its declared duration"),
    (Verdict.DAMAGED, ["decode_errors"], "error while decoding MB 12 7, bytestream -5"),
    (Verdict.WARNING, ["audio_errors"], "Invalid frame size in the audio stream"),
    (Verdict.CORRUPT, ["no_video_stream"], "no video stream in the container"),
)


@dataclass(frozen=True)
class Store:
    root: Path
    total: int
    problems: int


def build_store(root: Path, n: int, seed: int = 7, problem_share: float = 0.14,
                long_names: bool = False, levels: tuple[str, ...] = ("standard",)) -> Store:
    """`n` small files under ROOT/{split}/{class}/ and a scan store with a verdict for each.

    The files are a few bytes each (their size and mtime are what the store
    validates, and what a quarantine move checks before it moves), so a
    50,000-file dataset is built in seconds; problem files carry reasons and
    messages in rotation. Deterministic for a seed.
    """
    from core.store import ScanStore

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    results: list[FileResult] = []
    problems = 0
    for i in range(n):
        r = rng.random()
        split = "train" if r < 0.7 else ("val" if r < 0.85 else "test")
        cls = CLASSES[i % 2]
        stem = (f"{cls}_{'recorded_at_the_north_entrance_camera_' if long_names else ''}"
                f"{i:06d}")
        rel = f"{split}/{cls}/{stem}.mp4"
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        size = 64 + (i * 7919) % 4096
        p.write_bytes(b"\0" * size)
        st = p.stat()
        level = levels[i % len(levels)]
        if rng.random() < problem_share:
            verdict, reasons, msg = PROBLEMS[problems % len(PROBLEMS)]
            problems += 1
            res = FileResult(path=rel, split=split, cls=cls, verdict=verdict, reasons=list(reasons),
                             messages=[msg], frames_decoded=(i % 90), size=size,
                             mtime_ns=st.st_mtime_ns, level=level)
        else:
            res = FileResult(path=rel, split=split, cls=cls, verdict=Verdict.OK, frames_decoded=90,
                             size=size, mtime_ns=st.st_mtime_ns, level=level)
        results.append(res)
    with ScanStore.for_root(root) as store:
        for k in range(0, len(results), 5000):
            store.put_many(results[k:k + 5000])
        store.set_meta("last_scan", {"level": levels[-1], "finished": 0.0, "complete": True,
                                     "total": n, "checked": n, "seconds": 1.0, "engine": "bench"})
    return Store(root, n, problems)


def chdir_root(tmp_path: Path, name: str = "ds") -> str:
    """Work in `tmp_path` and return ROOT relative to it: the header shows `ds`, not a temp path."""
    os.chdir(tmp_path)
    return name
