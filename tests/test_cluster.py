"""`nexara scan --cluster`: the scan on real Dask, with every guarantee of the local pool.

Against a `LocalCluster` of 2 worker processes and against a scheduler and
workers started as separate `dask scheduler` / `dask worker` processes on
127.0.0.1 (tests/dask_cluster.py): verdicts identical to a local scan of the
same demo dataset; a hang and a segfault cost one file each on the worker
(never the Dask worker); a worker SIGKILLed mid-scan and every file still
ends with exactly one verdict; a `kill -9` of the client and the rerun
resumes from the store; a worker that cannot see ROOT is one clear line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo import GROUND_TRUTH_NAME, write_clip
from core.errors import NexaraError
from core.events import parse_line
from core.paths import store_path_for
from core.scan import scan
from tests.dask_cluster import DaskCluster, start_cluster

REPO = Path(__file__).resolve().parents[1]
NEXARA = [sys.executable, "-m", "core"]
SLOW_S = "0.3"  # NEXARA_TEST_SLOW_S on the external workers (tests.helpers_checkers:slow_real_checker)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("dask"), n_workers=2,
                            extra_env={"NEXARA_TEST_SLOW_S": SLOW_S})
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def healthy(dask_cluster: DaskCluster) -> Iterator[DaskCluster]:
    """The shared cluster with its two workers, and again so after the test (nannies restart)."""
    dask_cluster.wait_for_workers(2)
    yield dask_cluster
    dask_cluster.wait_for_workers(2)


def _events(it: Iterator[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for ev in it:
        out.setdefault(ev["type"], []).append(ev)
    return out


def _verdicts(evs: dict[str, list[dict]]) -> dict[str, dict]:
    """path → the whole stored result except its wall time; fails on a file reported twice."""
    out: dict[str, dict] = {}
    for e in evs["file"]:
        r = dict(e["result"])
        assert r["path"] not in out, f"{r['path']} reported twice"
        r.pop("seconds")
        out[r["path"]] = r
    return out


def _stored(root: Path) -> dict[str, str]:
    with sqlite3.connect(store_path_for(root)) as db:
        return {rel: verdict for rel, verdict in db.execute("SELECT rel, verdict FROM files")}


def _fresh_state(monkeypatch: pytest.MonkeyPatch, d: Path) -> None:
    """A second state directory: the same dataset scanned again from an empty store."""
    d.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("NEXARA_STATE_DIR", str(d))


def _copies(demo_root: Path, root: Path, n: int) -> list[str]:
    """ROOT/train/violent/c00.mp4 … : n copies of one clip the ground truth calls ok."""
    gt = json.loads((demo_root / GROUND_TRUTH_NAME).read_text())["files"]
    src = next(rel for rel, e in sorted(gt.items()) if e["expected_verdicts"] == ["ok"])
    (root / "train" / "violent").mkdir(parents=True)
    rels = []
    for i in range(n):
        rel = f"train/violent/c{i:02d}.mp4"
        shutil.copyfile(demo_root / src, root / rel)
        rels.append(rel)
    return rels


def test_local_cluster_verdicts_identical_to_local_scan(demo_dataset, tmp_path, monkeypatch) -> None:
    root = demo_dataset.root
    local = _events(scan(root, workers=2))
    _fresh_state(monkeypatch, tmp_path / "state-cluster")
    evs = _events(scan(root, cluster="local:2"))
    assert _verdicts(evs) == _verdicts(local)
    assert evs["summary"][0]["summary"] == local["summary"][0]["summary"]
    assert evs["summary"][0]["checked"] == len(demo_dataset.ground_truth.files)
    for rel, entry in demo_dataset.ground_truth.files.items():
        assert _verdicts(evs)[rel]["verdict"] in entry.expected_verdicts, rel
    assert _stored(root) == {p: r["verdict"] for p, r in _verdicts(local).items()}
    first, last = evs["cluster"][0], evs["cluster"][-1]
    assert first["local"] is True and first["address"].startswith("tcp://127.0.0.1:")
    assert first["dashboard"].startswith("http://127.0.0.1:")
    assert len(first["workers"]) == 2 and first["threads"] == 2
    # Only paths went out, results came back: each worker checked some, together all of them.
    assert sum(w["files"] for w in last["workers"]) == evs["start"][0]["to_check"]
    assert all(w["files"] > 0 for w in last["workers"]), last
    assert evs["progress"][-1]["done"] == evs["start"][0]["total"]


def test_hang_and_crash_cost_one_file_on_the_worker(healthy: DaskCluster, demo_dataset, tmp_path,
                                                    monkeypatch) -> None:
    root = tmp_path / "ds"
    shutil.copytree(demo_dataset.root, root)
    for name in ("hang_0.mp4", "segv_0.mp4"):
        write_clip(root / "val" / "violent" / name, "violent", seed=1)
    checker = "tests.helpers_checkers:misbehaving_real_checker"
    pids = healthy.worker_pids()
    local = _events(scan(root, workers=2, timeout=3.0, checker=checker))
    _fresh_state(monkeypatch, tmp_path / "state-cluster")
    t0 = time.monotonic()
    evs = _events(scan(root, cluster=healthy.address, timeout=3.0, checker=checker))
    elapsed = time.monotonic() - t0
    files = _verdicts(evs)
    assert files["val/violent/hang_0.mp4"]["reasons"] == ["timeout"]
    assert "hard limit" in files["val/violent/hang_0.mp4"]["messages"][0]
    assert files["val/violent/segv_0.mp4"]["reasons"] == ["crash"]
    assert "SIGSEGV" in files["val/violent/segv_0.mp4"]["messages"][0]
    assert files == _verdicts(local)
    # The hang was killed at its limit on the worker (a scan that waited on it would never end),
    # and neither file cost a Dask worker.
    assert elapsed < 60
    assert healthy.worker_pids() == pids
    assert evs["cluster"][0]["local"] is False and evs["cluster"][0]["address"] == healthy.address
    assert evs["cluster"][0]["dashboard"] == healthy.dashboard


def _executing(dask_worker) -> tuple[int, int]:
    """Run on a worker (Client.run): its pid, and how many tasks it is executing right now."""
    return os.getpid(), len(dask_worker.state.executing)


def test_worker_killed_mid_scan_every_file_stored_once(healthy: DaskCluster, demo_dataset,
                                                       tmp_path) -> None:
    root = tmp_path / "ds"
    rels = _copies(demo_dataset.root, root, 24)
    gen = scan(root, cluster=healthy.address, checker="tests.helpers_checkers:slow_real_checker")
    seen: list[dict] = []
    victim = None
    try:
        for ev in gen:
            seen.append(ev)
            if victim is None and sum(e["type"] == "file" for e in seen) >= 2:
                running = healthy.client.run(_executing)  # {worker: (pid, batches running now)}
                busy = [a for a, (_, n) in running.items() if n]
                if busy:
                    victim = busy[0]
                    os.kill(running[victim][0], signal.SIGKILL)  # mid-batch, no cleanup
    finally:
        gen.close()
    assert victim is not None, "no worker was busy to kill"
    # Its running batch died with it; the scheduler ran it again elsewhere.
    evs = _events(iter(seen))
    files = _verdicts(evs)  # also: no file reported twice
    assert sorted(files) == rels
    assert {r["verdict"] for r in files.values()} == {"ok"}  # rescheduled, not failed
    assert _stored(root) == dict.fromkeys(rels, "ok")
    assert evs["summary"][0]["summary"]["overall"]["ok"] == 24
    assert evs["cluster"][-1]["lost"] >= 1  # the screen was told a worker left


def _wait_rows(store: Path, at_least: int, proc: subprocess.Popen, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    rows = 0
    while rows < at_least and time.monotonic() < deadline and proc.poll() is None:
        if store.exists():
            with contextlib.suppress(sqlite3.OperationalError), sqlite3.connect(store, timeout=1) as db:
                rows = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        time.sleep(0.05)
    return rows


def test_client_kill9_then_rerun_resumes(healthy: DaskCluster, demo_dataset, tmp_path) -> None:
    root = tmp_path / "ds"
    rels = _copies(demo_dataset.root, root, 16)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [*NEXARA, "scan", str(root), "--cluster", healthy.address, "--json",
            "--checker", "tests.helpers_checkers:slow_real_checker"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        committed = _wait_rows(store_path_for(root), 3, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)  # the client only: the cluster lives on
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert 3 <= committed < 16
    report = tmp_path / "report.json"
    rc = subprocess.run([*NEXARA, "scan", str(root), "--cluster", healthy.address, "--json",
                         "--report", str(report)], env=env, capture_output=True, text=True, timeout=120)
    assert rc.returncode == 0, rc.stderr
    evs = _events(ev for ev in map(parse_line, rc.stdout.splitlines()) if ev)
    start = evs["start"][0]
    assert start["cached"] >= committed and start["cached"] + start["to_check"] == 16
    assert evs["summary"][0]["checked"] == start["to_check"] < 16
    data = json.loads(report.read_text())
    assert sorted(f["path"] for f in data["files"]) == rels
    assert data["summary"]["overall"]["ok"] == 16


def test_worker_that_cannot_see_root_is_one_line(healthy: DaskCluster, demo_dataset, tmp_path) -> None:
    """A third worker in its own mount namespace, where an empty tmpfs hides the dataset's folder:
    a box that does not mount the shared filesystem."""
    hidden = tmp_path / "shared"
    root = hidden / "ds"
    _copies(demo_dataset.root, root, 2)
    blind = healthy.start_worker("blind", prefix=[
        "unshare", "--mount", "--propagation", "private", "sh", "-c",
        'mount -t tmpfs nexara-blind "$0" && exec "$@"', str(hidden)])
    try:
        healthy.wait_for_workers(3)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        argv = [*NEXARA, "scan", str(root), "--cluster", healthy.address]
        human = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        machine = subprocess.run([*argv, "--json"], env=env, capture_output=True, text=True,
                                 timeout=120)
    finally:
        healthy.stop_worker(blind)
    assert human.returncode == machine.returncode == 2, human.stderr
    assert f"on Dask {healthy.address} · 3 workers (3 threads)" in human.stderr
    assert "Traceback" not in human.stderr + machine.stderr
    errors = [line for line in human.stderr.splitlines() if line.startswith("nexara:")]
    assert errors == [human.stderr.strip().splitlines()[-1]], human.stderr  # one line, the last
    assert errors[0].startswith("nexara: Dask worker tcp://127.0.0.1:")
    assert f"cannot see ROOT {root}" in errors[0] and "same path" in errors[0]
    events = [ev for ev in map(parse_line, machine.stdout.splitlines()) if ev]
    assert events[-1]["type"] == "error" and events[-1]["message"] == errors[0].removeprefix("nexara: ")
    assert not store_path_for(root).exists() or _stored(root) == {}  # nothing was checked


def test_bad_cluster_arguments_are_one_line(tmp_path, capsys) -> None:
    from core.cli import main

    root = tmp_path / "ds"
    (root / "train" / "violent").mkdir(parents=True)
    (root / "train" / "violent" / "a.mp4").write_bytes(b"x")
    for argv, message in [
        (["--cluster", "nonsense"], "expected tcp://HOST:PORT"),
        (["--cluster", "local:0"], "or local:N"),
        (["--cluster", "local:2", "--workers", "2"], "--workers sets the local pool"),
    ]:
        assert main(["scan", str(root), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    with pytest.raises(NexaraError, match="expected tcp://HOST:PORT"):
        next(scan(root, cluster="http://example"))


def test_no_scheduler_at_the_address_is_one_line(tmp_path) -> None:
    from tests.sshd import free_port

    root = tmp_path / "ds"
    (root / "train" / "violent").mkdir(parents=True)
    (root / "train" / "violent" / "a.mp4").write_bytes(b"x")
    address = f"tcp://127.0.0.1:{free_port()}"
    # Dask's own connect timeout (distributed.comm.timeouts.connect), shortened for the test.
    env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    p = subprocess.run([*NEXARA, "scan", str(root), "--cluster", address], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith(f"nexara: --cluster {address}: no Dask scheduler answers there"), p.stderr


def test_map_files_is_the_same_seam_for_any_per_file_pass(healthy: DaskCluster, tmp_path) -> None:
    """What repair and fingerprints will use: any top-level per-file function, local or on the
    cluster, one result per file, a raising call a `crash` verdict rather than a lost file."""
    from core.dataset import discover
    from core.executor import map_files

    root = tmp_path / "ds"
    (root / "train" / "violent").mkdir(parents=True)
    for i in range(9):
        (root / "train" / "violent" / f"c{i}.mp4").write_bytes(b"x" * (i + 1))
    (root / "train" / "violent" / "raise_0.mp4").write_bytes(b"x")
    videos = discover(root).videos
    func = "tests.helpers_checkers:misbehaving_checker"

    def run(**where) -> dict[str, tuple]:
        out = [r for r in map_files(func, root, videos, "quick", **where)]
        assert len(out) == len(videos)
        return {r.path: (r.verdict.value, tuple(r.reasons), r.size, r.level) for r in out}

    local = run(workers=2)
    assert run(cluster=healthy.address) == local
    assert local["train/violent/raise_0.mp4"][:2] == ("corrupt", ("crash",))
    assert local["train/violent/c8.mp4"] == ("ok", (), 9, "quick")
