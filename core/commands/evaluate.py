"""`nexara evaluate ROOT --model RUN_DIR/model.keras [--tta]`: test accuracy and the deployment gate.

The config comes from the run directory (`config.toml` beside the model), so the
features match what the model was trained on; `--config` / `--set` change it
(e.g. the TTA views or the gate thresholds). Exit status 0 for PASS, 1 for FAIL.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.commands.extract import add_config_options, render_training_event


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy, per-class recall and PASS/FAIL against the deployment gate",
        description=(
            "Evaluate a trained model on the test split: overall accuracy with its 95% interval, "
            "per-class recall, confusion matrix, and PASS/FAIL against gate_overall, gate_recall and "
            "gate_max_gap. --tta also averages the model over the config's tta_views."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder (scanned)")
    p.add_argument("--model", required=True, metavar="RUN_DIR/model.keras", help="the trained model")
    p.add_argument("--tta", action="store_true", help="also evaluate with test-time augmentation")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    add_config_options(p)
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def _config(args: argparse.Namespace) -> Any:
    from core.training.config import apply_overrides, apply_preset, load_config

    path = Path(args.config).expanduser() if args.config else Path(args.model).expanduser().parent / "config.toml"
    cfg = load_config(path if path.exists() or args.config else None)
    return apply_overrides(apply_preset(cfg, args.preset), list(args.set or []))


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    from core.training.evaluate import evaluate

    yield from evaluate(Path(args.root), Path(args.model), _config(args), tta=args.tta,
                        cache_base=Path(args.cache).expanduser() if args.cache else None, split=args.split)


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    passed = None
    if getattr(args, "json", False):
        for ev in events:
            if ev.get("type") == "evaluation":
                passed = ev["passed"]
        return 0 if passed else 1
    from rich.console import Console

    console = Console()
    for ev in events:
        if ev.get("type") != "evaluation":
            render_training_event(ev, console)
            continue
        passed = ev["passed"]
        for name, rep in ev["results"].items():
            lo, hi = rep["interval95"]
            console.print(f"\n[bold]{name.upper()}[/] on {ev['split']} ({rep['total']} clips): "
                          f"accuracy {rep['accuracy']:.1%} (95% interval {lo:.1%}–{hi:.1%})")
            labels = rep["confusion"]["labels"]
            width = max(len(c) for c in labels) + 2
            console.print("  true \\ predicted".ljust(width + 2) + "".join(c.rjust(width) for c in labels),
                          highlight=False)
            for c, row in zip(labels, rep["confusion"]["matrix"], strict=True):
                console.print(f"  {c}".ljust(width + 2) + "".join(str(n).rjust(width) for n in row),
                              highlight=False)
            for key, chk in rep["gate"].items():
                bound = f">= {chk['min']:.0%}" if "min" in chk else f"< {chk['max']:.0%}"
                mark = "[green]pass[/]" if chk["pass"] else "[red]FAIL[/]"
                console.print(f"  {key:<22} {chk['value']:.1%}  (gate {bound})  {mark}")
            if name == "tta":
                console.print(f"  TTA views: {', '.join(rep['views'])}; changed {rep['changed_predictions']} "
                              f"prediction(s) vs. plain")
        verdict = "[bold green]PASS[/]" if passed else "[bold red]FAIL[/]"
        console.print(f"\ndeployment gate ({ev['judged_on']}): {verdict}")
    return 0 if passed else 1
