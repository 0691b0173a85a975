"""What the quarantine reports: plans, per-file outcomes, batch results, recovery actions.

Plain dataclasses with `to_dict` because every one of them becomes an event
(`core.commands.quarantine.outcome_events`) that travels over `--json` and SSH.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PlanItem:
    rel: str
    size: int
    mtime_ns: int
    verdict: str
    reasons: list[str]
    split: str = ""
    cls: str = ""


@dataclass
class Plan:
    """What a quarantine would move, and what it would not (with why)."""

    root: str
    items: list[PlanItem] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # size/mtime differ from the scan: rescan
    vanished: list[str] = field(default_factory=list)  # gone from disk since the scan
    not_scanned: list[str] = field(default_factory=list)  # asked for but not in the store
    already: list[str] = field(default_factory=list)  # already in quarantine
    refused: list[tuple[str, str]] = field(default_factory=list)  # (rel, one-line why)
    # (rel, reasons): the check never finished (timeout, crash, check_failed): not corrupt,
    # not moved by default; a rescan retries them.
    not_checked: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        return sum(i.size for i in self.items)

    def by_reason(self) -> dict[str, dict[str, int]]:
        """reason code → count and bytes (a file with several reasons counts under each)."""
        out: dict[str, dict[str, int]] = {}
        for i in self.items:
            for code in i.reasons or ["(none)"]:
                d = out.setdefault(code, {"count": 0, "bytes": 0})
                d["count"] += 1
                d["bytes"] += i.size
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["count"]))

    def to_dict(self, with_files: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "root": self.root, "count": len(self.items), "total_size": self.total_size,
            "by_reason": self.by_reason(), "changed": self.changed, "vanished": self.vanished,
            "not_scanned": self.not_scanned, "already": self.already,
            "refused": [{"rel": r, "message": m} for r, m in self.refused],
            "not_checked": [{"rel": r, "reasons": rs} for r, rs in self.not_checked],
        }
        if with_files:
            d["files"] = [asdict(i) for i in self.items]
        return d


@dataclass
class Outcome:
    """What happened to one file in a batch."""

    rel: str
    status: str  # "moved" | "skipped"
    size: int = 0
    # for skipped: changed | vanished | exists | reappeared | missing | not_regular | mismatch |
    # no_space | name_too_long | not_without (a sidecar whose clip did not move) | error
    reason: str = ""
    message: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Started:
    """A batch is about to move files: recovery is done and the selection is final."""

    op: str
    total: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    batch: str
    op: str
    moved: list[Outcome] = field(default_factory=list)
    skipped: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.moved)

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "op": self.op, "moved": len(self.moved),
                "skipped": len(self.skipped), "bytes": self.bytes, "seconds": round(self.seconds, 3)}


@dataclass
class RecoveryAction:
    batch: str
    seq: int
    op: str
    rel: str
    action: str  # "finished" | "rolled_back" | "attention"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Orphan:
    """A file in the quarantine folder that the journal does not account for.

    `rel` is its dataset path, derived from where it sits (`corrupted_videos/<rel>`);
    `problem` is empty for a regular file that `restore --orphans` can put back.
    """

    rel: str
    size: int
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
