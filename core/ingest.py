"""Ingest: new clips into the dataset — verified, de-duplicated, journaled, undoable.

The user's Day 4 ("organize new videos into dataset, verify no corruption"),
and the last step of plan A (issue 19: re-downloaded clips back in place):

1. scan ROOT (an unchanged rescan is one indexed read; it also adds any
   missing fingerprints) and INCOMING, with the same engine and store;
2. reject the unusable clips of INCOMING (with the scan's reasons), and the
   copies of footage already in ROOT or earlier in INCOMING (sorted by path; by
   the fingerprint rule of `core.dupes`, exact or near);
3. move the rest into `ROOT/<split>/<class>/` through the quarantine journal
   (op `ingest`: intent → move → directory fsync → done, recovered like any
   move after a crash), never overwriting a name (a taken name gets " (2)",
   " (3)", …; a name held in the quarantine counts as taken), and write their
   verdicts and fingerprints into ROOT's store under the new names, so the next
   scan of ROOT checks nothing again.

Split and class: `--split`/`--class` when given, else from the folder layout
`INCOMING/<split>/<class>/clip` (what issue 19's re-download writes), so one
call can put every split and class back where its originals were. A clip
whose split or class is unknown stays in INCOMING ("unplaced").

Undo: `nexara restore ROOT --batch ID` moves an ingest batch's clips back to
exactly where they came from (op `uningest`, same journal), only when the bytes
at ROOT are still the ones that were moved in (same hash), never overwriting a
file that has appeared in INCOMING since; their store rows are dropped.

Rejected clips are never touched: they stay in INCOMING for the user to look at.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import KNOWN_SPLITS, QUARANTINE_DIR, UNLABELED, DatasetError, check_root
from core.errors import NexaraError
from core.events import event

ADD, CORRUPT, DUPLICATE, UNPLACED = "add", "corrupt", "duplicate", "unplaced"


@dataclass
class IngestItem:
    """One incoming clip and what ingest decided for it."""

    src: str  # path relative to INCOMING
    split: str
    cls: str
    status: str  # ADD | CORRUPT | DUPLICATE | UNPLACED
    size: int = 0
    dest: str = ""  # ROOT-relative destination (ADD)
    reason: str = ""  # one line: why rejected
    reasons: list[str] = field(default_factory=list)  # the scan's reason codes
    duplicate_of: str = ""  # "ROOT/<rel>" or "INCOMING/<rel>"
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestPlan:
    incoming: str
    root: str
    items: list[IngestItem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {ADD: 0, CORRUPT: 0, DUPLICATE: 0, UNPLACED: 0}
        for it in self.items:
            out[it.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        adds = [i for i in self.items if i.status == ADD]
        return {"incoming": self.incoming, "root": self.root, "counts": self.counts(),
                "add_bytes": sum(i.size for i in adds)}


def _dirs(incoming: str | Path, root: str | Path) -> tuple[Path, Path]:
    try:
        inc, rt = check_root(Path(incoming)), check_root(Path(root))
    except DatasetError as exc:
        raise NexaraError(str(exc)) from exc
    if inc == rt or _inside(inc, rt) or _inside(rt, inc):
        raise NexaraError(f"{incoming}: INCOMING and ROOT must be separate folders "
                          f"(neither inside the other: {inc} / {rt})")
    return inc, rt


def _inside(path: Path, base: Path) -> bool:
    return str(path).startswith(str(base).rstrip(os.sep) + os.sep)


def _check_name(name: str, what: str) -> str:
    if not name or "/" in name or name in (".", "..") or name == QUARANTINE_DIR or "\0" in name:
        raise NexaraError(f"{what} {name!r}: expected one folder name (e.g. train, violent)")
    return name


def plan_iter(
    incoming: str | Path,
    root: str | Path,
    split: str | None = None,
    cls: str | None = None,
    level: str = "standard",
    workers: int | None = None,
) -> Iterator[dict[str, Any] | IngestPlan]:
    """Scan both folders and decide per incoming clip; yields progress events, then the plan."""
    from core.dupes import MatchRule, load_prints, matched_pairs
    from core.scan import scan
    from core.store import ScanStore

    inc, rt = _dirs(incoming, root)
    if split is not None:
        _check_name(split, "--split")
    if cls is not None:
        _check_name(cls, "--class")
    yield event("ingest_start", incoming=str(inc), root=str(rt), split=split, cls=cls, level=level)
    for phase, where in (("root", rt), ("incoming", inc)):
        for ev in scan(where, level=level, workers=workers):
            t = ev.get("type")
            if t in ("start", "progress", "summary"):
                keep = {k: ev.get(k) for k in ("done", "total", "rate", "eta_s", "to_check",
                                               "cached", "checked", "seconds") if k in ev}
                yield event("ingest_scan", phase=phase, step=t, **keep)
    with ScanStore.for_root(rt) as rstore, ScanStore.for_root(inc) as istore:
        root_prints = load_prints(rstore)
        inc_results = list(istore.results())
        inc_prints = {p.rel: p for p in load_prints(istore)}
        taken = set(rstore.locations())
    plan = IngestPlan(str(inc), str(rt))
    order: list[Any] = []  # incoming prints in path order, for "earlier in INCOMING"
    for r in sorted(inc_results, key=lambda r: r.path):
        # INCOMING/<split>/<class>/clip, INCOMING/<class>/clip (with --split) or flat (with both)
        s = split or (r.split if r.split in KNOWN_SPLITS else None)
        c = cls or (r.cls if r.cls != UNLABELED else None)
        item = IngestItem(src=r.path, split=s or "", cls=c or "", status=ADD, size=r.size,
                          reasons=list(r.reasons), verdict=r.verdict.value)
        if not r.usable:
            item.status = CORRUPT
            item.reason = f"unusable ({r.verdict.value}: {', '.join(r.reasons) or 'no reason'})"
        elif not s or not c:
            item.status = UNPLACED
            item.reason = ("no split/class: put it under INCOMING/<split>/<class>/ or pass "
                           "--split and --class")
        plan.items.append(item)
        p = inc_prints.get(r.path)
        if p is not None and item.status in (ADD, UNPLACED):
            p.incoming = True
            order.append((item, p))
    # Copies: one grouping pass over ROOT's clips and the incoming ones together.
    prints = [*root_prints, *(p for _, p in order)]
    n_root = len(root_prints)
    neighbours: dict[int, list[int]] = {}
    for i, j, _kind in matched_pairs(prints, MatchRule()):
        neighbours.setdefault(i, []).append(j)
        neighbours.setdefault(j, []).append(i)
    for k, (item, _p) in enumerate(order):
        me = n_root + k
        near = sorted(neighbours.get(me, ()))
        in_root = [prints[i].rel for i in near if i < n_root]
        earlier = [prints[i].rel for i in near if n_root <= i < me]
        if in_root:
            item.status, item.duplicate_of = DUPLICATE, f"ROOT/{in_root[0]}"
        elif earlier:
            item.status, item.duplicate_of = DUPLICATE, f"INCOMING/{earlier[0]}"
        if item.status == DUPLICATE:
            item.reason = f"same footage as {item.duplicate_of}"
    # Names: never overwrite; a name in the store or the quarantine is taken too.
    for item in plan.items:
        if item.status == ADD:
            item.dest = _free_name(rt, f"{item.split}/{item.cls}", item.src.rsplit("/", 1)[-1], taken)
            taken.add(item.dest)
    yield plan


def _free_name(root: Path, folder: str, name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 1
    while True:
        cand = f"{folder}/{name}" if n == 1 else f"{folder}/{stem} ({n}){dot}{ext}"
        if cand not in taken and not os.path.lexists(root / cand) and \
                not os.path.lexists(root / QUARANTINE_DIR / cand):
            return cand
        n += 1


def execute_iter(plan: IngestPlan, force_copy: bool | None = None) -> Iterator[Any]:
    """Move the plan's ADD items in (journaled); Outcomes, then the BatchResult."""
    from core import quarantine as q
    from core.fingerprint import Fingerprint
    from core.journal import INGEST
    from core.store import ScanStore

    inc, rt = Path(plan.incoming), Path(plan.root)
    adds = [i for i in plan.items if i.status == ADD]
    res = q._Resolver(rt)
    moves = []
    for it in adds:
        rel = q.check_rel(it.dest, "ingest plan")
        ddir, dst = res.src_dir(rel, "ingest plan")
        src = os.path.join(str(inc), *it.src.split("/"))
        try:
            st = os.stat(src)
        except OSError:
            yield q.Outcome(rel, "skipped", it.size, "vanished", f"{it.src}: vanished from INCOMING")
            continue
        moves.append(q.Move(rel, src, dst, st.st_size, st.st_mtime_ns, it.verdict, it.reasons,
                            ddir=ddir, jsrc=src, jdst=rel))
    q._check_writable([str(rt), res.qdir, *{m.sdir for m in moves}, *{m.ddir for m in moves}], rt)
    by_dest = {i.dest: i for i in adds}
    with ScanStore.for_root(rt) as rstore, ScanStore.for_root(inc) as istore:
        moved: list[Any] = []
        for x in q.run_moves(rt, moves, INGEST, store=rstore, force_copy=force_copy):
            if isinstance(x, q.Outcome) and x.status == "moved":
                it = by_dest[x.rel]
                got = istore.get(it.src)
                if got is not None:
                    r = got[0]
                    r.path, r.split, r.cls = it.dest, it.split, it.cls
                    fp = _stored_fingerprint(istore, it.src, Fingerprint)
                    r.fingerprint = fp
                    moved.append(r)
                if len(moved) >= 256:
                    _put(rstore, moved)
            elif isinstance(x, q.BatchResult):
                _put(rstore, moved)
            yield x
        _put(rstore, moved)


def _put(store: Any, results: list[Any]) -> None:
    if results:
        store.put_many(results)
        store.put_fingerprints(results)
        results.clear()


def _stored_fingerprint(store: Any, rel: str, fp_cls: Any) -> Any:
    row = store.get_fingerprint(rel)
    if row is None:
        return None
    size, content, blob = row
    times, hashes = fp_cls.frames_from_blob(blob)
    return fp_cls(content=content, size=size, times=times, hashes=hashes)


# -- the journal side: paths, the undoable view, the undo ------------------------------------------


def entry_paths(e: Any, res: Any, where: str) -> tuple[str, str]:
    """(src, dst) absolute paths of an ingest/uningest journal entry, checked; see core.quarantine.

    The ROOT side is checked like any dataset path; the outside side must be an
    absolute, normalised path outside ROOT. Recovery and undo move a file only
    when its bytes match the recorded hash, so a forged entry cannot move
    anything but the very file that was ingested.
    """
    from core.journal import INGEST
    from core.quarantine import check_rel

    rel = check_rel(e.rel, where)
    outside = e.src if e.op == INGEST else e.dst
    inside = e.dst if e.op == INGEST else e.src
    if inside != rel:
        raise NexaraError(f"{where}: {e.op} names {inside!r}, not {rel!r}; refusing")
    if (not isinstance(outside, str) or not os.path.isabs(outside) or "\0" in outside
            or os.path.normpath(outside) != outside):
        raise NexaraError(f"{where}: {e.op} path {outside!r} is not an absolute, normalised path; refusing")
    if outside == res.root_real or outside.startswith(res.root_real.rstrip(os.sep) + os.sep) or \
            outside.startswith(str(res.root).rstrip(os.sep) + os.sep):
        raise NexaraError(f"{where}: {e.op} path {outside!r} is inside the dataset; refusing")
    ds = res.src(rel, where)
    return (outside, ds) if e.op == INGEST else (ds, outside)


def ingested(view: Any) -> dict[str, Any]:
    """rel → its `ingest` entry, for files whose last completed operation is an ingest."""
    from core.journal import DONE, INGEST

    last: dict[str, Any] = {}
    for e in sorted(view.entries.values(), key=lambda e: e.order):
        if e.state == DONE:
            last[e.rel] = e
    return {rel: e for rel, e in last.items() if e.op == INGEST}


def undo_iter(root: Path, entries: list[Any], store: Any = None, force_copy: bool | None = None,
              chunk: int | None = None, t0: float | None = None) -> Iterator[Any]:
    """Move an ingest batch's clips back to where they came from (op `uningest`)."""
    from core import quarantine as q
    from core.journal import UNINGEST, fast_hash
    from core.store import ScanStore

    res = q._Resolver(root)
    moves = []
    for e in sorted(entries, key=lambda e: e.rel):
        sdir, src = res.src_dir(e.rel, "journal")
        try:
            same = os.path.getsize(src) == e.size and fast_hash(src) == e.hash
        except OSError:
            yield q.Outcome(e.rel, "skipped", e.size, "missing", f"{e.rel}: no longer in the dataset")
            continue
        if not same:
            yield q.Outcome(e.rel, "skipped", e.size, "changed",
                            f"{e.rel}: changed since it was ingested; left in the dataset")
            continue
        moves.append(q.Move(e.rel, src, e.src, e.size, None, e.verdict, e.reasons, sdir=sdir,
                            jsrc=e.rel, jdst=e.src))
    own = store is None and ScanStore.exists_for(root)
    st = ScanStore.for_root(root) if own else store
    try:
        gone: list[str] = []
        for x in q.run_moves(root, moves, UNINGEST, store=st, force_copy=force_copy,
                             chunk=chunk or q.CHUNK, t0=t0):
            if isinstance(x, q.Outcome) and x.status == "moved":
                gone.append(x.rel)
            yield x
        if st is not None and gone:
            st.forget(gone)
    finally:
        if own and st is not None:
            st.close()


# -- the whole command, as events ------------------------------------------------------------------


def ingest_events(
    incoming: str | Path,
    root: str | Path,
    split: str | None = None,
    cls: str | None = None,
    yes: bool = False,
    dry_run: bool = False,
    confirm: Callable[[dict[str, Any]], bool] | None = None,
    level: str = "standard",
    workers: int | None = None,
) -> Iterator[dict[str, Any]]:
    """`nexara ingest` as events: scan, one `ingest_item` per clip, the plan, the moves, a summary.

    Issue 19 calls this per split/class (`INCOMING/<split>/<class>/`, or the whole
    INCOMING tree without split/class), with `yes=True`.
    """
    from core import quarantine as q

    t0 = time.perf_counter()
    plan: IngestPlan | None = None
    for x in plan_iter(incoming, root, split, cls, level, workers):
        if isinstance(x, IngestPlan):
            plan = x
        else:
            yield x
    assert plan is not None
    for it in plan.items:
        yield event("ingest_item", **it.to_dict())
    yield event("ingest_plan", dry_run=dry_run, **plan.to_dict())
    counts = plan.counts()
    batch: dict[str, Any] = {}
    skipped = 0
    adds = counts[ADD]
    if adds and not dry_run:
        if not yes:
            if confirm is None:
                raise NexaraError(
                    f"{plan.root}: would add {adds} clip(s); refusing without --yes (no terminal "
                    "to confirm on). Re-run with --yes, or --dry-run to look.")
            if not confirm(plan.to_dict()):
                yield event("log", message="nothing moved")
                adds = 0
        if adds:
            done, last = 0, 0.0
            for x in execute_iter(plan):
                if isinstance(x, q.RecoveryAction):
                    yield event("recovered", **x.to_dict())
                elif isinstance(x, q.Outcome):
                    done += 1
                    skipped += x.status != "moved"
                    yield event(x.status, **x.to_dict())
                    now = time.perf_counter()
                    if now - last >= 0.25 or done == adds:
                        last = now
                        yield event("progress", phase="move", done=done, total=adds)
                elif isinstance(x, q.BatchResult):
                    batch = x.to_dict()
                    yield event("batch", **batch)
    added = int(batch.get("moved", 0))
    yield event(
        "ingest_summary", incoming=plan.incoming, root=plan.root, dry_run=dry_run,
        added=added, planned=counts[ADD], rejected_corrupt=counts[CORRUPT],
        rejected_duplicate=counts[DUPLICATE], unplaced=counts[UNPLACED], not_moved=skipped,
        batch=batch.get("batch"), seconds=round(time.perf_counter() - t0, 3),
    )
