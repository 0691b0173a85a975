"""What does `--cluster` cost against the local pool, on the same machine and the same files?

Builds (or takes, `--dir`) the user-like dataset of benchmarks/scan_throughput.py
(640x360, 8 s, H.264/AAC MP4, 10 % damaged), then in ONE process, each scan
from an empty results store, times

- the scan on the local pool (`--workers N`),
- the same scan on a `LocalCluster` of N worker processes (`--cluster local:N`),
  whole (starting the cluster included) and from the moment it is connected,

and, to isolate what scheduling costs per file, the same two over the same
files with a checker that does nothing (so the wall time is all overhead):
one Dask task per file, and the batches `core.cluster` sends.

Rounds alternate the order (A B, B A) and each contender keeps its best round,
so load from elsewhere on a shared machine costs both sides alike; the other
jobs' load during each run is printed. Ends with one line:
`cluster_vs_local=… cluster_vs_local_connected=… cluster_vs_local_steady=… cluster_vs_local_cpu=…
overhead_ms_per_file=… task_per_file_ms=…`. On a shared machine the wall times swing with other
jobs' load; the CPU seconds of our own processes (client, scheduler, workers, checkers) over the
same part of the scan hardly do, so `cluster_vs_local_cpu` is the steadier figure.

    python benchmarks/cluster_overhead.py --clips 600
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scan_throughput import TRUTH_NAME, _machine_busy, build  # noqa: E402

from core.dataset import VideoFile  # noqa: E402
from core.records import FileResult, Verdict  # noqa: E402

NULL_CHECKER = "cluster_overhead:null_checker"  # importable by workers: this folder is on sys.path


def null_checker(root: Path, video: VideoFile, level: str) -> FileResult:
    """No work at all: what is left of a scan's wall time is the cost of getting files to it."""
    return FileResult(path=video.rel, split=video.split, cls=video.cls, verdict=Verdict.OK,
                      size=video.size, mtime_ns=video.mtime_ns, level=level)


def timed_scan(root: Path, state: Path, **kw: Any) -> dict[str, Any]:
    """One scan from an empty store: wall time, time since connected, verdicts, the last cluster event."""
    from core.scan import scan

    shutil.rmtree(state, ignore_errors=True)
    os.environ["NEXARA_STATE_DIR"] = str(state)
    b0 = _machine_busy()
    t0 = time.perf_counter()
    ready = first = last = None
    verdicts: dict[str, str] = {}
    cluster = None
    to_check = -1
    cpu0 = cpu1 = 0.0
    for ev in scan(root, **kw):
        if ev["type"] == "cluster":
            ready = ready or time.perf_counter()
            cluster = ev
        elif ev["type"] == "file":
            last = time.perf_counter()
            if first is None:
                first, cpu0 = last, _tree_cpu()
            verdicts[ev["result"]["path"]] = ev["result"]["verdict"]
            if len(verdicts) == to_check:  # the last one: the pool or cluster is still up
                cpu1 = _tree_cpu()
        elif ev["type"] == "start":
            to_check = ev["to_check"]
            if "cluster" not in kw:
                ready = time.perf_counter()  # the local pool starts on the first file
    t_end = time.perf_counter()
    wall = t_end - t0
    b1 = _machine_busy()
    # Cores in use machine-wide during the run, ours included (N workers ≈ N cores): more is other jobs.
    busy = (b1 - b0) / wall if b0 is not None and b1 is not None else None
    last = last or t_end
    return {"wall": wall, "connected": last - (ready or t0), "steady": last - (first or t0),
            "cpu": cpu1 - cpu0, "verdicts": verdicts, "cluster": cluster, "busy": busy}


def _tree_cpu() -> float:
    """CPU seconds used so far by this process and every live descendant: the client, the
    scheduler, Dask's workers, the fork servers and the checkers alike."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, help="dataset to use (built there if empty or missing)")
    ap.add_argument("--clips", type=int, default=600, help="files in the dataset (default 600)")
    ap.add_argument("--workers", type=int, default=2, help="local pool size = LocalCluster workers (default 2)")
    ap.add_argument("--level", default="standard")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; each keeps its best (default 3)")
    args = ap.parse_args(argv)

    import core.cluster as cluster_mod

    tmp = Path(tempfile.mkdtemp(prefix="nexara-cluster-bench-"))
    try:
        root = args.dir or tmp / "dataset"
        if (root / TRUTH_NAME).exists():
            truth = json.loads((root / TRUTH_NAME).read_text())
        else:
            truth = build(root, args.clips, 0.1, args.workers, 3, "1M")
        n = len(truth)
        mb = sum((root / f).stat().st_size for f in truth) / 1e6
        print(f"{n} files, {mb:.0f} MB, {args.workers} workers, level {args.level}, "
              f"{os.cpu_count()} cores", file=sys.stderr)
        cluster = f"local:{args.workers}"
        contenders: dict[str, dict[str, Any]] = {
            "local pool": {"workers": args.workers, "level": args.level},
            "LocalCluster": {"cluster": cluster, "level": args.level},
        }
        null = {
            "local pool, null checker": {"workers": args.workers, "checker": NULL_CHECKER},
            "LocalCluster, null checker, batches": {"cluster": cluster, "checker": NULL_CHECKER},
            "LocalCluster, null checker, 1 file/task": {"cluster": cluster, "checker": NULL_CHECKER,
                                                       "_max_batch": 1},
        }
        best: dict[str, dict[str, Any]] = {}
        for rnd in range(max(1, args.rounds)):
            order = list(contenders.items()) + list(null.items())
            for name, kw in (order if rnd % 2 == 0 else order[::-1]):
                kw = dict(kw)
                saved = cluster_mod.MAX_BATCH
                cluster_mod.MAX_BATCH = kw.pop("_max_batch", saved)
                try:
                    r = timed_scan(root, tmp / "state", **kw)
                finally:
                    cluster_mod.MAX_BATCH = saved
                busy = f", machine busy {r['busy']:.1f} cores" if r["busy"] is not None else ""
                extra = ""
                if r["cluster"]:
                    extra = f", {r['cluster']['batch']} files/task at the end"
                print(f"round {rnd + 1}: {name:<42} {r['wall']:7.2f} s (connected {r['connected']:6.2f} s, "
                      f"steady CPU {r['cpu']:6.2f} s){busy}{extra}", file=sys.stderr)
                if name not in best:
                    best[name] = r
                for metric in ("wall", "connected", "steady", "cpu"):  # load only ever adds time
                    best[name][metric] = min(best[name][metric], r[metric])
        # The same verdicts, whichever way the files were checked.
        if best["LocalCluster"]["verdicts"] != best["local pool"]["verdicts"]:
            print("VERDICTS DIFFER between the local pool and the cluster", file=sys.stderr)
            return 1

        print(f"\n{'contender':<44} {'wall s':>8} {'connected s':>12} {'steady s':>9} {'ms/file':>8} "
              f"{'CPU s':>7}")
        for name, r in best.items():
            print(f"{name:<44} {r['wall']:>8.2f} {r['connected']:>12.2f} {r['steady']:>9.2f} "
                  f"{1000 * r['steady'] / n:>8.2f} {r['cpu']:>7.2f}")
        ratio = best["LocalCluster"]["wall"] / best["local pool"]["wall"]
        ratio_conn = best["LocalCluster"]["connected"] / best["local pool"]["connected"]
        ratio_steady = best["LocalCluster"]["steady"] / best["local pool"]["steady"]
        ratio_cpu = best["LocalCluster"]["cpu"] / best["local pool"]["cpu"]
        # Per-file overhead: steady-state wall time per file with nothing to check, over the local pool's.
        base = best["local pool, null checker"]["steady"]
        over = (best["LocalCluster, null checker, batches"]["steady"] - base) / n
        per_task = (best["LocalCluster, null checker, 1 file/task"]["steady"] - base) / n
        print(f"\n(best of {args.rounds} rounds; wall: the whole scan, starting and closing the LocalCluster "
              "included; connected: from the first `cluster` event (the local pool: the scan's start) to the "
              "last result; steady: from the first result to the last, no start-up at all; ms/file: "
              "steady / files; CPU s: CPU seconds of all our processes over the steady part, which load "
              "elsewhere hardly changes)")
        print(f"cluster_vs_local={ratio:.3f} cluster_vs_local_connected={ratio_conn:.3f} "
              f"cluster_vs_local_steady={ratio_steady:.3f} cluster_vs_local_cpu={ratio_cpu:.3f} "
              f"overhead_ms_per_file={1000 * over:.3f} task_per_file_ms={1000 * per_task:.3f} "
              f"(target: cluster_vs_local <= 1.15)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
