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
from dataclasses import dataclass, field
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


def tree_faults(root: Path, before: dict[str, str]) -> dict[str, list[str]]:
    """What is wrong with the tree against `before`, without raising (for the kill -9 harness):
    lost (in neither place, or bytes changed), duplicated (in both), partial copies, extra files."""
    now = digest_tree(root)
    lost, dup = [], []
    for rel, h in before.items():
        here = [k for k in (rel, "Q:" + rel) if now.get(k) == h]
        if not here:
            lost.append(rel)
        elif len(here) == 2:
            dup.append(rel)
    partials = [k for k in now if k.endswith(PARTIAL_SUFFIX)]
    extra = sorted(set(now) - set(before) - {"Q:" + r for r in before} - set(partials))
    return {"lost": lost, "duplicated": dup, "partials": partials, "extra": extra}


def run_nexara(*argv: str, crash_at: str | None = None, force_copy: bool = False,
               timeout: float = 60, env: dict[str, str] | None = None,
               cwd: Path | None = None, max_file_bytes: int | None = None,
               ) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (same NEXARA_STATE_DIR as the test).

    `max_file_bytes` caps the size of any file it writes (a copy then fails half way).
    Output bytes that are not UTF-8 (a name printed raw) show as backslash escapes
    instead of failing the test run's own decoding.
    """
    full = dict(os.environ)
    full.pop("NEXARA_CRASH_AT", None)
    full.pop("NEXARA_QUARANTINE_FORCE_COPY", None)
    if crash_at:
        full["NEXARA_CRASH_AT"] = crash_at
    if force_copy:
        full["NEXARA_QUARANTINE_FORCE_COPY"] = "1"
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    full.update(env or {})

    def limit() -> None:  # RLIMIT_FSIZE: a write past it fails with EFBIG (Python ignores SIGXFSZ)
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, text=True,
                          errors="backslashreplace", timeout=timeout, env=full,
                          cwd=str(cwd or REPO), preexec_fn=limit if max_file_bytes else None)


def try_mount_tmpfs(path: Path, size_mb: float = 32) -> bool:
    """Mount a fresh tmpfs at `path` (needs root / CAP_SYS_ADMIN); False if this sandbox forbids it."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(size_mb * 1024)}k", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0


def bind_mount(src: Path, dst: Path) -> bool:
    dst.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True).returncode == 0


class Mounts:
    """Mounts made by one test, unmounted (innermost first) however the test ends."""

    def __init__(self) -> None:
        self.done: list[Path] = []

    def tmpfs(self, path: Path, size_mb: float = 32) -> bool:
        ok = try_mount_tmpfs(path, size_mb)
        if ok:
            self.done.append(path)
        return ok

    def bind(self, src: Path, dst: Path) -> bool:
        ok = bind_mount(src, dst)
        if ok:
            self.done.append(dst)
        return ok

    def __call__(self, path: Path, size_mb: float = 32) -> bool:
        return self.tmpfs(path, size_mb)

    def close(self) -> None:
        for p in reversed(self.done):
            umount(p)
        self.done.clear()


def fill(directory: Path, leave: int = 0, name: str = "filler") -> Path:
    """Write a file in `directory` until its file system has at most `leave` bytes free."""
    path = directory / name
    block = b"\0" * (1 << 16)
    with open(path, "ab") as f:
        while True:
            st = os.statvfs(directory)
            free = st.f_bavail * st.f_frsize
            if free <= leave:
                break
            try:
                f.write(block[: max(1, min(len(block), free - leave))])
                f.flush()
            except OSError:
                break
    return path


def run_in_pty(argv: list[str], env: dict[str, str], answer: str, timeout: float = 120) -> tuple[int, bytes]:
    """Run argv with a terminal on stdin/stdout; type `answer` at the [y/N] prompt; raw output."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out, answered = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                if not answered and b"[y/N]" in out:
                    os.write(master, answer.encode() + b"\n")
                    answered = True
            elif proc.poll() is not None:
                break
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no exit; terminal showed:\n{out.decode('utf-8', 'replace')}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return rc, out


def remount_ro(path: Path) -> bool:
    r = subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True, text=True)
    return r.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- the kill -9 harness ------------------------------------------------------------------------

RENAME_POINTS = ("after_intent", "after_move", "torn_done")
COPY_POINTS = ("mid_copy", "before_unlink_src")


@dataclass
class Trial:
    """One kill -9 trial: what ran, and what the tree looked like afterwards."""

    seed: int
    steps: list[str] = field(default_factory=list)  # e.g. "quarantine@after_move:3 → killed"
    killed: int = 0
    lost: list[str] = field(default_factory=list)  # in neither place (or bytes changed)
    duplicated: list[str] = field(default_factory=list)  # in both places after recovery
    partials: list[str] = field(default_factory=list)  # partial copies left after recovery
    identical: bool = False  # one `restore --all` gave back the byte-identical tree
    problem: str = ""  # a command that failed, or an unexpected file

    def ok(self) -> bool:
        return self.identical and not (self.lost or self.duplicated or self.partials or self.problem)

    def describe(self) -> str:
        what = self.problem or (f"lost={self.lost} duplicated={self.duplicated} partials={self.partials} "
                                f"identical={self.identical}")
        return (f"kill -9 trial seed={self.seed} (rerun: NEXARA_KILL9_SEED={self.seed} "
                f"NEXARA_KILL9_TRIALS=1): {what}; steps: {' | '.join(self.steps)}")


def kill9_trial(seed: int, work: Path, mount: bool = True) -> Trial:
    """Random kill points over quarantine and restore on a small random dataset, then the checks.

    Each step is a real `nexara quarantine`/`restore` subprocess that may SIGKILL itself at a
    random crash point (`NEXARA_CRASH_AT`, see core.quarantine.crash) and the n-th time there.
    Half the trials put `corrupted_videos` on its own tmpfs, so files move by verified copy
    (when `mount` fails, the copy path is forced instead). After the steps, every file must
    exist exactly once once recovery has run, and one `restore --all` must give back the
    byte-identical tree.
    """
    import random
    import shutil

    rng = random.Random(seed)
    t = Trial(seed)
    base = work / f"trial-{seed}"
    root = base / "ds"
    n = rng.randint(2, 9)
    make_dataset(root, n=n, size=rng.choice((1_500, 40_000, 300_000)), corrupt_every=rng.choice((1, 1, 2)))
    before = digest_tree(root)
    mounted = False
    cross = rng.random() < 0.5
    if cross and mount:
        mounted = try_mount_tmpfs(root / QUARANTINE_DIR, size_mb=64)
    force = cross and not mounted
    points = RENAME_POINTS + (COPY_POINTS if cross else ())
    try:
        for _ in range(rng.randint(1, 3)):
            op = rng.choice(("quarantine", "quarantine", "restore", "restore-last", "restore-file"))
            if op == "quarantine":
                argv = ["quarantine", str(root), "--yes"]
            elif op == "restore":
                argv = ["restore", str(root), "--all"]
            elif op == "restore-last":
                argv = ["restore", str(root), "--batch", "last"]
            else:
                argv = ["restore", str(root), "--file", rng.choice(sorted(before))]
            where = rng.choice(points)
            point = f"{where}:{1 if where == 'torn_done' else rng.randint(1, n)}"  # one torn_done per chunk
            r = run_nexara(*argv, crash_at=point, force_copy=force)
            killed = r.returncode == -9
            t.killed += killed
            t.steps.append(f"{' '.join(argv[:1] + argv[2:])} @{point} → {'killed' if killed else r.returncode}")
            if not killed and r.returncode not in (0, 1, 2):
                t.problem = f"{argv[0]} exited {r.returncode}: {r.stderr.strip()[-300:]}"
                return t
            if "Traceback" in r.stderr:
                t.problem = f"{argv[0]} printed a traceback: {r.stderr.strip()[-300:]}"
                return t
        if rng.random() < 0.5:  # recovery alone (what --list does first): each file exactly once
            r = run_nexara("quarantine", str(root), "--list", force_copy=force)
            t.steps.append(f"quarantine --list → {r.returncode}")
            f = tree_faults(root, before)
            t.lost, t.duplicated, t.partials = f["lost"], f["duplicated"], f["partials"]
            if r.returncode != 0 or f["extra"]:
                t.problem = f"--list exited {r.returncode} {r.stderr.strip()[-200:]}; extra files {f['extra']}"
                return t
        if not (root / QUARANTINE_DIR / JOURNAL_NAME).exists():
            t.steps.append("no journal: nothing was ever quarantined")  # restore refuses such a root
            t.identical = digest_tree(root) == before
            return t
        r = run_nexara("restore", str(root), "--all", force_copy=force)
        t.steps.append(f"restore --all → {r.returncode}")
        f = tree_faults(root, before)
        t.lost = sorted(set(t.lost) | set(f["lost"]))
        t.duplicated = sorted(set(t.duplicated) | set(f["duplicated"]))
        t.partials = sorted(set(t.partials) | set(f["partials"]))
        t.identical = digest_tree(root) == before
        if r.returncode != 0:
            t.problem = f"the final restore --all exited {r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}"
        return t
    finally:
        if mounted:
            umount(root / QUARANTINE_DIR)
        shutil.rmtree(base, ignore_errors=True)


def kill9_seeds(default_trials: int, default_first: int | None = None) -> list[int]:
    """Trial seeds: NEXARA_KILL9_SEED (first seed) and NEXARA_KILL9_TRIALS, else `default_first`
    (CI: the same trials every run), else random (the soak: new trials every run)."""
    import random

    first = int(os.environ.get("NEXARA_KILL9_SEED") or default_first or random.randrange(1, 1 << 31))
    n = int(os.environ.get("NEXARA_KILL9_TRIALS") or default_trials)
    return [first + i for i in range(n)]
