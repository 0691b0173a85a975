"""`nexara restore ROOT`: undo quarantine moves — one batch, one file, everything, or the orphans —
and undo an ingest (`--batch`).

Files go back to their original paths through the same journal as the move
(crash-safe the same way); a file that has reappeared at its original path is
never overwritten (it is reported, and the quarantined copy stays). Only what
the journal recorded is put back: a regular file of the recorded size and
content hash (a symlink or a replaced file is refused, one line each). Any
move a crash interrupted is recovered first, and the selection (`--batch last`,
`--file`, `--all`) is made from the recovered journal. The scan store marks
restored files as part of the dataset again: no rescan needed.

`--batch ID` also undoes an ingest batch (`nexara ingest`): its clips and their
`.info.json` sidecars go back to the INCOMING paths they came from, byte for
byte, only while they are the bytes that were moved in, never over a file that
has appeared there since. One rule for `--batch last`: the newest batch that
still has something to undo — files in the quarantine (a quarantine or repair
batch) or ingested files still in the dataset (an ingest batch) — newest by its
latest completed move. `--all` and `--file` restore from the quarantine only.

A ROOT without a journal is refused (nothing was quarantined there; nothing is
created). Files in `corrupted_videos/` that the journal does not account for
(an emptied, deleted or garbled journal) are reported after `--all`, and
`--orphans` puts them back by path: `corrupted_videos/<rel>` goes to `<rel>`.

Exit status (the same rule as `quarantine`): 0 when every selected file was
restored (or there was nothing to restore), 1 when some were not (each named on
its own line, orphans left behind included), 2 when the command refused to start.
With `--json` a finished run exits 0 and the `batch` event's `skipped` says how many.

Events: `recovered`, `started`, `moved` (restored) / `skipped` per file,
`progress`, `batch`, `orphan` (after `--all`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from core.cli import add_common
from core.events import drain
from core.userpaths import root_arg, shown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restore",
        help="move quarantined files back into the dataset (undo `quarantine`, `repair`, `ingest`)",
        description="Move files from ROOT/corrupted_videos/ back to where they were, or (--batch) an "
                    "ingest batch's clips back to INCOMING. Never overwrites a file that has reappeared.",
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--batch", metavar="ID",
                   help="one batch (see `nexara quarantine ROOT --list`), an ingest batch too; 'last' for "
                        "the newest that still has something to undo")
    g.add_argument("--file", metavar="REL", help="one file, by its path relative to ROOT")
    g.add_argument("--all", action="store_true", help="everything in quarantine")
    g.add_argument("--orphans", action="store_true",
                   help="files in corrupted_videos/ that the journal does not account for, each back to "
                        "the path it sits under")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core import quarantine as q
    from core.commands.quarantine import orphan_events, outcome_events

    root = root_arg(args.root)
    t0 = time.perf_counter()
    it = q.restore_iter(root, batch=args.batch, rel=args.file, all=args.all, orphans=args.orphans)
    # The total comes with the `started` event, once recovery is done and the selection made.
    yield from outcome_events(it, total=0, t0=t0)
    if args.all:
        yield from orphan_events(root, q.orphans(root))


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
            out.print(f"[yellow]recovered[/] {escape(shown(ev['rel']))}: {escape(ev['message'])}", highlight=False, soft_wrap=True)
        elif t in ("skipped", "orphan"):
            skipped += 1
            out.print(f"[yellow]not restored[/] {escape(ev['message'])}", highlight=False, soft_wrap=True)
        elif t == "batch" and not ev["moved"] and not ev["skipped"]:
            out.print("nothing to restore per the journal", highlight=False, soft_wrap=True)
        elif t == "batch" and ev.get("op") == "uningest":
            out.print(f"[green]undid ingest: {ev['moved']} file(s) moved back out[/] "
                      f"({human_size(ev['bytes'])}), {ev['skipped']} not moved, batch {ev['batch']}",
                      highlight=False, soft_wrap=True)
        elif t == "batch":
            out.print(f"[green]restored {ev['moved']} file(s)[/] ({human_size(ev['bytes'])}), "
                      f"{ev['skipped']} not restored, batch {ev['batch']}", highlight=False, soft_wrap=True)
    return 1 if skipped else 0
