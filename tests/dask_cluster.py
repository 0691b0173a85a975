"""A real Dask cluster on 127.0.0.1 for the cluster tests: `dask scheduler` and `dask worker` processes.

Started the way a user starts one on several boxes (README), each in its own
session so teardown can kill a process and everything it started. Readiness
is real: the scheduler is up once it has written its scheduler file (it does
so after it listens), workers once the scheduler lists them. Ports are the
kernel's free ones (port 0), read back from the scheduler file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DASK = str(Path(sys.executable).with_name("dask"))


def _kill_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the nanny's worker process, our checker children
    proc.wait()


@dataclass
class DaskCluster:
    dir: Path
    env: dict[str, str]
    scheduler: subprocess.Popen
    address: str
    dashboard: str | None
    workers: list[subprocess.Popen] = field(default_factory=list)
    client: Any = None  # the tests' own Client, for looking at the cluster

    def start_worker(self, name: str, prefix: list[str] | None = None) -> subprocess.Popen:
        """`dask worker` with one process and one thread, optionally run under `prefix` (unshare …)."""
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the worker
        argv = [*(prefix or []), DASK, "worker", self.address, "--name", name, "--nworkers", "1",
                "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                "--local-directory", str(self.dir / name)]
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int, timeout: float = 90.0) -> None:
        """Until exactly `n` workers are registered (more or fewer: keep waiting)."""
        deadline = time.monotonic() + timeout
        while True:
            got = len(self.client.scheduler_info(n_workers=-1)["workers"])
            if got == n:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{got} Dask workers after {timeout:.0f} s, expected {n}; "
                                     f"logs in {self.dir}")
            if got < n:  # the scheduler's own wait, until more join
                with contextlib.suppress(TimeoutError):
                    self.client.wait_for_workers(n, timeout=max(0.1, deadline - time.monotonic()))
            else:  # a dead worker the scheduler has not dropped yet
                time.sleep(0.1)

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def stop_worker(self, proc: subprocess.Popen) -> None:
        _kill_group(proc)
        self.workers.remove(proc)

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        for w in list(self.workers):
            _kill_group(w)
        self.workers.clear()
        _kill_group(self.scheduler)


def start_cluster(d: Path, n_workers: int = 2, extra_env: dict[str, str] | None = None) -> DaskCluster:
    from distributed import Client

    d.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), **(extra_env or {})}
    sched_file = d / "scheduler.json"
    log = open(d / "scheduler.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
         "--scheduler-file", str(sched_file)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    cluster: DaskCluster | None = None
    try:
        deadline = time.monotonic() + 60
        info: dict[str, Any] = {}
        while not info.get("address"):
            if proc.poll() is not None:
                raise AssertionError(f"dask scheduler exited {proc.returncode}: "
                                     f"{(d / 'scheduler.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("dask scheduler did not write its scheduler file in 60 s")
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(sched_file.read_text())
            time.sleep(0.05)
        port = (info.get("services") or {}).get("dashboard")
        cluster = DaskCluster(d, env, proc, info["address"],
                              f"http://127.0.0.1:{port}/status" if port else None)
        cluster.client = Client(cluster.address, set_as_default=False)
        for i in range(n_workers):
            cluster.start_worker(f"w{i}")
        cluster.wait_for_workers(n_workers)
        return cluster
    except BaseException:
        if cluster is not None:
            cluster.stop()
        else:
            _kill_group(proc)
        raise
