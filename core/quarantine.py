"""The journaled quarantine: move flagged clips out of the dataset, never lose one.

A file moves from `ROOT/<rel>` to `ROOT/corrupted_videos/<rel>` (same relative
path) and back on restore. Every move goes through the journal
(`core.journal`): intent record → move the bytes → done record.

Moving the bytes: on one file system, `renameat2(RENAME_NOREPLACE)` (atomic,
never overwrites; falls back to link+unlink, then to check-then-rename where the
file system supports neither). Across file systems (EXDEV, or `force_copy`):
copy into `<dst>.nexara-partial` (O_EXCL), fsync, re-read and compare every byte
by BLAKE2b, give it the source's mode and mtime, rename it into place without
replacing anything, and only then unlink the source.

Crash safety with batched fsyncs (why `journal_vs_rename` stays small). Files
move in chunks (default 2048):
  1. append the chunk's intent records, one fsync;
  2. move each file of the chunk;
  3. fsync every directory the chunk touched (so the moves are durable);
  4. append the chunk's done records, one fsync.
Invariant: a file's bytes move only after its intent is durable (1 before 2),
and a done record is durable only after its move is (3 before 4). So after a
crash at any instant — `kill -9` or power loss, between any two steps, in the
middle of a copy — each file is either untouched (no intent), finished (done),
or pending (intent only), and for pending ones `recover` looks at where the
bytes actually are instead of trusting the journal:
  - source only → the move never happened: rolled back (the file stays);
  - destination only → it happened: marked done;
  - both, same inode (link fallback) → unlink the source link: done;
  - both, different files → whichever matches the recorded hash is ours: if the
    destination is our verified copy and the source still matches, the source
    is removed (a verified copy exists); a non-matching file is never touched;
  - a `.nexara-partial` copy → removed only if the source is present and
    matches the recorded hash; if the source is gone and the partial matches,
    it is renamed into place; otherwise it is left and reported.
Recovery runs first on every quarantine/restore/list, then re-syncs the scan
store's `location` column with the journal (so a crash between the journal
and the store cannot leave them disagreeing).

Paths from the journal, the store or `--files-from` are checked lexically (no
absolute paths, no `..`) and by resolution (their directory must resolve inside
ROOT, and quarantine paths inside ROOT/corrupted_videos); anything else is
refused with a one-line error. Only a source whose bytes now exist, verified,
at the destination is ever unlinked; nothing is ever overwritten.

Crash injection for tests: `NEXARA_CRASH_AT=<point>:<n>` sends SIGKILL to this
process the n-th time <point> is reached. Points: `after_intent` (a file's
intent is durable, its bytes have not moved), `after_move` (bytes moved, no
done record yet), `mid_copy` (half of a cross-device copy written),
`before_unlink_src` (verified copy in place, source still there),
`torn_done` (half of a chunk's done records written).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import signal
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import QUARANTINE_DIR, DatasetError, check_root
from core.errors import NexaraError
from core.fsops import fsync_dir, makedirs_durable, rename_noreplace
from core.journal import (
    DONE,
    INGEST,
    INTENT,
    MOVE,
    RESTORE,
    ROLLED_BACK,
    UNINGEST,
    Entry,
    Journal,
    JournalView,
    fast_hash,
    new_batch_id,
)
from core.store import DATASET, QUARANTINE, ScanStore

PARTIAL_SUFFIX = ".nexara-partial"
CHUNK = 2048
_COPY_BLOCK = 1 << 20

# -- crash injection ------------------------------------------------------------


class _CrashHook:
    """SIGKILL ourselves at a named point (tests only; inert unless NEXARA_CRASH_AT is set)."""

    def __init__(self) -> None:
        spec = os.environ.get("NEXARA_CRASH_AT", "")
        point, _, n = spec.partition(":")
        self.point = point or None
        self.n = int(n or 1)
        self.count = 0

    def armed(self, point: str) -> bool:
        return self.point == point

    def hit(self, point: str) -> None:
        if self.point == point:
            self.count += 1
            if self.count >= self.n:
                os.kill(os.getpid(), signal.SIGKILL)


# -- moving without overwriting: core.fsops ---------------------------------------


def _partial(dst: str) -> str:
    return dst + PARTIAL_SUFFIX


# -- records ------------------------------------------------------------------------


@dataclass
class PlanItem:
    rel: str
    size: int
    mtime_ns: int
    verdict: str
    reasons: list[str]
    split: str = ""
    cls: str = ""


@dataclass
class Plan:
    """What a quarantine would move, and what it would not (with why)."""

    root: str
    items: list[PlanItem] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # size/mtime differ from the scan: rescan
    vanished: list[str] = field(default_factory=list)  # gone from disk since the scan
    not_scanned: list[str] = field(default_factory=list)  # asked for but not in the store
    already: list[str] = field(default_factory=list)  # already in quarantine
    refused: list[tuple[str, str]] = field(default_factory=list)  # (rel, one-line why)

    @property
    def total_size(self) -> int:
        return sum(i.size for i in self.items)

    def by_reason(self) -> dict[str, dict[str, int]]:
        """reason code → count and bytes (a file with several reasons counts under each)."""
        out: dict[str, dict[str, int]] = {}
        for i in self.items:
            for code in i.reasons or ["(none)"]:
                d = out.setdefault(code, {"count": 0, "bytes": 0})
                d["count"] += 1
                d["bytes"] += i.size
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["count"]))

    def to_dict(self, with_files: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "root": self.root, "count": len(self.items), "total_size": self.total_size,
            "by_reason": self.by_reason(), "changed": self.changed, "vanished": self.vanished,
            "not_scanned": self.not_scanned, "already": self.already,
            "refused": [{"rel": r, "message": m} for r, m in self.refused],
        }
        if with_files:
            d["files"] = [asdict(i) for i in self.items]
        return d


@dataclass
class Outcome:
    """What happened to one file in a batch."""

    rel: str
    status: str  # "moved" | "skipped"
    size: int = 0
    reason: str = ""  # for skipped: changed | vanished | exists | reappeared | missing | error
    message: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    batch: str
    op: str
    moved: list[Outcome] = field(default_factory=list)
    skipped: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.moved)

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "op": self.op, "moved": len(self.moved),
                "skipped": len(self.skipped), "bytes": self.bytes, "seconds": round(self.seconds, 3)}


@dataclass
class RecoveryAction:
    batch: str
    seq: int
    op: str
    rel: str
    action: str  # "finished" | "rolled_back" | "attention"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- paths --------------------------------------------------------------------------


def check_rel(rel: object, where: str) -> str:
    """A dataset-relative POSIX path, or a one-line NexaraError naming `where`."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise NexaraError(f"{where}: empty or invalid path {rel!r}; refusing")
    if rel.startswith("/") or os.path.isabs(rel):
        raise NexaraError(f"{where}: absolute path {rel!r}; only paths relative to ROOT are allowed, refusing")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise NexaraError(f"{where}: path {rel!r} has '..', '.' or empty parts; refusing")
    if parts[0] == QUARANTINE_DIR:
        raise NexaraError(f"{where}: path {rel!r} is inside {QUARANTINE_DIR}/; refusing")
    if rel.endswith(PARTIAL_SUFFIX):
        raise NexaraError(f"{where}: path {rel!r} is a nexara temporary name; refusing")
    return rel


class _Resolver:
    """Resolves paths inside ROOT, caching the realpath of each directory."""

    def __init__(self, root: Path):
        self.root = str(root)
        self.root_real = os.path.realpath(root)
        self.qdir = os.path.join(self.root, QUARANTINE_DIR)
        self.qdir_real = os.path.realpath(self.qdir)
        if not _within(self.qdir_real, self.root_real):
            raise NexaraError(f"{self.qdir}: resolves to {self.qdir_real}, outside ROOT; refusing")
        self._dirs: dict[str, str] = {}
        self._qdirs: dict[str, str] = {}

    def _dir(self, base: str, reldir: str, cache: dict[str, str], inside: str, where: str,
             rel: str) -> str:
        """The resolved directory of base/reldir, checked once per directory and cached."""
        d = cache.get(reldir)
        if d is None:
            d = os.path.realpath(os.path.join(base, reldir) if reldir else base)
            bad = not _within(d, inside) or (inside == self.root_real and _within(d, self.qdir_real))
            if bad:
                what = rel if base == self.root else f"{QUARANTINE_DIR}/{rel}"
                place = "the dataset" if base == self.root else "the quarantine"
                raise NexaraError(f"{where}: {what!r} resolves to {d}, outside {place}; refusing")
            cache[reldir] = d
        return d

    def src_dir(self, rel: str, where: str) -> tuple[str, str]:
        """(dir, path) of ROOT/rel; the dir must resolve inside ROOT and not in the quarantine."""
        reldir, _, name = rel.rpartition("/")
        d = self._dir(self.root, reldir, self._dirs, self.root_real, where, rel)
        return d, d + os.sep + name

    def q_dir(self, rel: str, where: str) -> tuple[str, str]:
        """(dir, path) of ROOT/corrupted_videos/rel; the dir must resolve inside the quarantine."""
        reldir, _, name = rel.rpartition("/")
        d = self._dir(self.qdir, reldir, self._qdirs, self.qdir_real, where, rel)
        return d, d + os.sep + name

    def src(self, rel: str, where: str) -> str:
        return self.src_dir(rel, where)[1]

    def qpath(self, rel: str, where: str) -> str:
        return self.q_dir(rel, where)[1]


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _root(root: str | Path) -> Path:
    try:
        return check_root(Path(root))
    except DatasetError as exc:
        raise NexaraError(str(exc)) from exc


def read_files_from(path: str | Path, root: str | Path) -> list[str]:
    """Dataset-relative paths from a list file; escapes are refused.

    Two forms: one path per line (stripped, `#` starts a comment) for people, and
    NUL-terminated paths taken verbatim (`find -print0` style) for programs, so a
    name with a newline or edge spaces — which scraped datasets have — can be listed
    too. A file containing a NUL byte is read in the second form.
    """
    root_p = _root(root)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise NexaraError(f"{path}: cannot read file list: {exc.strerror or exc}") from exc
    if "\0" in text:
        entries = [(f"{path} entry {n}", e) for n, e in enumerate(text.split("\0"), start=1) if e]
    else:
        entries = [(f"{path} line {n}", ln.strip()) for n, ln in enumerate(text.splitlines(), start=1)
                   if ln.strip() and not ln.strip().startswith("#")]
    out = []
    for where, line in entries:
        if os.path.isabs(line):
            real = os.path.realpath(line)
            if not _within(real, str(root_p)) and not _within(line, str(root_p)):
                raise NexaraError(f"{where}: {line!r} is outside {root_p}; refusing")
            base = str(root_p) if _within(line, str(root_p)) else os.path.realpath(root_p)
            line = os.path.relpath(line, base).replace(os.sep, "/")
        out.append(check_rel(line, where))
    return out


def _check_writable(dirs: Iterable[str], root: Path) -> None:
    """One clear error before anything moves if the dataset (or part of it) is read-only."""
    for d in sorted(set(dirs)):
        if not os.path.isdir(d):
            continue
        ro = False
        with contextlib.suppress(OSError):
            ro = bool(os.statvfs(d).f_flag & os.ST_RDONLY)
        if ro or not os.access(d, os.W_OK | os.X_OK):
            why = "read-only file system" if ro else "permission denied"
            raise NexaraError(f"{d}: not writable ({why}); nothing was moved")


# -- planning -------------------------------------------------------------------------


def plan(
    root: str | Path,
    store: ScanStore,
    verdicts: Iterable[str] | None = ("corrupt",),
    reasons: Iterable[str] | None = None,
    files: Iterable[str] | None = None,
) -> Plan:
    """What would move: scanned dataset files matching the filters and unchanged since the scan.

    `files` (dataset-relative) narrows the selection to those files; `verdicts=None` means any
    verdict. Changed files are listed for rescan, vanished ones reported; neither is an error.
    """
    root_p = _root(root)
    res = _Resolver(root_p)
    vset = set(verdicts) if verdicts is not None else None
    rset = set(reasons) if reasons else None
    wanted = {check_rel(f, "file list") for f in files} if files is not None else None
    p = Plan(root=str(root_p))
    seen: set[str] = set()
    for r in store.results(DATASET):
        if wanted is not None and r.path not in wanted:
            continue
        seen.add(r.path)
        if vset is not None and r.verdict.value not in vset:
            continue
        if rset is not None and not rset.intersection(r.reasons):
            continue
        try:
            check_rel(r.path, "scan store")
            src = res.src(r.path, "scan store")
        except NexaraError as exc:
            p.refused.append((r.path, exc.message))
            continue
        try:
            st = os.stat(src)
        except FileNotFoundError:
            p.vanished.append(r.path)
            continue
        if st.st_size != r.size or st.st_mtime_ns != r.mtime_ns:
            p.changed.append(r.path)
            continue
        p.items.append(PlanItem(r.path, r.size, r.mtime_ns, r.verdict.value, list(r.reasons),
                                r.split, r.cls))
    if wanted is not None:
        for rel in sorted(wanted - seen):
            got = store.get(rel)
            (p.already if got and got[1] == QUARANTINE else p.not_scanned).append(rel)
    return p


# -- the move machinery ----------------------------------------------------------------


@dataclass
class _Move:
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
    # The journal's src/dst when they are not the dataset ↔ quarantine pair (ingest, core.ingest).
    jsrc: str = ""
    jdst: str = ""

    def __post_init__(self) -> None:
        self.sdir = self.sdir or os.path.dirname(self.src)
        self.ddir = self.ddir or os.path.dirname(self.dst)


_ENC = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False)


def _run(
    batch: str,
    journal: Journal,
    op: str,
    moves: list[_Move],
    force_copy: bool,
    chunk: int,
    crash: _CrashHook,
) -> Iterator[Outcome]:
    """Move `moves` in chunks under the intent → move → dir fsync → done protocol."""
    made_dirs: dict[str, int] = {}  # destination dir → its device
    seq = 0
    qprefix = QUARANTINE_DIR + "/"
    for start in range(0, len(moves), chunk):
        part = moves[start:start + chunk]
        ready: list[_Move] = []
        intents = []
        now = round(time.time(), 3)
        for m in part:
            sdev = _precheck(m, op)
            if m.outcome is not None:
                yield m.outcome
                continue
            ddir = m.ddir
            ddev = made_dirs.get(ddir)
            if ddev is None:
                makedirs_durable(ddir)
                ddev = made_dirs[ddir] = os.stat(ddir).st_dev
            try:
                m.hash = fast_hash(m.src)
            except OSError as exc:
                m.outcome = Outcome(m.rel, "skipped", m.size, "error", f"{m.rel}: cannot read: {exc.strerror or exc}")
                yield m.outcome
                continue
            m.method = "copy" if force_copy or sdev != ddev else "rename"
            seq += 1
            m.seq = seq
            q = qprefix + m.rel
            intents.append(_ENC.encode({
                "batch": batch, "seq": seq, "op": op, "rel": m.rel,
                "src": m.jsrc or (m.rel if op == MOVE else q), "dst": m.jdst or (q if op == MOVE else m.rel),
                "size": m.size, "hash": m.hash, "verdict": m.verdict, "reasons": m.reasons,
                "time": now, "method": m.method, "state": INTENT,
            }))
            ready.append(m)
        if not ready:
            continue
        journal.append_lines(intents)  # (1) intents durable before any byte moves
        touched: set[str] = set()
        for m in ready:
            crash.hit("after_intent")
            m.outcome = _move_one(m, op, crash)
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
            rec = {"batch": batch, "seq": m.seq, "op": op, "rel": m.rel, "state": state, "time": now}
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


def _exists_outcome(m: _Move, op: str) -> Outcome:
    if op == RESTORE:
        return Outcome(m.rel, "skipped", m.size, "reappeared",
                       f"{m.rel}: a file has reappeared at the original path; left in quarantine, not overwriting")
    return Outcome(m.rel, "skipped", m.size, "exists",
                   f"{m.rel}: {m.jdst or QUARANTINE_DIR + '/' + m.rel} already exists; not overwriting")


def _precheck(m: _Move, op: str) -> int:
    """Skip (never fail the batch) files that vanished or changed; return the source's device.

    A taken destination is found by the no-replace move itself (one syscall fewer per file);
    restore checks up front so it can say "reappeared" before journaling anything.
    """
    try:
        st = os.lstat(m.src)
        if stat.S_ISLNK(st.st_mode):
            dev = st.st_dev
            st = os.stat(m.src)
        else:
            dev = st.st_dev
    except FileNotFoundError:
        if op == MOVE:
            m.outcome = Outcome(m.rel, "skipped", m.size, "vanished", f"{m.rel}: vanished since the scan")
        else:
            m.outcome = Outcome(m.rel, "skipped", m.size, "missing", f"{m.rel}: missing from {QUARANTINE_DIR}/")
        return 0
    if m.mtime_ns is not None and (st.st_size != m.size or st.st_mtime_ns != m.mtime_ns):
        m.outcome = Outcome(m.rel, "skipped", m.size, "changed",
                            f"{m.rel}: changed since the scan (size/mtime); rescan it")
        return 0
    m.size = st.st_size
    if op == RESTORE and os.path.lexists(m.dst):
        m.outcome = _exists_outcome(m, op)
    return dev


def _move_one(m: _Move, op: str, crash: _CrashHook) -> Outcome:
    if m.method == "rename":
        try:
            rename_noreplace(m.src, m.dst)
            return Outcome(m.rel, "moved", m.size)
        except FileExistsError:
            return _exists_outcome(m, op)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                return Outcome(m.rel, "skipped", m.size, "error", f"{m.rel}: {exc.strerror or exc}")
            m.method = "copy"  # e.g. a bind mount on the same device
    try:
        return _copy_move(m, op, crash)
    except OSError as exc:
        return Outcome(m.rel, "skipped", m.size, "error", f"{m.rel}: copy failed: {exc.strerror or exc}")


def _copy_move(m: _Move, op: str, crash: _CrashHook) -> Outcome:
    """Copy, fsync, verify every byte, rename into place without replacing, then unlink the source."""
    if os.path.islink(m.src):
        return Outcome(m.rel, "skipped", m.size, "error", f"{m.rel}: a symlink cannot be moved across file systems")
    tmp = _partial(m.dst)
    h_src = hashlib.blake2b(digest_size=32)
    sfd = os.open(m.src, os.O_RDONLY)
    try:
        st0 = os.fstat(sfd)
        block = max(1, (st0.st_size + 1) // 2) if crash.armed("mid_copy") else _COPY_BLOCK
        if os.path.lexists(m.dst):
            return _exists_outcome(m, op)
        dfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(st0.st_mode) | 0o200)
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
    finally:
        os.close(sfd)
    if (st1.st_size, st1.st_mtime_ns) != (st0.st_size, st0.st_mtime_ns):
        os.unlink(tmp)
        return Outcome(m.rel, "skipped", m.size, "changed", f"{m.rel}: changed while being copied; left in place")
    if _full_hash(tmp) != h_src.digest():
        os.unlink(tmp)
        return Outcome(m.rel, "skipped", m.size, "error", f"{m.rel}: copy did not verify; left in place")
    try:
        rename_noreplace(tmp, m.dst)
    except FileExistsError:
        os.unlink(tmp)
        return _exists_outcome(m, op)
    fsync_dir(os.path.dirname(m.dst))
    crash.hit("before_unlink_src")
    os.unlink(m.src)
    return Outcome(m.rel, "moved", m.size, note="copied across file systems")


def _full_hash(path: str) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb", buffering=0) as f:
        while buf := f.read(_COPY_BLOCK):
            h.update(buf)
    return h.digest()


# -- recovery -------------------------------------------------------------------------------


def recover(root: str | Path, store: ScanStore | None = None, journal: Journal | None = None) -> list[RecoveryAction]:
    """Finish or roll back interrupted moves by where the bytes are; re-sync the store.

    Cheap when nothing is pending (one read of the journal); writes nothing then, so it is
    safe on a read-only dataset that has no interrupted moves.
    """
    root_p = _root(root)
    own = journal is None
    j = journal or Journal(root_p)
    view = j.read()
    pending = view.pending()
    actions: list[RecoveryAction] = []
    if pending:
        res = _Resolver(root_p)
        checked = [(e, *_entry_paths(e, res)) for e in pending]  # refuse bad paths before acting
        _check_writable([os.path.dirname(p) for _, s, d in checked for p in (s, d)], root_p)
        if own:
            # Under the lock, re-read: intents of a live process are not ours to recover
            # (open() refuses while another run holds the lock).
            j.open()
            view = j.read()
            checked = [(e, *_entry_paths(e, res)) for e in view.pending()]
        try:
            finals = []
            for e, src, dst in checked:
                act = _recover_one(e, src, dst)
                actions.append(act)
                if act.action != "attention":
                    e.state = DONE if act.action == "finished" else ROLLED_BACK
                    finals.append({"batch": e.batch, "seq": e.seq, "op": e.op, "rel": e.rel,
                                   "state": e.state, "time": round(time.time(), 3),
                                   "note": "recovered: " + act.message})
            dirs = {os.path.dirname(p) for _, s, d in checked for p in (s, d)}
            for d in dirs:
                with contextlib.suppress(OSError):
                    fsync_dir(d)
            j.append(finals)
        finally:
            if own:
                j.close()
        view = j.read()
    _sync_store(root_p, view, store)
    return actions


def _entry_paths(e: Entry, res: _Resolver) -> tuple[str, str]:
    where = f"{res.qdir}/journal.jsonl line {e.line}"
    if e.op in (INGEST, UNINGEST):  # moves across ROOT's edge (core.ingest checks those paths)
        from core.ingest import entry_paths

        return entry_paths(e, res, where)
    rel = check_rel(e.rel, where)
    q = f"{QUARANTINE_DIR}/{rel}"
    expect = (rel, q) if e.op == MOVE else (q, rel)
    if (e.src, e.dst) != expect:
        raise NexaraError(f"{where}: src/dst {e.src!r} → {e.dst!r} do not match {rel!r}; refusing")
    ds, qs = res.src(rel, where), res.qpath(rel, where)
    return (ds, qs) if e.op == MOVE else (qs, ds)


def _matches(path: str, e: Entry) -> bool:
    try:
        return os.path.getsize(path) == e.size and fast_hash(path) == e.hash
    except OSError:
        return False


def _recover_one(e: Entry, src: str, dst: str) -> RecoveryAction:
    def act(action: str, message: str) -> RecoveryAction:
        return RecoveryAction(e.batch, e.seq, e.op, e.rel, action, message)

    tmp = _partial(dst)
    if os.path.lexists(tmp):
        if os.path.lexists(src) and _matches(src, e):
            os.unlink(tmp)  # the source is intact and verified: the partial copy is ours and redundant
        elif not os.path.lexists(src) and not os.path.lexists(dst) and _matches(tmp, e):
            rename_noreplace(tmp, dst)
            return act("finished", "complete copy renamed into place (source was already gone)")
        else:
            return act("attention", f"partial copy {tmp} left in place: the source is missing or differs")
    s, d = os.path.lexists(src), os.path.lexists(dst)
    if s and not d:
        return act("rolled_back", "the move had not happened; file left where it was")
    if d and not s:
        return act("finished", "the move had happened; recorded as done")
    if not s and not d:
        return act("rolled_back", "file is in neither place (removed by someone else?)")
    with contextlib.suppress(OSError):
        if os.path.samefile(src, dst) and not os.path.islink(src):
            os.unlink(src)  # link fallback interrupted: both names are the same inode
            return act("finished", "second link removed")
    src_ok, dst_ok = _matches(src, e), _matches(dst, e)
    if dst_ok and src_ok:
        os.unlink(src)  # a verified copy is in place
        return act("finished", "verified copy in place; source removed")
    if dst_ok:
        return act("finished", "moved; a different file now sits at the source path (left alone)")
    if src_ok:
        return act("rolled_back", "file left where it was; the destination holds a different file (left alone)")
    return act("attention", "both paths hold files that do not match the journal; nothing touched")


def _sync_store(root: Path, view: JournalView, store: ScanStore | None) -> None:
    """Make the store's `location` agree with the journal (a crash may have come between them)."""
    if store is None:
        if not ScanStore.exists_for(root):
            return
        with ScanStore.for_root(root) as s:
            _sync_store(root, view, s)
        return
    want: dict[str, str] = {}
    for e in sorted(view.entries.values(), key=lambda e: e.order):
        if e.state == DONE:
            if e.op == UNINGEST:
                want.pop(e.rel, None)  # gone from the dataset (core.ingest forgets its rows)
            else:
                want[e.rel] = QUARANTINE if e.op == MOVE else DATASET
    have = store.locations()
    for loc in (QUARANTINE, DATASET):
        fix = [rel for rel, w in want.items() if w == loc and rel in have and have[rel] != loc]
        if fix:
            store.set_location(fix, loc)


# -- public operations ---------------------------------------------------------------------


def execute_iter(
    root: str | Path,
    the_plan: Plan,
    store: ScanStore | None = None,
    force_copy: bool | None = None,
    chunk: int = CHUNK,
) -> Iterator[Outcome | BatchResult | RecoveryAction]:
    """Quarantine a plan: recovery actions first, then one Outcome per file, then the BatchResult."""
    root_p = _root(root)
    if force_copy is None:
        force_copy = os.environ.get("NEXARA_QUARANTINE_FORCE_COPY") == "1"
    t0 = time.perf_counter()
    res = _Resolver(root_p)
    moves = []
    for it in the_plan.items:
        rel = check_rel(it.rel, "plan")
        sdir, src = res.src_dir(rel, "plan")
        ddir, dst = res.q_dir(rel, "plan")
        moves.append(_Move(rel, src, dst, it.size, it.mtime_ns, it.verdict, it.reasons,
                           sdir=sdir, ddir=ddir))
    _check_writable([str(root_p), res.qdir, *{m.sdir for m in moves}, *{m.ddir for m in moves}],
                    root_p)
    yield from _execute(root_p, moves, MOVE, store, force_copy, chunk, t0)


def _execute(
    root: Path, moves: list[_Move], op: str, store: ScanStore | None,
    force_copy: bool, chunk: int, t0: float,
) -> Iterator[Outcome | BatchResult | RecoveryAction]:
    crash = _CrashHook()
    own_store = store is None and ScanStore.exists_for(root)
    st = ScanStore.for_root(root) if own_store else store
    j = Journal(root).open()
    try:
        yield from recover(root, store=st, journal=j)
        result = BatchResult(batch=new_batch_id(), op=op)
        to_loc = QUARANTINE if op == MOVE else DATASET
        pending_loc: list[str] = []
        for o in _run(result.batch, j, op, moves, force_copy, chunk, crash):
            (result.moved if o.status == "moved" else result.skipped).append(o)
            if o.status == "moved" and op in (MOVE, RESTORE):
                pending_loc.append(o.rel)
                if st is not None and len(pending_loc) >= 8192:
                    st.set_location(pending_loc, to_loc)
                    pending_loc = []
            yield o
        if st is not None and pending_loc:
            st.set_location(pending_loc, to_loc)
        result.seconds = time.perf_counter() - t0
        yield result
    finally:
        j.close()
        if own_store and st is not None:
            st.close()


def run_moves(
    root: Path, moves: list[_Move], op: str, store: ScanStore | None = None,
    force_copy: bool | None = None, chunk: int = CHUNK, t0: float | None = None,
) -> Iterator[Outcome | BatchResult | RecoveryAction]:
    """Journaled moves of another kind (`core.ingest`): recovery first, the same protocol."""
    if force_copy is None:
        force_copy = os.environ.get("NEXARA_QUARANTINE_FORCE_COPY") == "1"
    return _execute(root, moves, op, store, force_copy, chunk, t0 or time.perf_counter())


Move = _Move  # public name for callers of run_moves


def execute(
    root: str | Path,
    the_plan: Plan,
    progress_cb: Callable[[Outcome, int, int], None] | None = None,
    store: ScanStore | None = None,
    force_copy: bool | None = None,
    chunk: int = CHUNK,
) -> BatchResult:
    """Quarantine a plan; `progress_cb(outcome, done, total)` after each file is durable."""
    return _drain(execute_iter(root, the_plan, store, force_copy, chunk), len(the_plan.items), progress_cb)


def _drain(it: Iterator[Any], total: int, cb: Callable[[Outcome, int, int], None] | None) -> BatchResult:
    done = 0
    for x in it:
        if isinstance(x, Outcome):
            done += 1
            if cb:
                cb(x, done, total)
        elif isinstance(x, BatchResult):
            return x
    raise RuntimeError("batch ended without a result")


def quarantined(root: str | Path) -> dict[str, Entry]:
    """rel → journal entry for every file now in quarantine (per the journal)."""
    return Journal(_root(root)).read().in_quarantine()


def journal_view(root: str | Path) -> JournalView:
    return Journal(_root(root)).read()


def restore_iter(
    root: str | Path,
    batch: str | None = None,
    rel: str | None = None,
    all: bool = False,  # noqa: A002 - mirrors the CLI flag
    store: ScanStore | None = None,
    force_copy: bool | None = None,
    chunk: int = CHUNK,
) -> Iterator[Outcome | BatchResult | RecoveryAction]:
    """Move quarantined files back: one batch (`"last"` for the newest), one file, or all."""
    root_p = _root(root)
    if sum(x is not None and x is not False for x in (batch, rel, all or None)) != 1:
        raise NexaraError("restore: say which files: --batch ID, --file REL or --all")
    if force_copy is None:
        force_copy = os.environ.get("NEXARA_QUARANTINE_FORCE_COPY") == "1"
    t0 = time.perf_counter()
    res = _Resolver(root_p)
    journal_file = Journal(root_p).path
    view = Journal(root_p).read()
    where = str(journal_file)
    # Validate every path the journal names before touching anything.
    for e in view.entries.values():
        _entry_paths(e, res)
    inq = view.in_quarantine()
    # Ingest batches (core.ingest) are undone by moving their clips back out; "last" is the
    # newest batch of either kind that still has files to undo.
    from core.ingest import ingested, undo_iter

    ing = ingested(view)
    if batch == "last":
        if not inq and not ing:
            raise NexaraError(f"{root_p}: nothing is in quarantine")
        batch = max([*inq.values(), *ing.values()], key=lambda e: e.order).batch
    if batch is not None and any(e.batch == batch for e in ing.values()):
        yield from undo_iter(root_p, [e for e in ing.values() if e.batch == batch], store,
                             force_copy, chunk, t0)
        return
    if batch is not None:
        sel = [e for e in inq.values() if e.batch == batch]
        if not sel:
            known = {e.batch for e in view.entries.values()}
            why = "has no files left in quarantine" if batch in known else "is not in the journal"
            raise NexaraError(f"{where}: batch {batch!r} {why}")
    elif rel is not None:
        rel = check_rel(rel, "--file")
        if rel not in inq:
            raise NexaraError(f"{rel}: not in quarantine (per {where})")
        sel = [inq[rel]]
    else:
        sel = list(inq.values())
    sel.sort(key=lambda e: e.rel)
    moves = [_Move(e.rel, res.qpath(e.rel, where), res.src(e.rel, where), e.size, None,
                   e.verdict, e.reasons) for e in sel]
    _check_writable([str(root_p), res.qdir, *{m.sdir for m in moves}, *{m.ddir for m in moves}],
                    root_p)
    yield from _execute(root_p, moves, RESTORE, store, force_copy, chunk, t0)


def restore(
    root: str | Path,
    batch: str | None = None,
    rel: str | None = None,
    all: bool = False,  # noqa: A002
    progress_cb: Callable[[Outcome, int, int], None] | None = None,
    store: ScanStore | None = None,
    force_copy: bool | None = None,
) -> BatchResult:
    """Reverse moves; a file that has reappeared at its original path is never overwritten."""
    it = restore_iter(root, batch=batch, rel=rel, all=all, store=store, force_copy=force_copy)
    return _drain(it, 0, progress_cb)
