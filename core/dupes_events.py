"""The events `nexara dupes` and `nexara ingest` add to the wire (issue 15), as TypedDicts.

Kept apart from `core.events` (being reshaped into typed events) so the two
merge as one more block; every event also carries `v`, `type` and `t`.
Readers ignore unknown keys and types, so these add nothing breaking.
"""

from __future__ import annotations

from typing import Any, TypedDict


class DupesMember(TypedDict):
    path: str  # relative to ROOT
    split: str
    # "class" on the wire
    size: int
    verdict: str
    width: int
    height: int


class DupesGroup(TypedDict):
    files: list[str]
    kind: str  # "exact" | "near"
    splits: list[str]
    classes: list[str]
    keep: str  # the copy to keep by default (non-leaking split, best quality)
    keep_split: str
    members: list[dict[str, Any]]  # DupesMember with "class"


class DupesEvent(TypedDict):
    """type "dupes": the whole report of `nexara dupes ROOT`."""

    root: str
    groups: list[DupesGroup]
    findings: list[dict[str, str]]  # severity, code (leakage|label_conflict|redundant_copies), message
    clips: int  # usable clips with a fingerprint
    missing: int  # usable clips without one (scanned before fingerprints existed)
    redundant: dict[str, int]  # class → copies beyond the first
    distinct: list[dict[str, Any]]  # {split, class, distinct}
    rule: dict[str, Any]  # core.dupes.MatchRule
    seconds: float


class IngestStart(TypedDict):
    """type "ingest_start"."""

    incoming: str
    root: str
    split: str | None
    cls: str | None
    level: str


class IngestScan(TypedDict, total=False):
    """type "ingest_scan": the scans of ROOT (phase "root") and INCOMING ("incoming")."""

    phase: str
    step: str  # "start" | "progress" | "summary"
    done: int
    total: int
    rate: float
    eta_s: float | None
    to_check: int
    cached: int
    checked: int
    seconds: float


class IngestItem(TypedDict):
    """type "ingest_item": one incoming clip (core.ingest.IngestItem)."""

    src: str  # relative to INCOMING
    split: str
    cls: str
    status: str  # "add" | "corrupt" | "duplicate" | "unplaced"
    size: int
    dest: str  # relative to ROOT, for "add"
    reason: str
    reasons: list[str]
    duplicate_of: str  # "ROOT/<rel>" | "INCOMING/<rel>"
    verdict: str


class IngestPlanEvent(TypedDict):
    """type "ingest_plan"."""

    incoming: str
    root: str
    counts: dict[str, int]  # add, corrupt, duplicate, unplaced
    add_bytes: int
    dry_run: bool


class IngestSummary(TypedDict):
    """type "ingest_summary": the last event of an ingest."""

    incoming: str
    root: str
    dry_run: bool
    added: int
    planned: int
    rejected_corrupt: int
    rejected_duplicate: int
    unplaced: int
    not_moved: int  # planned but skipped by the move (changed, name taken meanwhile)
    batch: str | None  # undo: nexara restore ROOT --batch ID
    seconds: float
