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
    from core.summary import Summary

    store, meta = stored_results(Path(args.root))
    verdicts = set(args.verdict or [])
    reasons = set(args.reason or [])
    id_url = getattr(args, "id_url", None) or DEFAULT_ID_URL
    summary = Summary()
    shown = 0
    with store:
        sources = {rel: s for rel, (_, s) in SourcesTable(store.db).all().items()}
        yield event("results", root=str(Path(args.root).expanduser().resolve()), last_scan=meta)
        for r in store.results():
            summary.add(r)
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
    yield event("summary", summary=summary.to_dict(), shown=shown, level=meta.get("level"))


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        return drain(events)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from core.report import render_report
    from core.summary import Summary

    out = Console()
    filtered = bool(args.verdict or args.reason or getattr(args, "repaired", False))
    table = Table(show_edge=False, pad_edge=False, expand=True)
    # The path gets the room; the short columns never wrap.
    table.add_column("path", overflow="fold", ratio=3)
    table.add_column("split/class", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("reasons", overflow="fold", ratio=2)
    rows: list[tuple[str, ...]] = []
    any_source = False
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
            any_source = any_source or bool(src)
            rows.append((
                escape(repr(r["path"])[1:-1]), f"{escape(r['split'])}/{escape(r['class'])}",
                r["verdict"], escape(", ".join(r.get("reasons", [])) + _repaired(r)), escape(src),
            ))
        elif t == "summary":
            if rows:
                # The source column only when some clip has one: it costs the path room.
                if any_source:
                    table.add_column("source", overflow="fold", ratio=2)
                for row in rows:
                    table.add_row(*(row if any_source else row[:4]))
                out.print(table)
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
