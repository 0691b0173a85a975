"""Ingest: new clips into the dataset — verified, de-duplicated, journaled, undoable.

The user's Day 4 ("organize new videos into dataset, verify no corruption"),
and the last step of plan A (issue 19: re-downloaded clips back in place):

1. take the journal's lock and recover whatever a crash interrupted (so the
   plan sees where every clip really is; a dry run recovers without the lock
   unless something is pending, and writes nothing otherwise);
2. scan ROOT (an unchanged rescan is one indexed read; it also adds any
   missing fingerprints) and INCOMING, with the same engine and store;
3. reject the unusable clips of INCOMING (with the scan's reasons), and the
   copies of footage already in ROOT or earlier in INCOMING (sorted by path; by
   the fingerprint rule of `core.dupes`, exact or near);
4. move the rest into `ROOT/<split>/<class>/` through the journal
   (`core.quarantine.iter_journaled_moves`, op `ingest`: intent → move →
   directory fsync → done, recovered like any move after a crash), never
   overwriting a name (a taken name gets " (2)", " (3)", …; a name held in the
   quarantine counts as taken), each clip's yt-dlp `.info.json` sidecar right
   after it under the matching name (so the dataset keeps exact provenance), and
   write their verdicts, fingerprints and sources into ROOT's store under the new
   names, so the next scan of ROOT checks nothing again and plan A counts them
   back (`core.redownload.status`).

What the journal records for an ingest: `src` is the clip's absolute path in
INCOMING, `dst` its ROOT-relative path, `incoming` the (resolved) INCOMING
folder itself, and `of` for a sidecar the clip it belongs to. Recovery and undo
touch nothing outside ROOT but that folder (`core.quarantine.recovery`).

Split and class: `--split`/`--class` when given, else from the folder layout
`INCOMING/<split>/<class>/clip` (what issue 19's re-download writes), so one
call can put every split and class back where its originals were. A clip
whose split or class is unknown stays in INCOMING ("unplaced").

Undo: `nexara restore ROOT --batch ID` (or `--batch last`) moves an ingest
batch's clips and sidecars back to exactly where they came from (op `uningest`,
same journal), only when the bytes at ROOT are still the ones that were moved
in (same size and hash), never over a file that has appeared in INCOMING since;
their store rows are dropped.

Rejected clips are never touched: they stay in INCOMING for the user to look at.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import KNOWN_SPLITS, QUARANTINE_DIR, UNLABELED, DatasetError, check_root
from core.errors import NexaraError
from core.events import event
from core.userpaths import shown

ADD, CORRUPT, DUPLICATE, UNPLACED = "add", "corrupt", "duplicate", "unplaced"
_TAG = re.compile(r" \[[^\[\]]+\]$")  # "title [id]": yt-dlp's default name ends in the id


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
    sidecar: str = ""  # its yt-dlp `.info.json`, relative to INCOMING (ADD: moved with it)

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
    from core.quarantine.paths import resolve_root, within

    if isinstance(incoming, str) and not incoming:
        raise NexaraError("INCOMING is empty ('' would mean the current folder); name the folder of new clips")
    try:
        inc = check_root(Path(incoming))
    except DatasetError as exc:
        raise NexaraError(str(exc)) from exc
    rt = resolve_root(root)
    if within(str(inc), str(rt)) or within(str(rt), str(inc)):
        raise NexaraError(f"{shown(str(incoming))}: INCOMING and ROOT must be separate folders "
                          f"(neither inside the other: {shown(str(inc))} / {shown(str(rt))})")
    return inc, rt


def _check_name(name: str, what: str) -> str:
    if not name or "/" in name or name in (".", "..") or name == QUARANTINE_DIR or "\0" in name:
        raise NexaraError(f"{what} {name!r}: expected one folder name (e.g. train, violent)")
    return name


def sidecar_of(incoming: Path, rel: str) -> str:
    """The clip's yt-dlp sidecar (`<stem>.info.json` beside it) relative to INCOMING, or "".

    Only a regular file counts: a symlink is never moved into the dataset.
    """
    from core.provenance import sidecar_name

    folder, _, name = rel.rpartition("/")
    side = (folder + "/" if folder else "") + sidecar_name(name)
    try:
        st = os.lstat(os.path.join(incoming, *side.split("/")))
    except OSError:
        return ""
    return side if stat.S_ISREG(st.st_mode) else ""


def plan_iter(
    incoming: str | Path,
    root: str | Path,
    split: str | None = None,
    cls: str | None = None,
    level: str = "standard",
    workers: int | None = None,
    in_quarantine: set[str] | None = None,
) -> Iterator[dict[str, Any] | IngestPlan]:
    """Scan both folders and decide per incoming clip; yields progress events, then the plan.

    `in_quarantine`: names the journal holds in the quarantine (taken, whatever the store says).
    """
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
        taken = set(rstore.locations()) | set(in_quarantine or ())
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
    # Names: never overwrite; a name in the store or the quarantine is taken too, and so is
    # the sidecar name a clip with a sidecar needs beside it.
    for item in plan.items:
        if item.status == ADD:
            item.sidecar = sidecar_of(inc, item.src)
            item.dest = _free_name(rt, f"{item.split}/{item.cls}", item.src.rsplit("/", 1)[-1], taken,
                                   bool(item.sidecar))
            taken.add(item.dest)
            if item.sidecar:
                taken.add(sidecar_dest(item.dest))
    yield plan


def sidecar_dest(dest: str) -> str:
    """Where a clip's sidecar goes in ROOT: beside it, named after it (" (2)" included)."""
    from core.provenance import sidecar_name

    folder, _, name = dest.rpartition("/")
    return f"{folder}/{sidecar_name(name)}"


def _free_name(root: Path, folder: str, name: str, taken: set[str], with_sidecar: bool) -> str:
    """The name itself if free, else "stem (2).ext", "stem (3).ext", …; a bracketed tag at the
    end of the stem stays last ("title (2) [id].mp4"), so yt-dlp's id is still read from the name."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    head, tag = stem, ""
    m = _TAG.search(stem)
    if m and m.start() > 0:
        head, tag = stem[:m.start()], stem[m.start():]

    def free(rel: str) -> bool:
        return (rel not in taken and not os.path.lexists(root / rel)
                and not os.path.lexists(root / QUARANTINE_DIR / rel))

    n = 1
    while True:
        cand = f"{folder}/{name}" if n == 1 else f"{folder}/{head} ({n}){tag}{dot}{ext}"
        if free(cand) and (not with_sidecar or free(sidecar_dest(cand))):
            return cand
        n += 1


def _specs(plan: IngestPlan) -> list[Any]:
    """The journaled moves of the plan's ADD items: each clip, then its sidecar."""
    from core.journal import INGEST
    from core.quarantine import MoveSpec
    from core.store import ScanStore

    inc = plan.incoming
    specs = []
    with ScanStore.for_root(Path(inc)) as istore:
        for it in (i for i in plan.items if i.status == ADD):
            got = istore.get(it.src)
            mtime = got[0].mtime_ns if got is not None else None
            specs.append(MoveSpec(INGEST, it.dest, os.path.join(inc, *it.src.split("/")), it.dest,
                                  it.size, mtime, it.verdict, list(it.reasons)))
            if it.sidecar:
                side = os.path.join(inc, *it.sidecar.split("/"))
                try:
                    st = os.lstat(side)
                except OSError:
                    continue  # gone since the plan: the clip goes alone
                specs.append(MoveSpec(INGEST, sidecar_dest(it.dest), side, sidecar_dest(it.dest), st.st_size,
                                      st.st_mtime_ns, of=it.dest))
    return specs


def execute_iter(plan: IngestPlan, journal: Any, force_copy: bool | None = None) -> Iterator[Any]:
    """Move the plan's ADD items in under `journal` (open: locked, recovered); Outcomes, then
    the BatchResult. ROOT's store learns each clip under its new name."""
    from core.journal import INGEST, new_batch_id
    from core.provenance import SourcesTable
    from core.quarantine import BatchResult, iter_journaled_moves
    from core.store import ScanStore

    t0 = time.perf_counter()
    inc, rt = Path(plan.incoming), Path(plan.root)
    specs = _specs(plan)
    by_dest = {i.dest: i for i in plan.items if i.status == ADD}
    result = BatchResult(batch=new_batch_id(), op=INGEST)
    with ScanStore.for_root(rt) as rstore, ScanStore.for_root(inc) as istore:
        sources = SourcesTable(istore.db).all()
        rsources = SourcesTable(rstore.db)
        moved: list[Any] = []
        found: dict[str, Any] = {}
        for o in iter_journaled_moves(rt, journal, result.batch, specs, force_copy=force_copy,
                                      incoming=str(inc)):
            (result.moved if o.status == "moved" else result.skipped).append(o)
            it = by_dest.get(o.rel)
            if o.status == "moved" and it is not None:
                r = _moved_result(istore, it)
                if r is not None:
                    moved.append(r)
                if it.src in sources:
                    found[it.dest] = sources[it.src]
                if len(moved) >= 256:
                    _put(rstore, rsources, moved, found)
            yield o
        _put(rstore, rsources, moved, found)
    result.seconds = time.perf_counter() - t0
    yield result


def _moved_result(istore: Any, it: IngestItem) -> Any:
    """INCOMING's verdict of the clip, renamed to its place in ROOT, with its fingerprint."""
    from core.fingerprint import Fingerprint

    got = istore.get(it.src)
    if got is None:
        return None
    r = got[0]
    r.path, r.split, r.cls = it.dest, it.split, it.cls
    row = istore.get_fingerprint(it.src)
    if row is not None:
        size, content, blob = row
        times, hashes = Fingerprint.frames_from_blob(blob)
        r.fingerprint = Fingerprint(content=content, size=size, times=times, hashes=hashes)
    return r


def _put(store: Any, sources: Any, results: list[Any], found: dict[str, Any]) -> None:
    if results:
        store.put_many(results)
        store.put_fingerprints(results)
        results.clear()
    if found:
        sources.replace_for(list(found), found)
        found.clear()


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
    """`nexara ingest` as events: recovery, scans, one `ingest_item` per clip, the plan, the moves,
    a summary. Issue 19 calls it on the whole INCOMING tree (split/class from the layout)."""
    from core import quarantine as q
    from core.journal import Journal
    from core.quarantine.paths import Resolver, check_writable

    t0 = time.perf_counter()
    inc, rt = _dirs(incoming, root)
    for name, what in ((split, "--split"), (cls, "--class")):
        if name is not None:  # refused before the journal (and the quarantine folder) exists
            _check_name(name, what)
    journal: Journal | None = None
    try:
        if dry_run:  # recovers without the lock unless something is pending; writes nothing else
            actions = q.recover(rt)
        else:
            # as a quarantine does: the quarantine folder must be ROOT's own, ROOT writable,
            # before the journal (and that folder) is created
            res = Resolver(rt)
            check_writable([str(rt), res.qdir])
            journal = Journal(rt).open()
            actions = q.recover(rt, journal=journal)
        for a in actions:
            yield event("recovered", **a.to_dict())
        view = journal.read() if journal is not None else Journal(rt).read()
        plan: IngestPlan | None = None
        for x in plan_iter(inc, rt, split, cls, level, workers, set(view.in_quarantine())):
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
        added = skipped = sidecars = 0
        adds = counts[ADD]
        if adds and not dry_run:
            if not yes:
                if confirm is None:
                    raise NexaraError(
                        f"{shown(plan.root)}: would add {adds} clip(s); refusing without --yes (no terminal "
                        "to confirm on). Re-run with --yes, or --dry-run to look.")
                if not confirm(plan.to_dict()):
                    yield event("log", message="nothing moved")
                    adds = 0
            if adds:
                assert journal is not None
                clips = {i.dest for i in plan.items if i.status == ADD}
                done, last = 0, 0.0
                for x in execute_iter(plan, journal):
                    if isinstance(x, q.Outcome):
                        is_clip = x.rel in clips
                        if is_clip:
                            done += 1
                            added += x.status == "moved"
                            skipped += x.status != "moved"
                        else:
                            sidecars += x.status == "moved"
                        yield event(x.status, **x.to_dict())
                        now = time.perf_counter()
                        if is_clip and (now - last >= 0.25 or done == adds):
                            last = now
                            yield event("progress", phase="move", done=done, total=adds)
                    elif isinstance(x, q.BatchResult):
                        batch = x.to_dict()
                        yield event("batch", **batch)
    finally:
        if journal is not None:
            journal.close()
    yield event(
        "ingest_summary", incoming=plan.incoming, root=plan.root, dry_run=dry_run,
        added=added, planned=counts[ADD], rejected_corrupt=counts[CORRUPT],
        rejected_duplicate=counts[DUPLICATE], unplaced=counts[UNPLACED], not_moved=skipped,
        sidecars=sidecars, batch=batch.get("batch") if added else None,
        seconds=round(time.perf_counter() - t0, 3),
    )
