"""What does running the scan through SSH cost? Remote (loopback sshd) vs local, same files, one run.

    python benchmarks/remote_overhead.py [--clips-per-class 80] [--size bench|small] [--dir DATASET]
                                         [--repeat 2] [--level full] [--no-cache]

Starts a throwaway OpenSSH server on 127.0.0.1 (as the tests do), builds a demo
dataset (or uses --dir), then times `nexara scan` locally (a LocalHost
subprocess) and through `SSHHost` (connect, start the detached job, attach and
receive every event), each with a fresh state directory so neither side reads
cached verdicts; local and remote runs alternate, so both see the same load on
a shared machine. Best of --repeat runs each. Ends with `remote_vs_local=…`.

The default dataset is like the user's clips and big enough that the ratio
measures throughput, not only fixed costs: 80 clean clips per class in train
(~310 files with the val/test splits and the damaged ones), 640x360, 30 fps,
8 s each (~245 MB). Building it takes minutes, so it is kept in
~/.cache/nexara/bench/ and reused (--no-cache builds a fresh one in a temp dir).
The fixed cost of going remote (connect, remote shell, job start, attach) is
measured on its own with a one-event job and printed as `fixed_overhead_s`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.host import Host
from core.host.local import LocalHost  # noqa: E402
from core.host.ssh import SSHHost  # noqa: E402
from tests.sshd import ALIAS, Sshd, start_sshd  # noqa: E402

NEXARA = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "nexara")
SEED = 3


def _scan_events(host: Host, root: Path, level: str) -> int:
    n = 0
    for ev in host.stream(["scan", str(root), "--level", level, "--json"]):
        n += ev.get("type") == "file"
    return n


def _one_event(host: Host) -> None:
    """The smallest detached job: what every remote command pays before its work starts."""
    argv = ["job", "heartbeat", "--count", "1", "--interval", "0", "--json"]
    stream = host.stream(argv, detach=True) if isinstance(host, SSHHost) else host.stream(argv)
    for _ in stream:
        pass


def _ssh_host(server: Sshd, state: Path) -> SSHHost:
    return SSHHost(ALIAS, remote_nexara=NEXARA, env={"NEXARA_STATE_DIR": str(state)},
                   ssh_config=server.ssh_config)


def _dataset(args: argparse.Namespace, tmp: Path) -> Path:
    """The demo dataset to scan: --dir, else the cached one for these parameters (built once)."""
    if args.dir:
        return args.dir
    from core.demo import GROUND_TRUTH_NAME, make_demo

    name = f"demo-{args.size}-{args.clips_per_class}-seed{SEED}"
    if args.no_cache:
        root = tmp / name
        make_demo(root, clips_per_class=args.clips_per_class, seed=SEED, size=args.size)
        return root
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nexara" / "bench"
    root = cache / name
    if not (root / GROUND_TRUTH_NAME).is_file():  # absent, or a build that was interrupted
        print(f"building {root} (once; reused by later runs)…", file=sys.stderr, flush=True)
        partial = cache / f".{name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        make_demo(partial, clips_per_class=args.clips_per_class, seed=SEED, size=args.size)
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips-per-class", type=int, default=80,
                    help="clean clips per class in train (default 80: ~310 files)")
    ap.add_argument("--size", choices=("small", "bench"), default="bench",
                    help="demo clip size: bench = user-like 640x360, 30 fps, 8 s (default)")
    ap.add_argument("--dir", type=Path, help="scan this dataset instead of a demo")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--level", choices=("quick", "standard", "full"), default="full",
                    help="scan level (default full: real decoding work, as on the GPU box)")
    ap.add_argument("--no-cache", action="store_true", help="build a fresh demo in a temp dir")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nexara-bench-") as tmp:
        t = Path(tmp)
        root = _dataset(args, t)
        server = start_sshd(t / "sshd")
        try:
            fixed_l, fixed_r = [], []
            for i in range(3):
                t0 = time.perf_counter()
                _one_event(LocalHost(env={"NEXARA_STATE_DIR": str(t / f"fixed-local-{i}")}))
                fixed_l.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                host = _ssh_host(server, t / f"fixed-remote-{i}")
                try:
                    _one_event(host)
                finally:
                    host.close()
                fixed_r.append(time.perf_counter() - t0)

            local_s, remote_s, files = [], [], 0
            for i in range(args.repeat):
                state = t / f"local-state-{i}"
                t0 = time.perf_counter()
                files = _scan_events(LocalHost(env={"NEXARA_STATE_DIR": str(state)}), root, args.level)
                local_s.append(time.perf_counter() - t0)

                t0 = time.perf_counter()
                host = _ssh_host(server, t / f"remote-state-{i}")  # connecting is part of the cost
                try:
                    remote_files = _scan_events(host, root, args.level)
                finally:
                    host.close()
                remote_s.append(time.perf_counter() - t0)
                assert remote_files == files, (remote_files, files)
        finally:
            server.stop()
    best_l, best_r = min(local_s), min(remote_s)
    print(f"dataset={root} files={files} level={args.level}")
    print(f"fixed_overhead_s={min(fixed_r) - min(fixed_l):.2f} (one-event job: local "
          f"{min(fixed_l):.2f} s, remote incl. connect {min(fixed_r):.2f} s)")
    print(f"files={files} local_s={best_l:.2f} remote_s={best_r:.2f} "
          f"(all runs: local {', '.join(f'{x:.2f}' for x in local_s)}; "
          f"remote {', '.join(f'{x:.2f}' for x in remote_s)})")
    print(f"overhead_s={best_r - best_l:.2f}")
    print(f"remote_vs_local={best_r / best_l:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
