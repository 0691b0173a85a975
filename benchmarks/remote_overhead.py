"""What does running the scan through SSH cost? Remote (loopback sshd) vs local, same files, one run.

    python benchmarks/remote_overhead.py [--clips-per-class 3] [--size bench|small] [--dir DATASET] [--repeat 2]

Starts a throwaway OpenSSH server on 127.0.0.1 (as the tests do), builds a demo
dataset (or uses --dir), then times `nexara scan` locally (a LocalHost
subprocess) and through `SSHHost` (connect, start the detached job, attach and
receive every event), each with a fresh state directory so neither side reads
cached verdicts. Best of --repeat runs each. Ends with `remote_vs_local=…`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.hosts import LocalHost  # noqa: E402
from core.ssh import SSHHost  # noqa: E402
from tests.sshd import ALIAS, start_sshd  # noqa: E402

NEXARA = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "nexara")


def _scan_events(host, root: Path, level: str) -> int:
    n = 0
    for ev in host.stream(["scan", str(root), "--level", level, "--json"]):
        n += ev.get("type") == "file"
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips-per-class", type=int, default=3)
    ap.add_argument("--size", choices=("small", "bench"), default="bench",
                    help="demo clip size: bench = user-like 640x360, 30 fps, 8 s (default)")
    ap.add_argument("--dir", type=Path, help="scan this dataset instead of a fresh demo")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--level", choices=("quick", "standard", "full"), default="full",
                    help="scan level (default full: real decoding work, as on the GPU box)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nexara-bench-") as tmp:
        t = Path(tmp)
        if args.dir:
            root = args.dir
        else:
            from core.demo import make_demo

            root = t / "organized_dataset"
            make_demo(root, clips_per_class=args.clips_per_class, seed=3, size=args.size)
        server = start_sshd(t / "sshd")
        try:
            local_s, remote_s, files = [], [], 0
            for i in range(args.repeat):
                state = t / f"local-state-{i}"
                t0 = time.perf_counter()
                files = _scan_events(LocalHost(env={"NEXARA_STATE_DIR": str(state)}), root, args.level)
                local_s.append(time.perf_counter() - t0)

                state = t / f"remote-state-{i}"
                t0 = time.perf_counter()
                host = SSHHost(ALIAS, remote_nexara=NEXARA, env={"NEXARA_STATE_DIR": str(state)},
                               ssh_config=server.ssh_config)
                remote_files = _scan_events(host, root, args.level)
                remote_s.append(time.perf_counter() - t0)
                host.close()
                assert remote_files == files, (remote_files, files)
        finally:
            server.stop()
    best_l, best_r = min(local_s), min(remote_s)
    print(f"files={files} local_s={best_l:.2f} remote_s={best_r:.2f} "
          f"(all runs: local {', '.join(f'{x:.2f}' for x in local_s)}; "
          f"remote {', '.join(f'{x:.2f}' for x in remote_s)})")
    # The overhead is a constant (connect, one extra CLI start, the job wrapper), not per file.
    print(f"overhead_s={best_r - best_l:.2f}")
    print(f"remote_vs_local={best_r / best_l:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
