"""`nexara quarantine ROOT`: move flagged clips into ROOT/corrupted_videos/, journaled.

Nothing moves without consent: with `--yes` it moves; without it, a person at a
terminal sees the plan (count, total size, by reason) and answers y/N (with
`--host`, too: planned there, asked here, see `remote_events`); with no
terminal (scripts, `--json`) it lists the plan and refuses (exit 2).
Every run first recovers any move a crash interrupted. `--list` shows the journal,
the lines of it that are not records, and the files in the quarantine folder that
it does not account for (orphans: `nexara restore ROOT --orphans` puts them back).
Files whose check never finished (timeout, crash, check_failed) are "not checked":
listed apart in the plan, never moved unless named in `--files-from`.

Exit status (the same rule as `restore`): 0 when every selected file moved (or
there was nothing to move), 1 when some were skipped (each named on its own
line), 2 when the command refused to start. With `--json` a finished run exits
0 and the `batch` event's `skipped` says how many.

Events: `recovered` (per interrupted move), `plan` (with `not_checked`), `planned`
(per file, dry run), `started`, `moved` / `skipped` (per file), `progress`, `batch`
(summary); with `--list`: `journal_batch` per batch, `journal_bad_line`, `orphan`
and `quarantine` (totals).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.errors import NexaraError
from core.events import drain, event
from core.records import Verdict
from core.units import human_size
from core.userpaths import root_arg, shown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quarantine",
        help="move flagged files into ROOT/corrupted_videos/ (journaled, undoable with `restore`)",
        description=(
            "Move flagged files from ROOT/<path> to ROOT/corrupted_videos/<path>. Every move is "
            "journaled (ROOT/corrupted_videos/journal.jsonl) and can be undone with `nexara restore`. "
            "Files changed since the scan are not moved. Without --yes, lists the plan and asks."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder (scanned)")
    p.add_argument("--verdict", action="append", choices=[v.value for v in Verdict], metavar="V",
                   help="move files with this verdict (default: corrupt; with --files-from: any); repeatable")
    p.add_argument("--reason", action="extend", nargs="+", metavar="CODE",
                   help="only files carrying one of these reason codes")
    p.add_argument("--files-from", metavar="FILE",
                   help="only the files listed in FILE, on the data's machine: one ROOT-relative path per line, "
                        "or NUL-terminated (find -print0) for names with newlines")
    p.add_argument("--dry-run", action="store_true", help="show what would move; move nothing")
    p.add_argument("--yes", "-y", action="store_true", help="move without asking")
    p.add_argument("--list", action="store_true", help="show the journal: batches and their files")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def _progress(done: int, total: int, t0: float) -> dict[str, Any]:
    el = max(time.perf_counter() - t0, 1e-6)
    rate = done / el
    return event("progress", done=done, total=total, rate=round(rate, 1),
                 eta_s=round((total - done) / rate, 1) if rate > 0 else None)


def outcome_events(
    it: Iterable[Any], total: int, t0: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Engine objects (recovery actions, outcomes, the batch result) → events, with throttled progress."""
    from core.quarantine import BatchResult, Outcome, RecoveryAction, Started

    t0 = t0 or time.perf_counter()
    done, last = 0, 0.0
    for x in it:
        if isinstance(x, RecoveryAction):
            yield event("recovered", **x.to_dict())
        elif isinstance(x, Started):
            total = x.total  # the selection as made after recovery
            yield event("started", **x.to_dict())
        elif isinstance(x, Outcome):
            done += 1
            yield event(x.status, **x.to_dict())
            now = time.perf_counter()
            if now - last >= 0.25 or done == total:
                last = now
                yield _progress(done, total, t0)
        elif isinstance(x, BatchResult):
            yield event("batch", **x.to_dict())


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core import quarantine as q
    from core.store import ScanStore

    root = root_arg(args.root)
    if args.list:
        for a in q.recover(root):
            yield event("recovered", **a.to_dict())
        yield from list_events(root)
        return
    files = q.read_files_from(args.files_from, root) if args.files_from else None
    if not root.is_dir():
        raise NexaraError(f"{shown(args.root)}: no such directory")
    if not ScanStore.exists_for(root):
        raise NexaraError(f"{shown(args.root)}: no scan results; run `nexara scan {shown(args.root)}` first")
    with ScanStore.for_root(root) as store:
        if store.moved_aside is not None:
            raise NexaraError(f"{shown(args.root)}: no scan results (the scan store was not a SQLite "
                              f"database and was moved aside); run `nexara scan {shown(args.root)}` first")
        for a in q.recover(root, store=store):
            yield event("recovered", **a.to_dict())
        verdicts = args.verdict if args.verdict else (None if files is not None else ["corrupt"])
        plan = q.plan(root, store, verdicts=verdicts, reasons=args.reason, files=files)
        yield event("plan", dry_run=bool(args.dry_run), verdicts=verdicts, reasons=args.reason,
                    **plan.to_dict())
        for rel in plan.changed:
            yield event("skipped", rel=rel, status="skipped", reason="changed",
                        message=f"{shown(rel)}: changed since the scan (size/mtime); rescan it")
        for rel in plan.vanished:
            yield event("skipped", rel=rel, status="skipped", reason="vanished",
                        message=f"{shown(rel)}: vanished since the scan")
        for rel in plan.not_scanned:
            yield event("skipped", rel=rel, status="skipped", reason="not_scanned",
                        message=f"{shown(rel)}: not in the scan results (not scanned, or not a dataset file)")
        for rel in plan.already:
            yield event("skipped", rel=rel, status="skipped", reason="already",
                        message=f"{shown(rel)}: already in quarantine")
        for rel, msg in plan.refused:
            yield event("skipped", rel=rel, status="skipped", reason="refused", message=msg)
        if args.dry_run:
            for it in plan.items:
                yield event("planned", rel=it.rel, size=it.size, verdict=it.verdict, reasons=it.reasons)
            return
        if not plan.items:
            yield event("batch", batch=None, op="move", moved=0, skipped=0, bytes=0, seconds=0.0)
            return
        if not args.yes:
            confirm: Callable[[dict[str, Any]], bool] | None = getattr(args, "confirm", None)
            if confirm is None:
                raise NexaraError(
                    f"{shown(args.root)}: would move {len(plan.items)} file(s); refusing without --yes "
                    "(no terminal to confirm on). Re-run with --yes, or --dry-run to look."
                )
            if not confirm(plan.to_dict()):
                yield event("log", message="nothing moved")
                return
        t0 = time.perf_counter()
        yield from outcome_events(q.execute_iter(root, plan, store=store), len(plan.items), t0)


def _drop_option(argv: Sequence[str], name: str) -> list[str]:
    """argv without `name VALUE` / `name=VALUE`."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == name:
            skip = True
        elif not a.startswith(name + "="):
            out.append(a)
    return out


def remote_events(host: Any, argv: Sequence[str], args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """`quarantine --host H` without --yes, at a terminal: plan there, ask here, move there.

    The host has no terminal to ask on, so the plan is made on the host with
    --dry-run, shown and confirmed locally, and then exactly the planned files
    are moved: their list goes to the host as a temp file (`--files-from`,
    deleted afterwards) with --yes. Files that changed in between are still
    refused by the host, as in a local run (the list is NUL-separated, so
    any name passes). Without a terminal (or with --yes, --dry-run, --list) this is
    plain `host.stream(argv)`: the host refuses to move without --yes.
    """
    from core.host import temp_list_on

    confirm: Callable[[dict[str, Any]], bool] | None = getattr(args, "confirm", None)
    if args.yes or args.dry_run or args.list or confirm is None:
        yield from host.stream(argv)
        return
    plan: dict[str, Any] = {}
    planned: list[str] = []
    shown: set[tuple[Any, Any]] = set()
    for ev in host.stream([*argv, "--dry-run"]):
        t = ev.get("type")
        if t == "planned":
            planned.append(str(ev["rel"]))
            continue  # a local run shows the summary by reason, not every file, before asking
        if t == "plan":
            plan = ev = {**ev, "dry_run": False}
        elif t == "skipped":
            shown.add((ev.get("rel"), ev.get("reason")))
        yield ev
    if not planned:
        yield event("batch", batch=None, op="move", moved=0, skipped=0, bytes=0, seconds=0.0)
        return
    if not confirm({k: v for k, v in plan.items() if k not in ("v", "type", "t")}):
        yield event("log", message="nothing moved")
        return
    with temp_list_on(host, planned, "nexara-approved") as lst:
        move_argv = [*_drop_option(argv, "--files-from"), "--files-from", lst, "--yes"]
        for ev in host.stream(move_argv):
            t = ev.get("type")
            if t == "plan":
                continue  # shown already, before the question
            if t == "skipped" and (ev.get("rel"), ev.get("reason")) in shown:
                continue
            yield ev


def list_events(root: Path) -> Iterator[dict[str, Any]]:
    from core import quarantine as q
    from core.journal import Journal

    view = q.journal_view(root)
    journal = shown(str(Journal(root).path))
    for b in view.batches():
        yield event("journal_batch", **b)
    for n in view.bad_lines:
        yield event("journal_bad_line", line=n,
                    message=f"{journal}: line {n} is not a journal record; skipped")
    found = q.orphans(root, view)
    yield from orphan_events(root, found)
    inq = view.in_quarantine()
    yield event("quarantine", files=len(inq), bytes=sum(e.size for e in inq.values()),
                pending=len(view.pending()), torn_bytes=view.torn_bytes, bad_lines=view.bad_lines,
                orphans=len(found), orphan_bytes=sum(o.size for o in found))


def orphan_events(root: Path, found: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """One `orphan` event per file in the quarantine folder that the journal does not account for."""
    for o in found:
        why = (f"cannot be restored: {o.problem}" if o.problem
               else f"restore it with `nexara restore {shown(str(root))} --orphans`")
        yield event("orphan", **o.to_dict(),
                    message=f"corrupted_videos/{shown(o.rel)}: not in the journal ({why})")



def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        return drain(events)
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    out = Console()
    if not args.yes and not args.dry_run and sys.stdin.isatty():
        def ask(_plan: dict[str, Any]) -> bool:
            try:
                # A plain Text: as a str, rich would take "[y/N]" for a style tag and drop it
                answer = out.input(Text("Move these files into corrupted_videos/? [y/N] "))
            except EOFError:
                return False
            return answer.strip().lower() in ("y", "yes")

        args.confirm = ask
    skipped = 0
    for ev in events:
        t = ev.get("type")
        if t == "recovered":
            out.print(f"[yellow]recovered[/] {escape(shown(ev['rel']))}: {escape(ev['message'])} "
                      f"({ev['action']})", highlight=False, soft_wrap=True)
        elif t == "plan":
            n, size = ev["count"], human_size(ev["total_size"])
            verb = "would move" if ev["dry_run"] or not args.yes else "moving"
            out.print(f"[bold]{verb} {n} file(s), {size}[/] into {escape(ev['root'])}/corrupted_videos/",
                      highlight=False, soft_wrap=True)
            for code, d in ev["by_reason"].items():
                out.print(f"  {escape(code):<22} {d['count']:>7}  {human_size(d['bytes'])}", highlight=False, soft_wrap=True)
            _print_not_checked(out, ev.get("not_checked") or [], args.root)
        elif t == "planned":
            out.print(f"  {escape(shown(ev['rel']))}  [dim]{ev['verdict']} {human_size(ev['size'])}[/]",
                      highlight=False, soft_wrap=True)
        elif t == "skipped":
            if ev.get("reason") != "already":  # already where it was asked to go: not a failure
                skipped += 1
            out.print(f"[yellow]skipped[/] {escape(ev['message'])}", highlight=False, soft_wrap=True)
        elif t == "batch":
            if ev.get("batch"):
                out.print(f"[green]{ev['op']} batch {ev['batch']}[/]: {ev['moved']} file(s) "
                          f"({human_size(ev['bytes'])}), {ev['skipped']} skipped, {ev['seconds']:.1f} s"
                          f"{'  — undo with: nexara restore ' + escape(shown(args.root)) + ' --batch ' + ev['batch'] if ev['op'] == 'move' else ''}",
                          highlight=False, soft_wrap=True)
            else:
                out.print("nothing to move", highlight=False, soft_wrap=True)
        elif t == "log":
            out.print(escape(ev["message"]), highlight=False, soft_wrap=True)
        elif t == "journal_batch":
            st = ", ".join(f"{k} {v}" for k, v in ev["states"].items())
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev["time"]))
            out.print(f"[bold]{ev['batch']}[/] {ev['op']:<7} {when}  {ev['count']} done "
                      f"({human_size(ev['bytes'])}); {st}", highlight=False, soft_wrap=True)
            for f in ev["files"]:
                out.print(f"    {f['state']:<11} {escape(shown(f['rel']))}", highlight=False, soft_wrap=True)
        elif t in ("journal_bad_line", "orphan"):
            out.print(f"[yellow]warning[/] {escape(ev['message'])}", highlight=False, soft_wrap=True)
        elif t == "quarantine":
            out.print(f"in quarantine: {ev['files']} file(s), {human_size(ev['bytes'])}"
                      + (f"; {ev['pending']} interrupted move(s) pending" if ev["pending"] else "")
                      + (f"; {ev['orphans']} file(s) ({human_size(ev.get('orphan_bytes', 0))}) in "
                         "corrupted_videos/ not in the journal" if ev.get("orphans") else "")
                      + (f"; {len(ev['bad_lines'])} journal line(s) skipped" if ev.get("bad_lines") else ""),
                      highlight=False, soft_wrap=True)
    return 1 if skipped else 0


def _print_not_checked(out: Any, files: list[dict[str, Any]], root: str, show: int = 10) -> None:
    """Files whose check never finished: not corrupt, not moved; a few by name, then a count."""
    from rich.markup import escape

    if not files:
        return
    codes = sorted({c for f in files for c in f.get("reasons", [])})
    out.print(f"[yellow]not checked[/] {len(files)} file(s) ({', '.join(codes)}): the check did not "
              f"finish, so they are not moved; `nexara scan {escape(shown(root))}` checks them again",
              highlight=False, soft_wrap=True)
    for f in files[:show]:
        out.print(f"  {escape(shown(f['rel']))}  [dim]{', '.join(f.get('reasons', []))}[/]", highlight=False, soft_wrap=True)
    if len(files) > show:
        out.print(f"  … and {len(files) - show} more (`--json` lists them all)", highlight=False, soft_wrap=True)
