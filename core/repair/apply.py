"""Putting verified repairs in place through the quarantine journal, and taking them back out.

A repair of ROOT/<rel> is two journaled moves in one batch, in this order:

1. `move`: the original, ROOT/<rel> → ROOT/corrupted_videos/<rel> (exactly a
   quarantine move: same protocol, same recovery);
2. `put`: the verified candidate, ROOT/.nexara-repair/<batch>/<rel> → ROOT/<rel>:
   a rename without replacing, never a copy (the staging folder is a dot folder
   of ROOT, which scans skip, on the dataset's own file system; a clip in a
   folder mounted from elsewhere is not repaired rather than copied in).

Each move's intent is durable before its file moves (`core.quarantine.
journaled.journaled_moves`), so after a `kill -9` at any instant each original is in
exactly one known place (its path or the quarantine) and the dataset path
holds the original, the complete verified candidate, or nothing — never half
a clip: candidates are only ever written in the staging folder. Recovery
(`core.quarantine.recovery`, first thing of every command that touches the
journal) finishes or rolls back each move by where the bytes are, and finishes
a `put` cut off after its original reached the quarantine; a put that an older
recovery rolled back in that state is put in place by the next `nexara repair`
(`resume_interrupted`).

Undo is `nexara restore`: before an original comes back, its repaired copy is
moved aside (`aside`, journaled, in a batch of its own) to
ROOT/corrupted_videos/.repair/<batch>/<rel> (`core.quarantine.repaired`), so the
restore never overwrites and nothing is deleted. A file at the original path
that is not our repaired copy (the user put something new there) is left alone
and the restore reports it, as for any quarantine.

The scan store follows: the repaired clip's row is its verified result with a
`repair` record (strategy, seconds, the original's result under "from"), so
`results`, `decide` and the TUI see it without a rescan; an aside puts the
original's row back.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.dataset import QUARANTINE_DIR
from core.errors import NexaraError
from core.journal import (
    DONE,
    MOVE,
    PUT,
    REPAIR_STAGING,
    ROLLED_BACK,
    Entry,
    Journal,
)
from core.quarantine.repaired import (
    matches,
    put_extras,
    repaired_in_place,
    stat_of,
    store_repaired,
)
from core.records import FileResult
from core.repair.engine import Attempt
from core.store import QUARANTINE, ScanStore
from core.userpaths import shown


def staged_rel(batch: str, rel: str) -> str:
    """Where a candidate waits for its put: ROOT/.nexara-repair/<batch>/<rel> (a dot folder, which
    scans skip, on the dataset's own file system, so the put is one rename)."""
    return f"{REPAIR_STAGING}/{batch}/{rel}"


def staging_dir(root: Path, batch: str) -> Path:
    return Path(root) / REPAIR_STAGING / batch


@dataclass
class Applied:
    rel: str
    status: str  # "repaired" | "skipped"
    reason: str = ""  # skipped: changed | vanished | exists | error | not_put
    message: str = ""
    batch: str = ""
    attempt: Attempt | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rel": self.rel, "status": self.status, "reason": self.reason, "message": self.message,
             "batch": self.batch}
        if self.attempt is not None:
            d.update(strategy=self.attempt.strategy, seconds_recovered=self.attempt.seconds_recovered,
                     seconds_present=self.attempt.seconds_present,
                     verdict_before=self.attempt.before["verdict"],
                     verdict_after=(self.attempt.after or {}).get("verdict"))
        return d


def check_writable(root: Path) -> None:
    """One line before anything is written if the dataset cannot take a repair."""
    for d in (root, root / QUARANTINE_DIR):
        if not d.is_dir():
            continue
        ro = False
        with contextlib.suppress(OSError):
            ro = bool(os.statvfs(d).f_flag & os.ST_RDONLY)
        if ro or not os.access(d, os.W_OK | os.X_OK):
            raise NexaraError(f"{shown(str(d))}: not writable ({'read-only file system' if ro else 'permission denied'}); "
                              "nothing was repaired")


# -- putting repairs in place -----------------------------------------------------------------------


def _repair_record(a: Attempt, batch: str, original: FileResult | None) -> dict[str, Any]:
    rec = {"batch": batch, "strategy": a.strategy, "detail": a.detail, "reference": a.reference,
           "seconds_recovered": a.seconds_recovered, "seconds_present": a.seconds_present,
           "from_verdict": a.before["verdict"], "from_reasons": a.before["reasons"],
           "time": round(time.time(), 3)}
    if original is not None:
        rec["from"] = original.to_dict()
    return rec


def apply(root: Path, journal: Journal, batch: str, attempts: list[Attempt],
          store: ScanStore | None) -> list[Applied]:
    """Journal and make the moves of every kept candidate (staged at staged_rel(batch, rel))."""
    from core.quarantine import MoveSpec, journaled_moves

    root = Path(root)
    out: list[Applied] = []
    specs: list[MoveSpec] = []
    records: dict[str, dict[str, Any]] = {}
    ready: list[Attempt] = []
    for a in attempts:
        staged = root / staged_rel(batch, a.rel)
        st = os.stat(staged)
        if _device(staged.parent) != _device((root / a.rel).parent):
            out.append(Applied(a.rel, "skipped", "other_fs",
                               f"{shown(a.rel)}: its folder is on another file system than {REPAIR_STAGING}/; "
                               "a repaired copy is only ever renamed into place, never copied", batch, a))
            continue
        got = store.get(a.rel) if store is not None else None
        rec = _repair_record(a, batch, got[0] if got else None)
        records[a.rel] = rec
        small = {k: v for k, v in rec.items() if k not in ("from", "detail")}
        specs.append(MoveSpec(MOVE, a.rel, a.rel, f"{QUARANTINE_DIR}/{a.rel}", a.size, a.mtime_ns,
                              a.before["verdict"], list(a.before["reasons"])))
        after = a.after or {}
        specs.append(MoveSpec(PUT, a.rel, staged_rel(batch, a.rel), a.rel, st.st_size, st.st_mtime_ns,
                              str(after.get("verdict", "")), list(after.get("reasons") or []),
                              extra={"repair": small}, rename_only=True))
        ready.append(a)
    seq0 = max((e.seq for e in journal.read().entries.values() if e.batch == batch), default=0)
    # Per file: the original out (a quarantine move, copied across file systems if it must be),
    # then its repaired copy in (a rename on the dataset's file system, never a copy into it).
    # A put whose original did not move finds its path taken and is refused: never overwritten.
    results = journaled_moves(root, journal, batch, specs, seq0=seq0)
    to_quarantine: list[str] = []
    rows: list[FileResult] = []
    for i, a in enumerate(ready):
        (_, moved), (_, put) = results[2 * i], results[2 * i + 1]
        if moved.status != "moved":
            out.append(Applied(a.rel, "skipped", moved.reason, moved.message, batch, a))
            continue
        if put.status != "moved":
            to_quarantine.append(a.rel)
            msg = (f"{shown(a.rel)}: the original is in {QUARANTINE_DIR}/ but the repaired copy could not be put "
                   f"in place ({put.reason}); `nexara restore` brings the original back")
            out.append(Applied(a.rel, "skipped", "not_put", msg, batch, a))
            continue
        r = a.result()
        assert r is not None
        st = os.stat(root / a.rel)
        r.size, r.mtime_ns, r.repair = st.st_size, st.st_mtime_ns, records[a.rel]
        rows.append(r)
        out.append(Applied(a.rel, "repaired", batch=batch, attempt=a))
    if store is not None:
        if to_quarantine:
            store.set_location(to_quarantine, QUARANTINE)
        if rows:
            store.put_many(rows)  # the verified result, in the dataset
    return out


def resume_interrupted(root: Path, journal: Journal, store: ScanStore | None) -> list[Applied]:
    """Finish repairs a crash cut between the original's move and the copy's put.

    Recovery rolls such a `put` back (its copy was still in staging); when the
    original did reach the quarantine, the dataset path is free and the staged
    copy is the one the journal recorded, the put is journaled again, in the
    same batch, so `restore --batch` still undoes it.
    """
    from core.quarantine import MoveSpec, journaled_moves

    view = journal.read()
    inq = view.in_quarantine()
    by_batch: dict[str, list[Entry]] = {}
    done_puts = {(e.batch, e.rel) for e in view.entries.values() if e.op == PUT and e.state == DONE}
    for e in view.entries.values():
        if e.op != PUT or e.state != ROLLED_BACK or not e.note.startswith("recovered:"):
            continue
        if (e.batch, e.rel) in done_puts:
            continue
        mv = inq.get(e.rel)
        if mv is None or mv.batch != e.batch:
            continue
        if os.path.lexists(root / e.rel) or not matches(root / e.src, e):
            continue
        by_batch.setdefault(e.batch, []).append(e)
    extras = put_extras(journal) if by_batch else {}
    out: list[Applied] = []
    for batch, entries in sorted(by_batch.items()):
        entries.sort(key=lambda e: e.rel)
        specs = [MoveSpec(PUT, e.rel, e.src, e.rel, e.size, None, e.verdict, e.reasons,
                          extra={"repair": extras.get((e.batch, e.seq), {})}, rename_only=True)
                 for e in entries]
        seq0 = max(x.seq for x in view.entries.values() if x.batch == batch)
        done = journaled_moves(root, journal, batch, specs, seq0=seq0)
        for (_sp, o), e in zip(done, entries, strict=True):
            if o.status != "moved":
                continue
            out.append(Applied(e.rel, "repaired", batch=batch,
                               message=f"{shown(e.rel)}: an interrupted repair was finished"))
            if store is not None:
                store_repaired(root, store, e.rel, extras.get((e.batch, e.seq), {}), batch)
    return out


def sync_markers(root: Path, journal: Journal, store: ScanStore) -> int:
    """Re-mark repaired copies whose store row lost its `repair` record (a rescan after an engine
    upgrade rewrote it, or a crash came between a put's done record and its row); returns how
    many were re-marked."""
    view = journal.read()
    placed = repaired_in_place(view)
    if not placed:
        return 0
    extras: dict[tuple[str, int], dict[str, Any]] | None = None
    fixed = 0
    for rel, e in placed.items():
        got = store.get(rel)
        if got is None or got[1] != "dataset":
            continue
        r = got[0]
        if r.repair is not None and r.repair.get("batch") == e.batch:
            continue
        if not matches(root / rel, e):
            continue  # not the copy the put placed (the user replaced it): a scan's business
        if extras is None:
            extras = put_extras(journal)
        extra = extras.get((e.batch, e.seq), {})
        if (r.size, r.mtime_ns) != stat_of(root / rel):
            # still the original's row (a crash after the put's done record, before its row):
            # check the copy afresh
            store_repaired(root, store, rel, extra, e.batch)
        else:
            r.repair = {"batch": e.batch, **extra}
            store.put_many([r])
        fixed += 1
    return fixed


def _device(path: Path) -> int:
    while not path.exists() and path != path.parent:
        path = path.parent
    return os.stat(path).st_dev


