"""`nexara demo make DIR`: a demo dataset of real clips, some damaged, with ground truth.

The demo is what `make demo` scans and what the tests and the benchmark build
on; see `core.demo` for what each damage kind is and why.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.events import event


def register(sub: argparse._SubParsersAction) -> None:
    from core.demo import DAMAGE_KINDS, SIZES

    p = sub.add_parser(
        "demo",
        help="build a demo dataset of real, partly damaged clips",
        description="Build demo datasets. `nexara demo make DIR` writes DIR/{train,val,test}/"
                    "{violent,nonviolent}/ and DIR/ground_truth.json.",
    )
    dsub = p.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    m = dsub.add_parser(
        "make",
        help="write the demo dataset into DIR",
        description="Encode clean clips in several containers and codecs (PyAV, no system ffmpeg), "
                    "damage a realistic share of them the ways scraped datasets break, and write "
                    "DIR/ground_truth.json with the verdict a correct scanner must give each file. "
                    f"Damage kinds: {', '.join(k for k in DAMAGE_KINDS if k != 'clean')}.",
    )
    m.add_argument("dir", metavar="DIR", help="an empty (or earlier demo) folder to write into")
    m.add_argument("--clips-per-class", type=int, default=16, metavar="N",
                   help="clean clips per class in train; val and test get 40%% of that (default 16)")
    m.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    m.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: 160x120, 2 s (default); bench: 640x360, 30 fps, 8 s like the user's clips")
    m.add_argument("--kinds", metavar="K,K", help="only these damage kinds (comma-separated); 'none' for none")
    add_common(m)
    m.set_defaults(cmd=sys.modules[__name__])

    v = dsub.add_parser(
        "verify",
        help="check every file of a demo dataset and compare with its ground truth",
        description="Run the integrity check on every file listed in DIR/ground_truth.json (in this "
                    "process, one file at a time) and list every file whose verdict the ground "
                    "truth does not allow. Exit status 1 if any disagree.",
    )
    v.add_argument("dir", metavar="DIR", help="a folder written by `nexara demo make`")
    v.add_argument("--level", choices=("quick", "standard", "full"), default="standard")
    add_common(v)
    v.set_defaults(cmd=sys.modules[__name__])


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    if args.demo_command == "verify":
        yield from _verify(args)
        return
    from core.demo import demo_stats, iter_make_demo

    kinds = None
    if args.kinds:
        kinds = [] if args.kinds.strip() == "none" else [k.strip() for k in args.kinds.split(",") if k.strip()]
    it = iter_make_demo(Path(args.dir), args.clips_per_class, args.seed, kinds, args.size)
    while True:
        try:
            done, total, rel = next(it)
        except StopIteration as stop:
            gt = stop.value
            break
        yield event("progress", done=done, total=total, path=rel)
    root = Path(args.dir).resolve()
    yield event("demo", root=str(root), ground_truth=str(root / "ground_truth.json"), **demo_stats(gt))


def _verify(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    import os

    from core.dataset import discover
    from core.demo import GroundTruth, check_against
    from core.integrity import check_file

    root = Path(args.dir)
    gt = GroundTruth.load(root)
    videos = {v.rel: v for v in discover(root).videos}
    results = {}
    for done, rel in enumerate(sorted(gt.files), 1):
        v = videos.get(rel)
        if v is None:
            continue
        results[rel] = check_file(root, v, args.level)
        yield event("progress", done=done, total=len(gt.files), path=rel)
    problems = check_against(gt, results, args.level)
    by_kind: dict[str, list[str]] = {}
    for rel, e in gt.files.items():
        r = results.get(rel)
        by_kind.setdefault(e.damage, []).append(r.verdict.value if r else "missing")
    yield event("demo_verify", root=str(root.resolve()), level=args.level, files=len(gt.files),
                problems=problems, verdicts_by_kind={k: sorted(set(v)) for k, v in sorted(by_kind.items())},
                cpu_count=os.cpu_count())


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        last: dict[str, Any] = {}
        for ev in events:
            last = ev
        return 1 if last.get("problems") else 0
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    final: dict[str, Any] = {}
    label = "checking files" if args.demo_command == "verify" else "encoding clips"
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)
        for ev in events:
            if ev.get("type") == "progress":
                progress.update(task, total=ev["total"], completed=ev["done"])
            elif ev.get("type") in ("demo", "demo_verify"):
                final = ev
    if final.get("type") == "demo_verify":
        for kind, verdicts in final["verdicts_by_kind"].items():
            print(f"  {kind:22s} {', '.join(verdicts)}")
        for line in final["problems"]:
            print(f"MISMATCH {line}")
        n_bad = len(final["problems"])
        print(f"{final['files'] - n_bad}/{final['files']} files agree with the ground truth at {final['level']}")
        return 1 if n_bad else 0
    if final:
        print(f"demo dataset: {final['root']}")
        print(f"  {final['files']} files, {final['damaged']} damaged, {final['unusable']} unusable")
        print(f"  ground truth: {final['ground_truth']}")
        print(f"  next: nexara scan {final['root']}")
    return 0
