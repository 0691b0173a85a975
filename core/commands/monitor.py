"""`nexara monitor JOB|FILE`: the epoch table of a training run, live, local or over SSH.

JOB is a job id on the host (our trainer's events); FILE is a path on the host:
our events/epochs JSON lines, a Keras `CSVLogger` CSV, or a Keras console log
(the format is sniffed). Unlike most commands this one does not run remotely
as `nexara … --json`: it opens the host itself and tails the file over SFTP
(`Host.read_file` at an offset) or the job's log (`Host.attach`), so following
a run costs one small read per second, not a process on the GPU box.

`--gpu` prints the GPUs of the machine it runs on (the TUI's status panel runs
`nexara monitor --gpu --json` on the host to read them).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.cli import add_common, number
from core.errors import NexaraError
from core.events import SCHEMA_VERSION
from core.monitor.format import classes_of, columns, row_cells
from core.monitor.records import best_epoch


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor",
        help="follow a training run's epochs (job, CSVLogger CSV or Keras console log)",
        description=(
            "Print the epoch table of a training run and follow it as epochs end. JOB is a job "
            "id on the host; FILE a path on the host: our epochs.jsonl/events.jsonl, a Keras "
            "CSVLogger CSV, or captured `model.fit` console output. Alarms (per-class gap, "
            "'always predicts one class', overfitting, NaN loss, a dead job) are printed as "
            "they arise."
        ),
    )
    p.add_argument("source", nargs="?", metavar="JOB|FILE", help="a job id or a log file on the host")
    p.add_argument("--once", action="store_true", help="print what is there now and exit")
    p.add_argument("--poll", type=number(float, gt=0, le=3600), default=1.0, metavar="S",
                   help="seconds between reads (default 1)")
    p.add_argument("--max-gap", type=number(float, ge=0, le=1), default=None, metavar="F",
                   help="per-class recall gap alarm threshold (default 0.08)")
    p.add_argument("--overfit-epochs", type=number(int, ge=1), default=None, metavar="K",
                   help="epochs of val_loss up while loss falls before the overfitting alarm (default 5)")
    p.add_argument("--gpu", action="store_true", help="print this machine's GPUs (nvidia-smi) and exit")
    add_common(p)
    p.set_defaults(cmd=sys.modules[__name__])


def run(args: argparse.Namespace) -> int:
    if args.gpu:
        return _gpu(args)
    if not args.source:
        raise NexaraError("monitor: give a JOB id or a log FILE (or --gpu)")
    if args.poll <= 0:
        raise NexaraError(f"--poll {args.poll}: must be positive")
    from core.host import open_host
    from core.monitor.alarms import Thresholds
    from core.monitor.follow import Follower, resolve
    from core.monitor.state import RunState

    th = Thresholds()
    if args.max_gap is not None:
        th = Thresholds(**{**th.__dict__, "max_gap": args.max_gap})
    if args.overfit_epochs is not None:
        if args.overfit_epochs < 1:
            raise NexaraError(f"--overfit-epochs {args.overfit_epochs}: must be at least 1")
        th = Thresholds(**{**th.__dict__, "overfit_epochs": args.overfit_epochs})

    host = open_host(args.host or "local", remote_nexara=getattr(args, "remote_nexara", None))
    try:
        source = resolve(host, args.source)
        follower = Follower(host, source, poll=args.poll)
        state = RunState(source.ref, thresholds=th)
        out = _JsonOut() if args.json else _TableOut(state, live=not args.once)
        try:
            for up in follower.updates(follow=not args.once):
                state.run.format = up.format
                change = state.apply(up.items)
                out.show(state, change)
        except KeyboardInterrupt:
            pass
        out.finish(state)
    finally:
        host.close()
    return 1 if state.run.ended and (state.run.rc not in (None, 0) or state.run.status == "lost") else 0


def _gpu(args: argparse.Namespace) -> int:
    from core.events import emit, event
    from core.monitor.gpu import GpuStat, host_gpu, local_gpu_event

    if args.host and args.host != "local":
        from core.host import open_host

        host = open_host(args.host, remote_nexara=getattr(args, "remote_nexara", None))
        try:
            gpus, reason = host_gpu(host)
        finally:
            host.close()
        data: dict[str, Any] = {"gpus": [g.__dict__ for g in gpus], "reason": reason}
    else:
        data = local_gpu_event()
    if args.json:
        emit(event("gpu", **data))
        return 0
    if not data["gpus"]:
        print(data.get("reason") or "no GPU")
    for g in data["gpus"]:
        print(GpuStat(**g).short() + f"  {g['name']}")
    return 0


class _JsonOut:
    """One JSON object per epoch on stdout; alarms on stderr so `| jq` sees only epochs."""

    def show(self, state: Any, change: Any) -> None:
        recs = state.records if change.rebuilt else change.new_records
        for r in recs:
            # Shaped as our `epoch` event, so this output is itself a log `monitor` can read.
            obj = {"v": SCHEMA_VERSION, "type": "epoch", **r.to_json()}
            sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")
        sys.stdout.flush()
        for a in change.new_alarms:
            print(f"nexara monitor: {a.severity}: epoch {a.epoch}: {a.message}", file=sys.stderr)

    def finish(self, state: Any) -> None:
        pass


class _TableOut:
    """A rich table. Following, rows are printed as epochs end (★ = a new best at that time)."""

    def __init__(self, state: Any, live: bool) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)
        if not self.console.is_terminal:
            self.console.width = max(self.console.width, 120)  # piped: don't squeeze columns away
        self.live = live
        self.classes: list[str] | None = None
        self.header_done = False

    def _table(self, header: bool) -> Any:
        from rich.table import Table

        t = Table(show_header=header, box=None, pad_edge=False)
        # Fixed widths: following prints one small table per batch, and they must line up.
        for name in columns(self.classes or []):
            t.add_column(name, justify="right", width=max(len(name), 9), no_wrap=True)
        return t

    def show(self, state: Any, change: Any) -> None:
        if not self.live:
            return  # --once: everything is printed by finish()
        if self.classes is None and state.records:
            self.classes = classes_of(state)
        recs = state.records if change.rebuilt else change.new_records
        if recs:
            if change.rebuilt and self.header_done:
                self.console.print("[dim]— the log restarted —[/]")
            t = self._table(header=not self.header_done)
            index = {id(r): i for i, r in enumerate(state.records)}
            for r in recs:
                # ★ where this epoch was the best so far when it ended.
                i = index.get(id(r), len(state.records) - 1)
                best = r.best_epoch if r.best_epoch is not None else best_epoch(state.records[:i + 1])
                t.add_row(*row_cells(r, self.classes or [], best))
            self.console.print(t)
            self.header_done = True
        for a in change.new_alarms:
            self._alarm(a)

    def _alarm(self, a: Any) -> None:
        from rich.text import Text

        style = "bold red" if a.severity == "error" else "yellow"
        self.console.print(Text(f"⚠ epoch {a.epoch}: {a.message}", style=style))

    def finish(self, state: Any) -> None:
        if not self.live:
            self.classes = classes_of(state)
            t = self._table(header=True)
            best = state.best_epoch
            for r in state.records:
                t.add_row(*row_cells(r, self.classes, best))
            self.console.print(f"{state.run.source} ({state.run.format})", markup=False)
            self.console.print(t)
            for a in state.alarms:
                self._alarm(a)
        self.console.print(state.status_line(), style="dim", markup=False)
