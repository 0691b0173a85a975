"""The journaled quarantine: move flagged clips out of the dataset, never lose one.

A file moves from `ROOT/<rel>` to `ROOT/corrupted_videos/<rel>` (same relative
path) and back on restore. Every move goes through the journal
(`core.journal`): intent record → move the bytes → done record; after a crash,
recovery finishes or rolls back by where the bytes are. Only a source whose
bytes now exist, verified, at the destination is ever unlinked; nothing is ever
overwritten.

One module per job:
  `paths`      which paths may be touched (ROOT-relative, resolved inside ROOT; the
               quarantine folder a real folder of ROOT's own), `--files-from` lists
  `planner`    what a quarantine would move, from the scan store
  `moves`      the intent → move → fsync → done protocol, rename or verified copy
  `recovery`   finishing or rolling back interrupted moves; store re-sync
  `orphan_scan` files in the quarantine folder the journal does not account for
  `operations` the public operations (recover first, then select, then move)
  `journaled`  moves of a caller's choosing in the same protocol (repair's `put`, `aside`;
               ingest's `ingest`, from an INCOMING folder outside ROOT)
  `repaired`   repaired copies in the dataset: set aside before a restore, store rows after a crash
  `records`    plans, outcomes, batch results, recovery actions (all become events)
  `crash`      the `NEXARA_CRASH_AT` crash-injection hook for the kill -9 tests
"""

from core.quarantine.crash import POINTS as CRASH_POINTS
from core.quarantine.journaled import MoveSpec, iter_journaled_moves, journaled_moves
from core.quarantine.moves import CHUNK, partial_paths
from core.quarantine.operations import (
    execute,
    execute_iter,
    journal_view,
    orphans,
    quarantined,
    restore,
    restore_iter,
)
from core.quarantine.paths import PARTIAL_SUFFIX, check_rel, read_files_from
from core.quarantine.planner import plan
from core.quarantine.records import (
    BatchResult,
    Orphan,
    Outcome,
    Plan,
    PlanItem,
    RecoveryAction,
    Started,
)
from core.quarantine.recovery import recover

__all__ = [
    "CHUNK", "CRASH_POINTS", "PARTIAL_SUFFIX", "BatchResult", "MoveSpec", "Orphan", "Outcome", "Plan",
    "PlanItem", "RecoveryAction", "Started", "check_rel", "execute", "execute_iter",
    "iter_journaled_moves", "journal_view", "journaled_moves", "orphans", "partial_paths", "plan", "quarantined", "read_files_from",
    "recover", "restore", "restore_iter",
]
