"""`nexara monitor JOB|FILE|DIR`: the epoch table of a training run, live, local or over SSH.

JOB is a job id on the host (our trainer's events); FILE is a path on the host:
our events/epochs JSON lines, a Keras `CSVLogger` CSV, a Keras console log or a
TensorBoard events file (the format is sniffed); DIR a RUN_DIR of ours or a
TensorBoard log folder (`train/`, `validation/`). A log holding several runs
(appended over two `fit()` calls) is shown run by run. Unlike most commands this one does not run remotely
as `nexara … --json`: it opens the host itself and tails the file over SFTP
(`Host.read_file` at an offset) or the job's log (`Host.attach`), so following
a run costs one small read per second, not a process on the GPU box.

`--gpu` prints the GPUs of the machine it runs on (the TUI's status panel runs
`nexara monitor --gpu --json` on the host to read them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from core.cli import add_common, number
from core.errors import NexaraError
from core.events import SCHEMA_VERSION
from core.monitor.format import classes_of, columns, extras_of, row_cells


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor",
        help="follow a training run's epochs (job, CSVLogger CSV, Keras console log, TensorBoard)",
        description=(
            "Print the epoch table of a training run and follow it as epochs end. JOB is a job "
            "id on the host; FILE a path on the host: our epochs.jsonl/events.jsonl, a Keras "
            "CSVLogger CSV, captured `model.fit` console output, or a TensorBoard log folder or "
            "events file. A log holding several runs shows each (newest first; `run` in --json). "
            "Alarms (per-class gap, "
            "'always predicts one class', overfitting, NaN loss, a dead job) are printed as "
            "they arise."
        ),
    )
    p.add_argument("source", nargs="?", metavar="JOB|FILE|DIR",
                   help="a job id, a log file or a log folder on the host")
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
    """One JSON object per epoch on stdout; alarms on stderr so `| jq` sees only epochs.

    Every object names its `run` (1 = the oldest fit in the log). An epoch whose
    figures grew after it was printed (a TensorBoard writer that flushed it in two
    parts) is printed again: the later line for the same run and epoch wins.
    """

    def show(self, state: Any, change: Any) -> None:
        if change.rebuilt:
            recs = [r for run in state.runs for r in run.records]
        else:
            recs = change.new_records + change.revised
        for r in recs:
            # Shaped as our `epoch` event, so this output is itself a log `monitor` can read.
            obj = {"v": SCHEMA_VERSION, "type": "epoch", **r.to_json(), "run": r.run}
            sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")
        sys.stdout.flush()
        for a in change.new_alarms:
            print(f"nexara monitor: {a.severity}: {_where(a, state)}: {a.message}", file=sys.stderr)
        for msg in change.notices:
            print(f"nexara monitor: {msg}", file=sys.stderr)

    def finish(self, state: Any) -> None:
        pass


def _width(name: str) -> int:
    return min(max(len(name), 9), 16)


def _best_so_far(records: list[Any]) -> dict[int, int | None]:
    """epoch -> the best epoch up to it (as `best_epoch` would say then), in one pass."""
    out: dict[int, int | None] = {}
    acc: tuple[float, int] | None = None  # (val_accuracy, -epoch): max wins, earliest on ties
    loss: tuple[float, int] | None = None  # (-val_loss, -epoch)
    for r in records:
        if r.val_accuracy is not None and math.isfinite(r.val_accuracy):
            acc = max(acc or (r.val_accuracy, -r.epoch), (r.val_accuracy, -r.epoch))
        if r.val_loss is not None and math.isfinite(r.val_loss):
            loss = max(loss or (-r.val_loss, -r.epoch), (-r.val_loss, -r.epoch))
        best = acc or loss
        out[r.epoch] = -best[1] if best else None
    return out


def _where(a: Any, state: Any) -> str:
    """`epoch 3`, or `run 2 epoch 3` once the log holds more than one run."""
    return (f"run {a.run} " if a.run is not None and len(state.runs) > 1 else "") + f"epoch {a.epoch}"


class _TableOut:
    """A rich table. Following, rows are printed as epochs end (★ = a new best at that time);
    a new run in the same log gets a heading and a header of its own. With --once, one
    table per run, newest first, each with its alarms."""

    def __init__(self, state: Any, live: bool) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)
        if not self.console.is_terminal:
            self.console.width = max(self.console.width, 120)  # piped: don't squeeze columns away
        self.live = live
        self.classes: list[str] | None = None
        self.extras: list[str] = []
        self.header_done = False
        self.run_shown: int | None = None

    def _table(self, header: bool, classes: list[str], extras: list[str]) -> Any:
        from rich.table import Table

        t = Table(show_header=header, box=None, pad_edge=False)
        # Fixed widths: following prints one small table per batch, and they must line up.
        for name in columns(classes, extras):
            t.add_column(name, justify="right", width=_width(name), no_wrap=True)
        return t

    def _extras(self, classes: list[str], records: list[Any]) -> list[str]:
        """The extra columns that fit beside the fixed ones; the rest are named once."""
        room = self.console.width - sum(_width(n) + 2 for n in columns(classes))
        shown: list[str] = []
        every = extras_of(records)
        for name in every:
            room -= _width(name) + 2
            if room < 0:
                break
            shown.append(name)
        left = every[len(shown):]
        if left:
            self.console.print(f"[dim]not shown for width (see --json): {', '.join(left)}[/]")
        return shown

    def show(self, state: Any, change: Any) -> None:
        if not self.live:
            return  # --once: everything is printed by finish()
        if change.rebuilt:
            if self.header_done:
                self.console.print("[dim]— the log restarted —[/]")
            self.header_done, self.run_shown = False, None
            rows = [(r, False) for run in state.runs for r in run.records]
        else:
            rows = [(r, False) for r in change.new_records] + [(r, True) for r in change.revised]
        table, best_at = None, {}
        for r, revised in rows:
            run = state.runs[(r.run or len(state.runs)) - 1]
            if r.run != self.run_shown and not revised:
                if table is not None:
                    self.console.print(table)
                    table = None
                if self.run_shown is not None:
                    self.console.print(f"[bold]— run {r.run}: a new fit in the same log —[/]")
                    self.header_done = False
                self.run_shown = r.run
            if table is None:
                if not self.header_done or self.classes is None:
                    self.classes = classes_of(state, run.records)
                    self.extras = self._extras(self.classes, run.records)
                table = self._table(not self.header_done, self.classes, self.extras)
                self.header_done = True
            if r.run not in best_at:
                best_at[r.run] = _best_so_far(run.records)
            # ★ where this epoch was the best so far when it ended.
            best = r.best_epoch if r.best_epoch is not None else best_at[r.run].get(r.epoch)
            cells = row_cells(r, self.classes or [], best, self.extras)
            if revised:
                cells[0] += " ↻"  # more of this epoch's figures arrived since it was printed
            table.add_row(*cells)
        if table is not None:
            self.console.print(table)
        for a in change.new_alarms:
            self._alarm(a, state)
        self._notices(change.notices)

    def _notices(self, notices: list[str]) -> None:
        from rich.text import Text

        for msg in notices:
            self.console.print(Text(f"note: {msg}", style="yellow"))

    def _alarm(self, a: Any, state: Any) -> None:
        from rich.text import Text

        style = "bold red" if a.severity == "error" else "yellow"
        self.console.print(Text(f"⚠ {_where(a, state)}: {a.message}", style=style))

    def finish(self, state: Any) -> None:
        if not self.live:
            self.console.print(f"{state.run.source} ({state.run.format})", markup=False)
            many = len(state.runs) > 1
            for run in reversed(state.runs):  # newest first
                if many:
                    newest = " (newest)" if run is state.runs[-1] else ""
                    self.console.print(f"\n[bold]{run.label()}{newest}[/]")
                classes = classes_of(state, run.records)
                extras = self._extras(classes, run.records)
                t = self._table(True, classes, extras)
                best = state.best_epoch if run is state.runs[-1] else run.best_epoch
                for r in run.records:
                    t.add_row(*row_cells(r, classes, best, extras))
                self.console.print(t)
                for a in run.alarms:
                    self._alarm(a, state)
            if not state.runs:
                self.console.print(self._table(True, [], []))
            for a in state.alarms:
                if a.run is None:
                    self._alarm(a, state)
            self._notices(state.notices)
        self.console.print(state.status_line(), style="dim", markup=False)
