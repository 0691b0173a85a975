"""`nexara scan ROOT`: graded integrity verdicts for every clip, cached and resumable.

The work (`events`) runs where the data is; `render` runs on the user's side
and writes `--report` / `--csv` from the event stream, so both also work with
`--host` (the remote side never sees those options).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common, number
from core.errors import NexaraError
from core.records import LEVELS
from core.units import human_duration


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="check every video under ROOT and report corrupt / damaged files",
        description=(
            "Check every video under ROOT (ROOT/{train,val,test}/<class>/ or any folder of "
            "videos) in isolated worker processes. Results are stored, so a rescan only checks "
            "files that changed and an interrupted scan resumes. ROOT/corrupted_videos/ is never scanned."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder")
    p.add_argument("--level", choices=LEVELS, default="standard",
                   help="quick: container and index only; standard (default): enough decoding to "
                        "decide usable/unusable; full: every frame")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: CPU cores)")
    p.add_argument("--timeout", type=number(float, gt=0), metavar="S",
                   help="hard limit per file in seconds, plus 15 s per 100 MB (default 60)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="check the files on a Dask cluster: tcp://HOST:8786 (a running `dask "
                        "scheduler`; workers must see ROOT at the same path) or local:N (N worker "
                        "processes here); needs nexara[cluster]")
    p.add_argument("--report", metavar="FILE.json", help="write a JSON report of every file")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per file")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="follow directory symlinks that lead out of ROOT (default: skip and list them)")
    p.add_argument("--sources", metavar="MANIFEST.csv",
                   help="where clips came from: a CSV of path,url (paths relative to ROOT); "
                   "yt-dlp .info.json sidecars and [id] names are read without it")
    # A different checker, as 'module:function' (tests, experiments); hidden from --help.
    p.add_argument("--checker", metavar="MODULE:FUNC", help=argparse.SUPPRESS)
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__], client_options=("--report", "--csv"))


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core.scan import scan
    from core.userpaths import root_arg

    root = root_arg(args.root)  # '' is refused, not read as the current folder
    if args.workers is not None and args.workers < 1:
        raise NexaraError(f"--workers {args.workers}: must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise NexaraError(f"--timeout {args.timeout}: must be positive")
    cluster = getattr(args, "cluster", None)
    if cluster is not None and args.workers is not None:
        raise NexaraError("--workers sets the local pool; with --cluster the workers are Dask's "
                          "(local:N, or `dask worker --nthreads N` on each box)")
    yield from scan(
        root, level=args.level, workers=args.workers, timeout=args.timeout,
        checker=getattr(args, "checker", None), follow_symlinks=getattr(args, "follow_symlinks", False),
        sources=getattr(args, "sources", None), cluster=cluster,
    )


class Outputs:
    """The local files a scan writes from its event stream (`--report`, `--csv`)."""

    def __init__(self, args: argparse.Namespace):
        self.report_path = getattr(args, "report", None)
        self.csv_path = getattr(args, "csv", None)
        self.report: Any = None
        self.csv: Any = None

    def start(self, ev: dict[str, Any]) -> None:
        from core.report import CsvWriter, JsonReportWriter

        if self.report_path and self.report is None:
            self.report = JsonReportWriter(self.report_path, ev.get("root", ""), ev.get("level", ""))
        if self.csv_path and self.csv is None:
            self.csv = CsvWriter(self.csv_path)

    def file(self, result: dict[str, Any]) -> None:
        if self.report:
            self.report.add(result)
        if self.csv:
            self.csv.add(result)

    def finish(self, summary: dict[str, Any]) -> list[Path]:
        written = []
        if self.report:
            written.append(self.report.close(summary))
            self.report = None
        if self.csv:
            written.append(self.csv.close())
            self.csv = None
        return written

    def abort(self) -> None:
        for w in (self.report, self.csv):
            if w is not None:
                w.abort()
        self.report = self.csv = None


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    outputs = Outputs(args)
    try:
        if getattr(args, "json", False):
            for ev in events:
                _feed(outputs, ev)
            return 0
        return _render_human(events, outputs)
    finally:
        outputs.abort()  # only does something when the stream ended early


def _feed(outputs: Outputs, ev: dict[str, Any]) -> list[Path]:
    t = ev.get("type")
    if t == "start":
        outputs.start(ev)
    elif t == "file":
        outputs.file(ev["result"])
    elif t == "summary":
        return outputs.finish(ev["summary"])
    return []


def _render_human(events: Iterable[dict[str, Any]], outputs: Outputs) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from core.report import render_report
    from core.summary import Summary

    err = Console(stderr=True)
    out = Console()
    progress = Progress(
        TextColumn("[bold]scanning[/]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}"),
        console=err, transient=True, disable=not err.is_terminal,
    )
    task = None
    live = False
    cluster: dict[str, Any] | None = None  # the last `cluster` event, when scanning on Dask
    # Without a terminal (a pipe, a log file, CI) the bar is off: a plain line every few
    # seconds instead, so a long scan into `| tee log` still shows it is alive.
    lines = not err.is_terminal
    last_line = float("-inf")
    try:
        for ev in events:
            written = _feed(outputs, ev)
            t = ev.get("type")
            if lines and t == "progress" and time.monotonic() - last_line >= PROGRESS_LINE_S:
                last_line = time.monotonic()
                err.print(_progress_line(ev), highlight=False, soft_wrap=True)
            if t == "cluster":
                from core.cluster import describe

                if cluster is None:
                    err.print(f"on {escape(describe(ev))}", highlight=False)
                cluster = ev
            elif t == "start":
                _print_start(err, ev, escape)
                # Started only now, so an error before the scan starts prints one clean line.
                if ev.get("to_check"):
                    progress.start()
                    live = True
                task = progress.add_task("scan", total=ev.get("total") or 0,
                                         completed=ev.get("cached", 0), rate="", eta="")
            elif t == "progress" and task is not None:
                eta = ev.get("eta_s")
                progress.update(
                    task, completed=ev.get("done", 0), total=ev.get("total", 0),
                    rate=f"{ev.get('rate', 0):.1f} files/s",
                    eta=f"ETA {human_duration(eta)}" if eta is not None else "",
                )
            elif t == "summary":
                if live:
                    progress.stop()
                    live = False
                render_report(out, Summary.from_dict(ev["summary"]))
                out.print(
                    f"\n{ev.get('checked', 0)} checked, {ev.get('cached', 0)} unchanged (from the store), "
                    f"{ev.get('skipped', 0)} skipped, in {human_duration(ev.get('seconds', 0))}",
                    highlight=False,
                )
                if cluster is not None:
                    from core.cluster import describe

                    out.print(f"checked on {escape(describe(cluster))}", highlight=False)
                for path in written:
                    out.print(f"wrote {escape(str(path))}", highlight=False)
    finally:
        if live:
            progress.stop()
    return 0


PROGRESS_LINE_S = 5.0  # seconds between progress lines when stderr is not a terminal


def _progress_line(ev: dict[str, Any]) -> str:
    """"scanning: 1,234/20,000 files (6 %) · 45.1 files/s · ETA 6m 50s" — one plain line."""
    done, total = int(ev.get("done") or 0), int(ev.get("total") or 0)
    line = f"scanning: {done:,}/{total:,} files"
    if total:
        line += f" ({100 * done // total} %)"
    if ev.get("rate"):
        line += f" · {float(ev['rate']):.1f} files/s"
    if ev.get("eta_s") is not None:
        line += f" · ETA {human_duration(ev['eta_s'])}"
    return line


def _print_start(err: Any, ev: dict[str, Any], escape: Any) -> None:
    for note in ev.get("notes", []):
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    skipped = ev.get("skipped", [])
    for s in skipped[:10]:
        err.print(f"[dim]skipped:[/] {escape(repr(s['path'])[1:-1])}: {escape(s['reason'])}", highlight=False)
    if len(skipped) > 10:
        err.print(f"[dim]skipped: … and {len(skipped) - 10} more (see --json)[/]", highlight=False)
    err.print(
        f"{ev.get('total', 0)} videos at level {ev.get('level')}: {ev.get('cached', 0)} unchanged since "
        f"the last scan, {ev.get('to_check', 0)} to check",
        highlight=False,
    )


