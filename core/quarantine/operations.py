"""The public operations: quarantine a plan, restore, read the journal, find orphans.

Each operation that moves files takes the journal's lock, recovers whatever a
crash interrupted, and only then decides what to move — from the recovered
journal — so it never plans from a state the crash left half-written. Its
iterator yields, in order: the recovery actions, one `Started` (the final
selection's size), one `Outcome` per file, and the `BatchResult`.

A restore of an original that repair replaced (`core.repair`) first moves the
repaired copy aside, journaled, under the same lock and after the same
recovery, so the original never lands on anything.

`restore --batch` also undoes an ingest (`core.ingest`): the batch's clips and
their sidecars go back to where they came from in INCOMING (op `uningest`),
only while their bytes are the ones moved in, never over a file that has
appeared there since; their store rows are dropped. `--batch last` is the one
rule for both: the newest batch that still has something to undo — files in
the quarantine, or ingested files still in the dataset — newest by its latest
completed move in the journal. `--all` and `--file` are about the quarantine
only: they never undo an ingest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.journal import MOVE, RESTORE, UNINGEST, Entry, Journal, JournalView, new_batch_id
from core.quarantine.crash import CrashHook
from core.quarantine.moves import CHUNK, Move, run_moves
from core.quarantine.orphan_scan import find_orphans
from core.quarantine.paths import Resolver, check_rel, check_writable, incoming_path, resolve_root
from core.quarantine.records import BatchResult, Orphan, Outcome, Plan, RecoveryAction, Started
from core.quarantine.recovery import check_entries, forget_rows, recover
from core.quarantine.repaired import clean_staging, set_aside_for_restore
from core.store import DATASET, QUARANTINE, ScanStore
from core.userpaths import shown

Item = RecoveryAction | Started | Outcome | BatchResult
# Called under the lock after the selection, before any move: (journal, store, moves) → rel → note.
Prepare = Callable[[Journal, ScanStore | None, list[Move]], dict[str, str]]


def _force_copy(force_copy: bool | None) -> bool:
    return os.environ.get("NEXARA_QUARANTINE_FORCE_COPY") == "1" if force_copy is None else force_copy


def execute_iter(
    root: str | Path,
    the_plan: Plan,
    store: ScanStore | None = None,
    force_copy: bool | None = None,
    chunk: int = CHUNK,
) -> Iterator[Item]:
    """Quarantine a plan: recovery actions first, then `Started`, one Outcome per file, the BatchResult."""
    root_p = resolve_root(root)
    t0 = time.perf_counter()
    res = Resolver(root_p)
    moves = []
    for it in the_plan.items:
        rel = check_rel(it.rel, "plan")
        sdir, src = res.src_dir(rel, "plan")
        ddir, dst = res.q_dir(rel, "plan")
        moves.append(Move(rel, src, dst, it.size, it.mtime_ns, it.verdict, it.reasons,
                          sdir=sdir, ddir=ddir))
    check_writable([str(root_p), res.qdir, *{m.sdir for m in moves}, *{m.ddir for m in moves}])
    yield from _execute(root_p, MOVE, lambda _view: moves, store, _force_copy(force_copy), chunk, t0)


def _execute(
    root: Path, op: str, select: Callable[[JournalView], Sequence[Move | Outcome]],
    store: ScanStore | None, force_copy: bool, chunk: int, t0: float,
    prepare: Prepare | None = None,
) -> Iterator[Item]:
    """Lock, recover, select from the recovered journal, move."""
    crash = CrashHook()
    own_store = store is None and ScanStore.exists_for(root)
    st = ScanStore.for_root(root) if own_store else store
    j = Journal(root).open()
    try:
        yield from recover(root, store=st, journal=j)
        selection = select(j.read())
        moves = [m for m in selection if isinstance(m, Move)]
        check_writable([m.sdir for m in moves] + [m.ddir for m in moves])
        notes = prepare(j, st, moves) if prepare is not None and moves else {}
        if moves and all(m.op == UNINGEST for m in moves):
            op = UNINGEST  # the undo of an ingest batch: its clips go back out
        yield Started(op, len(selection))
        result = BatchResult(batch=new_batch_id(), op=op)
        for o in selection:
            if isinstance(o, Outcome):  # refused before any move (e.g. an orphan that is a symlink)
                result.skipped.append(o)
                yield o
        to_loc = QUARANTINE if op == MOVE else DATASET
        pending_loc: list[str] = []
        gone: list[str] = []  # moved out of the dataset by an uningest: their rows go
        for o in run_moves(result.batch, j, op, moves, force_copy, chunk, crash):
            if o.status == "moved" and o.rel in notes:
                o.note = "; ".join(x for x in (o.note, notes[o.rel]) if x)
            (result.moved if o.status == "moved" else result.skipped).append(o)
            if o.status == "moved":
                (gone if op == UNINGEST else pending_loc).append(o.rel)
                if st is not None and len(pending_loc) >= 8192:
                    st.set_location(pending_loc, to_loc)
                    pending_loc = []
            yield o
        if st is not None and pending_loc:
            st.set_location(pending_loc, to_loc)
        if st is not None and gone:
            forget_rows(st, gone)
        clean_staging(root, j.read())  # a killed repair's unjournaled candidates (under our lock)
        result.seconds = time.perf_counter() - t0
        yield result
    finally:
        j.close()
        if own_store and st is not None:
            st.close()


def execute(
    root: str | Path,
    the_plan: Plan,
    progress_cb: Callable[[Outcome, int, int], None] | None = None,
    store: ScanStore | None = None,
    force_copy: bool | None = None,
    chunk: int = CHUNK,
) -> BatchResult:
    """Quarantine a plan; `progress_cb(outcome, done, total)` after each file is durable."""
    return _drain(execute_iter(root, the_plan, store, force_copy, chunk), progress_cb)


def _drain(it: Iterator[Any], cb: Callable[[Outcome, int, int], None] | None) -> BatchResult:
    done, total = 0, 0
    for x in it:
        if isinstance(x, Started):
            total = x.total
        elif isinstance(x, Outcome):
            done += 1
            if cb:
                cb(x, done, total)
        elif isinstance(x, BatchResult):
            return x
    raise RuntimeError("batch ended without a result")


def quarantined(root: str | Path) -> dict[str, Entry]:
    """rel → journal entry for every file now in quarantine (per the journal)."""
    return Journal(resolve_root(root)).read().in_quarantine()


def journal_view(root: str | Path) -> JournalView:
    return Journal(resolve_root(root)).read()


def orphans(root: str | Path, view: JournalView | None = None) -> list[Orphan]:
    """Files in ROOT/corrupted_videos/ the journal does not account for (see `core.quarantine.orphan_scan`)."""
    root_p = resolve_root(root)
    return find_orphans(root_p, view if view is not None else Journal(root_p).read())


def restore_iter(
    root: str | Path,
    batch: str | None = None,
    rel: str | None = None,
    all: bool = False,  # noqa: A002 - mirrors the CLI flag
    store: ScanStore | None = None,
    force_copy: bool | None = None,
    chunk: int = CHUNK,
    orphans: bool = False,
) -> Iterator[Item]:
    """Move quarantined files back: one batch (`"last"` for the newest), one file, all, or the orphans.

    Refuses a ROOT that has no journal (nothing was ever quarantined there), unless
    `orphans`: then files found in the quarantine folder are put back by path.
    """
    root_p = resolve_root(root)
    if sum(bool(x) for x in (batch, rel, all, orphans)) != 1:
        raise NexaraError("restore: say which files: --batch ID, --file REL, --all or --orphans")
    t0 = time.perf_counter()
    res = Resolver(root_p)
    journal = Journal(root_p)
    where = shown(str(journal.path))
    if not journal.exists() and not orphans:
        found = find_orphans(root_p, JournalView())
        hint = (f"; {len(found)} file(s) sit in {shown(res.qdir)} without one: put them back with "
                f"`nexara restore {shown(str(root))} --orphans`" if found else "")
        raise NexaraError(f"{shown(str(root_p))}: no quarantine journal ({where}): nothing was "
                          f"quarantined here{hint}")
    if orphans and not os.path.isdir(res.qdir):
        raise NexaraError(f"{shown(str(root_p))}: no quarantine folder ({shown(res.qdir)}): nothing to restore")
    check_writable([str(root_p), res.qdir])

    def select(view: JournalView) -> list[Move | Outcome]:
        check_entries(view, res)  # every path the journal names is checked before anything moves
        if orphans:
            return _orphan_moves(root_p, view, res)
        inq = view.in_quarantine()
        wanted_batch = batch
        if wanted_batch is not None:
            undoable = view.undoable()
            if wanted_batch == "last":
                if not undoable:
                    raise NexaraError(f"{shown(str(root_p))}: nothing is in quarantine (and no ingest to undo)")
                wanted_batch = max(undoable.values(), key=lambda e: e.order).batch
            ingested = [e for e in view.ingested().values() if e.batch == wanted_batch]
            if ingested:
                return _uningest_moves(ingested, res, where)
            sel = [e for e in inq.values() if e.batch == wanted_batch]
            if not sel:
                known = {e.batch for e in view.entries.values()}
                why = ("has no files left in quarantine (nor ingested files in the dataset)"
                       if wanted_batch in known else "is not in the journal")
                raise NexaraError(f"{where}: batch {wanted_batch!r} {why}")
        elif rel is not None:
            r = check_rel(rel, "--file")
            if r not in inq:
                raise NexaraError(f"{shown(r)}: not in quarantine (per {where})")
            sel = [inq[r]]
        else:
            sel = list(inq.values())
        sel.sort(key=lambda e: e.rel)
        return [Move(e.rel, res.qpath(e.rel, where), res.src(e.rel, where), e.size, None,
                     e.verdict, e.reasons, expect_hash=e.hash, expect_size=e.size) for e in sel]

    yield from _execute(root_p, RESTORE, select, store, _force_copy(force_copy), chunk, t0,
                        prepare=None if orphans else _set_aside_repaired(root_p))


def _set_aside_repaired(root: Path) -> Prepare:
    """Before originals come back: move their repaired copies aside (`core.quarantine.repaired`)."""
    def prepare(journal: Journal, store: ScanStore | None, moves: list[Move]) -> dict[str, str]:
        rels = [m.rel for m in moves if m.op != UNINGEST]
        return set_aside_for_restore(root, journal, rels, store) if rels else {}
    return prepare


def _uningest_moves(entries: list[Entry], res: Resolver, where: str) -> list[Move | Outcome]:
    """An ingest batch undone: each file back to the INCOMING path it came from (clips before
    their sidecars, so a kill in between is finished by recovery as for the ingest)."""
    entries = sorted(entries, key=lambda e: (bool(e.of), e.of or e.rel))
    out: list[Move | Outcome] = []
    clips: dict[str, Move] = {}
    for e in entries:
        if e.of and e.of not in clips:
            out.append(Outcome(e.rel, "skipped", e.size, "not_without",
                               f"{shown(e.rel)}: stays with {shown(e.of)}, which is not part of this undo "
                               "(quarantined or moved since)"))
            continue
        src = res.src(e.rel, where)
        dst = incoming_path(e.src, e.incoming, res, where)
        m = Move(e.rel, src, dst, e.size, None, e.verdict, e.reasons, expect_hash=e.hash,
                 expect_size=e.size, op=UNINGEST, jsrc=e.rel, jdst=e.src,
                 extra={"incoming": e.incoming, **({"of": e.of} if e.of else {})},
                 follows=clips.get(e.of) if e.of else None)
        if not e.of:
            clips[e.rel] = m
        out.append(m)
    return out


def _orphan_moves(root: Path, view: JournalView, res: Resolver) -> list[Move | Outcome]:
    out: list[Move | Outcome] = []
    where = f"{shown(res.qdir)}/"
    for o in find_orphans(root, view):
        if o.problem:
            out.append(Outcome(o.rel, "skipped", o.size, "refused",
                               f"{shown(o.rel)}: corrupted_videos/{shown(o.rel)} is {o.problem}; not restored"))
            continue
        try:
            src, dst = res.qpath(o.rel, where), res.src(o.rel, where)
        except NexaraError as exc:
            out.append(Outcome(o.rel, "skipped", o.size, "refused", exc.message))
            continue
        out.append(Move(o.rel, src, dst, o.size, None, "", []))
    return out


def restore(
    root: str | Path,
    batch: str | None = None,
    rel: str | None = None,
    all: bool = False,  # noqa: A002
    progress_cb: Callable[[Outcome, int, int], None] | None = None,
    store: ScanStore | None = None,
    force_copy: bool | None = None,
    orphans: bool = False,
) -> BatchResult:
    """Reverse moves; a file that has reappeared at its original path is never overwritten."""
    it = restore_iter(root, batch=batch, rel=rel, all=all, store=store, force_copy=force_copy,
                      orphans=orphans)
    return _drain(it, progress_cb)
