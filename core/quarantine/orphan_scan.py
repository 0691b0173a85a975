"""Files in the quarantine folder that the journal does not account for.

The journal is the only record of what was quarantined; if it is emptied,
deleted or garbled, the files stay in `ROOT/corrupted_videos/` and would be
silently forgotten: `--list` would say 0 files and `restore --all` "nothing to
restore". So the folder itself is looked at too. A file is accounted for when
the journal has it in quarantine (its last completed operation is a move) or has
a pending move for it; anything else is an orphan. Its original place is derived
from where it sits (`corrupted_videos/<rel>` came from `<rel>`), which is how
every move names its destination, so `restore --orphans` can put it back
through the journal like any other restore (never overwriting).

Ingest's moves (`core.ingest`) never touch the quarantine folder, so they
account for nothing in it.

Nexara's own files (the journal, its space reserve, partial copies of pending moves,
and `corrupted_videos/.repair/`, where repaired copies are set aside by a journaled
`aside` when their originals are restored) are not orphans; a partial copy no pending move explains is reported as one
that cannot be restored.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.dataset import QUARANTINE_DIR
from core.errors import NexaraError
from core.journal import INGEST, JOURNAL_NAME, REPAIR_DIR, RESERVE_NAME, UNINGEST, JournalView
from core.quarantine.moves import partial_paths
from core.quarantine.paths import PARTIAL_SUFFIX, check_quarantine_dir, check_rel
from core.quarantine.records import Orphan

_OWN = frozenset({JOURNAL_NAME, RESERVE_NAME})


def find_orphans(root: Path, view: JournalView) -> list[Orphan]:
    """Every file under ROOT/corrupted_videos/ that `view` does not account for, sorted by rel."""
    qdir = check_quarantine_dir(root)
    if not os.path.isdir(qdir):
        return []
    accounted = set(view.in_quarantine())
    pending_partials: set[str] = set()
    for e in view.pending():
        if e.op in (INGEST, UNINGEST):
            continue  # ingest never moves anything into the quarantine folder
        accounted.add(e.rel)
        for p in partial_paths(os.path.join(qdir, e.rel)):
            pending_partials.add(p)
    out: list[Orphan] = []
    for dirpath, dirnames, filenames in os.walk(qdir):
        top = dirpath == qdir
        if top and REPAIR_DIR in dirnames and not os.path.islink(os.path.join(dirpath, REPAIR_DIR)):
            dirnames.remove(REPAIR_DIR)  # set-aside repaired copies: journaled, not quarantined originals
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            if top and name in _OWN:
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, qdir).replace(os.sep, "/")
            if rel in accounted or path in pending_partials:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            problem = ""
            if name.endswith(PARTIAL_SUFFIX):
                problem = "a partial copy no pending move explains (not a complete file)"
            elif stat.S_ISLNK(st.st_mode):
                problem = "a symlink, not a quarantined file"
            elif not stat.S_ISREG(st.st_mode):
                problem = "not a regular file"
            else:
                try:
                    check_rel(rel, f"{QUARANTINE_DIR}/")
                except NexaraError as exc:
                    problem = exc.message
            out.append(Orphan(rel, st.st_size, problem))
    return out
