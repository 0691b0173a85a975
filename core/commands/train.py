"""`nexara train ROOT --config C`: train the hybrid head as a detached job.

Without `--foreground` the command starts itself as a job (`core.jobs`) and
prints the job id: the training outlives the terminal or SSH link, and
`nexara monitor JOB` / the TUI attach to its event log. `--wait` stays attached
and renders the epochs until it ends. `--foreground` (what the job runs) trains
in this process. Rerunning with the same `--out` resumes a killed run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.cli import add_common
from core.commands.extract import add_config_options, load_args_config, render_training_event
from core.events import event


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the hybrid model on cached features (as a detached job)",
        description=(
            "Extract missing features, then fit the BiLSTM+attention head with focal loss and class "
            "weights; EarlyStopping, ModelCheckpoint (RUN_DIR/model.keras) and BackupAndRestore "
            "(rerun with the same --out to resume). Runs as a job unless --foreground."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the dataset folder (scanned)")
    add_config_options(p)
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: ./runs/<date-time>)")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="also log to DIR with keras.callbacks.TensorBoard (train/, validation/), "
                        "for TensorBoard or `nexara monitor DIR`")
    p.add_argument("--wait", action="store_true", help="stay attached to the job until it ends")
    p.add_argument("--foreground", action="store_true", help="train in this process (no job)")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def _run_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out).expanduser().resolve()
    return (Path.cwd() / "runs" / time.strftime("%Y%m%d-%H%M%S")).resolve()


def events(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    cfg = load_args_config(args)  # validate before starting anything
    run_dir = _run_dir(args)
    cache = Path(args.cache).expanduser().resolve() if args.cache else None
    tb_dir = Path(args.tensorboard).expanduser().resolve() if args.tensorboard else None
    if tb_dir is not None and tb_dir.exists() and not tb_dir.is_dir():
        from core.errors import NexaraError

        raise NexaraError(f"--tensorboard {args.tensorboard}: exists and is not a folder")
    if args.foreground:
        from core.training.train import train

        yield from train(Path(args.root), cfg, run_dir, cache, tensorboard=tb_dir)
        return
    from core.jobs import attach, start_job

    argv = ["train", str(Path(args.root).expanduser().resolve())]
    if args.config:
        argv += ["--config", str(Path(args.config).expanduser().resolve())]
    if args.preset:
        argv += ["--preset", args.preset]
    for item in args.set or []:
        argv += ["--set", item]
    if cache:
        argv += ["--cache", str(cache)]
    if tb_dir is not None:
        argv += ["--tensorboard", str(tb_dir)]
    argv += ["--out", str(run_dir), "--foreground"]
    job_id = start_job(argv)
    yield event("job_started", job_id=job_id, run_dir=str(run_dir), argv=argv)
    if args.wait:
        for _, ev in attach(job_id):
            yield dict(ev)


def _num(v: Any, spec: str) -> str:
    """One metric of an epoch record for the console: a diverged loss arrives as "nan" and shows as such."""
    from core.training.metrics import metric

    f = metric(v)
    return "—" if f is None else format(f, spec)


def render(events: Iterable[dict[str, Any]], args: argparse.Namespace) -> int:
    rc = 0
    if getattr(args, "json", False):
        for ev in events:
            if ev.get("type") == "job_end":
                rc = int(ev.get("rc") or 0)
        return rc
    from rich.console import Console

    console = Console()
    for ev in events:
        t = ev.get("type")
        if t == "job_started":
            console.print(f"job [bold]{ev['job_id']}[/] started — run dir {ev['run_dir']}")
            if getattr(args, "tensorboard", None):
                console.print(f"TensorBoard log: {Path(args.tensorboard).expanduser().resolve()}")
            if not args.wait:
                console.print(f"watch it: nexara monitor {ev['job_id']}   (or: nexara train … --wait)")
        elif t == "train_start":
            counts = ", ".join(f"{s}: " + "/".join(f"{c}={n}" for c, n in sorted(cc.items()))
                               for s, cc in ev.get("counts", {}).items())
            console.print(f"training {ev['epochs']} epochs on {counts}")
        elif t == "epoch":
            rec = " ".join(f"{k}={_num(v, '.3f')}" for k, v in (ev.get("recall") or {}).items())
            console.print(
                f"epoch {ev['epoch']:>3}/{ev['epochs']}  loss {_num(ev.get('loss'), '.4f')}  "
                f"acc {_num(ev.get('accuracy'), '.3f')}  val_acc {_num(ev.get('val_accuracy'), '.3f')}  "
                f"recall {rec}  gap {_num(ev.get('gap'), '.3f')}  "
                f"best {ev['best_epoch']} ({_num(ev.get('best_val_accuracy'), '.3f')})  "
                f"{ev['since_improvement']}/{ev['patience']}  {_num(ev.get('seconds'), '.1f')}s", highlight=False)
        elif t == "train_end":
            how = "stopped early" if ev.get("stopped_early") else "done"
            console.print(f"[bold]{how}[/]: best epoch {ev['best_epoch']} → {ev['model_path']}")
        elif t == "job_end":
            rc = int(ev.get("rc") or 0)
        else:
            render_training_event(ev, console)
    return rc
