"""Recovery: finish or roll back moves a crash interrupted, by where the bytes actually are.

For a pending move (an intent without a done or rolled-back record) the journal
is not trusted; the disk is:
  - source only → the move never happened: rolled back (the file stays);
  - destination only → it happened: marked done;
  - both, same inode (link fallback) → unlink the source link: done;
  - both, different files → whichever matches the recorded hash is ours: if the
    destination is our verified copy and the source still matches, the source
    is removed (a verified copy exists); a non-matching file is never touched;
  - a partial copy → removed only if the source is present and matches the
    recorded hash; if the source is gone and the partial matches, it is renamed
    into place; otherwise it is left and reported.
Partial copies are removed before anything is written to the journal, so a
disk that a failed copy filled gets its space back before recovery needs it.

Every command that reads or writes the quarantine (quarantine, restore,
`--list`) recovers first, under the journal's lock, and then works from the
recovered journal: a restore after a crash sees the crashed batch as done (or
rolled back), never as it was at the moment of the kill. Recovery then re-syncs
the scan store's `location` column with the journal (a crash between the two
cannot leave them disagreeing).

Repair's moves (`put`: a verified repaired copy from ROOT/.nexara-repair/<batch>/<rel>
to ROOT/<rel>; `aside`: that copy out again, to corrupted_videos/.repair/<batch>/<rel>,
before its original is restored) follow the same rules, with one more: a `put`
cut off after its original reached the quarantine (same batch, done) while the
staged copy is still the one the intent recorded is finished — renamed into the
free dataset path — rather than rolled back, so the dataset never loses the
clip to a crash between the two moves of one repair. A put is never a copy, so
recovery never finds half a clip at a dataset path. The store rows of puts and
asides of an interrupted batch are rewritten (`core.quarantine.repaired`).

Ingest's moves (`ingest`: INCOMING/<path> → <rel>; `uningest`: back out) cross
ROOT's edge, so their outside side is checked harder than a dataset path: it
must lie inside the INCOMING folder the entry names (absolute, normalised, apart
from ROOT, every entry of one batch naming the same one; a symlinked subfolder
resolving elsewhere is refused), an `uningest` must send a clip back to exactly
where a completed `ingest` of it came from, and anything else refuses the whole
recovery before one byte moves. Nothing outside ROOT but that folder is touched.
Recovery then applies the same rules by where the bytes are, so after a kill at
any point each clip is in exactly one place. A clip's `.info.json` sidecar
travels in the same batch right after its clip; a crash between the two is
finished by moving the sidecar after its clip, so provenance stays with it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from core.dataset import QUARANTINE_DIR
from core.errors import NexaraError
from core.fsops import fsync_dir, rename_noreplace
from core.journal import (
    ASIDE,
    DONE,
    INGEST,
    MOVE,
    PUT,
    REPAIR_DIR,
    REPAIR_STAGING,
    ROLLED_BACK,
    UNINGEST,
    Entry,
    Journal,
    JournalView,
    fast_hash,
)
from core.quarantine.crash import CrashHook
from core.quarantine.moves import Move, move_one, partial_paths
from core.quarantine.paths import (
    Resolver,
    check_incoming,
    check_rel,
    check_writable,
    incoming_path,
    resolve_root,
)
from core.quarantine.records import RecoveryAction
from core.quarantine.repaired import store_after_recovery
from core.store import DATASET, QUARANTINE, ScanStore
from core.userpaths import shown


def recover(root: str | Path, store: ScanStore | None = None, journal: Journal | None = None) -> list[RecoveryAction]:
    """Finish or roll back interrupted moves by where the bytes are; re-sync the store.

    Cheap when nothing is pending (one read of the journal); writes nothing then, so it is
    safe on a read-only dataset that has no interrupted moves. With `journal` (already
    open, so locked) it runs under the caller's lock.
    """
    root_p = resolve_root(root)
    own = journal is None
    j = journal or Journal(root_p)
    view = j.read()
    pending = view.pending()
    actions: list[RecoveryAction] = []
    completed: list[Entry] = []  # puts and asides of interrupted batches: their store rows follow
    if pending:
        res = Resolver(root_p)
        checked = _checked(view, pending, res)  # refuse bad paths before acting
        check_writable([os.path.dirname(p) for _, s, d in checked for p in (s, d)])
        if own:
            # Under the lock, re-read: intents of a live process are not ours to recover
            # (open() refuses while another run holds the lock).
            j.open()
            view = j.read()
            checked = _checked(view, view.pending(), res)
        try:
            finals = []
            originals = {(x.batch, x.rel): x for x in view.entries.values() if x.op == MOVE}
            for e, src, dst in checked:
                if e.op == PUT:
                    act = _recover_put(e, src, dst, originals.get((e.batch, e.rel)), res)
                else:
                    act = _recover_one(e, src, dst)
                if e.of and act.action == "rolled_back":
                    act = _follow_clip(e, src, dst, act, {a.rel: a for a in actions if a.batch == e.batch},
                                       view)
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
        # A crash may also have come after a repair's done records and before its store rows: every
        # put or aside of a crashed batch that is still the last word on its path gets its row checked.
        crashed = {e.batch for e, _, _ in checked}
        last: dict[str, Entry] = {}
        for x in sorted(view.entries.values(), key=lambda x: x.order):
            if x.state == DONE:
                last[x.rel] = x
        completed = [x for x in last.values() if x.batch in crashed and x.op in (PUT, ASIDE)]
    sync_store(root_p, view, store, completed)
    return actions


def _checked(view: JournalView, entries: list[Entry], res: Resolver) -> list[tuple[Entry, str, str]]:
    """Each entry with its paths on disk, after the checks that span entries (`check_entries`)."""
    check_entries(view, res, entries)
    return [(e, *entry_paths(e, res)) for e in entries]


def check_entries(view: JournalView, res: Resolver, entries: list[Entry] | None = None) -> None:
    """Refuse (one line) journal entries whose paths are wrong, alone or together.

    Every entry's own paths (`entry_paths`); for ingest batches also: all entries of
    one batch name the same INCOMING folder, and an `uningest` sends its file back to
    the very path a completed `ingest` of the same rel took it from.
    """
    entries = list(view.entries.values()) if entries is None else entries
    ingests: dict[str, list[Entry]] = {}
    batch_in: dict[str, str] = {}
    for x in view.entries.values():
        if x.op in (INGEST, UNINGEST):
            if x.op == INGEST and x.state == DONE:
                ingests.setdefault(x.rel, []).append(x)
            batch_in.setdefault(x.batch, x.incoming)
    for e in entries:
        entry_paths(e, res)
        if e.op not in (INGEST, UNINGEST):
            continue
        where = f"{shown(res.qdir)}/journal.jsonl line {e.line}"
        if batch_in.get(e.batch) != e.incoming:
            raise NexaraError(f"{where}: batch {e.batch} names more than one INCOMING folder; refusing")
        if e.op == UNINGEST and not any(i.src == e.dst and i.incoming == e.incoming and i.order < e.line
                                        for i in ingests.get(e.rel, [])):
            raise NexaraError(f"{where}: uningest of {shown(e.rel)} to {shown(e.dst)}, where no completed "
                              "ingest took it from; refusing")


def entry_paths(e: Entry, res: Resolver) -> tuple[str, str]:
    """(src, dst) on disk of a journal entry, refusing an entry whose paths do not match its rel."""
    where = f"{shown(res.qdir)}/journal.jsonl line {e.line}"
    rel = check_rel(e.rel, where)
    if e.op in (PUT, ASIDE):
        return _repair_paths(e, rel, res, where)
    if e.op in (INGEST, UNINGEST):
        return _ingest_paths(e, rel, res, where)
    q = f"{QUARANTINE_DIR}/{rel}"
    expect = (rel, q) if e.op == MOVE else (q, rel)
    if (e.src, e.dst) != expect:
        raise NexaraError(f"{where}: src/dst {shown(e.src)} → {shown(e.dst)} do not match {shown(rel)}; refusing")
    ds, qs = res.src(rel, where), res.qpath(rel, where)
    return (ds, qs) if e.op == MOVE else (qs, ds)


def _repair_paths(e: Entry, rel: str, res: Resolver, where: str) -> tuple[str, str]:
    """put: .nexara-repair/<batch>/<rel> → <rel>; aside: <rel> → corrupted_videos/.repair/<b>/<rel>,
    where <b> is the batch of the put that placed the copy (the aside has a batch of its own)."""
    staged_side, prefix = (e.src, REPAIR_STAGING) if e.op == PUT else (e.dst, f"{QUARANTINE_DIR}/{REPAIR_DIR}")
    token, _, orel = staged_side.removeprefix(prefix + "/").partition("/")
    ok = (staged_side.startswith(prefix + "/") and orel == rel
          and (e.dst if e.op == PUT else e.src) == rel
          and bool(token) and token.isascii() and token.replace("-", "").isalnum()
          and (e.op != PUT or token == e.batch))
    if not ok:
        raise NexaraError(f"{where}: src/dst {shown(e.src)} → {shown(e.dst)} do not match {shown(rel)}; refusing")
    if e.op == PUT:
        return res.src(f"{REPAIR_STAGING}/{token}/{rel}", where), res.src(rel, where)
    return res.src(rel, where), res.qpath(f"{REPAIR_DIR}/{token}/{rel}", where)


def _ingest_paths(e: Entry, rel: str, res: Resolver, where: str) -> tuple[str, str]:
    """ingest: INCOMING/<path> → <rel>; uningest: <rel> → INCOMING/<path> (see the module doc)."""
    inside, outside = (e.dst, e.src) if e.op == INGEST else (e.src, e.dst)
    if inside != rel:
        raise NexaraError(f"{where}: {e.op} names {shown(inside)}, not {shown(rel)}; refusing")
    if e.of:
        check_rel(e.of, where)
    check_incoming(e.incoming, res, where)
    out = incoming_path(outside, e.incoming, res, where)
    ds = res.src(rel, where)
    return (out, ds) if e.op == INGEST else (ds, out)


def _follow_clip(e: Entry, src: str, dst: str, act: RecoveryAction, clips: dict[str, RecoveryAction],
                 view: JournalView) -> RecoveryAction:
    """A sidecar whose move a crash cut off goes where its clip went (see the module doc).

    Only when the clip's own move of this batch is done (just recovered as finished, or
    recorded done), the sidecar is still the one the intent recorded, and the place is free.
    """
    clip_done = clips.get(e.of) is not None and clips[e.of].action == "finished"
    clip_done = clip_done or any(x.batch == e.batch and x.rel == e.of and x.op == e.op and x.state == DONE
                                 for x in view.entries.values())
    if not clip_done or not os.path.lexists(src) or os.path.lexists(dst) or not _matches(src, e):
        return act
    m = Move(e.rel, src, dst, e.size, None, e.verdict, e.reasons, method="rename", op=e.op)
    out = move_one(m, e.op, CrashHook())
    if out.status != "moved":
        return RecoveryAction(e.batch, e.seq, e.op, e.rel, "rolled_back",
                              f"its clip moved, the sidecar could not follow ({out.message}); left where it was")
    return RecoveryAction(e.batch, e.seq, e.op, e.rel, "finished", "moved after its clip (the move had not happened)")


def _recover_put(e: Entry, src: str, dst: str, original: Entry | None, res: Resolver) -> RecoveryAction:
    """A pending put: finished when it happened, or when its original is in the quarantine.

    The staged copy is only ever renamed (never copied) into the dataset, so a
    dataset path holds the original, the whole verified copy, or nothing.
    """
    def act(action: str, message: str) -> RecoveryAction:
        return RecoveryAction(e.batch, e.seq, e.op, e.rel, action, message)

    s, d = os.path.lexists(src), os.path.lexists(dst)
    if d and not s:
        return act("finished", "the repaired copy had been put in place; recorded as done")
    if s and not d:
        in_q = (original is not None and original.state == DONE
                and os.path.lexists(res.qpath(e.rel, "journal")))
        if in_q and _matches(src, e) and not os.path.islink(src):
            try:
                rename_noreplace(src, dst)
            except FileExistsError:
                return act("rolled_back", "a file appeared at the dataset path; the repaired copy was "
                                          "not put there")
            return act("finished", "its original had reached the quarantine: the repaired copy was "
                                   "put in place")
        return act("rolled_back", "the repaired copy was not put in place; it stays in staging")
    if not s and not d:
        return act("rolled_back", "the repaired copy is in neither place (removed by someone else?)")
    if _matches(dst, e):
        return act("finished", "the repaired copy is in place (a second copy stays in staging)")
    return act("rolled_back", "the dataset path holds another file (left alone); the repaired copy "
                              "stays in staging")


def _matches(path: str, e: Entry) -> bool:
    try:
        return os.path.getsize(path) == e.size and fast_hash(path) == e.hash
    except OSError:
        return False


def _recover_one(e: Entry, src: str, dst: str) -> RecoveryAction:
    def act(action: str, message: str) -> RecoveryAction:
        return RecoveryAction(e.batch, e.seq, e.op, e.rel, action, message)

    for tmp in dict.fromkeys(partial_paths(dst)):
        if not os.path.lexists(tmp):
            continue
        if os.path.lexists(src) and _matches(src, e):
            os.unlink(tmp)  # the source is intact and verified: the partial copy is ours and redundant
        elif not os.path.lexists(src) and not os.path.lexists(dst) and _matches(tmp, e):
            rename_noreplace(tmp, dst)
            return act("finished", "complete copy renamed into place (source was already gone)")
        else:
            return act("attention", f"partial copy {shown(tmp)} left in place: the source is missing or differs")
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


def forget_rows(store: ScanStore, rels: list[str]) -> None:
    """Drop what the store knows of files that left the dataset (an undone ingest): their
    results, fingerprints and sources (`core.provenance`)."""
    from core.provenance import SourcesTable

    store.forget(rels)
    SourcesTable(store.db).replace_for(rels, {})


def sync_store(root: Path, view: JournalView, store: ScanStore | None,
               completed: list[Entry] | None = None) -> None:
    """Make the store's `location` agree with the journal (a crash may have come between them).

    `completed`: the puts and asides of the batches recovery just finished; their rows
    change content too (a repaired copy's result, or the original's again).
    """
    if store is None:
        if not ScanStore.exists_for(root):
            return
        with ScanStore.for_root(root) as s:
            sync_store(root, view, s, completed)
        return
    want: dict[str, str] = {}
    for e in sorted(view.entries.values(), key=lambda e: e.order):
        if e.state == DONE:  # ASIDE leaves the original in quarantine; PUT fills the dataset path
            want[e.rel] = "" if e.op == UNINGEST else QUARANTINE if e.op in (MOVE, ASIDE) else DATASET
    have = store.locations()
    # An uningest took the clip out of the dataset: its rows go, unless a file is there again.
    gone = [rel for rel, w in want.items() if not w and have.get(rel) == DATASET
            and not os.path.lexists(os.path.join(root, rel))]
    if gone:
        forget_rows(store, gone)
    for loc in (QUARANTINE, DATASET):
        fix = [rel for rel, w in want.items() if w == loc and rel in have and have[rel] != loc]
        if fix:
            store.set_location(fix, loc)
    if completed:
        store_after_recovery(root, store, completed)
