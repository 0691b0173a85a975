"""`nexara results ROOT`: the stored verdicts of the last scan, without scanning.

For people (what is wrong, and where) and for the TUI and other commands
(`--json`: one `file` event per matching file, then a `summary` of the whole
dataset as stored). Filters narrow the file list, never the summary, so the
numbers always match what `nexara scan` printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.events import drain, event
from core.records import Verdict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "results",
        help="show the stored results of the last scan of ROOT (no scanning)",
        description="Show the stored verdicts for ROOT. Filters narrow the file list; the summary is always the whole dataset.",
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder that was scanned")
    p.add_argument("--verdict", action="append", choices=[v.value for v in Verdict], metavar="V",
                   help="only files with this verdict (ok, warning, damaged, corrupt); repeatable")
    p.add_argument("--reason", action="append", metavar="CODE",
                   help="only files carrying this reason code (e.g. truncated); repeatable")
    p.add_argument("--id-url", metavar="TEMPLATE", default=None,
                   help="URL for a clip known only by the [id] in its name "
                   "(default https://www.youtube.com/watch?v={id})")
    p.add_argument("--repaired", action="store_true",
                   help="only repaired copies (`nexara repair`), with the strategy and the original's verdict")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core.provenance import DEFAULT_ID_URL, SourcesTable
    from core.scan import stored_results
    from core.store import QUARANTINE
    from core.summary import Summary

    store, meta = stored_results(Path(args.root))
    verdicts = set(args.verdict or [])
    reasons = set(args.reason or [])
    id_url = getattr(args, "id_url", None) or DEFAULT_ID_URL
    summary = Summary()
    levels: dict[str, int] = {}
    shown = 0
    with store:
        sources = {rel: s for rel, (_, s) in SourcesTable(store.db).all().items()}
        yield event("results", root=str(Path(args.root).expanduser().resolve()), last_scan=meta)
        quarantined = store.count(QUARANTINE)
        for r in store.results():
            summary.add(r)
            levels[r.level] = levels.get(r.level, 0) + 1
            if verdicts and r.verdict.value not in verdicts:
                continue
            if reasons and not reasons.intersection(r.reasons):
                continue
            if getattr(args, "repaired", False) and not r.repair:
                continue
            shown += 1
            src = sources.get(r.path)
            if src is None:
                yield event("file", result=r.to_dict(), cached=True)
            else:
                yield event("file", result=r.to_dict(), cached=True,
                            source={"url": src.url_for(id_url), "how": src.how, "id": src.id})
    # `levels`: files per scan level (a store can mix them); `quarantined`: files moved out.
    yield event("summary", summary=summary.to_dict(), shown=shown, level=meta.get("level"),
                levels=levels, quarantined=quarantined)


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        return drain(events)
    from rich.console import Console
    from rich.markup import escape

    from core.report import render_report
    from core.summary import Summary

    out = Console()
    filtered = bool(args.verdict or args.reason or getattr(args, "repaired", False))
    rows: list[tuple[str, str, str, str, str]] = []
    for ev in events:
        t = ev.get("type")
        if t == "results":
            meta = ev.get("last_scan") or {}
            if meta and not meta.get("complete", False):
                out.print("[yellow]note:[/] the last scan did not finish; run `nexara scan` to complete it",
                          highlight=False)
        elif t == "file":
            r = ev["result"]
            if not filtered and r["verdict"] == Verdict.OK.value:
                continue  # unfiltered, list the files worth a look
            src = (ev.get("source") or {}).get("url") or ""
            rows.append((repr(r["path"])[1:-1], f"{r['split']}/{r['class']}", r["verdict"],
                         ", ".join(r.get("reasons", [])) + _repaired(r), src))
        elif t == "summary":
            if rows:
                _print_files(out, rows, escape)
            else:
                out.print("no matching files", highlight=False)
            out.print()
            render_report(out, Summary.from_dict(ev["summary"]))
    return 0


def _repaired(r: dict[str, Any]) -> str:
    """For a repaired copy: what it was and how it came back."""
    rep = r.get("repair")
    if not rep:
        return ""
    return (f" [repaired by {rep.get('strategy', '?')} from {rep.get('from_verdict', '?')}"
            f" {'/'.join(rep.get('from_reasons') or [])}, {rep.get('seconds_recovered', 0):g} s]")


def _print_files(out: Any, rows: list[tuple[str, str, str, str, str]], escape: Any) -> None:
    """A table when every path fits on its line; otherwise two lines per file.

    A path is never split inside a name: at 80 columns the path gets its own
    line (whole), and split/class, verdict and reasons go on the next one. The
    source column (plan A's provenance) only when some clip has one.
    """
    from rich.cells import cell_len
    from rich.table import Table

    any_source = any(r[4] for r in rows)
    widest = max(cell_len(r[0]) for r in rows)
    short = max(cell_len(r[1]) for r in rows) + max(cell_len(r[2]) for r in rows) + 6
    reasons = max(cell_len(r[3]) for r in rows)
    extra = min(max(cell_len(r[4]) for r in rows), 30) if any_source else 0
    if widest + short + min(reasons, 24) + extra <= out.width:
        table = Table(show_edge=False, pad_edge=False, expand=True)
        table.add_column("path", no_wrap=True, min_width=widest)
        table.add_column("split/class", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        table.add_column("reasons", overflow="fold", ratio=1)
        if any_source:
            table.add_column("source", overflow="fold", ratio=1)
        for path, group, verdict, why, src in rows:
            cells = [escape(path), escape(group), verdict, escape(why)]
            table.add_row(*cells, *([escape(src)] if any_source else []))
        out.print(table)
        return
    for path, group, verdict, why, src in rows:
        out.print(escape(path), style="bold", highlight=False, overflow="fold", soft_wrap=False)
        out.print(f"  {escape(group)} · {verdict}" + (f" · {escape(why)}" if why else ""),
                  highlight=False)
        if src:
            out.print(f"  source: {escape(src)}", highlight=False, overflow="fold")
