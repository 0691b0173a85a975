"""The Monitor screen: a training run's epochs, curves, health and alarms, live.

Pick a job on the current host (training jobs first; the newest running one,
else the newest one, is opened by itself) or type a log file path — our epochs.jsonl, a Keras
CSVLogger CSV, a Keras console log, a TensorBoard log folder or events file — and the screen
follows it. A log that holds several runs (a CSVLogger file appended over two `fit()` calls)
shows the newest; `[` and `]` switch the table and curves to another run.

Split the dolphie way: a thread worker (`_follow`) does the I/O through the
app's `Host` (local reads or SFTP at an offset; the same code path) and posts
`EpochsArrived` batches, at most ~4 a second however fast the log grows; the
UI thread folds each batch into a `RunState` and appends rows, moves the best
marker, redraws the curves and raises each new alarm once as a notification.
A second worker reads the host's GPUs with `nexara monitor --gpu --json`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from core.errors import NexaraError
from core.monitor.follow import Follower, Update, resolve
from core.monitor.format import classes_of, fmt_pct
from core.monitor.gpu import GpuStat, host_gpu
from core.monitor.state import RunState, fmt_duration
from nexara_tui.messages import HostStateChanged
from nexara_tui.widgets.curves import Curves
from nexara_tui.widgets.epoch_table import EpochTable
from nexara_tui.widgets.footer import NexaraFooter
from nexara_tui.widgets.header import NexaraHeader


class EpochsArrived(Message):
    def __init__(self, gen: int, update: Update) -> None:
        super().__init__()
        self.gen = gen
        self.update = update


class SourceOpened(Message):
    def __init__(self, gen: int, label: str, kind: str) -> None:
        super().__init__()
        self.gen = gen
        self.label = label
        self.kind = kind


class FollowEnded(Message):
    def __init__(self, gen: int, error: str | None = None) -> None:
        super().__init__()
        self.gen = gen
        self.error = error


class JobsListed(Message):
    def __init__(self, jobs: list[Any], error: str | None = None) -> None:
        super().__init__()
        self.jobs = jobs
        self.error = error


class GpuRead(Message):
    def __init__(self, gpus: list[GpuStat], reason: str) -> None:
        super().__init__()
        self.gpus = gpus
        self.reason = reason


def _is_training(job: Any) -> bool:
    return bool(job.argv) and job.argv[0] in ("train", "monitor", "evaluate")


class MonitorScreen(Screen):
    TITLE = "Monitor"
    POLL_S = 1.0  # how often a quiet log is re-read
    GPU_POLL_S = 15.0  # nvidia-smi via `nexara monitor --gpu` on the host; 0: never asked
    JOBS_POLL_S = 2.0  # re-list the host's jobs (a run started from the CLI appears this fast)
    DEFAULT_CSS = """
    MonitorScreen #mon-side { width: 34; border-right: solid $panel-lighten-2; }
    MonitorScreen #mon-jobs { height: 1fr; }
    MonitorScreen #mon-open { dock: bottom; }
    MonitorScreen #mon-status { height: auto; padding: 0 1; background: $panel; }
    MonitorScreen #mon-alarms { height: auto; max-height: 8; padding: 0 1; overflow-y: auto; }
    MonitorScreen #mon-runs { height: auto; padding: 0 1; }
    MonitorScreen .hidden { display: none; }
    /* Below 100 columns the job list folds away (b brings it back): the table needs the room. */
    MonitorScreen.-narrow #mon-side { display: none; }
    MonitorScreen.-side-on #mon-side { display: block; }
    MonitorScreen.-side-off #mon-side { display: none; }
    MonitorScreen.-short #mon-alarms { max-height: 3; }
    MonitorScreen.-short Curves { height: 8; }
    MonitorScreen EpochTable { min-height: 6; }
    """

    BINDINGS = [
        Binding("b", "toggle_side", "Jobs panel", show=False, id="monitor.side",
                tooltip="Show or hide the job list (folded away below 100 columns)"),
        Binding("o", "open_file", "Open log", id="monitor.open",
                tooltip="Type a log on the host (CSV, Keras console log, epochs.jsonl, "
                        "TensorBoard folder) or a job id"),
        Binding("j", "focus_jobs", "Jobs", id="monitor.jobs", tooltip="Pick a job on this host"),
        Binding("r", "refresh_jobs", "Refresh", id="monitor.refresh", tooltip="Re-list the host's jobs"),
        Binding("e", "focus_table", "Epochs", id="monitor.table", tooltip="Focus the epoch table"),
        Binding("c", "toggle_curves", "Curves", id="monitor.curves", tooltip="Show or hide the curves"),
        Binding("f,G", "follow_tail", "Follow", id="monitor.tail",
                tooltip="Jump to the newest epoch and keep following it"),
        # A log holding several runs (an appended CSVLogger file, a reused TensorBoard folder):
        # the runs line names these keys, so they stay out of the footer.
        Binding("left_square_bracket", "older_run", "Older run", show=False, id="monitor.older",
                tooltip="Show the run before this one in the table and curves"),
        Binding("right_square_bracket", "newer_run", "Newer run", show=False, id="monitor.newer",
                tooltip="Show the next run (the newest follows new epochs)"),
    ]

    def __init__(self, source: str | None = None, *, name: str | None = None,
                 id: str | None = None) -> None:  # noqa: A002 - Textual's parameter name
        super().__init__(name=name, id=id)
        self.initial_source = source
        self.state = RunState()
        self.source_label = ""
        self.source_kind = ""
        self.follow_error: str | None = None
        self.following = False
        self.gpus: list[GpuStat] = []
        self.gpu_reason = ""
        self._gen = 0
        self._stop = threading.Event()
        self._stop_gpu = threading.Event()  # set on unmount: the GPU loop ends at once
        self._jobs_seen = False
        self._jobs_known: set[str] = set()  # job ids listed before: only a new one is opened by itself
        self._host_seen: Any = None
        self.run_view: int | None = None  # the run in the table and curves; None: the newest

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield NexaraHeader()
        with Horizontal():
            with Vertical(id="mon-side"):
                yield Static(Text("Jobs on this host", style="bold"))
                yield OptionList(id="mon-jobs")
                yield Input(placeholder="log file or job id, Enter", id="mon-open")
            with Vertical(id="mon-main"):
                yield Static("Pick a job or open a log file (o).", id="mon-status")
                yield Static("", id="mon-runs", classes="hidden")
                yield Static("", id="mon-alarms")
                yield EpochTable(id="mon-table")
                yield Curves(id="mon-curves")
        yield NexaraFooter()

    def on_mount(self) -> None:
        self.query_one(EpochTable).reset([])
        # The table, never the log box: letters typed on arrival are screen keys, not a path.
        self.query_one(EpochTable).focus()
        self.set_interval(1.0, self._draw_status)
        self.set_interval(self.JOBS_POLL_S, self._poll_jobs)
        self._list_jobs()
        self._gpu_loop()
        if self.initial_source:
            self.open_source(self.initial_source)

    def on_unmount(self) -> None:
        self._stop.set()
        self._stop_gpu.set()

    @property
    def host(self) -> Any:
        """The app's current host; None while an SSH host is still connecting."""
        return getattr(self.app, "host", None)

    def on_host_state_changed(self, msg: HostStateChanged) -> None:
        """A (new) host is up: list its jobs; a source from the previous host is dropped."""
        if msg.state != "connected":
            return
        if self._host_seen is not None and self.host is not self._host_seen and self.source_label:
            self._stop.set()
            self._gen += 1
            self.source_label, self.following = "", False
            self.state = RunState()
            self.run_view = None
            self._draw_runs()
            self.query_one(EpochTable).reset([])
            self._redraw_curves()
        self._list_jobs()
        self._draw_status()

    # -- actions -----------------------------------------------------------------
    def _show_side(self, show: bool = True) -> None:
        self.set_class(show, "-side-on")
        self.set_class(not show, "-side-off")

    def action_toggle_side(self) -> None:
        shown = self.query_one("#mon-side").display
        self._show_side(not shown)
        side = self.query_one("#mon-side")
        if shown and self.focused is not None and side in self.focused.ancestors:
            self.query_one(EpochTable).focus()

    def action_open_file(self) -> None:
        self._show_side(True)
        self.query_one("#mon-open", Input).focus()

    def action_focus_jobs(self) -> None:
        self._show_side(True)
        jobs = self.query_one("#mon-jobs", OptionList)
        if jobs.highlighted is None and jobs.option_count:
            jobs.highlighted = 0
        jobs.focus()

    def action_focus_table(self) -> None:
        self.query_one(EpochTable).focus()

    def action_refresh_jobs(self) -> None:
        self._list_jobs()

    def _poll_jobs(self) -> None:
        if self.is_current:
            self._list_jobs()

    def action_toggle_curves(self) -> None:
        self.query_one(Curves).toggle_class("hidden")

    def action_follow_tail(self) -> None:
        table = self.query_one(EpochTable)
        table.scroll_end(animate=False)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1)

    @on(Input.Submitted, "#mon-open")
    def _open_typed(self, event: Input.Submitted) -> None:
        """Enter leaves the box whatever was typed: the next letters are screen keys again."""
        event.stop()
        ref = event.value.strip()
        if ref:
            self.open_source(ref)
        self.query_one(EpochTable).focus()

    @on(OptionList.OptionSelected, "#mon-jobs")
    def _open_picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.open_source(event.option.id)

    # -- following ---------------------------------------------------------------
    def open_source(self, ref: str) -> None:
        """Stop following whatever was open and follow `ref` (a job id or a file on the host)."""
        self._stop.set()
        self._stop = threading.Event()
        self._gen += 1
        self.state = RunState(ref)
        self.run_view = None
        self._draw_runs()
        self.source_label, self.source_kind, self.follow_error = ref, "", None
        self.following = True
        self.query_one(EpochTable).reset([])
        self.query_one("#mon-alarms", Static).update("")
        self._redraw_curves()
        self._draw_status()
        self._follow(ref, self._gen, self._stop)

    @work(thread=True, exclusive=True, group="monitor-follow")
    def _follow(self, ref: str, gen: int, stop: threading.Event) -> None:
        worker = get_current_worker()
        while self.host is None and not stop.is_set():  # an SSH host still connecting
            stop.wait(0.2)
        try:
            source = resolve(self.host, ref)
            self.post_message(SourceOpened(gen, source.label, source.kind))
            follower = Follower(self.host, source, poll=self.POLL_S, stop=stop)
            for up in follower.updates(follow=True):
                if worker.is_cancelled or stop.is_set():
                    return
                self.post_message(EpochsArrived(gen, up))
        except NexaraError as exc:
            self.post_message(FollowEnded(gen, exc.message))
            return
        except Exception as exc:  # noqa: BLE001 - a dropped link etc.: shown, never a crash
            self.post_message(FollowEnded(gen, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(FollowEnded(gen))

    def on_source_opened(self, msg: SourceOpened) -> None:
        if msg.gen == self._gen:
            self.source_label, self.source_kind = msg.label, msg.kind
            self._draw_status()

    def on_follow_ended(self, msg: FollowEnded) -> None:
        if msg.gen != self._gen:
            return
        self.following = False
        self.follow_error = msg.error
        self._list_jobs()  # the job it followed has ended: show its new status
        if msg.error:
            self.notify(msg.error, title="Monitor", severity="error")
        self._draw_status()

    def on_epochs_arrived(self, msg: EpochsArrived) -> None:
        if msg.gen != self._gen:
            return  # from a source the user has since left
        if msg.update.format:
            self.state.run.format = msg.update.format
        shown_before = self.shown_run
        change = self.state.apply(msg.update.items)
        shown = self.shown_run  # a new run is followed unless the user is reading an older one
        if shown is not None:
            idx = shown.index
            redraw = (change.rebuilt or shown is not shown_before
                      or any(r.run == idx for r in change.revised))
            self._show_rows([r for r in change.new_records if r.run == idx], redraw)
        elif change.rebuilt:  # the log was rewritten and holds no epoch yet
            self._show_rows([], redraw=True)
        if change.new_records or change.rebuilt or change.revised:
            self._redraw_curves()
        for alarm in change.new_alarms:
            where = f"run {alarm.run} · " if alarm.run and len(self.state.runs) > 1 else ""
            self.notify(alarm.message, title=f"{where}epoch {alarm.epoch}: {alarm.code}",
                        severity="error" if alarm.severity == "error" else "warning",
                        timeout=15)
        for note in change.notices:
            self.notify(note, title="Monitor", severity="warning", timeout=15)
        if change.new_alarms or change.rebuilt:
            self._draw_alarms()
        if change.new_run or change.rebuilt or change.new_records:
            self._draw_runs()
        self._draw_status()

    # -- runs ----------------------------------------------------------------------
    @property
    def shown_run(self) -> Any:
        """The run in the table and curves: the one picked with [ ], else the newest."""
        runs = self.state.runs
        if not runs:
            return None
        if self.run_view is not None and 1 <= self.run_view <= len(runs):
            return runs[self.run_view - 1]
        return runs[-1]

    def _shown_records(self) -> list[Any]:
        run = self.shown_run
        return run.records if run is not None else []

    def _shown_best(self) -> int | None:
        run = self.shown_run
        if run is None:
            return None
        return self.state.best_epoch if run is self.state.runs[-1] else run.best_epoch

    def _show_rows(self, new: list[Any], redraw: bool) -> None:
        table = self.query_one(EpochTable)
        records = self._shown_records()
        classes = classes_of(self.state, records)
        best = self._shown_best()
        if redraw or classes != table.classes_shown:
            table.reset(classes)
            table.append(records, best)
        elif new:
            table.append(new, best)
        else:
            table.set_best(best)

    def _switch_run(self, step: int) -> None:
        runs = self.state.runs
        if len(runs) < 2:
            return
        current = self.shown_run.index
        target = min(max(current + step, 1), len(runs))
        if target == current:
            return
        self.run_view = None if target == len(runs) else target
        self._show_rows([], redraw=True)
        self._redraw_curves()
        self._draw_runs()

    def action_older_run(self) -> None:
        self._switch_run(-1)

    def action_newer_run(self) -> None:
        self._switch_run(+1)

    def runs_text(self) -> Text:
        """One line naming every run, newest first, the one shown marked."""
        t = Text()
        shown = self.shown_run
        t.append(f"{len(self.state.runs)} runs in this log ([ ] to switch): ", style="bold")
        for i, run in enumerate(reversed(self.state.runs)):
            if i:
                t.append(" │ ", style="dim")
            mark = "▶ " if run is shown else ""
            newest = ", newest" if i == 0 else ""
            alarms = f", {len(run.alarms)} alarm{'s' if len(run.alarms) != 1 else ''}" \
                if run.alarms else ""
            t.append(f"{mark}{run.label()}{newest}{alarms}",
                     style="bold reverse" if run is shown else "")
        return t

    def _draw_runs(self) -> None:
        line = self.query_one("#mon-runs", Static)
        many = len(self.state.runs) > 1
        line.set_class(not many, "hidden")
        line.update(self.runs_text() if many else "")

    # -- drawing -----------------------------------------------------------------
    def _redraw_curves(self) -> None:
        records = self._shown_records()
        self.query_one(Curves).draw(records, classes_of(self.state, records), self._shown_best())

    def _draw_alarms(self) -> None:
        t = Text()
        many = len(self.state.runs) > 1
        for a in self.state.alarms[-6:]:
            style = "bold red" if a.severity == "error" else "yellow"
            first, *rest = a.message.splitlines()
            where = f"run {a.run} " if many and a.run is not None else ""
            t.append(f"⚠ {where}epoch {a.epoch} {a.code}: {first}\n", style=style)
            for line in rest[-4:]:
                t.append(f"    {line}\n", style="dim")
        self.query_one("#mon-alarms", Static).update(t)

    def status_text(self) -> Text:
        st = self.state
        t = Text()
        if not self.source_label:
            t.append("Pick a job (j) or open a log file (o).", style="italic")
        else:
            t.append(self.source_label, style="bold")
            kind = st.run.format or self.source_kind
            if kind:
                t.append(f"  ({kind})", style="dim")
            if self.following and not st.run.ended:
                t.append("  ● following", style="green")
        t.append("\n")
        last = st.last
        if last is None:
            t.append("waiting for the first epoch…" if self.following else "no epochs", style="dim")
        else:
            t.append(f"epoch {last.epoch}/{st.run.epochs or '?'}", style="bold")
            best = st.best_epoch
            if best is not None:
                rec = next((r for r in st.records if r.epoch == best), None)
                t.append(f"  best {best}")
                if rec is not None and rec.val_accuracy is not None:
                    t.append(f" (val_acc {fmt_pct(rec.val_accuracy)})")
            el, eta = st.elapsed(), st.eta()
            if el is not None:
                t.append(f"  elapsed {fmt_duration(el)}")
            if eta is not None:
                t.append(f"  ETA {fmt_duration(eta)}")
            since, pat = st.since_improvement(), st.patience()
            if since is not None:
                style = "yellow" if pat and since >= 0.7 * pat else ""
                t.append(f"  no improvement for {since}" + (f"/{pat}" if pat is not None else ""),
                         style=style)
        if st.run.ended:
            ok = st.run.rc in (None, 0) and st.run.status not in ("failed", "lost")
            t.append(f"  ended: {st.run.status or 'finished'}", style="green" if ok else "bold red")
        if self.follow_error:
            t.append(f"\n{self.follow_error}", style="bold red")
        t.append("\n")
        if self.gpus:
            t.append("  ".join(g.short() for g in self.gpus), style="cyan")
        else:
            t.append(f"GPU: {self.gpu_reason or 'checking…'}", style="dim")
        return t

    def _draw_status(self) -> None:
        self.query_one("#mon-status", Static).update(self.status_text())

    # -- jobs and GPU ----------------------------------------------------------
    @work(thread=True, exclusive=True, group="monitor-jobs")
    def _list_jobs(self) -> None:
        host = self.host
        if host is None:
            return  # not connected yet: HostStateChanged("connected") lists them
        self._host_seen = host
        try:
            jobs = host.jobs()
        except Exception as exc:  # noqa: BLE001 - shown in the list, never a crash
            self.post_message(JobsListed([], f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(JobsListed(jobs))

    def on_jobs_listed(self, msg: JobsListed) -> None:
        ol = self.query_one("#mon-jobs", OptionList)
        keep = None
        if ol.highlighted is not None and ol.option_count:
            keep = ol.get_option_at_index(ol.highlighted).id  # re-listing keeps the user's place
        ol.clear_options()
        if msg.error:
            ol.add_option(Option(Text(f"jobs unavailable: {msg.error}", style="red"), disabled=True))
            return
        jobs = sorted(msg.jobs, key=lambda j: (not _is_training(j), -j.started))
        for j in jobs:
            colour = {"running": "green", "finished": "", "failed": "red", "lost": "red"}.get(j.status, "dim")
            label = Text(f"{j.id} ", style="bold")
            label.append(j.status, style=colour)
            label.append(f"  {' '.join(j.argv[:2])}", style="dim")
            ol.add_option(Option(label, id=j.id))
        if not jobs:
            ol.add_option(Option(Text("no jobs on this host", style="dim"), disabled=True))
        trains = [j for j in jobs if j.argv and j.argv[0] == "train"]
        running = [j for j in trains if j.status == "running"]
        if keep is not None:
            with contextlib.suppress(Exception):
                ol.highlighted = ol.get_option_index(keep)
        elif jobs:
            # Nothing highlighted yet: the newest running training job (Enter opens it), else the top.
            target = (running or trains or jobs)[0]
            ol.highlighted = ol.get_option_index(target.id)
        followed = self.source_label.removeprefix("job ")
        done = self.state.run.ended or not self.following
        new_run = bool(running) and running[0].id != followed and running[0].id not in self._jobs_known
        # Open the run the user most likely came for: the newest running training job,
        # else (first listing only) the newest training job (a crash is worth seeing too).
        if (not self.source_label or (done and new_run)) and (
                running or (trains and not self._jobs_seen)):
            self.open_source((running or trains)[0].id)
            ol.highlighted = ol.get_option_index((running or trains)[0].id)
        self._jobs_known.update(j.id for j in jobs)
        self._jobs_seen = True

    @work(thread=True, exclusive=True, group="monitor-gpu")
    def _gpu_loop(self) -> None:
        worker = get_current_worker()
        if not self.GPU_POLL_S:
            self.post_message(GpuRead([], "not polled"))
            return
        last = -self.GPU_POLL_S
        while not worker.is_cancelled and not self._stop_gpu.is_set():
            host = self.host
            due = time.monotonic() - last >= self.GPU_POLL_S
            if due and host is not None and self.is_current:  # no nvidia-smi for a hidden screen
                last = time.monotonic()
                gpus, reason = host_gpu(host)
                self.post_message(GpuRead(gpus, reason))
            self._stop_gpu.wait(0.2)

    def on_gpu_read(self, msg: GpuRead) -> None:
        self.gpus, self.gpu_reason = msg.gpus, msg.reason
        self._draw_status()
