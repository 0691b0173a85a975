"""The quarantine journal: an append-only JSON-lines log of every file move.

`ROOT/corrupted_videos/journal.jsonl` holds one record per state change of one
file move: `intent` before the bytes move, then `done` (or `rolled_back`)
after. Records are written with `fsync` on the file (and on the directory when
the file is created), so after a crash the journal says, for every file that
was being moved, where its bytes may be; `core.quarantine.recover` then looks
and finishes or rolls back. The journal lives inside the dataset on purpose:
it travels with the data (a copied or re-mounted dataset still knows what it
quarantined), and it sits in the one folder scans skip.

A crash can tear the last line (the process died inside `write`). Reading
stops at the last complete line; the next writer truncates the torn tail
before appending, so a torn record never glues itself to the next one.
A complete line that is not a record (garbage, a hand edit) is skipped and its
line number kept (`JournalView.bad_lines`) so `quarantine --list` can say so.

A full disk must not block the undo: a restore frees space, but it has to write
its intent records first. So the writer keeps 1 MiB allocated for the journal
whenever it is opened or closed and space allows: past the journal's end
(`fallocate(FALLOC_FL_KEEP_SIZE)`: the size does not change, the next appends
land in blocks the journal already owns, and no copy can take them), or, where
the file system cannot do that (ext2, FAT, many FUSE file systems), as a file
beside it (`.nexara-reserve`). When an append fails with "no space", the torn
part is cut off, a reserve file is released and the append tried once more;
from then on `short_of_space` is set, and the mover copies nothing more into
that file system (the space is for records, not for clips). If the append fails
again, the error names the journal and the bytes it needed; since intents are
written before any byte moves, nothing has moved for them.

Content hash (`hash`): `b2f:<hex>`, a BLAKE2b-128 over the size, the first and
last 256 KiB and eight 16 KiB samples spread across the middle (the whole file
when it is smaller than 640 KiB). Why not sha256 of the whole file: the hash is
an identity check (is the file at this path the one the journal moved?) used by
recovery and restore, and reading every byte of 22,000 clips (tens of GB) for
an identity check would make a rename-only quarantine take minutes. Copies
across file systems are verified separately over every byte (see
`core.quarantine.moves`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import QUARANTINE_DIR
from core.errors import NexaraError
from core.fsops import fsync_dir, sampled_digest
from core.userpaths import shown

JOURNAL_NAME = "journal.jsonl"
RESERVE_NAME = ".nexara-reserve"
RESERVE_BYTES = 1 << 20
_FALLOC_FL_KEEP_SIZE = 1
_CANNOT_PREALLOCATE = (errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
INTENT, DONE, ROLLED_BACK = "intent", "done", "rolled_back"
MOVE, RESTORE = "move", "restore"
# Repair (core.repair): PUT places a verified repaired copy at a dataset path (its original went
# into the quarantine by a MOVE of the same batch) from ROOT/.nexara-repair/<batch>/<rel>, a
# staging folder on the dataset's file system (so the put is a rename, never a partial copy in
# the dataset); ASIDE takes it out again before a restore, to corrupted_videos/.repair/<batch>/<rel>.
PUT, ASIDE = "put", "aside"
REPAIR_STAGING = ".nexara-repair"
REPAIR_DIR = ".repair"
STATES = (INTENT, DONE, ROLLED_BACK)
# Ingest (issue 15, core.ingest): a clip moved in from outside ROOT (src: its absolute path
# in the INCOMING folder the batch names, dst: its ROOT-relative path), and the undo that moves it
# back out (src: ROOT-relative, dst: that absolute path). See core.ingest.entry_paths.
INGEST, UNINGEST = "ingest", "uningest"
OPS = (MOVE, RESTORE, PUT, ASIDE, INGEST, UNINGEST)

_HEAD = 256 * 1024
_SAMPLE = 16 * 1024
_SAMPLES = 8
_WHOLE_BELOW = 2 * _HEAD + _SAMPLES * _SAMPLE


def fast_hash(path: str | os.PathLike[str]) -> str:
    """Identity hash of a file: size + head + tail + middle samples (see module doc)."""
    return "b2f:" + sampled_digest(path, _HEAD, _SAMPLE, _SAMPLES, _WHOLE_BELOW)


def new_batch_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass
class Entry:
    """One file move as the journal knows it: its intent record and its final state."""

    batch: str
    seq: int
    op: str
    rel: str
    src: str
    dst: str
    size: int
    hash: str
    verdict: str
    reasons: list[str]
    time: float
    method: str
    state: str = INTENT
    note: str = ""
    line: int = 0  # 1-based line of the intent record (for error messages)
    order: int = 0  # position of the last state change in the journal
    # ingest / uningest (core.ingest): the INCOMING folder the batch named (absolute), and for a
    # clip's `.info.json` sidecar the ROOT-relative path of the clip it travels with.
    incoming: str = ""
    of: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.batch, self.seq)


@dataclass
class JournalView:
    """The folded journal: every move with its latest state, in journal order."""

    entries: dict[tuple[str, int], Entry] = field(default_factory=dict)
    torn_bytes: int = 0  # length of a torn last line (0 when the journal ends cleanly)
    bad_lines: list[int] = field(default_factory=list)  # unparseable complete lines (skipped)

    def pending(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.state == INTENT]

    def ingested(self) -> dict[str, Entry]:
        """rel → the `ingest` entry for files (clips and their sidecars) whose last completed
        operation is an ingest: what `restore --batch` can still move back out."""
        last: dict[str, Entry] = {}
        for e in sorted(self.entries.values(), key=lambda e: e.order):
            if e.state == DONE:
                last[e.rel] = e
        return {rel: e for rel, e in last.items() if e.op == INGEST}

    def undoable(self) -> dict[str, Entry]:
        """What `restore --batch` can undo: the quarantined files and the ingested ones."""
        return {**self.ingested(), **self.in_quarantine()}

    def in_quarantine(self) -> dict[str, Entry]:
        """rel → the `move` entry for files whose last completed operation is a move."""
        last: dict[str, Entry] = {}
        for e in sorted(self.entries.values(), key=lambda e: e.order):
            if e.state == DONE and e.op in (MOVE, RESTORE):  # PUT/ASIDE move repaired copies
                last[e.rel] = e
        return {rel: e for rel, e in last.items() if e.op == MOVE}

    def batches(self) -> list[dict[str, Any]]:
        """One summary per batch, oldest first."""
        out: dict[str, dict[str, Any]] = {}
        for e in sorted(self.entries.values(), key=lambda e: (e.time, e.seq)):
            b = out.setdefault(e.batch, {"batch": e.batch, "op": e.op, "time": e.time,
                                         "count": 0, "bytes": 0, "states": {}, "files": []})
            if e.op == PUT:
                b["op"] = "repair"
            b["states"][e.state] = b["states"].get(e.state, 0) + 1
            # a repair batch counts its originals once; an ingest its clips (not their sidecars)
            if e.state == DONE and e.op != PUT and not e.of:
                b["count"] += 1
                b["bytes"] += e.size
            b["files"].append({"rel": e.rel, "op": e.op, "state": e.state, "size": e.size,
                               "verdict": e.verdict, "reasons": e.reasons, "note": e.note})
        return list(out.values())


def _str(d: dict[str, Any], k: str) -> str:
    v = d.get(k)
    if not isinstance(v, str):
        raise ValueError(f"field {k!r} missing or not a string")
    return v


def parse_records(data: bytes) -> JournalView:
    """Fold raw journal bytes into a view; a torn last line is measured and ignored."""
    view = JournalView()
    end = data.rfind(b"\n") + 1
    view.torn_bytes = len(data) - end
    for n, raw in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            if not isinstance(d, dict):
                raise ValueError("not an object")
            batch, seq, state, op = _str(d, "batch"), int(d["seq"]), _str(d, "state"), _str(d, "op")
            if state not in STATES or op not in OPS:
                raise ValueError(f"unknown state/op {state!r}/{op!r}")
        except (ValueError, KeyError, TypeError):
            view.bad_lines.append(n)
            continue
        key = (batch, seq)
        if state == INTENT:
            try:
                view.entries[key] = Entry(
                    batch=batch, seq=seq, op=op, rel=_str(d, "rel"), src=_str(d, "src"),
                    dst=_str(d, "dst"), size=int(d.get("size", 0)), hash=str(d.get("hash", "")),
                    verdict=str(d.get("verdict", "")), reasons=list(d.get("reasons") or []),
                    time=float(d.get("time", 0.0)), method=str(d.get("method", "rename")),
                    line=n, order=n, incoming=str(d.get("incoming") or ""), of=str(d.get("of") or ""),
                )
            except (ValueError, TypeError):
                view.bad_lines.append(n)
        elif key in view.entries:
            e = view.entries[key]
            e.state, e.note, e.order = state, str(d.get("note", "")), n
        else:
            view.bad_lines.append(n)  # a final state for a move that never had an intent
    return view


class Journal:
    """The journal of one dataset. `open()` takes an exclusive lock for writing."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / QUARANTINE_DIR
        self.path = self.dir / JOURNAL_NAME
        self.reserve = self.dir / RESERVE_NAME
        self.short_of_space = False  # the reserve had to be used: copy nothing more in
        self._fd: int | None = None

    def exists(self) -> bool:
        return self.path.exists()

    # -- reading ------------------------------------------------------------
    def read(self) -> JournalView:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return JournalView()
        except OSError as exc:
            raise NexaraError(f"{self.path}: cannot read journal: {exc.strerror or exc}") from exc
        return parse_records(data)

    # -- writing ------------------------------------------------------------
    def open(self) -> Journal:
        """Create the quarantine folder and journal if needed, lock, and repair a torn tail."""
        if self._fd is not None:
            return self
        created_dir = not self.dir.exists()
        self.dir.mkdir(exist_ok=True)
        if created_dir:
            fsync_dir(self.root)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise NexaraError(f"{self.path}: another nexara quarantine/restore is running on this dataset") from exc
        if created:
            os.fsync(fd)
            fsync_dir(self.dir)
        self._fd = fd
        self._repair()
        self._keep_reserve()
        return self

    def _keep_reserve(self) -> None:
        """Keep RESERVE_BYTES allocated for the journal (best effort: a full disk has none)."""
        assert self._fd is not None
        try:
            _preallocate(self._fd, os.fstat(self._fd).st_size, RESERVE_BYTES)
            return
        except OSError as exc:
            if exc.errno not in _CANNOT_PREALLOCATE:
                return  # no space for it now
        with contextlib.suppress(OSError):
            if self.reserve.stat().st_size >= RESERVE_BYTES:
                return
        try:
            fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)  # (glibc writes zeros where the fs cannot allocate)
            ok = True
        except OSError:
            ok = False
        finally:
            os.close(fd)
        if not ok:
            with contextlib.suppress(OSError):
                self.reserve.unlink()  # half a reserve is no reserve: give the space back

    def _repair(self) -> None:
        """Truncate a torn last line (crash mid-write) so new records start on a fresh line."""
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        tail_start = max(0, size - 65536)
        while True:
            tail = os.pread(self._fd, size - tail_start, tail_start)
            nl = tail.rfind(b"\n")
            if nl >= 0 or tail_start == 0:
                break
            tail_start = max(0, tail_start - 65536)
        good = tail_start + nl + 1 if nl >= 0 else 0
        if good != size:
            os.ftruncate(self._fd, good)
            os.fsync(self._fd)

    def _release_reserve(self) -> bool:
        """Out of space: copy nothing more in; give a reserve file's space to the journal."""
        self.short_of_space = True
        try:
            had = self.reserve.stat().st_size > 0
            self.reserve.unlink()
        except OSError:
            return False
        return had

    def append(self, records: Iterable[dict[str, Any]], sync: bool = True) -> None:
        """Append records in one write; with sync, they are durable when this returns."""
        data = "".join(json.dumps(r, ensure_ascii=True, separators=(",", ":")) + "\n"
                       for r in records).encode("ascii")
        self._append(data, sync)

    def append_lines(self, lines: list[str], sync: bool = True) -> None:
        """Append already-encoded JSON records (one per item) in one write."""
        self._append(("\n".join(lines) + "\n").encode("ascii") if lines else b"", sync)

    def _append(self, data: bytes, sync: bool) -> None:
        """Write all of `data` at the end, or nothing of it (see the module doc on full disks)."""
        if self._fd is None:
            raise RuntimeError("journal not open")
        if not data:
            return
        for attempt in (1, 2):
            start = os.fstat(self._fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
                if sync:
                    os.fsync(self._fd)
                return
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)  # never leave half a record behind
                if exc.errno in _NO_SPACE and attempt == 1 and self._release_reserve():
                    continue
                if exc.errno in _NO_SPACE:
                    free = _free_bytes(self.dir)
                    raise NexaraError(
                        f"{shown(str(self.path))}: no space left to record the moves: needs {len(data):,} "
                        f"bytes free on its file system, {free:,} free; free some space there and run "
                        "again (nothing more was moved)") from exc
                raise NexaraError(f"{shown(str(self.path))}: cannot write the journal: "
                                  f"{exc.strerror or exc}") from exc

    def write_raw(self, data: bytes) -> None:
        """Append raw bytes (tests and crash injection: a torn record)."""
        assert self._fd is not None
        os.write(self._fd, data)

    def close(self) -> None:
        if self._fd is not None:
            self._keep_reserve()  # a restore that freed space earns the reserve back
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _free_bytes(path: str | os.PathLike[str]) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _load_fallocate() -> Any:
    try:
        fn = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn


_fallocate = _load_fallocate()


def _preallocate(fd: int, offset: int, length: int) -> None:
    """Allocate [offset, offset+length) of fd without changing its size; OSError if refused."""
    if _fallocate is None:
        raise OSError(errno.ENOSYS, "fallocate is not available")
    if _fallocate(fd, _FALLOC_FL_KEEP_SIZE, offset, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
