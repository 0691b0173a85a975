"""`nexara extract ROOT --config C`: cache backbone features for every usable clip, resumable.

Training runs this itself when features are missing; running it first (e.g. as
a job on the GPU box) separates the hours of decoding from the training runs
that reuse its cache. Killed, it continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.events import drain


def add_config_options(p: argparse.ArgumentParser) -> None:
    """--config / --preset / --set / --cache: shared by extract, train and evaluate."""
    from core.training.config import PRESETS

    p.add_argument("--config", metavar="C", help="training config TOML (default: the seed's optimal config)")
    p.add_argument("--preset", choices=sorted(PRESETS), metavar="NAME",
                   help="apply a named bundle of overrides after --config, before --set "
                        f"({', '.join(sorted(PRESETS))}: tiny backbone, no weights download, "
                        "small head: seconds of training on a laptop CPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key (TOML value syntax), repeatable")
    p.add_argument("--cache", metavar="DIR",
                   help="features cache folder (default: in the state directory, per dataset)")


def load_args_config(args: argparse.Namespace) -> Any:
    """The config file (or the defaults), then --preset, then each --set, validated."""
    from core.training.config import apply_overrides, apply_preset, load_config

    cfg = load_config(Path(args.config).expanduser() if args.config else None)
    cfg = apply_preset(cfg, getattr(args, "preset", None))
    return apply_overrides(cfg, list(args.set or []))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="cache CNN features of every usable clip (batched, resumable)",
        description=(
            "Sample frames_per_clip frames from every clip the last scan judged usable, run the "
            "backbone on large batches, and cache the features per split (train with augmented "
            "views). A killed extraction resumes; a cache from another config is rebuilt."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder (scanned)")
    add_config_options(p)
    p.add_argument("--split", action="append", metavar="S", help="only this split (repeatable)")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core.training.data import usable_clips
    from core.training.features import extract_all

    cfg = load_args_config(args)
    clipset = usable_clips(Path(args.root), cfg)
    yield from extract_all(clipset, cfg, Path(args.cache).expanduser() if args.cache else None,
                           splits=args.split)


def render_training_event(ev: dict[str, Any], console: Any) -> None:
    """One human line for the extraction/training events (shared with train and evaluate)."""
    t = ev.get("type")
    if t == "progress" and ev.get("phase") == "extract":
        eta = f", eta {ev['eta_s']:.0f}s" if ev.get("eta_s") is not None else ""
        console.print(f"  extract {ev['split']}: {ev['done']}/{ev['total']} clips, "
                      f"{ev.get('rate') or 0:.0f} frames/s{eta}", highlight=False)
    elif t == "features":
        skipped = f", {len(ev['skipped'])} without decodable frames" if ev.get("skipped") else ""
        rate = f" at {ev['frames_per_s']:.0f} frames/s" if ev.get("frames_per_s") else ""
        console.print(f"[bold]{ev['split']}[/] ({ev['mode']}): {ev['views']} views of {ev['clips']} clips — "
                      f"{ev['extracted']} extracted{rate}, {ev['reused']} from cache{skipped}")
        console.print(f"  [dim]{ev['dir']}[/]")
    elif t == "log":
        console.print(f"[dim]{ev.get('message', '')}[/]")


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        return drain(events)
    from rich.console import Console

    console = Console()
    for ev in events:
        render_training_event(ev, console)
    return 0
