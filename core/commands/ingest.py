"""`nexara ingest INCOMING ROOT`: new clips into the dataset — verified, de-duplicated, undoable.

See `core.ingest`. Nothing moves without consent: with `--yes` it moves; at a
terminal without it, the plan (added / rejected as corrupt / rejected as
duplicates) is shown and the user answers y/N (with `--host` too: planned
there with --dry-run, asked here, then run there with --yes); with no terminal
(scripts, `--json`) it shows the plan and refuses (exit 2).

Exit status (the rule of quarantine and restore): 0 when every planned clip
was added (or there was nothing to add), 1 when some planned clips were not
moved (each named on its own line), 2 when the command refused to start. Clips
rejected as corrupt or as copies are the command doing its job, not a failure.

Events (`core.events`): `recovered` (a crash's moves, finished first), `ingest_start`,
`ingest_scan` (phase root|incoming, step start|progress|summary), `ingest_item` (per
incoming clip: status add|corrupt|duplicate|unplaced, dest, reason, duplicate_of, sidecar),
`ingest_plan` (counts), then `moved`/`skipped` (clips and their sidecars), `progress`
(phase move), `batch`, and `ingest_summary` (added, rejected_corrupt, rejected_duplicate,
unplaced, sidecars, batch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.events import drain
from core.records import LEVELS
from core.userpaths import root_arg, shown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="add new clips to the dataset: scanned, copies and corrupt clips refused, journaled",
        description="Scan the clips in INCOMING, refuse the unusable ones and the copies of footage "
        "already in ROOT (or earlier in INCOMING), and move the rest into ROOT/<split>/<class>/ "
        "through the journal (never overwriting a name). Without --split/--class they come from "
        "the layout INCOMING/<split>/<class>/. `nexara restore ROOT --batch ID` undoes an ingest.",
    )
    p.add_argument("incoming", metavar="INCOMING", help="the folder of new clips")
    p.add_argument("root", metavar="ROOT", help="the dataset folder")
    p.add_argument("--split", metavar="S", help="the split to add to (default: from INCOMING/<split>/…)")
    p.add_argument("--class", dest="cls", metavar="C",
                   help="the class to add to (default: from INCOMING/…/<class>/)")
    p.add_argument("--level", choices=LEVELS, default="standard", help="scan level (default standard)")
    p.add_argument("--workers", type=int, metavar="N", help="scan worker processes (default: CPU cores)")
    p.add_argument("--dry-run", action="store_true", help="show what would be added; move nothing")
    p.add_argument("--yes", "-y", action="store_true", help="move without asking")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core.ingest import ingest_events

    if not args.incoming:
        from core.errors import NexaraError

        raise NexaraError("INCOMING is empty ('' would mean the current folder); name the folder of new clips")
    yield from ingest_events(
        Path(args.incoming).expanduser(), root_arg(args.root), split=args.split,
        cls=args.cls, yes=args.yes, dry_run=args.dry_run, confirm=getattr(args, "confirm", None),
        level=args.level, workers=args.workers,
    )


def remote_events(host: Any, argv: Sequence[str], args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """With --host at a terminal, without --yes: plan there (--dry-run), ask here, run there (--yes).

    The second run plans again (the scan results are cached, so it is quick);
    a clip that changed in between is scanned and judged again, never added unchecked.
    """
    from core.events import event

    confirm: Callable[[dict[str, Any]], bool] | None = getattr(args, "confirm", None)
    if args.yes or args.dry_run or confirm is None:
        yield from host.stream(argv)
        return
    plan: dict[str, Any] = {}
    for ev in host.stream([*argv, "--dry-run"]):
        if ev.get("type") == "ingest_plan":
            plan = {k: v for k, v in ev.items() if k not in ("v", "type", "t")}
        if ev.get("type") != "ingest_summary":
            yield ev
    if not plan.get("counts", {}).get("add"):
        yield from _summary_only(host, argv)
        return
    if not confirm(plan):
        yield event("log", message="nothing moved")
        return
    for ev in host.stream([*argv, "--yes"]):
        if ev.get("type") in ("ingest_item", "ingest_plan", "ingest_scan", "ingest_start"):
            continue  # shown already, before the question
        yield ev


def _summary_only(host: Any, argv: Sequence[str]) -> Iterator[dict[str, Any]]:
    for ev in host.stream([*argv, "--dry-run"]):
        if ev.get("type") == "ingest_summary":
            yield ev


def render(stream: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        return drain(stream)
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    from core.units import human_size

    out, err = Console(), Console(stderr=True)
    if not args.yes and not args.dry_run and sys.stdin.isatty():
        def ask(plan: dict[str, Any]) -> bool:
            try:
                answer = out.input(Text(f"Move {plan['counts']['add']} clip(s) into the dataset? [y/N] "))
            except EOFError:
                return False
            return answer.strip().lower() in ("y", "yes")

        args.confirm = ask
    rc = 0
    for ev in stream:
        t = ev.get("type")
        if t == "ingest_scan" and ev.get("step") == "start":
            err.print(f"scanning {'the dataset' if ev['phase'] == 'root' else 'the new clips'}: "
                      f"{ev.get('to_check', 0)} to check, {ev.get('cached', 0)} unchanged", highlight=False)
        elif t == "ingest_item" and ev["status"] != "add":
            out.print(f"[yellow]rejected[/] {escape(shown(ev['src']))}: {escape(ev['reason'])}",
                      highlight=False, soft_wrap=True)
        elif t == "ingest_item" and args.dry_run:
            side = " (with its .info.json)" if ev.get("sidecar") else ""
            out.print(f"  add {escape(shown(ev['src']))} → {escape(shown(ev['dest']))}{side}",
                      highlight=False, soft_wrap=True)
        elif t == "ingest_plan":
            c = ev["counts"]
            verb = "would add" if ev["dry_run"] or not args.yes else "adding"
            out.print(f"[bold]{verb} {c['add']} clip(s)[/] ({human_size(ev['add_bytes'])}) into "
                      f"{escape(shown(ev['root']))}; rejected: {c['corrupt']} corrupt, {c['duplicate']} "
                      f"duplicate(s), {c['unplaced']} without split/class", highlight=False, soft_wrap=True)
        elif t == "skipped":
            rc = 1
            out.print(f"[yellow]not moved[/] {escape(ev['message'])}", highlight=False, soft_wrap=True)
        elif t == "recovered":
            out.print(f"[yellow]recovered[/] {escape(shown(ev['rel']))}: {escape(ev['message'])}",
                      highlight=False, soft_wrap=True)
        elif t == "log":
            out.print(escape(ev["message"]), highlight=False, soft_wrap=True)
        elif t == "ingest_summary":
            line = (f"added {ev['added']}, rejected as corrupt {ev['rejected_corrupt']}, "
                    f"rejected as duplicates {ev['rejected_duplicate']}, "
                    f"without split/class {ev['unplaced']}"
                    + (f"; {ev['sidecars']} .info.json sidecar(s) moved with their clips"
                       if ev.get("sidecars") else ""))
            out.print(Text(("dry run: " if ev["dry_run"] else "") + line, style="bold"))
            if ev.get("batch"):
                out.print(f"undo with: nexara restore {escape(shown(str(args.root)))} --batch {ev['batch']}",
                          highlight=False, soft_wrap=True)
    return rc
