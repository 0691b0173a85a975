"""Moving the bytes under the journal: intent → move → directory fsync → done, per chunk.

On one file system a move is `rename_noreplace` (`core.fsops`: atomic, never
overwrites). Across file systems (EXDEV, or `force_copy`): copy into a partial
file (O_EXCL), fsync, re-read and compare every byte by BLAKE2b, give it the
source's mode and mtime, rename it into place without replacing anything, and
only then unlink the source. A partial copy is removed whenever the copy fails
(a full disk, a name the target cannot hold, a read error), so a failed move
leaves no trace but its journal records.

Crash safety with batched fsyncs (why `journal_vs_rename` stays small). Files
move in chunks (default 2048):
  1. append the chunk's intent records, one fsync;
  2. move each file of the chunk;
  3. fsync every directory the chunk touched (so the moves are durable);
  4. append the chunk's done records, one fsync.
Invariant: a file's bytes move only after its intent is durable (1 before 2),
and a done record is durable only after its move is (3 before 4). So after a
crash at any instant each file is either untouched (no intent), finished
(done), or pending (intent only), and `core.quarantine.recovery` looks at where
the bytes are.

Every problem with one file is that file's outcome ("skipped", with a one-line
message naming it and saying why), never the batch's: the other files move.
A restore puts back only what the journal recorded: a regular file of the
recorded size and content hash.

Repair (`core.repair.apply`) runs moves of other kinds in the same protocol and
the same batch: a `Move` may carry its own `op` (`put`, `aside`), the paths the
journal records (`jsrc`, `jdst`) and extra intent fields; a `rename_only` move
(a repaired copy going into the dataset) is a rename or nothing — never a copy,
so no partial file can ever appear at a dataset path.

Ingest (`core.ingest`) moves clips in from an INCOMING folder outside ROOT
(`ingest`: the journal records the absolute INCOMING path and the folder) and
`restore --batch` moves them back out (`uningest`: only the bytes that were
moved in, never over a file that has appeared in INCOMING since). A symlink is
never moved either way.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from core.dataset import QUARANTINE_DIR
from core.fsops import fsync_dir, makedirs_durable, rename_noreplace
from core.journal import (
    ASIDE,
    DONE,
    INGEST,
    INTENT,
    MOVE,
    PUT,
    RESTORE,
    ROLLED_BACK,
    UNINGEST,
    Journal,
    fast_hash,
)
from core.quarantine.crash import CrashHook
from core.quarantine.paths import PARTIAL_SUFFIX
from core.quarantine.records import Outcome
from core.units import human_size
from core.userpaths import shown

CHUNK = 2048
_COPY_BLOCK = 1 << 20
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NAME_MAX = 255


@dataclass
class Move:
    rel: str
    src: str  # absolute, with a resolved directory
    dst: str
    size: int
    mtime_ns: int | None  # expected (None: do not check)
    verdict: str
    reasons: list[str]
    hash: str = ""
    method: str = "rename"
    seq: int = 0
    outcome: Outcome | None = None
    sdir: str = ""
    ddir: str = ""
    expect_hash: str = ""  # restore: the hash the journal recorded ("" for an orphan)
    expect_size: int | None = None  # restore: the size the journal recorded
    # repair (core.repair): a move of another kind in the same batch, with its journal paths
    op: str = ""  # "" → the batch's op
    jsrc: str = ""  # the ROOT-relative paths the intent records ("" → derived from rel and op)
    jdst: str = ""
    extra: dict[str, Any] | None = None  # more fields for the intent record
    rename_only: bool = False  # never copied (a repaired copy is only renamed into the dataset)
    # ingest: a clip's `.info.json` sidecar moves only if, and right after, its clip did
    follows: Move | None = None

    def __post_init__(self) -> None:
        self.sdir = self.sdir or os.path.dirname(self.src)
        self.ddir = self.ddir or os.path.dirname(self.dst)


# -- names nexara gives its partial copies ----------------------------------------------


def name_max(directory: str) -> int:
    """The longest name (in bytes) the file system of `directory` allows."""
    try:
        return os.statvfs(directory).f_namemax or _NAME_MAX
    except OSError:
        return _NAME_MAX


def partial_paths(dst: str) -> tuple[str, ...]:
    """Every name a partial copy of `dst` may have: `<dst>.nexara-partial`, or, for a name
    too long to take the suffix, a short hashed one in the same folder."""
    d, name = os.path.split(dst)
    short = os.path.join(d, "." + hashlib.blake2b(os.fsencode(name), digest_size=12).hexdigest()
                         + PARTIAL_SUFFIX)
    return (dst + PARTIAL_SUFFIX, short)


def partial_path(dst: str, limit: int) -> str:
    plain, short = partial_paths(dst)
    return plain if len(os.fsencode(os.path.basename(plain))) <= limit else short


# -- the protocol -------------------------------------------------------------------------

_ENC = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False)


def run_moves(
    batch: str,
    journal: Journal,
    op: str,
    moves: list[Move],
    force_copy: bool,
    chunk: int,
    crash: CrashHook,
    seq0: int = 0,
) -> Iterator[Outcome]:
    """Move `moves` in chunks under the intent → move → dir fsync → done protocol.

    `op` is the batch's kind; a move with its own `op` (repair) is journaled as that.
    Sequence numbers continue from `seq0` (a batch appended to later).
    """
    made_dirs: dict[str, int] = {}  # destination dir → its device
    seq = seq0
    qprefix = QUARANTINE_DIR + "/"
    for start in range(0, len(moves), chunk):
        part = moves[start:start + chunk]
        ready: list[Move] = []
        intents = []
        now = round(time.time(), 3)
        for m in part:
            mop = m.op or op
            sdev = 0 if _not_without(m) else _precheck(m, mop)
            if m.outcome is not None:
                yield m.outcome
                continue
            ddir = m.ddir
            ddev = made_dirs.get(ddir)
            if ddev is None:
                try:
                    makedirs_durable(ddir)
                    ddev = made_dirs[ddir] = os.stat(ddir).st_dev
                except OSError as exc:
                    m.outcome = os_problem(m, exc, f"cannot make the folder {shown(ddir)}")
                    yield m.outcome
                    continue
            try:
                m.hash = fast_hash(m.src)
            except OSError as exc:
                m.outcome = Outcome(m.rel, "skipped", m.size, "error",
                                    f"{shown(m.rel)}: cannot read: {exc.strerror or exc}")
                yield m.outcome
                continue
            if m.expect_hash and m.hash != m.expect_hash:
                m.outcome = _mismatch(m, "its content differs from what the journal recorded")
                yield m.outcome
                continue
            m.method = "copy" if (force_copy and not m.rename_only) or sdev != ddev else "rename"
            if m.rename_only and m.method == "copy":
                m.outcome = Outcome(m.rel, "skipped", m.size, "other_fs",
                                    f"{shown(m.rel)}: on another file system than {shown(m.jsrc or m.src)}; "
                                    "a repaired copy is only renamed into place, never copied")
                yield m.outcome
                continue
            seq += 1
            m.seq = seq
            q = qprefix + m.rel
            intents.append(_ENC.encode({
                "batch": batch, "seq": seq, "op": mop, "rel": m.rel,
                "src": m.jsrc or (m.rel if mop == MOVE else q), "dst": m.jdst or (q if mop == MOVE else m.rel),
                "size": m.size, "hash": m.hash, "verdict": m.verdict, "reasons": m.reasons,
                "time": now, "method": m.method, "state": INTENT, **(m.extra or {}),
            }))
            ready.append(m)
        if not ready:
            continue
        journal.append_lines(intents)  # (1) intents durable before any byte moves
        touched: set[str] = set()
        for m in ready:
            crash.hit("after_intent")
            # Once the journal had to use its space reserve, nothing more is copied into the
            # quarantine's file system: that space is for the records of this batch.
            mop = m.op or op
            m.outcome = _not_without(m) or move_one(
                m, mop, crash, no_copy=mop in (MOVE, ASIDE, INGEST) and journal.short_of_space)
            crash.hit("after_move")
        for m in ready:
            touched.add(m.sdir)
            touched.add(m.ddir)
        for d in touched:  # (3) the moves are durable before their done records
            with contextlib.suppress(OSError):
                fsync_dir(d)
        finals = []
        now = round(time.time(), 3)
        for m in ready:
            assert m.outcome is not None
            state = DONE if m.outcome.status == "moved" else ROLLED_BACK
            rec = {"batch": batch, "seq": m.seq, "op": m.op or op, "rel": m.rel, "state": state, "time": now}
            if m.outcome.message:
                rec["note"] = m.outcome.message
            finals.append(_ENC.encode(rec))
        if crash.armed("torn_done"):
            data = "".join(r + "\n" for r in finals).encode()
            journal.write_raw(data[: len(data) // 2 + 1])
            crash.hit("torn_done")
        journal.append_lines(finals)  # (4)
        for m in ready:
            assert m.outcome is not None
            yield m.outcome


# -- one file ------------------------------------------------------------------------------


def _not_without(m: Move) -> Outcome | None:
    """A file that travels with another (a sidecar with its clip) stays when that one did not move."""
    f = m.follows
    if f is None or f.outcome is None or f.outcome.status == "moved":
        return None
    m.outcome = Outcome(m.rel, "skipped", m.size, "not_without",
                        f"{shown(m.rel)}: stays with {shown(f.rel)}, which was not moved")
    return m.outcome


def _exists_outcome(m: Move, op: str) -> Outcome:
    if op == PUT:
        return Outcome(m.rel, "skipped", m.size, "exists",
                       f"{shown(m.rel)}: a file is at the dataset path; the repaired copy was not put "
                       "there (not overwriting)")
    if op == ASIDE:
        return Outcome(m.rel, "skipped", m.size, "exists",
                       f"{shown(m.rel)}: {shown(m.jdst)} already exists; the repaired copy was not moved "
                       "aside (not overwriting)")
    if op == INGEST:
        return Outcome(m.rel, "skipped", m.size, "exists",
                       f"{shown(m.rel)}: a file is already at that dataset path; not ingested (not overwriting)")
    if op == UNINGEST:
        return Outcome(m.rel, "skipped", m.size, "reappeared",
                       f"{shown(m.rel)}: a file is at {shown(m.jdst)} again; left in the dataset, not overwriting")
    if op == RESTORE:
        return Outcome(m.rel, "skipped", m.size, "reappeared",
                       f"{shown(m.rel)}: a file has reappeared at the original path; left in quarantine, "
                       "not overwriting")
    return Outcome(m.rel, "skipped", m.size, "exists",
                   f"{shown(m.rel)}: {QUARANTINE_DIR}/{shown(m.rel)} already exists; not overwriting")


def _mismatch(m: Move, why: str) -> Outcome:
    if (m.op or "") == UNINGEST:
        return Outcome(m.rel, "skipped", m.size, "mismatch",
                       f"{shown(m.rel)}: is not the clip that was ingested ({why}); left in the dataset")
    return Outcome(m.rel, "skipped", m.size, "mismatch",
                   f"{shown(m.rel)}: {QUARANTINE_DIR}/{shown(m.rel)} is not the file that was quarantined "
                   f"({why}); not restored, left alone")


def os_problem(m: Move, exc: OSError, doing: str) -> Outcome:
    """A failed system call as this file's outcome: which file, what failed, what it needs."""
    if exc.errno in _NO_SPACE:
        free = _free(m.ddir)
        return Outcome(m.rel, "skipped", m.size, "no_space",
                       f"{shown(m.rel)}: no space left on the file system of {shown(m.ddir)}: "
                       f"needs {human_size(m.size)}, {human_size(free)} free; left in place")
    if exc.errno == errno.ENAMETOOLONG:
        return Outcome(m.rel, "skipped", m.size, "name_too_long",
                       f"{shown(m.rel)}: {_too_long_why(m)}; left in place")
    return Outcome(m.rel, "skipped", m.size, "error",
                   f"{shown(m.rel)}: {doing}: {exc.strerror or exc}; left in place")


def _too_long_why(m: Move) -> str:
    name = os.fsencode(os.path.basename(m.dst))
    probe = m.ddir
    while probe and not os.path.isdir(probe):
        probe = os.path.dirname(probe)
    limit = name_max(probe or "/")
    if len(name) > limit:
        return (f"its name is {len(name)} bytes, longer than the {limit} the file system of "
                f"{shown(probe)} allows")
    return (f"its path at the destination is {len(os.fsencode(m.dst))} bytes, longer than the "
            "system allows (PATH_MAX)")


def _free(directory: str) -> int:
    probe = directory
    while probe and not os.path.isdir(probe):
        probe = os.path.dirname(probe)
    try:
        st = os.statvfs(probe or "/")
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _precheck(m: Move, op: str) -> int:
    """Skip (never fail the batch) files that vanished, changed or are not what was recorded.

    Returns the source's device. A taken destination is found by the no-replace move
    itself (one syscall fewer per file); restore checks up front so it can say
    "reappeared" before journaling anything.
    """
    try:
        st = os.lstat(m.src)
        dev = st.st_dev
        if stat.S_ISLNK(st.st_mode):
            if op == RESTORE:
                m.outcome = Outcome(m.rel, "skipped", m.size, "not_regular",
                                    f"{shown(m.rel)}: {QUARANTINE_DIR}/{shown(m.rel)} is a symlink, not the "
                                    "file that was quarantined; not restored, left alone")
                return 0
            if op in (PUT, ASIDE):
                m.outcome = Outcome(m.rel, "skipped", m.size, "not_regular",
                                    f"{shown(m.rel)}: {shown(m.jsrc or m.src)} is a symlink, not the repaired "
                                    "copy; not moved, left alone")
                return 0
            if op in (INGEST, UNINGEST):
                m.outcome = Outcome(m.rel, "skipped", m.size, "not_regular",
                                    f"{shown(m.rel)}: {shown(m.jsrc or m.src)} is a symlink, not a clip; "
                                    "not moved, left alone")
                return 0
            st = os.stat(m.src)
    except FileNotFoundError:
        if op == MOVE:
            m.outcome = Outcome(m.rel, "skipped", m.size, "vanished", f"{shown(m.rel)}: vanished since the scan")
        elif op in (PUT, ASIDE, INGEST):
            m.outcome = Outcome(m.rel, "skipped", m.size, "vanished",
                                f"{shown(m.rel)}: {shown(m.jsrc or m.src)} vanished; not moved")
        elif op == UNINGEST:
            m.outcome = Outcome(m.rel, "skipped", m.size, "missing",
                                f"{shown(m.rel)}: no longer in the dataset; nothing to move back")
        else:
            m.outcome = Outcome(m.rel, "skipped", m.size, "missing",
                                f"{shown(m.rel)}: missing from {QUARANTINE_DIR}/")
        return 0
    if op in (RESTORE, INGEST, UNINGEST) and not stat.S_ISREG(st.st_mode):
        if op != RESTORE:
            m.outcome = Outcome(m.rel, "skipped", m.size, "not_regular",
                                f"{shown(m.rel)}: {shown(m.jsrc or m.src)} is not a regular file; not moved")
            return 0
        m.outcome = Outcome(m.rel, "skipped", m.size, "not_regular",
                            f"{shown(m.rel)}: {QUARANTINE_DIR}/{shown(m.rel)} is not a regular file; "
                            "not restored, left alone")
        return 0
    if m.expect_size is not None and st.st_size != m.expect_size:
        m.outcome = _mismatch(m, f"{st.st_size:,} bytes, the journal recorded {m.expect_size:,}")
        return 0
    if m.mtime_ns is not None and (st.st_size != m.size or st.st_mtime_ns != m.mtime_ns):
        m.outcome = Outcome(m.rel, "skipped", m.size, "changed",
                            f"{shown(m.rel)}: changed since the scan (size/mtime); rescan it")
        return 0
    m.size = st.st_size
    if op in (RESTORE, UNINGEST) and os.path.lexists(m.dst):
        m.outcome = _exists_outcome(m, op)
    return dev


def move_one(m: Move, op: str, crash: CrashHook, no_copy: bool = False) -> Outcome:
    if m.method == "rename":
        try:
            rename_noreplace(m.src, m.dst)
            return Outcome(m.rel, "moved", m.size)
        except FileExistsError:
            return _exists_outcome(m, op)
        except OSError as exc:
            if exc.errno != errno.EXDEV or m.rename_only:
                return os_problem(m, exc, "rename failed")
            m.method = "copy"  # e.g. a bind mount on the same device
    if no_copy:
        return Outcome(m.rel, "skipped", m.size, "no_space",
                       f"{shown(m.rel)}: no space left on the file system of {shown(m.ddir)} (its journal "
                       f"used its reserve to record this batch): needs {human_size(m.size)}, "
                       f"{human_size(_free(m.ddir))} free; left in place")
    try:
        return _copy_move(m, op, crash)
    except OSError as exc:
        return os_problem(m, exc, "copy failed")


def _copy_move(m: Move, op: str, crash: CrashHook) -> Outcome:
    """Copy, fsync, verify every byte, rename into place without replacing, then unlink the source."""
    if os.path.islink(m.src):
        return Outcome(m.rel, "skipped", m.size, "error",
                       f"{shown(m.rel)}: a symlink cannot be moved across file systems; left in place")
    free = _free(m.ddir)
    if free < m.size:
        return Outcome(m.rel, "skipped", m.size, "no_space",
                       f"{shown(m.rel)}: no space left on the file system of {shown(m.ddir)}: "
                       f"needs {human_size(m.size)}, {human_size(free)} free; left in place")
    tmp = partial_path(m.dst, name_max(m.ddir))
    h_src = hashlib.blake2b(digest_size=32)
    sfd = os.open(m.src, os.O_RDONLY)
    created = False
    try:
        st0 = os.fstat(sfd)
        block = max(1, (st0.st_size + 1) // 2) if crash.armed("mid_copy") else _COPY_BLOCK
        if os.path.lexists(m.dst):
            return _exists_outcome(m, op)
        dfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(st0.st_mode) | 0o200)
        created = True
        try:
            written = 0
            while True:
                buf = os.read(sfd, block)
                if not buf:
                    break
                h_src.update(buf)
                view = memoryview(buf)
                while view:
                    view = view[os.write(dfd, view):]
                written += len(buf)
                if written < st0.st_size:
                    crash.hit("mid_copy")
            os.utime(dfd, ns=(st0.st_atime_ns, st0.st_mtime_ns))
            os.fchmod(dfd, stat.S_IMODE(st0.st_mode))
            os.fsync(dfd)
        finally:
            os.close(dfd)
        st1 = os.fstat(sfd)
        if (st1.st_size, st1.st_mtime_ns) != (st0.st_size, st0.st_mtime_ns):
            return Outcome(m.rel, "skipped", m.size, "changed",
                           f"{shown(m.rel)}: changed while being copied; left in place")
        if _full_hash(tmp) != h_src.digest():
            return Outcome(m.rel, "skipped", m.size, "error",
                           f"{shown(m.rel)}: copy did not verify; left in place")
        try:
            rename_noreplace(tmp, m.dst)
        except FileExistsError:
            return _exists_outcome(m, op)
        created = False  # the partial is the destination now
    finally:
        os.close(sfd)
        if created:
            with contextlib.suppress(OSError):
                os.unlink(tmp)  # a failed copy leaves no partial behind
    try:
        fsync_dir(os.path.dirname(m.dst))
        crash.hit("before_unlink_src")
        os.unlink(m.src)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(m.dst)  # our own verified copy: the source stays the one file
        return os_problem(m, exc, "cannot remove the source after copying it")
    return Outcome(m.rel, "moved", m.size, note="copied across file systems")


def _full_hash(path: str) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb", buffering=0) as f:
        while buf := f.read(_COPY_BLOCK):
            h.update(buf)
    return h.digest()
