"""Helpers for the quarantine tests: tiny datasets, a real `nexara` subprocess killed at a
chosen point (NEXARA_CRASH_AT, read by core.quarantine), tmpfs mounts, consistency checks.

The crash runs are real processes running the real CLI, killed with SIGKILL from inside at
an exact step: nothing is simulated, so what recovery sees is what a `kill -9` leaves.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from core.dataset import QUARANTINE_DIR
from core.journal import JOURNAL_NAME, RESERVE_NAME
from core.quarantine import PARTIAL_SUFFIX
from core.records import FileResult, Verdict
from core.store import ScanStore

REPO = Path(__file__).resolve().parent.parent


def make_dataset(root: Path, n: int = 5, size: int = 3000, corrupt_every: int = 1,
                 real_videos: int = 0) -> list[str]:
    """Files under ROOT/train/{violent,nonviolent}/ with stored verdicts; returns the corrupt rels.

    The first `real_videos` files are real encoded clips (core.demo), the rest plain bytes.
    """
    results = []
    corrupt = []
    for i in range(n):
        cls = ("violent", "nonviolent")[i % 2]
        rel = f"train/{cls}/clip_{i:03d}.mp4"
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if i < real_videos:
            from core.demo import write_clip

            write_clip(p, cls, size=(64, 48), fps=10, seconds=0.5, seed=i)
        else:
            p.write_bytes(os.urandom(size + i))
        st = p.stat()
        bad = i % corrupt_every == 0
        results.append(FileResult(
            rel, "train", cls, Verdict.CORRUPT if bad else Verdict.OK,
            ["moov_missing"] if bad and i % 3 else (["truncated"] if bad else []),
            size=st.st_size, mtime_ns=st.st_mtime_ns,
        ))
        if bad:
            corrupt.append(rel)
    with ScanStore.for_root(root) as s:
        s.put_many(results)
    return corrupt


def digest_tree(root: Path) -> dict[str, str]:
    """rel → sha256 of every dataset file and every quarantined file (nexara's own excluded:
    the journal and its space reserve).

    Quarantined files are keyed by their dataset rel with a `Q:` prefix.
    """
    out = {}
    own = {f"{QUARANTINE_DIR}/{JOURNAL_NAME}", f"{QUARANTINE_DIR}/{RESERVE_NAME}"}
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if rel in own:
                continue
            key = "Q:" + rel[len(QUARANTINE_DIR) + 1:] if rel.startswith(QUARANTINE_DIR + "/") else rel
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_each_once(root: Path, before: dict[str, str]) -> dict[str, str]:
    """Every original file is in exactly one place, byte-identical; no partial copies left.

    Returns rel → "dataset" | "quarantine"; also checks the scan store agrees.
    """
    now = digest_tree(root)
    partials = [k for k in now if k.endswith(PARTIAL_SUFFIX)]
    assert not partials, f"partial copies left behind: {partials}"
    where = {}
    for rel, h in before.items():
        in_ds, in_q = now.get(rel), now.get("Q:" + rel)
        assert (in_ds is None) != (in_q is None), f"{rel}: in {'both places' if in_ds else 'neither place'}"
        assert (in_ds or in_q) == h, f"{rel}: bytes changed"
        where[rel] = "dataset" if in_ds else "quarantine"
    extra = set(now) - set(before) - {"Q:" + r for r in before}
    assert not extra, f"unexpected files: {extra}"
    with ScanStore.for_root(root) as s:
        locs = s.locations()
    for rel, w in where.items():
        if rel in locs:
            assert locs[rel] == w, f"{rel}: store says {locs[rel]}, bytes are in {w}"
    return where


def run_nexara(*argv: str, crash_at: str | None = None, force_copy: bool = False,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (same NEXARA_STATE_DIR as the test)."""
    env = dict(os.environ)
    env.pop("NEXARA_CRASH_AT", None)
    if crash_at:
        env["NEXARA_CRASH_AT"] = crash_at
    if force_copy:
        env["NEXARA_QUARANTINE_FORCE_COPY"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(REPO))


def try_mount_tmpfs(path: Path, size_mb: int = 32) -> bool:
    """Mount a fresh tmpfs at `path` (needs root / CAP_SYS_ADMIN); False if this sandbox forbids it."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0


def remount_ro(path: Path) -> bool:
    r = subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True, text=True)
    return r.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)
