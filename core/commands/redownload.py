"""`nexara redownload ROOT`: the lost clips' sources as a yt-dlp batch file, or fetched again.

Without `--run` it writes `--out` (a yt-dlp batch file: one URL per line,
deduplicated, grouped by the split/class to refill) and `<out>.unknown.txt` (the
lost clips with no known source), and says how much of the decision matrix's
re-download target the known sources cover. With `--run` (on the GPU box, which
has the internet) it downloads them into `INCOMING/<split>/<class>/` as a
detached job (`--wait` to stay attached; `--foreground` is what the job runs),
and `nexara ingest INCOMING ROOT` brings them in. `--out` is a client option:
with `--host` the list is written here, from the events the host sends.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.errors import NexaraError
from core.events import event


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "redownload",
        help="list (or fetch again) the sources of lost clips, per split and class",
        description=(
            "Plan A: the lost clips' sources (yt-dlp .info.json sidecars, a --sources manifest given "
            "to `nexara scan`, or a YouTube [id] in the name) as a yt-dlp batch file; with --run, "
            "download them with yt-dlp into INCOMING/<split>/<class>/ (resumable, rate-limited, "
            "errors per URL), ready for `nexara ingest INCOMING ROOT`."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder that was scanned")
    p.add_argument("--verdict", action="append", metavar="V",
                   help="which clips count as lost (default corrupt; repeatable, e.g. damaged)")
    p.add_argument("--class", dest="classes", action="append", metavar="NAME",
                   help="only this class (repeatable)")
    p.add_argument("--split", dest="splits", action="append", metavar="NAME",
                   help="only this split (repeatable)")
    p.add_argument("--out", metavar="LIST.txt",
                   help="write the yt-dlp batch file here (and LIST.unknown.txt)")
    p.add_argument("--id-url", metavar="TEMPLATE",
                   help="URL for a clip known only by the [id] in its name "
                        "(default https://www.youtube.com/watch?v={id})")
    p.add_argument("--run", action="store_true", help="download them now (yt-dlp), as a job")
    p.add_argument("--into", metavar="INCOMING",
                   help="where --run downloads to (default: ROOT_incoming next to ROOT)")
    p.add_argument("--sleep", type=float, default=1.0, metavar="S",
                   help="seconds between downloads, to be polite (default 1)")
    p.add_argument("--rate-limit", metavar="RATE", help="max download speed, e.g. 2M or 500K (bytes/s)")
    p.add_argument("--max", dest="max_downloads", type=int, metavar="N", help="at most N downloads this run")
    p.add_argument("--format", metavar="FMT", help="yt-dlp format (default: video only, ≤ 720p)")
    p.add_argument("--wait", action="store_true", help="with --run: stay attached until it ends")
    p.add_argument("--foreground", action="store_true", help="with --run: download in this process")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__], client_options=("--out",))


def _rate(text: str | None) -> int | None:
    if text is None:
        return None
    t = text.strip().upper().removesuffix("B").removesuffix("/S")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "KMG" else t
    try:
        v = float(num) * mult
    except ValueError:
        raise NexaraError(f"--rate-limit {text}: expected bytes per second, e.g. 2M or 500K") from None
    if not math.isfinite(v) or v <= 0:
        raise NexaraError(f"--rate-limit {text}: must be a positive number")
    return int(v)


def _validate(args: argparse.Namespace) -> None:
    if not (math.isfinite(args.sleep) and 0 <= args.sleep <= 3600):
        raise NexaraError(f"--sleep {args.sleep:g}: expected seconds between 0 and 3600")
    if args.max_downloads is not None and args.max_downloads < 1:
        raise NexaraError(f"--max {args.max_downloads}: must be at least 1")
    if args.id_url is not None and "{id}" not in args.id_url:
        raise NexaraError(f"--id-url {args.id_url}: must contain {{id}}")
    if (args.wait or args.foreground or args.into) and not args.run:
        raise NexaraError("--into, --wait and --foreground go with --run")


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core import redownload as rd
    from core.provenance import DEFAULT_ID_URL
    from core.scan import stored_results

    _validate(args)
    rate = _rate(args.rate_limit)
    root = Path(args.root).expanduser()
    verdicts = args.verdict or ["corrupt"]
    into = rd.check_into(Path(args.into) if args.into else root.resolve().parent
                         / (root.resolve().name + "_incoming"), root) if args.run else None
    if args.run and not args.foreground:
        yield from _start_job(args, root, into)
        return
    store, _ = stored_results(root)
    with store:
        p = rd.plan(rd.lost_clips(store, verdicts, args.classes, args.splits),
                    args.id_url or DEFAULT_ID_URL)
        yield event("redownload_plan", root=str(root.resolve()), verdicts=verdicts,
                    targets=[{"url": t.url, "split": t.split, "class": t.cls, "rels": t.rels}
                             for t in p.targets],
                    unknown=[{"path": c.rel, "split": c.split, "class": c.cls} for c in p.unknown],
                    groups=_groups(p), shared=p.shared, coverage=_coverage(root, p))
        if args.run:
            assert into is not None
            opts = rd.RunOptions(into=into, sleep_s=args.sleep, rate_limit=rate,
                                 max_downloads=args.max_downloads,
                                 format=args.format or rd.DEFAULT_FORMAT)
            yield from rd.run(store, p, opts)


def _groups(p: Any) -> list[dict[str, Any]]:
    keys = sorted(set(p.lost), key=lambda k: (k[0], k[1]))
    urls: dict[tuple[str, str], int] = {}
    for t in p.targets:
        urls[(t.split, t.cls)] = urls.get((t.split, t.cls), 0) + 1
    return [{"split": s, "class": c, "lost": p.lost[(s, c)], "with_source": p.with_source[(s, c)],
             "urls": urls.get((s, c), 0)} for s, c in keys]


def _coverage(root: Path, p: Any) -> list[dict[str, Any]]:
    """Per class: the decision matrix's re-download need (train split) and the URLs that could fill it."""
    from core.commands.decide import compute
    from core.decision import DecisionPolicy

    try:
        d, _ = compute(str(root), DecisionPolicy())
    except NexaraError:
        return []
    out = []
    for r in d.plan_rows():
        urls = sum(1 for t in p.targets if t.cls == r.cls and t.split == (
            d.basis if d.basis != "all splits" else t.split))
        out.append({"class": r.cls, "split": d.basis, "need": r.redownload or 0, "urls": urls})
    return out


def _start_job(args: argparse.Namespace, root: Path, into: Path | None) -> Iterator[dict[str, Any]]:
    from core.jobs import attach, start_job

    argv = ["redownload", str(root.resolve()), "--run", "--foreground", "--into", str(into),
            "--sleep", repr(args.sleep)]
    for v in args.verdict or []:
        argv += ["--verdict", v]
    for c in args.classes or []:
        argv += ["--class", c]
    for s in args.splits or []:
        argv += ["--split", s]
    for flag, val in (("--id-url", args.id_url), ("--rate-limit", args.rate_limit),
                      ("--format", args.format),
                      ("--max", None if args.max_downloads is None else str(args.max_downloads))):
        if val is not None:
            argv += [flag, val]
    job_id = start_job(argv)
    yield event("job_started", job_id=job_id, argv=argv, into=str(into))
    if args.wait:
        for _, ev in attach(job_id):
            yield dict(ev)


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=bool(getattr(args, "json", False)))
    quiet = bool(getattr(args, "json", False))
    rc = 0
    failed = 0
    for ev in events:
        t = ev.get("type")
        if t == "redownload_plan":
            if args.out:
                _write_lists(Path(args.out), ev)
            if not quiet:
                _print_plan(console, ev, args)
        elif quiet:
            if t == "job_end":
                rc = int(ev.get("rc") or 0)
            elif t == "redownload_end":
                failed = int(ev.get("failed") or 0)
            continue
        elif t == "job_started":
            console.print(f"job [bold]{ev['job_id']}[/] started — downloading into {escape(ev['into'])}")
            if not args.wait:
                console.print(f"follow it: nexara job attach {ev['job_id']}   (or: … --run --wait)")
        elif t == "redownload_start":
            console.print(f"downloading {ev['total']:,} source(s) into {escape(ev['into'])} "
                          f"(archive {escape(ev['archive'])})", highlight=False)
        elif t == "download":
            mark = {"ok": "[green]ok[/]", "already": "[dim]already[/]"}.get(ev["status"], "[red]failed[/]")
            what = escape(ev.get("file") or ev.get("error") or "")
            console.print(f"{ev['done']:>5}/{ev['total']}  {mark}  {ev['split']}/{ev['cls']}  "
                          f"{escape(ev['url'])}  {what}", highlight=False)
        elif t == "redownload_end":
            failed = int(ev.get("failed") or 0)
            console.print(f"[bold]done[/]: {ev['downloaded']:,} downloaded, {ev['already']:,} already "
                          f"there, {failed:,} failed ({ev['seconds']:.1f} s)", highlight=False)
            console.print(f"next: nexara ingest {escape(ev['into'])} {escape(str(args.root))}",
                          highlight=False)
        elif t == "job_end":
            rc = int(ev.get("rc") or 0)
    return rc or (1 if failed else 0)


def _write_lists(out: Path, ev: dict[str, Any]) -> None:
    from core.fsops import write_text_atomic

    lines = ["# nexara redownload: one URL per line (yt-dlp -a this-file), grouped by split/class"]
    last = None
    for t in ev.get("targets", []):
        if (t["split"], t["class"]) != last:
            last = (t["split"], t["class"])
            lines.append(f"# {t['split']}/{t['class']}")
        lines.append(t["url"])
    try:
        write_text_atomic(out, "\n".join(lines) + "\n")
        unknown = out.with_name(out.stem + ".unknown.txt")
        rows = ["# lost clips with no known source: path<TAB>split/class"]
        rows += [f"{u['path']}\t{u['split']}/{u['class']}" for u in ev.get("unknown", [])]
        write_text_atomic(unknown, "\n".join(rows) + "\n")
    except OSError as exc:
        raise NexaraError(f"{out}: cannot write ({exc.strerror or exc})") from exc


def _print_plan(console: Any, ev: dict[str, Any], args: argparse.Namespace) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Lost clips and their sources", show_edge=False)
    for col in ("split/class", "lost", "with source", "URLs"):
        table.add_column(col, justify="left" if col == "split/class" else "right", no_wrap=True)
    for g in ev.get("groups", []):
        table.add_row(f"{escape(g['split'])}/{escape(g['class'])}", f"{g['lost']:,}",
                      f"{g['with_source']:,}", f"{g['urls']:,}")
    console.print(table)
    for c in ev.get("coverage", []):
        need, urls = c["need"], c["urls"]
        if need:
            console.print(f"{escape(c['class'])}: the decision matrix asks for {need:,} more valid "
                          f"{escape(c['split'])} clips; {urls:,} known source(s) could cover "
                          f"{min(urls, need):,} of them ({min(urls, need) * 100 // need} %)",
                          highlight=False)
    if ev.get("shared"):
        console.print(f"[yellow]note:[/] {len(ev['shared'])} source(s) were lost from more than one "
                      "split/class; each is listed once, for the held-out split (test, then val)")
    n_unknown = len(ev.get("unknown", []))
    if args.out:
        console.print(f"wrote {len(ev.get('targets', [])):,} URL(s) to {escape(args.out)}"
                      + (f" and {n_unknown:,} path(s) without a source to "
                         f"{escape(str(Path(args.out).with_name(Path(args.out).stem + '.unknown.txt')))}"
                         if n_unknown else ""), highlight=False)
    elif n_unknown:
        console.print(f"{n_unknown:,} lost clip(s) have no known source (--out LIST.txt lists them)")
    if not args.run and ev.get("targets"):
        console.print("fetch them on the box: nexara redownload ROOT --run (or yt-dlp -a LIST.txt)")
