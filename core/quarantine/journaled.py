"""Journaled moves whose kind and paths the caller chooses: how repair runs its `put` and `aside`,
and ingest its `ingest` (clips moved in from an INCOMING folder outside ROOT).

The same intent → move → fsync → done protocol (`core.quarantine.moves`), the
same path checks (relative, resolving inside ROOT or inside its quarantine
folder; for ingest, absolute paths inside the one INCOMING folder the batch
names, checked as recovery checks them: `paths.incoming_path`) and the same
`NEXARA_CRASH_AT` points as a quarantine; the caller holds the journal's lock,
has recovered, and keeps the scan store in step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import QUARANTINE_DIR
from core.errors import NexaraError
from core.journal import MOVE, Journal
from core.quarantine.crash import CrashHook
from core.quarantine.moves import CHUNK, Move, run_moves
from core.quarantine.paths import (
    Resolver,
    check_incoming,
    check_rel,
    check_writable,
    incoming_path,
    resolve_root,
)
from core.quarantine.records import Outcome
from core.userpaths import shown


@dataclass
class MoveSpec:
    """One journaled move whose kind and paths the caller chooses (repair: MOVE, PUT, ASIDE)."""

    op: str
    rel: str
    src: str  # ROOT-relative, as the journal records it (`corrupted_videos/…` for the quarantine;
    # ingest: an absolute path inside the INCOMING folder the batch names)
    dst: str
    size: int
    mtime_ns: int | None  # expected (None: do not check)
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)
    extra: dict[str, Any] | None = None  # more fields for the intent record
    rename_only: bool = False  # a rename or nothing: never a copy (even with force_copy)
    of: str = ""  # ingest: the clip this file (its `.info.json` sidecar) travels with


def journaled_moves(
    root: str | Path, journal: Journal, batch: str, specs: list[MoveSpec], *,
    seq0: int = 0, force_copy: bool | None = None, chunk: int = CHUNK, incoming: str | None = None,
) -> list[tuple[MoveSpec, Outcome]]:
    """Run `specs` in order under the same intent → move → fsync → done protocol as a quarantine.

    The caller holds `journal` open (its lock), has recovered, and keeps the scan
    store in step. Every path is checked as the journal's own are (relative,
    resolving inside ROOT, or inside its quarantine folder); with `incoming` (an
    ingest), an absolute path must lie inside that folder, and every intent records
    it. The crash points of `NEXARA_CRASH_AT` apply as for a quarantine.
    """
    moves: list[Move] = []
    for _ in iter_journaled_moves(root, journal, batch, specs, seq0=seq0, force_copy=force_copy,
                                  chunk=chunk, incoming=incoming, moves=moves):
        pass
    return [(sp, m.outcome or Outcome(m.rel, "skipped", m.size, "error", f"{shown(m.rel)}: not moved"))
            for sp, m in zip(specs, moves, strict=True)]


def iter_journaled_moves(
    root: str | Path, journal: Journal, batch: str, specs: list[MoveSpec], *,
    seq0: int = 0, force_copy: bool | None = None, chunk: int = CHUNK, incoming: str | None = None,
    moves: list[Move] | None = None,
) -> Iterator[Outcome]:
    """`journaled_moves`, yielding each outcome once it is durable (or refused): for progress.

    `moves`, when given, receives the `Move` of each spec, in order.
    """
    root_p = resolve_root(root)
    res = Resolver(root_p)
    qprefix = QUARANTINE_DIR + "/"
    if incoming is not None:
        check_incoming(incoming, res, "move")

    def where(path: str) -> tuple[str, str]:
        if os.path.isabs(path):
            if incoming is None:
                raise NexaraError(f"move: absolute path {shown(path)} outside an ingest; refusing")
            full = incoming_path(path, incoming, res, "move")
            return os.path.dirname(full), full
        if path.startswith(qprefix):
            return res.q_dir(check_rel(path[len(qprefix):], "move"), "move")
        return res.src_dir(check_rel(path, "move"), "move")

    moves = [] if moves is None else moves
    by_rel: dict[str, Move] = {}
    for sp in specs:
        sdir, src = where(sp.src)
        ddir, dst = where(sp.dst)
        extra = dict(sp.extra or {})
        if incoming is not None:
            extra["incoming"] = incoming
        if sp.of:
            extra["of"] = check_rel(sp.of, "move")
        moves.append(Move(check_rel(sp.rel, "move"), src, dst, sp.size, sp.mtime_ns, sp.verdict,
                          list(sp.reasons), sdir=sdir, ddir=ddir, op=sp.op, jsrc=sp.src, jdst=sp.dst,
                          extra=extra or None, rename_only=sp.rename_only,
                          follows=by_rel.get(sp.of) if sp.of else None))
        by_rel.setdefault(moves[-1].rel, moves[-1])
    check_writable([str(root_p), res.qdir, *{m.sdir for m in moves}, *{m.ddir for m in moves}])
    if force_copy is None:
        force_copy = os.environ.get("NEXARA_QUARANTINE_FORCE_COPY") == "1"
    yield from run_moves(batch, journal, MOVE, moves, force_copy, chunk, CrashHook(), seq0=seq0)
