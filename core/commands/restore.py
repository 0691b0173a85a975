"""`nexara restore ROOT`: undo quarantine moves — one batch, one file, or everything.

Files go back to their original paths through the same journal as the move
(crash-safe the same way); a file that has reappeared at its original path is
never overwritten (it is reported, and the quarantined copy stays). The scan
store marks restored files as part of the dataset again: no rescan needed.

Events: `recovered`, `moved` (restored) / `skipped` per file, `progress`, `batch`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.events import drain


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restore",
        help="move quarantined files back into the dataset (undo `quarantine`)",
        description="Move files from ROOT/corrupted_videos/ back to where they were. "
                    "Never overwrites a file that has reappeared at the original path.",
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--batch", metavar="ID", help="one batch (see `nexara quarantine ROOT --list`); 'last' for the newest")
    g.add_argument("--file", metavar="REL", help="one file, by its path relative to ROOT")
    g.add_argument("--all", action="store_true", help="everything in quarantine")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core import quarantine as q
    from core.commands.quarantine import outcome_events

    root = Path(args.root).expanduser()
    t0 = time.perf_counter()
    it = q.restore_iter(root, batch=args.batch, rel=args.file, all=args.all)
    # The total is known once recovery is done; count lazily from the selection.
    yield from outcome_events(it, total=len(_selection(root, args)), t0=t0)


def _selection(root: Path, args: argparse.Namespace) -> list[str]:
    from core import quarantine as q
    from core.ingest import ingested

    view = q.journal_view(root)
    inq = view.in_quarantine()
    if args.all:
        return list(inq)
    if args.file:
        return [args.file] if args.file in inq else []
    undoable = {**inq, **ingested(view)}  # an ingest batch is undone by `--batch` too
    batch = args.batch
    if batch == "last" and undoable:
        batch = max(undoable.values(), key=lambda e: e.order).batch
    return [r for r, e in undoable.items() if e.batch == batch]


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        return drain(events)
    from rich.console import Console
    from rich.markup import escape

    from core.units import human_size

    out = Console()
    skipped = 0
    for ev in events:
        t = ev.get("type")
        if t == "recovered":
            out.print(f"[yellow]recovered[/] {escape(ev['rel'])}: {escape(ev['message'])}", highlight=False)
        elif t == "skipped":
            skipped += 1
            out.print(f"[yellow]not restored[/] {escape(ev['message'])}", highlight=False)
        elif t == "batch" and not ev["moved"] and not ev["skipped"]:
            out.print("nothing to restore", highlight=False)
        elif t == "batch" and ev.get("op") == "uningest":
            out.print(f"[green]undid ingest: {ev['moved']} file(s) moved back out[/] "
                      f"({human_size(ev['bytes'])}), {ev['skipped']} not moved, batch {ev['batch']}",
                      highlight=False)
        elif t == "batch":
            out.print(f"[green]restored {ev['moved']} file(s)[/] ({human_size(ev['bytes'])}), "
                      f"{ev['skipped']} not restored, batch {ev['batch']}", highlight=False)
    return 1 if skipped else 0
