"""`nexara repair ROOT`: give back the flagged clips whose bytes still hold footage.

For every scanned file that is not ok, the strategies its evidence allows are
tried (remux, trim, rebuild the index; see `core.repair`), each candidate is
verified by the scan engine at `full`, and a kept one replaces the original
at the same path, journaled: the original goes into ROOT/corrupted_videos/
in the same batch, so `nexara restore --batch ID` undoes it.

Consent as for quarantine: with `--yes` it applies; without it, at a terminal
it shows what it would recover and asks (with `--host` too: planned there,
asked here, applied there with exactly the files shown); with no terminal it
shows the plan and refuses (exit 2). `--dry-run` changes nothing.

Exit status, the rule of `quarantine` and `restore`: 0 when every kept
candidate was put in place (or there was nothing to repair), 1 when some were
not (each named on its own `skipped` line), 2 when the command refused to start
(bad input, no scan, a read-only dataset, no --yes without a terminal). With
`--json` a finished run exits 0: the events say what was skipped.
Events: see `core.repair.session`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.errors import NexaraError
from core.events import event
from core.userpaths import root_arg


def register(sub: argparse._SubParsersAction) -> None:
    from core.repair.engine import DEFAULT_MIN_SECONDS

    p = sub.add_parser(
        "repair",
        help="recover flagged clips that still hold footage (verified, journaled, undoable)",
        description=(
            "Remux, trim to the decodable footage, or rebuild a lost MP4 index from a healthy clip "
            "of the same encoder; keep a candidate only if the scan engine verifies it at full and "
            "it is long enough. The original goes into ROOT/corrupted_videos/ (undo: nexara restore). "
            "Nothing is re-encoded."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder (scanned)")
    p.add_argument("--dry-run", action="store_true", help="show what would be recovered; change nothing")
    p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p.add_argument("--min-seconds", type=float, default=DEFAULT_MIN_SECONDS, metavar="S",
                   help=f"keep a repaired clip only if at least S seconds decode (default {DEFAULT_MIN_SECONDS:g})")
    p.add_argument("--reference", metavar="REL",
                   help="rebuild lost indexes with this healthy clip's decoder configuration "
                        "(default: picked from the dataset)")
    p.add_argument("--files-from", metavar="FILE",
                   help="only the files listed in FILE (one ROOT-relative path per line, or NUL-terminated)")
    p.add_argument("--report", metavar="F.json", help="write the per-file report here (JSON)")
    p.add_argument("--preview-frames", type=int, default=0, metavar="N",
                   help="include N frames sampled across each repaired candidate in its event (for the TUI)")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__], client_options=("--report",))


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core.repair.engine import RepairOptions
    from core.repair.session import repair_events

    root = root_arg(args.root)
    if not 0 <= args.preview_frames <= 64:
        raise NexaraError(f"--preview-frames {args.preview_frames}: must be between 0 and 64")
    files = None
    if args.files_from:
        from core.quarantine import read_files_from

        files = set(read_files_from(args.files_from, root))
    opts = RepairOptions(min_seconds=args.min_seconds, reference=args.reference,
                         preview_frames=args.preview_frames)
    confirm: Callable[[dict[str, Any]], bool] | None = getattr(args, "confirm", None)
    yield from repair_events(root, opts, files=files, dry_run=args.dry_run, yes=args.yes, confirm=confirm)


def _drop_files_from(argv: Sequence[str]) -> list[str]:
    from core.commands.quarantine import _drop_option

    return _drop_option(argv, "--files-from")


def remote_events(host: Any, argv: Sequence[str], args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """`repair --host H` at a terminal without --yes: plan there (--dry-run), ask here, apply there.

    Exactly the files shown as repairable are sent back (`--files-from`, a temp
    file on the host); each is attempted and verified again there before it is
    put in place, so a file that changed in between is still refused.
    """
    from core.host import temp_list_on

    confirm: Callable[[dict[str, Any]], bool] | None = getattr(args, "confirm", None)
    if args.yes or args.dry_run or confirm is None:
        yield from host.stream(argv)
        return
    planned: list[str] = []
    summary: dict[str, Any] = {}
    for ev in host.stream([*argv, "--dry-run"]):
        t = ev.get("type")
        if t == "candidate" and ev.get("status") == "repairable":
            planned.append(str(ev["rel"]))
        elif t == "repair_summary":
            summary = {k: v for k, v in ev.items() if k not in ("v", "type", "t")}
            ev = {**ev, "dry_run": False}
        elif t == "repair_plan":
            ev = {**ev, "dry_run": False}
        yield ev
    if not planned:
        yield event("batch", batch=None, op="repair", repaired=0, skipped=0, moved=0, bytes=0, seconds=0.0)
        return
    if not confirm(summary):
        yield event("log", message="nothing repaired")
        return
    with temp_list_on(host, planned, "nexara-repair") as lst:
        for ev in host.stream([*_drop_files_from(argv), "--files-from", lst, "--yes"]):
            if ev.get("type") in ("candidate", "repair_plan", "repair_summary", "progress"):
                continue  # shown before the question
            yield ev


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    from core.fsops import write_text_atomic

    report: dict[str, Any] = {"root": None, "files": [], "summary": None, "batch": None, "applied": []}
    rc = 0
    if getattr(args, "json", False):
        for ev in events:  # a finished --json run exits 0; its events carry every skipped file
            _collect(report, ev)
    else:
        rc = _human(events, args, report)
    if args.report:
        import json

        write_text_atomic(Path(args.report).expanduser(), json.dumps(report, indent=1, ensure_ascii=False))
    return rc


def _collect(report: dict[str, Any], ev: dict[str, Any]) -> int:
    t = ev.get("type")
    body = {k: v for k, v in ev.items() if k not in ("v", "type", "t", "frames")}
    if t == "repair_plan":
        report["root"] = ev.get("root")
        report["options"] = {"min_seconds": ev.get("min_seconds"), "reference": ev.get("reference")}
    elif t == "candidate":
        report["files"].append(body)
    elif t == "repair_summary":
        report["summary"] = body
    elif t in ("repaired", "resumed"):
        report["applied"].append(body)
    elif t == "skipped" and ev.get("batch") is not None:
        report["applied"].append(body)
        return 1
    elif t == "batch":
        report["batch"] = body
    return 0


def _human(events: Iterable[dict[str, Any]], args: argparse.Namespace, report: dict[str, Any]) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    out = Console()
    if not args.yes and not args.dry_run and sys.stdin.isatty():
        def ask(summary: dict[str, Any]) -> bool:
            try:
                answer = out.input(Text(f"Put {summary.get('repairable', 0)} repaired clip(s) in place "
                                        "(originals into corrupted_videos/)? [y/N] "))
            except EOFError:
                return False
            return answer.strip().lower() in ("y", "yes")

        args.confirm = ask
    rc = 0
    for ev in events:
        rc = max(rc, _collect(report, ev))
        t = ev.get("type")
        if t == "recovered":
            out.print(f"[yellow]recovered[/] {escape(ev['rel'])}: {escape(ev['message'])} ({ev['action']})",
                      highlight=False)
        elif t == "resumed":
            out.print(f"[yellow]finished[/] {escape(ev.get('message') or ev['rel'])}", highlight=False)
        elif t == "skipped":
            out.print(f"[yellow]skipped[/] {escape(ev.get('message') or ev['rel'])}", highlight=False)
        elif t == "repair_plan":
            verb = "checking" if not ev["dry_run"] else "looking at"
            out.print(f"[bold]{verb} {ev['count']} flagged file(s)[/] "
                      f"(kept only if verified at full and ≥ {ev['min_seconds']:g} s)", highlight=False)
        elif t == "candidate":
            _candidate(out, ev, escape)
        elif t == "repair_summary":
            _summary(out, ev, escape)
        elif t == "repaired":
            pass  # counted in the batch line
        elif t == "batch":
            if ev.get("batch"):
                root = escape(str(args.root))
                out.print(f"[green]repair batch {ev['batch']}[/]: {ev['repaired']} clip(s) put in place, "
                          f"{ev['seconds_recovered']:.1f} s of footage; originals in corrupted_videos/"
                          f"  — undo with: nexara restore {root} --batch {ev['batch']}", highlight=False)
            else:
                out.print("nothing to repair", highlight=False)
        elif t == "log":
            out.print(escape(ev["message"]), highlight=False)
    return rc


def _candidate(out: Any, ev: dict[str, Any], escape: Callable[[str], str]) -> None:
    rel = escape(repr(ev["rel"])[1:-1])
    before = ev["before"]["verdict"]
    if ev["status"] == "repairable":
        after = (ev.get("after") or {}).get("verdict", "?")
        present = ev.get("seconds_present")
        of = f" of {present:.2f}" if present else ""
        out.print(f"  [green]✓[/] {rel}  [b]{ev['strategy']}[/]  {ev['seconds_recovered']:.2f}{of} s  "
                  f"{before} → {after}", highlight=False)
        out.print(f"      [dim]{escape(ev.get('detail', ''))}[/]", highlight=False)
    elif ev["status"] == "not_repairable":
        out.print(f"  [red]✗[/] {rel}  [dim]{before}: {escape(ev.get('why', ''))}[/]", highlight=False)


def _summary(out: Any, ev: dict[str, Any], escape: Callable[[str], str]) -> None:
    strat = ", ".join(f"{k} {v}" for k, v in ev["by_strategy"].items()) or "none"
    out.print(f"[bold]repairable {ev['repairable']} of {ev['tried']} tried[/] "
              f"({ev['no_strategy']} more with no footage to recover); "
              f"{ev['seconds_recovered']:.1f} s recovered of {ev['seconds_present']:.1f} s present "
              f"in them; by strategy: {strat}", highlight=False)
    if ev["corrupt_recovered"]:
        cls = ", ".join(f"{k} {v}" for k, v in ev["recovered_by_class"].items())
        out.print(f"  unusable clips made usable: {ev['corrupt_recovered']} ({escape(cls)})", highlight=False)
    for why, n in list(ev["why_not"].items())[:8]:
        out.print(f"  [dim]not repaired {n:>5}  {escape(why)}[/]", highlight=False)
