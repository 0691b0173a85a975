"""Test-only checkers that misbehave for real, selected by the file's name.

They stand in for a decoder that hangs or crashes (the real one does not do so
on demand); the pool under test is real. Importable as `tests.helpers_checkers:<name>`
so spawned workers can load them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from core.dataset import VideoFile
from core.records import FileResult, Verdict


def size_checker(root: Path, video: VideoFile, level: str) -> FileResult:
    """Reads the file for real; `ok` when it has bytes, `corrupt`/`empty_file` otherwise."""
    t0 = time.perf_counter()
    data = (root / video.rel).read_bytes()
    verdict = Verdict.OK if data else Verdict.CORRUPT
    return FileResult(
        path=video.rel, split=video.split, cls=video.cls, verdict=verdict,
        reasons=[] if data else ["empty_file"], size=len(data), mtime_ns=video.mtime_ns,
        seconds=time.perf_counter() - t0, level=level,
    )


def misbehaving_checker(root: Path, video: VideoFile, level: str) -> FileResult:
    """Hangs on names containing 'hang', dies on 'segv' / 'exit', raises on 'raise'."""
    name = Path(video.rel).name
    if "hang" in name:
        while True:  # a decoder stuck in a loop: never returns, never yields
            time.sleep(3600)
    if "segv" in name:
        os.kill(os.getpid(), signal.SIGSEGV)
    if "exit" in name:
        os._exit(3)
    if "raise" in name:
        raise RuntimeError("checker bug")
    return size_checker(root, video, level)


def real_checker(root: Path, video: VideoFile, level: str) -> FileResult:
    from core.integrity import check_file

    return check_file(root, video, level)


def misbehaving_real_checker(root: Path, video: VideoFile, level: str) -> FileResult:
    """The real integrity check, except that 'hang' / 'segv' names hang / crash first."""
    name = Path(video.rel).name
    if "hang" in name or "segv" in name:
        return misbehaving_checker(root, video, level)
    return real_checker(root, video, level)


def slow_real_checker(root: Path, video: VideoFile, level: str) -> FileResult:
    """The real integrity check after a pause (NEXARA_TEST_SLOW_S), so a scan can be killed mid-way."""
    time.sleep(float(os.environ.get("NEXARA_TEST_SLOW_S", "0.3")))
    return real_checker(root, video, level)
