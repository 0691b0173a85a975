"""Journaled quarantine vs a plain `os.rename` loop, over the same 10,000 small files.

Both runs get a fresh copy of the same tree (`{train,val,test}/{violent,nonviolent}/`)
in the same process. The baseline is the user's `--remove` script at its
leanest: destination folders made beforehand (not timed), then one `os.rename`
per file. Ours is `core.quarantine.execute` on a plan from the scan store:
per file a stat (changed-since-scan check), a content hash, a journal intent
and done record, a no-replace rename; per chunk of 2048 files two journal
fsyncs and one fsync per touched directory; plus the store update. Planning
(reading the store) is timed separately and reported, not in the ratio.

Ends with `journal_vs_rename=<ratio>` (target ≤ 3). Usage:
    python benchmarks/quarantine.py [--files N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import quarantine as q  # noqa: E402
from core.records import FileResult, Verdict  # noqa: E402
from core.store import ScanStore  # noqa: E402

GROUPS = [(s, c) for s in ("train", "val", "test") for c in ("violent", "nonviolent")]


def make_tree(root: Path, n: int) -> list[FileResult]:
    out = []
    payload = os.urandom(4096)
    for i in range(n):
        split, cls = GROUPS[i % len(GROUPS)]
        rel = f"{split}/{cls}/clip_{i:06d}.mp4"
        p = root / rel
        if i < len(GROUPS):
            p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.write(payload[: 1024 + (i % 3072)] + i.to_bytes(4, "little"))
        st = p.stat()
        out.append(FileResult(rel, split, cls, Verdict.CORRUPT, ["moov_missing"],
                              size=st.st_size, mtime_ns=st.st_mtime_ns))
    return out


def run_baseline(root: Path, rels: list[str]) -> float:
    qdir = root / "corrupted_videos"
    for s, c in GROUPS:
        (qdir / s / c).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for rel in rels:
        os.rename(root / rel, qdir / rel)
    return time.perf_counter() - t0


def run_ours(root: Path, results: list[FileResult]) -> tuple[float, float, int]:
    with ScanStore.for_root(root) as store:
        store.put_many(results)
        t0 = time.perf_counter()
        plan = q.plan(root, store)
        t_plan = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = q.execute(root, plan, store=store)
        t_exec = time.perf_counter() - t0
        assert store.count("quarantine") == len(results), "store not updated"
    return t_exec, t_plan, len(res.moved)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2, help="best of R runs for each side")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="nexara-bench-q-"))
    os.environ.setdefault("NEXARA_STATE_DIR", str(base / "state"))
    try:
        best_base, best_ours, best_plan = float("inf"), float("inf"), float("inf")
        for r in range(args.repeat):
            a, b = base / f"rename{r}", base / f"ours{r}"
            results = make_tree(a, args.files)
            ours_results = make_tree(b, args.files)
            best_base = min(best_base, run_baseline(a, [x.path for x in results]))
            t_exec, t_plan, moved = run_ours(b, ours_results)
            assert moved == args.files, f"moved {moved} of {args.files}"
            best_ours, best_plan = min(best_ours, t_exec), min(best_plan, t_plan)
            journal = b / "corrupted_videos" / "journal.jsonl"
            jsize = journal.stat().st_size
            shutil.rmtree(a)
            shutil.rmtree(b)
        print(f"files={args.files}")
        print(f"plain_rename_s={best_base:.3f}")
        print(f"journaled_quarantine_s={best_ours:.3f}  (plan from store: {best_plan:.3f} s, not in ratio)")
        print(f"journal_bytes={jsize}")
        print(f"journal_vs_rename={best_ours / best_base:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
