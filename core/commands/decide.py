"""`nexara decide ROOT`: the decision matrix and rebalancing plan from the last scan.

Reads the scan store (never the videos), so it is instant and can run while
the user thinks. The engine side yields one `decision` event carrying the
Decision and the Summary it came from; the user's side draws the matrix with
rich and, with `--write-config`, writes the training config where the user
runs the command (a client option: with `--host` the file lands locally).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.events import event

# Threshold flags: (flag, policy key, type, help). Percent flags take 0-100.
_PCT_FLAGS = (
    ("--band-low", "band_low", "overall loss below this is 'clean and proceed' (default 20)"),
    ("--band-high", "band_high", "overall loss above this is 'rebuild' (default 40)"),
    ("--class-alarm", "class_alarm", "a class losing more than this is catastrophic (default 40)"),
    ("--minority-share-alarm", "minority_share_alarm",
     "a class below this share of valid clips is a severe imbalance (default 40)"),
    ("--target-accuracy", "target_accuracy", "accuracy the test split must measure (default 90)"),
    ("--max-ci-half-width", "max_ci_half_width",
     "widest acceptable 95 %% interval half-width, in points (default 3)"),
)
_INT_FLAGS = (
    ("--research-minimum", "research_minimum", "clips per class, research standard (default 5000)"),
    ("--good-minimum", "good_minimum", "clips per class for good learning (default 8000)"),
    ("--redownload-target", "redownload_target", "Option A target per class (default 10000)"),
    ("--augmentation-multiplier", "augmentation_multiplier",
     "views per clip in the optimal config (default 3)"),
    ("--max-multiplier", "max_multiplier", "cap on a minority class's multiplier (default 8)"),
)


def register(sub: argparse._SubParsersAction) -> None:
    from core.cli import add_common

    p = sub.add_parser(
        "decide",
        help="decision matrix and rebalancing plan from the last scan",
        description="From the last scan's counts: the corruption band and what to do, class "
        "weights, augmentation multipliers, re-download needs, val/test checks.",
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder that was scanned")
    add_common(p)
    p.add_argument("--write-config", metavar="TOML", help="write the training config here")
    p.add_argument("--force", action="store_true", help="replace an existing --write-config file")
    p.add_argument("--count-damaged-as-lost", action="store_true",
                   help="count 'damaged' clips as lost (default: kept, they still decode)")
    p.add_argument("--policy", metavar="TOML",
                   help="thresholds from a TOML file (flat keys or a [decision] table)")
    p.add_argument("--positive-class", metavar="NAME", help="the class to detect (default violent)")
    p.add_argument("--rebalance", choices=("multipliers", "weights", "both"),
                   help="which lever evens out the classes: augmentation multipliers (default; "
                   "class weights stay 1.0), class weights (every class keeps the base "
                   "multiplier), or both (the seed's Option B, which double-corrects)")
    p.add_argument("--balance-tolerance", type=float, metavar="PCT",
                   help="effective shares within 50 %% ± this many points count as balanced "
                   "(default 5)")
    for flag, key, hlp in _PCT_FLAGS:
        p.add_argument(flag, dest=key, type=float, metavar="PCT", help=hlp)
    for flag, key, hlp in _INT_FLAGS:
        p.add_argument(flag, dest=key, type=int, metavar="N", help=hlp)
    p.set_defaults(cmd=sys.modules[__name__], client_options=("--write-config",))


def policy_from_args(args: argparse.Namespace) -> Any:
    """The DecisionPolicy: defaults, then --policy file, then flags."""
    from core.decision import DecisionPolicy

    data: dict[str, Any] = {}
    if getattr(args, "policy", None):
        data.update(_read_policy(Path(args.policy)))
    for _, key, _ in _PCT_FLAGS:
        v = getattr(args, key, None)
        if v is not None:
            if not (math.isfinite(v) and 0 <= v <= 100):
                raise NexaraError(f"--{key.replace('_', '-')}: expected a percentage 0-100, got {v:g}")
            data[key] = v / 100
    for _, key, _ in _INT_FLAGS:
        v = getattr(args, key, None)
        if v is not None:
            data[key] = v
    if getattr(args, "positive_class", None):
        data["positive_class"] = args.positive_class
    if getattr(args, "rebalance", None):
        data["rebalance"] = args.rebalance
    tol = getattr(args, "balance_tolerance", None)
    if tol is not None:
        if not (math.isfinite(tol) and 0 <= tol < 50):
            raise NexaraError(f"--balance-tolerance: expected points in [0, 50), got {tol:g}")
        data["balance_tolerance"] = tol / 100
    if getattr(args, "count_damaged_as_lost", False):
        data["damaged_is_lost"] = True
    return DecisionPolicy.from_dict(data)


def _read_policy(path: Path) -> dict[str, Any]:
    from core.tomlfile import read_toml

    data = read_toml(path, "policy file") or {}
    if isinstance(data.get("decision"), dict):
        data = data["decision"]
    try:
        from core.decision import DecisionPolicy

        DecisionPolicy.from_dict(data)
    except NexaraError as exc:
        raise NexaraError(f"{path}: {exc.message}") from None
    return data


def compute(root: str, policy: Any) -> tuple[Any, Any]:
    """(Decision, Summary) for ROOT from its scan store; NexaraError (exit 2) if never scanned."""
    from core.decision import decide
    from core.store import ScanStore
    from core.summary import summarize

    rootp = Path(root).expanduser()
    if not ScanStore.exists_for(rootp):
        raise NexaraError(f"no scan yet for {root} — run `nexara scan {root}` first", 2)
    with ScanStore.for_root(rootp) as store:
        summary = summarize(store.results())
        if not summary.groups:
            raise NexaraError(f"no scan yet for {root} — run `nexara scan {root}` first", 2)
        decision = decide(summary, policy, _footage(store))
        add_plan_a(decision, store)
    return decision, summary


def add_plan_a(decision: Any, store: Any) -> None:
    """Plan A's progress per class (lost, with a known source, re-downloaded, back), from the store.

    Not part of the pure `decide()`: it reads the provenance and re-download tables.
    """
    from core.decision import Finding
    from core.redownload import status

    decision.plan_a = status(store)
    lost = sum(s["lost"] for s in decision.plan_a.values())
    if lost and not any(s["with_source"] or s["redownloaded"] for s in decision.plan_a.values()):
        decision.findings.append(Finding(
            "info", "plan_a",
            f"Plan A: none of the {lost:,} lost clips has a known source (no yt-dlp .info.json "
            "sidecar, [id] in the name or `scan --sources` manifest row), so `nexara redownload` "
            "can only count them, not list their URLs.",
        ))
        return
    for cls, s in decision.plan_a.items():
        if not s["lost"]:
            continue
        decision.findings.append(Finding(
            "info", "plan_a",
            f"Plan A, {cls}: {s['lost']:,} lost, {s['with_source']:,} with a known source, "
            f"{s['redownloaded']:,} re-downloaded, {s['back']:,} back in the dataset"
            + (" — list them: `nexara redownload ROOT --out lost.txt`; fetch them on the box: "
               "`--run`" if s["with_source"] and not s["redownloaded"] else
               " — bring them in: `nexara ingest INCOMING ROOT`"
               if s["redownloaded"] > s["back"] else "."),
        ))


def _footage(store: Any) -> Any:
    """Duplicates (issue 15): distinct footage and the leakage / label-conflict findings, or None
    when the store holds no fingerprints (scanned before they existed)."""
    from core.dupes import analyse, footage_for_decision, load_prints

    prints = load_prints(store)
    return footage_for_decision(analyse(prints)) if prints else None


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    policy = policy_from_args(args)
    decision, summary = compute(args.root, policy)
    yield event("decision", root=str(Path(args.root).expanduser().resolve()),
                decision=decision.to_dict(), summary=summary.to_dict(),
                quarantined=quarantined_summary(args.root))


def quarantined_summary(root: str) -> dict[str, Any]:
    """What was moved to ROOT/corrupted_videos/ (Summary.to_dict): the decision counts what is left."""
    from core.store import QUARANTINE, ScanStore
    from core.summary import summarize

    with ScanStore.for_root(Path(root).expanduser()) as store:
        return summarize(store.results(QUARANTINE)).to_dict()


def render(stream: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    from core.decision import Decision

    decision = None
    root = args.root
    recovered: dict[str, Any] = {}
    for ev in stream:
        if ev.get("type") == "decision":
            decision = Decision.from_dict(ev["decision"])
            root = ev.get("root", root)
            recovered = (ev.get("summary") or {}).get("recovered_by_repair") or {}
    if decision is None:
        raise NexaraError(f"{args.root}: the engine sent no decision")
    if not getattr(args, "json", False):
        from rich.console import Console

        print_decision(Console(), decision)
        if recovered.get("total"):  # repair (issue 14): clips counted usable again thanks to repair
            by = ", ".join(f"{c} {n:,}" for c, n in recovered.get("by_class", {}).items())
            print(f"recovered by repair: {recovered['total']:,} ({by})")
    if getattr(args, "write_config", None):
        from core.training.config_writer import write_config

        path = write_config(Path(args.write_config), decision, root=str(root),
                            force=getattr(args, "force", False))
        print(f"nexara: wrote training config {path}", file=sys.stderr)
    return 0


# -- human output ------------------------------------------------------------------

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_BAND_STYLE = {"clean": "black on green", "salvage": "black on yellow", "rebuild": "white on red"}


def print_decision(console: Any, d: Any) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from core.decision import pct

    console.print(Text(f"Decision matrix — {d.total:,} clips, {d.lost:,} lost ({pct(d.rate)})"
                       + (", damaged counted as lost" if d.damaged_is_lost else ""), style="bold"))
    bands = Table(show_header=True, header_style="bold", expand=False)
    bands.add_column("", width=2)
    bands.add_column("Overall loss")
    bands.add_column("What to do")
    for b in d.bands:
        style = _BAND_STYLE[b.key] if b.active else "dim"
        bands.add_row("▶" if b.active else "", b.label, b.title, style=style)
    console.print(bands)

    bal = ", ".join(f"{r.cls} {r.weight_balanced:.2f}" for r in d.plan_rows()
                    if r.weight_balanced is not None)
    t = Table(title=f"Per class — plan from the {d.basis} split", header_style="bold",
              box=box.SIMPLE_HEAD, caption=weight_caption(d) + (f"; sklearn 'balanced': {bal}" if bal else ""))
    # "valid" as valid/distinct: of the valid clips, how many are distinct footage (copies once)
    footage = any(r.distinct is not None for r in d.rows)
    if footage:
        t.caption = ("valid: clips/of which distinct footage (copies count once; the plan uses "
                     "distinct); " + str(t.caption))
    for col in ("split/class", "valid", "lost", "rate", "weight", "mult", "effective", "re-dl"):
        t.add_column(col, justify="left" if col == "split/class" else "right", no_wrap=True)
    alarm = d.policy.get("class_alarm", 0.4)
    for r in d.rows:
        plan = r.split == d.basis
        dash = "—" if plan else ""
        t.add_row(
            f"{r.split}/{r.cls}",
            f"{r.valid:,}/{r.distinct:,}" if r.distinct is not None else f"{r.valid:,}",
            f"{r.lost:,}",
            Text(f"{r.rate * 100:.1f}%", style="bold red" if r.rate > alarm else ""),
            f"{r.weight_applied:.2f}" if r.weight_applied is not None else dash,
            f"{r.multiplier}×" if r.multiplier is not None else dash,
            f"{r.effective:,}" if r.effective is not None else "",
            f"{r.redownload:,}" if r.redownload is not None else "",
            style="" if plan else "dim",
        )
    console.print(t)

    console.print(Text(d.headline, style="bold"))
    for o in d.options:
        head = f"{'RECOMMENDED: ' if o.recommended else ''}" + (
            f"Option {o.key} — {o.title}" if o.key in ("A", "B") else o.title)
        console.print(Text(head, style="bold green" if o.recommended else "bold"))
        for s in o.steps:
            console.print(Text(f"  - {s}"))
        console.print(Text(f"  Why: {o.why}"))
        console.print(Text(f"  Risk: {o.risk}", style="yellow"))
    if d.intervals:
        iv = [i for i in d.intervals if i.cls is None]
        console.print(Text("Held-out splits (95 % Wilson interval at the target accuracy):", style="bold"))
        for i in iv:
            if i.half_width is None:
                console.print(Text(f"  {i.split}: no valid clips"))
            else:
                console.print(Text(f"  {i.split}: {i.n:,} clips → {pct(i.target, 0)} measured as "
                                   f"{pct(i.low)}–{pct(i.high)} (±{i.half_width * 100:.1f} points)"))
    if d.findings:
        console.print(Text("Findings:", style="bold"))
        for f in d.findings:
            line = Text(f"  {f.severity.upper():8} ", style=_SEVERITY_STYLE.get(f.severity, ""))
            line.append(f.message)
            console.print(line)


def weight_caption(d: Any) -> str:
    """What the weight column holds under the decision's rebalance policy (CLI and TUI)."""
    if d.rebalance == "multipliers":
        return "weight: 1.0 — the multipliers carry the rebalancing (residual only where capped)"
    if d.rebalance == "weights":
        return "weight: majority 1.0, others majority/count; every class keeps the base multiplier"
    return "weight: majority 1.0, others majority/count, on top of the multipliers (double-corrects)"
