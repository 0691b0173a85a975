"""The isolated worker pool: a real hang and a real crash cost one file, never the scan."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from core.dataset import VideoFile
from core.errors import NexaraError
from core.records import Verdict
from core.workers import TimeoutPolicy, WorkerPool, run_on_executor
from tests.helpers_checkers import misbehaving_checker

CHECKER = "tests.helpers_checkers:misbehaving_checker"


def _files(root: Path, names: list[str]) -> list[VideoFile]:
    out = []
    for n in names:
        p = root / n
        p.write_bytes(b"" if n.startswith("empty") else b"not really a video")
        st = p.stat()
        out.append(VideoFile(n, "train", "violent", st.st_size, st.st_mtime_ns))
    return out


def test_hang_and_crashes_are_isolated(tmp_path: Path) -> None:
    names = ["a.mp4", "hang.mp4", "segv.mp4", "b.mp4", "exit.mp4", "raise.mp4", "empty.mp4"]
    names += [f"ok{i:02d}.mp4" for i in range(20)]
    videos = _files(tmp_path, names)
    t0 = time.monotonic()
    with WorkerPool(CHECKER, workers=2, timeout=1.0) as pool:
        results = {r.path: r for r in pool.run(tmp_path, videos, "standard")}
        assert (pool.timeouts, pool.crashes) == (1, 2)
    elapsed = time.monotonic() - t0
    assert sorted(results) == sorted(names)  # every file got exactly one verdict
    assert results["hang.mp4"].verdict is Verdict.CORRUPT
    assert results["hang.mp4"].reasons == ["timeout"]
    assert "hard limit" in results["hang.mp4"].messages[0]
    assert results["segv.mp4"].reasons == ["crash"]
    assert "SIGSEGV" in results["segv.mp4"].messages[0]
    assert results["exit.mp4"].reasons == ["crash"]
    assert "status 3" in results["exit.mp4"].messages[0]
    assert results["raise.mp4"].reasons == ["crash"]
    assert "RuntimeError: checker bug" in results["raise.mp4"].messages[0]
    assert results["empty.mp4"].reasons == ["empty_file"]
    for n in names:
        if n.startswith(("ok", "a.", "b.")):
            assert results[n].verdict is Verdict.OK, n
            assert results[n].size == len(b"not really a video")
    # The hang cost about its timeout, not the scan: the others ran on the other worker.
    assert elapsed < 10


def test_workers_are_recycled_and_results_complete(tmp_path: Path) -> None:
    videos = _files(tmp_path, [f"c{i}.mp4" for i in range(12)])
    with WorkerPool(CHECKER, workers=2, max_tasks=3) as pool:
        results = list(pool.run(tmp_path, videos, "quick"))
    assert sorted(r.path for r in results) == sorted(v.rel for v in videos)
    assert {r.level for r in results} == {"quick"}
    assert all(r.verdict is Verdict.OK for r in results)


def test_unknown_checker_fails_fast_with_one_line() -> None:
    with pytest.raises(NexaraError, match="cannot import"):
        WorkerPool("no_such_module_xyz:check", workers=1)
    with pytest.raises(NexaraError, match="has no function"):
        WorkerPool("tests.helpers_checkers:nope", workers=1)
    with pytest.raises(NexaraError, match="at least 1"):
        WorkerPool(CHECKER, workers=0)


def test_timeout_policy_grows_with_size() -> None:
    p = TimeoutPolicy()
    assert p.for_size(0) == 60.0
    assert p.for_size(1_000_000_000) == pytest.approx(60.0 + 150.0)
    assert TimeoutPolicy(base=5, per_100mb=1).for_size(200_000_000) == pytest.approx(7.0)


def test_caller_executor_threads(tmp_path: Path) -> None:
    videos = _files(tmp_path, ["a.mp4", "raise.mp4", "empty.mp4"])
    with ThreadPoolExecutor(2) as ex:
        results = {r.path: r for r in run_on_executor(ex, misbehaving_checker, tmp_path, videos, "standard")}
    assert results["a.mp4"].verdict is Verdict.OK
    assert results["raise.mp4"].reasons == ["crash"]
    assert results["empty.mp4"].reasons == ["empty_file"]


def test_caller_process_executor_by_name_and_broken_pool(tmp_path: Path) -> None:
    # A worker that dies breaks a ProcessPoolExecutor: those files become `crash`, none are lost.
    videos = _files(tmp_path, ["a.mp4", "exit.mp4"])
    import multiprocessing as mp

    with ProcessPoolExecutor(1, mp_context=mp.get_context("forkserver")) as ex:
        results = {r.path: r for r in run_on_executor(ex, CHECKER, tmp_path, videos, "standard", in_flight=1)}
    assert results["a.mp4"].verdict is Verdict.OK
    assert results["exit.mp4"].reasons == ["crash"]
    assert "executor task failed" in results["exit.mp4"].messages[0]
