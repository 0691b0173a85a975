"""`nexara dupes ROOT`: the same footage twice — exact and near copies, leakage, label conflicts.

Reads the fingerprints the last scan stored (`core.fingerprint`; no video is
decoded again) and groups them (`core.dupes`). The engine side yields one
`dupes` event with the groups and findings; the user's side prints them and,
with `--report`, writes `{"groups": [{"files": [...], "kind": "exact"|"near",
"splits": [...], "classes": [...]}], "findings": [...], ...}` with paths
relative to ROOT (a client option: with `--host` the file lands locally).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.events import event

SHOW_GROUPS = 20


def register(sub: argparse._SubParsersAction) -> None:
    from core.cli import add_common

    p = sub.add_parser(
        "dupes",
        help="find the same footage twice: copies across splits (leakage) and across classes",
        description="Group the clips of the last scan that are the same footage: exact copies "
        "(same bytes) and near copies (re-encoded, resized, remuxed, trimmed, with a logo). "
        "CRITICAL findings for groups that cross splits (leakage) or classes (label conflict).",
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder that was scanned")
    p.add_argument("--report", metavar="FILE.json", help="write the groups and findings as JSON")
    p.add_argument("--threshold", type=int, metavar="T",
                   help="max differing bits (of 64) for two frames to match (default 6)")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__], client_options=("--report",))


def rule_from_args(args: argparse.Namespace) -> Any:
    from core.dupes import MatchRule

    t = getattr(args, "threshold", None)
    if t is None:
        return MatchRule()
    if not 0 <= t <= 64:
        raise NexaraError(f"--threshold {t}: expected 0-64 (differing bits of a 64-bit frame hash)")
    return MatchRule(threshold=t)


def analyse_root(root: str | Path, rule: Any = None) -> tuple[Any, int]:
    """(core.dupes.Report, usable clips without a fingerprint) from ROOT's scan store."""
    from core.dupes import analyse, load_prints
    from core.scan import stored_results
    from core.summary import summarize
    from core.userpaths import root_arg

    store, _meta = stored_results(root_arg(str(root)))
    with store:
        prints = load_prints(store)
        usable = sum(c.valid() for c in summarize(store.results()).groups.values())
    return analyse(prints, rule), max(0, usable - len(prints))


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    rule = rule_from_args(args)
    report, missing = analyse_root(args.root, rule)
    yield event("dupes", root=str(Path(args.root).expanduser().resolve()), missing=missing,
                **report.to_dict())


def report_json(ev: dict[str, Any]) -> dict[str, Any]:
    """The `--report` document: the issue's shape first, then the detail."""
    groups = [{"files": g["files"], "kind": g["kind"], "splits": g["splits"], "classes": g["classes"],
               "keep": g.get("keep"), "members": g.get("members", [])} for g in ev.get("groups", [])]
    return {"root": ev.get("root"), "groups": groups, "findings": ev.get("findings", []),
            "redundant": ev.get("redundant", {}), "distinct": ev.get("distinct", []),
            "clips": ev.get("clips", 0), "rule": ev.get("rule", {})}


def render(stream: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    result = None
    for ev in stream:
        if ev.get("type") == "dupes":
            result = ev
    if result is None:
        raise NexaraError(f"{args.root}: the engine sent no duplicates report")
    if getattr(args, "report", None):
        from core.fsops import write_text_atomic

        path = Path(args.report).expanduser()
        try:
            write_text_atomic(path, json.dumps(report_json(result), indent=1, ensure_ascii=False))
        except OSError as exc:
            raise NexaraError(f"{path}: cannot write --report ({exc.strerror or exc})") from exc
    if getattr(args, "json", False):
        return 0
    from rich.console import Console

    print_dupes(Console(), result)
    if getattr(args, "report", None):
        print(f"nexara: wrote {args.report}", file=sys.stderr)
    return 0


_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def print_dupes(console: Any, ev: dict[str, Any]) -> None:
    from rich.text import Text

    groups = ev.get("groups", [])
    copies = sum(len(g["files"]) - 1 for g in groups)
    rule = ev.get("rule", {})
    console.print(Text(
        f"{ev.get('clips', 0):,} usable clips compared: {len(groups):,} group(s) of the same footage, "
        f"{copies:,} redundant cop{'y' if copies == 1 else 'ies'} "
        f"(frame threshold {rule.get('threshold')} bits, {rule.get('min_frames')} frames at one offset; "
        f"{ev.get('seconds', 0):.2f} s)", style="bold"))
    if ev.get("missing"):
        console.print(Text(f"note: {ev['missing']:,} usable clip(s) have no fingerprint yet — "
                           f"run `nexara scan {ev.get('root')}` to add them", style="yellow"))
    for n, g in enumerate(groups[:SHOW_GROUPS], 1):
        flags = []
        if len(g["splits"]) > 1:
            flags.append("LEAKAGE " + "+".join(g["splits"]))
        if len(g["classes"]) > 1:
            flags.append("LABEL CONFLICT " + "+".join(g["classes"]))
        head = Text(f"group {n} ({g['kind']}, {len(g['files'])} files)")
        if flags:
            head.append("  " + "  ".join(flags), style="bold red")
        console.print(head)
        for m in g.get("members", []):
            keep = "keep" if m["path"] == g.get("keep") else "    "
            res = f"{m['width']}x{m['height']}" if m.get("width") else ""
            console.print(Text(f"   {keep} {m['path']}  [{m['split']}/{m['class']}] {res}"))
    if len(groups) > SHOW_GROUPS:
        console.print(Text(f"… and {len(groups) - SHOW_GROUPS:,} more group(s) (--report FILE.json "
                           "lists them all)", style="dim"))
    if ev.get("findings"):
        console.print(Text("Findings:", style="bold"))
        for f in ev["findings"]:
            line = Text(f"  {f['severity'].upper():8} ", style=_STYLE.get(f["severity"], ""))
            line.append(f["message"])
            console.print(line)
    elif not groups:
        console.print(Text("No duplicates: every clip is distinct footage.", style="green"))
