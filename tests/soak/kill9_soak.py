"""The long kill -9 soak: many seeded trials of random kill points over quarantine and restore.

Prints one line per failing trial (with the seed that reruns it) and a last line
`trials=N killed=K lost=L duplicated=D identical=I/N seconds=S`. Exits 1 if any trial
lost or duplicated a file, left a partial copy, or did not give back the byte-identical
tree with one `restore --all`. Run as root for the cross-file-system half (tmpfs mounts).

    python -m tests.soak.kill9_soak [--trials 230] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers_crash import Trial, kill9_trial


def soak(trials: int, seed: int, work: Path) -> tuple[list[Trial], float]:
    t0 = time.perf_counter()
    out = [kill9_trial(seed + i, work) for i in range(trials)]
    return out, time.perf_counter() - t0


def summary_line(results: list[Trial], seconds: float) -> str:
    lost = sum(len(t.lost) for t in results)
    dup = sum(len(t.duplicated) for t in results)
    same = sum(t.identical for t in results)
    return (f"trials={len(results)} killed={sum(t.killed for t in results)} lost={lost} "
            f"duplicated={dup} identical={same}/{len(results)} seconds={seconds:.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=230)
    ap.add_argument("--seed", type=int, default=random.randrange(1, 1 << 31))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nexara-kill9-") as d:
        os.environ["NEXARA_STATE_DIR"] = str(Path(d) / "state")
        print(f"seed={args.seed}", flush=True)
        results, seconds = soak(args.trials, args.seed, Path(d))
    for t in results:
        if not t.ok():
            print(t.describe())
    print(summary_line(results, seconds))
    return 0 if all(t.ok() for t in results) else 1


if __name__ == "__main__":
    sys.exit(main())
