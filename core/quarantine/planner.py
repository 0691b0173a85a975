"""Planning a quarantine: which scanned files would move, and which would not (with why).

A plan is made from the scan store and checked against the disk: a file whose
size or mtime changed since the scan is listed for a rescan, not moved. A file
whose check never finished (`timeout`, `crash`, `check_failed`: "not checked",
see `core.summary`) is not corrupt and is never moved by default; it moves only
when asked for by name (`--files-from`) or by one of those reason codes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from core.errors import NexaraError
from core.quarantine.paths import Resolver, check_rel, resolve_root
from core.quarantine.records import Plan, PlanItem
from core.store import DATASET, QUARANTINE, ScanStore
from core.summary import NOT_CHECKED_REASONS


def plan(
    root: str | Path,
    store: ScanStore,
    verdicts: Iterable[str] | None = ("corrupt",),
    reasons: Iterable[str] | None = None,
    files: Iterable[str] | None = None,
) -> Plan:
    """What would move: scanned dataset files matching the filters and unchanged since the scan.

    `files` (dataset-relative) narrows the selection to those files; `verdicts=None` means any
    verdict. Changed files are listed for rescan, vanished ones reported, files that were
    not checked listed apart; none of these is an error.
    """
    root_p = resolve_root(root)
    res = Resolver(root_p)
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
        unchecked = NOT_CHECKED_REASONS.intersection(r.reasons)
        if unchecked and wanted is None and not (rset and rset & unchecked):
            if rset is None:
                p.not_checked.append((r.path, sorted(unchecked)))
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
