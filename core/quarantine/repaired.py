"""Repaired copies the journal placed in the dataset: where they are, undoing them, their store rows.

`nexara repair` (`core.repair`) puts a verified repaired copy at an original's
path with a journaled `put`, in the batch whose `move` took the original into
the quarantine. This module holds what the quarantine itself must know of such
copies, so that restore and recovery handle them without depending on the
repair engine:

- which dataset paths hold a repaired copy now (`repaired_in_place`);
- before a restore, moving that copy aside (`aside`, journaled) to
  `corrupted_videos/.repair/<batch>/<rel>`, so the original never lands on it
  and nothing is deleted (`set_aside_for_restore`, called under restore's lock);
- staging leftovers (`clean_staging`): candidates of a run killed before it
  journaled them, removed by the next command that holds the journal's lock;
- after a crash, the store rows of the puts and asides of the interrupted batch
  (`store_after_recovery`, recovery's last step): a put's row is the copy checked
  afresh at full and marked repaired, an aside's is the original's row again.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.dataset import QUARANTINE_DIR
from core.journal import (
    ASIDE,
    DONE,
    INTENT,
    PUT,
    REPAIR_DIR,
    REPAIR_STAGING,
    ROLLED_BACK,
    Entry,
    Journal,
    JournalView,
    fast_hash,
    new_batch_id,
)
from core.quarantine.journaled import MoveSpec, journaled_moves
from core.records import FileResult, Verdict
from core.store import QUARANTINE, ScanStore
from core.userpaths import shown


def aside_rel(batch: str, rel: str) -> str:
    """Where a repaired copy goes when its original is restored: inside the quarantine."""
    return f"{QUARANTINE_DIR}/{REPAIR_DIR}/{batch}/{rel}"


def repaired_in_place(view: JournalView) -> dict[str, Entry]:
    """rel → the `put` entry, for every path that holds a repaired copy now (per the journal)."""
    last: dict[str, Entry] = {}
    for e in sorted(view.entries.values(), key=lambda e: e.order):
        if e.state == DONE and e.op in (PUT, ASIDE):
            last[e.rel] = e
    return {rel: e for rel, e in last.items() if e.op == PUT}


def put_extras(journal: Journal) -> dict[tuple[str, int], dict[str, Any]]:
    """The `repair` record each `put` intent carries (the journal's own view drops extra keys)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    try:
        data = journal.path.read_bytes()
    except OSError:
        return out
    for raw in data.split(b"\n"):
        if b'"op":"put"' not in raw or b'"repair"' not in raw:
            continue
        with contextlib.suppress(ValueError, KeyError, TypeError):
            d = json.loads(raw)
            if d.get("state") == "intent" and isinstance(d.get("repair"), dict):
                out[(str(d["batch"]), int(d["seq"]))] = d["repair"]
    return out


def matches(path: Path, e: Entry) -> bool:
    try:
        return os.path.getsize(path) == e.size and fast_hash(path) == e.hash
    except OSError:
        return False


def stat_of(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except OSError:
        return (-1, -1)


def set_aside_for_restore(root: Path, journal: Journal, rels: list[str],
                          store: ScanStore | None = None) -> dict[str, str]:
    """Move the repaired copy out of each path whose original is about to be restored.

    Called by `core.quarantine.restore_iter` under the journal's lock, after its
    recovery and its selection, so what is set aside is exactly what is restored
    next. Only a file that is our repaired copy (size and hash as the `put`
    recorded) and whose original is still in the quarantine is moved, journaled
    (`aside`, a batch of its own), to corrupted_videos/.repair/<batch>/<rel>;
    anything else at the path stays and the restore reports it as reappeared.
    Returns rel → a note for the restore's report.
    """
    root = Path(root)
    placed = repaired_in_place(journal.read())
    wanted = sorted(set(rels) & placed.keys())
    if not wanted:
        return {}
    specs = []
    for rel in wanted:
        e = placed[rel]
        if not os.path.lexists(root / QUARANTINE_DIR / rel) or not matches(root / rel, e):
            continue
        specs.append(MoveSpec(ASIDE, rel, rel, aside_rel(e.batch, rel), e.size, None, e.verdict,
                              e.reasons))
    if not specs:
        return {}
    notes: dict[str, str] = {}
    rows: list[FileResult] = []
    for sp, o in journaled_moves(root, journal, new_batch_id(), specs):
        if o.status != "moved":
            continue
        notes[sp.rel] = f"repaired copy moved aside to {shown(sp.dst)}"
        if store is not None:
            rows.append(original_row(root, store, sp.rel))
    if store is not None and rows:
        store.put_many(rows)
        store.set_location([r.path for r in rows], QUARANTINE)
    return notes


def store_after_recovery(root: Path, store: ScanStore, entries: list[Entry]) -> None:
    """Store rows for the repair moves of a batch a crash interrupted (recovery's last step).

    A finished `put`: the dataset path holds the verified repaired copy, its row is
    checked afresh at full and marked repaired (the original's row goes under
    "from"). A finished `aside`: the original's row comes back (in quarantine).
    """
    root = Path(root)
    puts = [e for e in entries if e.op == PUT and matches(root / e.rel, e)]
    extras = put_extras(Journal(root)) if puts else {}
    for e in puts:
        got = store.get(e.rel)
        if got is not None and got[0].repair is not None and got[0].repair.get("batch") == e.batch:
            continue  # already the repaired copy's row
        store_repaired(root, store, e.rel, extras.get((e.batch, e.seq), {}), e.batch)
    asides = [e for e in entries if e.op == ASIDE]
    rows = []
    for e in asides:
        got = store.get(e.rel)
        if got is not None and got[0].repair is not None:
            rows.append(original_row(root, store, e.rel))
    if rows:
        store.put_many(rows)
        store.set_location([r.path for r in rows], QUARANTINE)


def store_repaired(root: Path, store: ScanStore, rel: str, extra: dict[str, Any], batch: str) -> None:
    """The row of a repaired copy that is in place, from a fresh full check (resume, self-heal)."""
    from core.dataset import VideoFile
    from core.integrity import check_file

    got = store.get(rel)
    original = got[0] if got else None
    st = os.stat(root / rel)
    split, cls = (original.split, original.cls) if original else ("", "")
    r = check_file(root, VideoFile(rel, split, cls, st.st_size, st.st_mtime_ns), "full")
    rec = {"batch": batch, **{k: v for k, v in extra.items() if k != "batch"}}
    if original is not None and original.repair is None:
        rec["from"] = original.to_dict()  # the row was still the original's (now in quarantine)
    r.repair = rec
    store.put_many([r])


def original_row(root: Path, store: ScanStore, rel: str) -> FileResult:
    """The original's result, from the repair record (or, failing that, a minimal row a scan redoes)."""
    got = store.get(rel)
    rec = got[0].repair if got else None
    if rec and isinstance(rec.get("from"), dict):
        return FileResult.from_dict(rec["from"])
    size, mtime = stat_of(root / QUARANTINE_DIR / rel)
    split, cls = (got[0].split, got[0].cls) if got else ("", "")
    verdict = Verdict((rec or {}).get("from_verdict", "corrupt"))
    # level "quick": any standard or full scan checks this file again instead of trusting the row
    return FileResult(rel, split, cls, verdict, list((rec or {}).get("from_reasons", [])),
                      size=size, mtime_ns=mtime, level="quick")


def clean_staging(root: Path, view: JournalView, keep: Iterable[str] = ()) -> int:
    """Remove generated files in ROOT/.nexara-repair/ that no journal entry refers to.

    Called under the journal's lock (a repair run, a quarantine or restore), so no
    live repair is writing candidates there meanwhile.

    They are candidates of a run that died before journaling them, half-written by a
    run killed mid-write, or staged for a put that was rolled back with its original:
    ours, never the user's. Copies a journal entry may still need (a pending put, a
    put whose original is in the quarantine) and copies moved aside by a restore are
    kept. Returns files removed.
    """
    base = Path(root) / REPAIR_STAGING
    if base.is_symlink() or not base.is_dir():
        return 0  # a symlink is not a folder we made: nothing in it is ours to remove
    inq = view.in_quarantine()
    known = {e.dst for e in view.entries.values() if e.op == ASIDE}  # copies moved aside: kept
    for e in view.entries.values():
        if e.op != PUT:
            continue
        mv = inq.get(e.rel)
        # a pending put, or one rolled back while its original is in the quarantine (resumable)
        if e.state == INTENT or (e.state == ROLLED_BACK and mv is not None and mv.batch == e.batch):
            known.add(e.src)
    keep = set(keep)
    removed = 0
    for dirpath, _dirnames, filenames in os.walk(base, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            batch = rel[len(REPAIR_STAGING) + 1:].split("/", 1)[0]
            if rel in known or batch in keep:
                continue
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(path).st_mode):
                    os.unlink(path)
                    removed += 1
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)  # only when empty (the staging folder itself too: no litter in ROOT)
    return removed
