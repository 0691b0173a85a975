"""The scan screen: live split × class counts, progress, and every problem file.

Split the dolphie way: a reader thread (`_follow`, a `nexara_tui.scan_reader.ScanReader`)
only does I/O — it starts or attaches to the detached scan job on the host and
queues typed events in a bounded queue — and the UI thread, told by one
coalescing `EventsPending` message, folds whatever arrived into the `ScanFeed`
and redraws once per tick (at most every BATCH_INTERVAL_S). A scan of 22,000
files is ~90 redraws a minute, not 22,000. If the link drops, the host's
connection brings it back and the follow resumes from the last byte offset (no
event lost or shown twice); the header shows "reconnecting" meanwhile.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, ProgressBar, Static
from textual.worker import get_current_worker

from core.events import Event, EventType
from core.records import LEVELS
from core.summary import Summary
from core.units import human_duration
from nexara_tui.file_model import parse_filter
from nexara_tui.fit import cut_words
from nexara_tui.messages import DatasetChanged, HostStateChanged, ScanFinished, ScanProgress
from nexara_tui.scan_feed import PROBLEM_VERDICTS, ScanFeed
from nexara_tui.scan_reader import EventsPending, JobFollowed, ReaderDone, ReadMode, ScanReader
from nexara_tui.screens.file_detail import FileDetailScreen
from nexara_tui.widgets.file_list import FileList
from nexara_tui.widgets.footer import NexaraFooter
from nexara_tui.widgets.header import NexaraHeader
from nexara_tui.widgets.summary_table import LEGEND, SummaryTable

if TYPE_CHECKING:
    from nexara_tui.app import NexaraApp

BATCH_INTERVAL_S = 0.25
MAX_EVENTS_PER_TICK = 2_000  # one tick stays ~50 ms, so a key pressed mid-scan answers at once
FILTER_DEBOUNCE_S = 0.15
SORTS = ("arrival", "verdict", "reason", "split", "path")
EMPTY_TEXT = "No problem files (yet). s: scan · r: stored results"


class ScanScreen(Screen):
    TITLE = "Scan"

    BINDINGS = [
        Binding("s", "start_scan", "Scan", id="scan.start",
                tooltip="Start a scan of the dataset root as a detached job on the host"),
        Binding("x", "cancel_scan", "Cancel", id="scan.cancel",
                tooltip="Cancel the running scan job (finished files stay stored)"),
        Binding("slash", "focus_filter", "Filter", id="scan.filter",
                tooltip="Filter problem files: words, verdict:corrupt, reason:moov, split:train, -word"),
        Binding("r", "load_results", "Results", id="scan.results",
                tooltip="Load the stored results of the last scan without scanning"),
        Binding("l", "cycle_level", "Level", id="scan.level",
                tooltip="Cycle the scan level: quick → standard → full"),
        # Listed under `?`, not in the footer: the footer must fit 120 columns with q Quit.
        Binding("t", "cycle_sort", "Sort", id="scan.sort", show=False,
                tooltip="Sort problem files by arrival, verdict, reason, split or path"),
        Binding("escape", "focus_list", "List", show=False, id="scan.list",
                tooltip="Back to the file list"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.feed = ScanFeed()
        # Each read (a scan, a results load) has a generation; messages of a reader that
        # a reset superseded are dropped, and that reader is stopped.
        self._gen = 0
        self._reader: ScanReader | None = None
        self._drain_timer: Timer | None = None
        self._last_draw = 0.0
        self._mode: str | None = None  # "scan" | "results" while a reader runs
        self.job_id: str | None = None
        self.status_text = ""
        self._sort_i = 0
        self._loaded_for: tuple[int, str] | None = None  # (id(host), root) last opened
        self._filter_timer: Timer | None = None
        self._stale = False  # the store changed while a scan ran: reload once it ends
        self.quarantined: int | None = None  # files in ROOT/corrupted_videos/, from the store

    @property
    def mode(self) -> str | None:
        """What the reader is doing: "scan" (a scan job), "results" (stored results), or None."""
        return self._mode

    # ---- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield NexaraHeader()
        yield Static(id="scan-status")
        yield Static(id="scan-cluster")  # only while the scan shown ran on a Dask cluster
        yield SummaryTable(id="summary")
        yield Static(LEGEND, id="summary-legend")
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="progress")
            yield Static(id="progress-label")
        yield Static(id="scan-notes")
        yield Input(placeholder="filter: words, verdict:corrupt, reason:truncated, split:train, -word  (/)",
                    id="filter")
        yield FileList(id="problems", marked=self.nexara.state.approvals, empty_text=EMPTY_TEXT)
        yield NexaraFooter()

    @property
    def nexara(self) -> NexaraApp:
        """The app, typed (posting's pattern): its host, state and broadcasts."""
        return cast("NexaraApp", self.app)

    def on_mount(self) -> None:
        self.query_one(FileList).focus()
        self._update_status()
        self._maybe_autostart()

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        if message.state == "connected":
            self._maybe_autostart()

    def on_scan_finished(self, message: ScanFinished) -> None:
        """The store changed (a move or undo elsewhere, a rescan): show it as it is now.

        Our own broadcasts carry the summary we already show, so they end here.
        A read of stored results in progress is restarted — it may have begun
        before the change (a quick undo after a move), and a change announced
        while it ran must not be lost; a running scan reloads once it ends.
        """
        if not message.loaded or message.root != self.nexara.state.root:
            return
        if message.summary == self.feed.summary.to_dict() and self._mode is None:
            return
        if self._mode == "scan":
            self._stale = True
            return
        self._open(attach_running=False)

    def on_dataset_changed(self, message: DatasetChanged) -> None:
        """Files moved out or back (the quarantine screen's job): follow in place, no reload."""
        if message.root != self.nexara.state.root:
            return
        if self._mode == "scan":
            self._stale = True
            return
        if self._mode == "results" or message.summary is None:
            self._open(attach_running=False)  # a read in progress may predate the change
            return
        fl = self.query_one(FileList)
        gone = {r.path for r in message.removed}
        rows = [r for r in fl.model.rows if r.path not in gone]
        rows.extend(r for r in message.restored if r.verdict in PROBLEM_VERDICTS)
        fl.model.set_rows(rows)
        fl.refresh_rows()
        fl.set_filter(fl.model.filter_text)
        self.feed.summary = Summary.from_dict(message.summary)
        self.quarantined = message.quarantined
        self._update_empty_text()
        self._redraw()

    def _maybe_autostart(self) -> None:
        """For each new (host, root): attach to its running scan or show its stored results.

        The first time, with `nexara tui ROOT --scan`, start a scan instead.
        """
        app = self.nexara
        host = app.host
        if host is None or not app.state.root:
            return
        key = (id(host), app.state.root)
        if key == self._loaded_for:
            return
        first = self._loaded_for is None
        self._loaded_for = key
        self._mode = None
        if first and app.scan_on_start:
            self.action_start_scan()
        else:
            self._open(attach_running=True)

    # ---- actions ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel only exists while a scan runs (keeps the footer short)."""
        if action == "cancel_scan":
            return self._mode == "scan"
        return True

    def action_start_scan(self) -> None:
        if not self._ready():
            return
        if self._mode == "scan":
            self.notify("A scan is already running (x cancels it).", severity="warning")
            return
        root = self.nexara.state.root
        assert root is not None  # _ready() said so
        argv = ["scan", root, "--level", self.nexara.state.level, "--json"]
        if self.nexara.state.cluster:
            argv += ["--cluster", self.nexara.state.cluster]
        self._reset(f"starting a {self.nexara.state.level} scan…")
        self._mode = "scan"
        self._set_running(True)
        self._follow(argv, None, "scan", gen=self._gen)

    def follow_job(self, job_id: str) -> None:
        """Follow a scan job already on the host (its log from the start), as after a restart."""
        self._reset(f"following scan job {job_id}…")
        self._mode = "scan"
        self._set_running(True)
        self._follow(None, job_id, "scan", gen=self._gen)

    def action_load_results(self) -> None:
        if not self._ready():
            return
        if self._mode == "scan":
            self.notify("A scan is running; its results are arriving live.", severity="warning")
            return
        self._open(attach_running=False)

    def action_cycle_level(self) -> None:
        state = self.nexara.state
        state.level = LEVELS[(LEVELS.index(state.level) + 1) % len(LEVELS)]
        if self._mode == "scan":
            self.notify(f"Level {state.level} applies to the next scan.")
        self._update_status()

    def action_cancel_scan(self) -> None:
        if self._mode != "scan" or not self.job_id:
            self.notify("No scan is running.")
            return
        self._cancel(self.job_id)

    @work(thread=True, group="cancel", exit_on_error=False)
    def _cancel(self, job_id: str) -> None:
        host = self.nexara.host
        if host is None:
            return
        try:
            host.cancel_job(job_id)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never fatal
            self.app.call_from_thread(self.notify, f"cancel failed: {exc}", severity="error")

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_list(self) -> None:
        self.query_one(FileList).focus()

    def action_cycle_sort(self) -> None:
        self._sort_i = (self._sort_i + 1) % len(SORTS)
        key = SORTS[self._sort_i]
        self.query_one(FileList).set_sort(key, reverse=False)
        self.notify(f"sorted by {key}", timeout=1.5)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        # Debounced: at 100,000 rows a filter pass takes ~0.1 s; do one per pause, not per key.
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DEBOUNCE_S, lambda: self._apply_filter(event.value))

    def _apply_filter(self, text: str) -> None:
        self._filter_timer = None
        self.query_one(FileList).set_filter(text)
        self._update_empty_text()
        self._update_notes()

    def _update_empty_text(self) -> None:
        """An empty list says why: nothing scanned yet, or nothing matches the filter (and what would)."""
        fl = self.query_one(FileList)
        text = fl.model.filter_text.strip()
        if not text or not fl.model.total:
            fl.empty_text = EMPTY_TEXT
        else:
            fl.empty_text = no_match_text(text, fl.model.rows)
        fl.refresh_rows()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._apply_filter(event.value)
        self.action_focus_list()

    @on(FileList.RowSelected, "#problems")
    def _show_file(self, event: FileList.RowSelected) -> None:
        self.app.push_screen(FileDetailScreen(event.row))

    # ---- reading events (thread) --------------------------------------------------------------
    def _ready(self) -> bool:
        if self.nexara.host is None:
            self.notify("Not connected to a host yet (h picks one).", severity="warning")
            return False
        if not self.nexara.state.root:
            self.notify("No dataset root: start with `nexara tui ROOT`.", severity="warning")
            return False
        return True

    def _open(self, attach_running: bool) -> None:
        self._reset("loading stored results…")
        self._mode = "results"
        self._follow(None, None, "results", attach_running=attach_running, gen=self._gen)

    def _follow(self, argv: list[str] | None, job_id: str | None, mode: str,
                attach_running: bool = False, gen: int = 0) -> None:
        """Start or attach to the scan job (mode "scan"), or stream stored results ("results").

        The reader of generation `gen` replaces (and stops) any earlier one.
        """
        host, root = self.nexara.host, self.nexara.state.root
        if host is None or root is None:
            return
        if self._reader is not None:
            self._reader.stop.set()
        self._reader = ScanReader(host, root, gen, self.post_message)
        self._read(self._reader, ReadMode(mode), argv, job_id, attach_running)

    @work(thread=True, exclusive=True, group="scan-reader", exit_on_error=False)
    def _read(self, reader: ScanReader, mode: ReadMode, argv: list[str] | None, job_id: str | None,
              attach_running: bool) -> None:
        """The reader's thread: all the I/O, none of the drawing."""
        worker = get_current_worker()

        class Cancelled:
            def is_set(self) -> bool:
                return worker.is_cancelled

        reader.run(mode, argv, job_id, attach_running, cancelled=Cancelled())

    # ---- drawing (UI thread) ------------------------------------------------------------------
    def on_job_followed(self, message: JobFollowed) -> None:
        if message.gen != self._gen:
            return
        self._mode = "scan"
        self.job_id = message.job_id
        self._set_running(True)
        self._redraw()

    def on_events_pending(self, message: EventsPending) -> None:
        """Draw now, or at the next tick if the last draw was less than a tick ago."""
        if message.gen != self._gen or self._drain_timer is not None:
            return
        wait = self._last_draw + BATCH_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self._drain()
        else:
            self._drain_timer = self.set_timer(wait, self._drain)

    def on_reader_done(self, message: ReaderDone) -> None:
        if message.gen != self._gen:
            return
        while self._drain(final=True):
            pass  # everything it queued is drawn before the end is
        self._reader_done(message.mode)

    def _drain(self, final: bool = False) -> bool:
        """Fold one batch of queued events into the feed and redraw once; True if more wait."""
        self._drain_timer = None
        reader = self._reader
        if reader is None or reader.gen != self._gen:
            return False
        batch: list[Event] = reader.take(MAX_EVENTS_PER_TICK)
        more = not reader.queue.empty()
        if more and not final:
            self._drain_timer = self.set_timer(BATCH_INTERVAL_S, self._drain)
        if not batch:
            return False
        starts = [i for i, ev in enumerate(batch) if ev["type"] == EventType.START]
        if starts:
            # A scan restarts the numbers: drop what arrived before its `start`.
            self.feed.reset()
            self.query_one(FileList).set_rows([])
            batch = batch[starts[-1]:]
        rows = self.feed.apply(batch)
        if self.feed.to_check is not None and self._mode == "scan" and self.feed.finished is None:
            self.status_text = (f"scanning: {self.feed.to_check:,} to check, "
                                f"{self.feed.cached:,} unchanged since the last scan")
        if rows:
            self.query_one(FileList).append_rows(rows)
        self._redraw()
        self._last_draw = time.monotonic()
        if any(ev["type"] == EventType.SUMMARY for ev in batch):
            self._finish(loaded=self._mode == "results")
        return more

    def _finish(self, loaded: bool) -> None:
        summary = self.feed.summary.to_dict()
        state = self.nexara.state
        state.last_summary = summary
        state.last_scan_level = self.feed.level
        self.nexara.broadcast_scan_finished(summary, root=state.root, level=self.feed.level, loaded=loaded)

    def _reader_done(self, mode: str | None) -> None:
        self._mode = None
        self._set_running(False)
        f = self.feed
        if f.finished is not None:
            q = f.finished.get("quarantined")
            self.quarantined = int(q) if isinstance(q, int) else None
        if f.error:
            if mode == "results" and not f.started:
                self.status_text = f"no stored results for this root ({f.error}) — press s to scan"
            else:
                self.status_text = f"[b red]error:[/] {f.error}"
                self.notify(f.error, severity="error", timeout=8)
        elif f.finished is not None:
            fin = f.finished
            if mode == "results":
                self.status_text = stored_label(f.finished.get("levels"), f.level)
            else:
                self.status_text = (f"scan finished: {fin.get('checked', 0):,} checked, "
                                    f"{fin.get('cached', 0):,} unchanged, {fin.get('skipped', 0):,} "
                                    f"skipped in {human_duration(fin.get('seconds'), 0)}")
        elif f.job_status == "cancelled":
            self.status_text = (f"scan cancelled after {f.done:,} files (checked files are stored; "
                                "s resumes)")
        else:
            self.status_text = f"scan {f.job_status or 'stopped'} before its summary"
        self._redraw()
        if self._stale:
            self._stale = False
            self._open(attach_running=False)

    def _reset(self, status: str) -> None:
        self.feed.reset()
        self._gen += 1
        if self._reader is not None:
            self._reader.stop.set()  # it stops following; its queued events are dropped with it
            self._reader = None
        if self._drain_timer is not None:
            self._drain_timer.stop()
            self._drain_timer = None
        self.status_text = status
        self.query_one(FileList).set_rows([])
        self._redraw()

    def _set_running(self, running: bool) -> None:
        self.refresh_bindings()
        state = self.nexara.state
        if not running:
            state.scan_share = None
        if state.scan_running != running:
            state.scan_running = running
            self.nexara.notify_state_changed()

    def _update_status(self) -> None:
        from rich.text import Text

        level = self.nexara.state.level
        job = f" · job {self.job_id}" if self.job_id and self._mode == "scan" else ""
        line = Text.from_markup(f"level [b]{level}[/b] (l){job} · {self.status_text}")
        width = max(20, self.app.size.width - 2)
        if line.cell_len > width:  # cut at a word, never mid-word
            plain = cut_words(line.plain, width)
            line.truncate(len(plain) - 1)
            line.append("…")
        self.query_one("#scan-status", Static).update(line)

    def _update_notes(self) -> None:
        f = self.feed
        fl = self.query_one(FileList)
        parts = [f"{fl.row_count:,} of {fl.model.total:,} problem files shown"]
        if f.skipped:
            parts.append(f"{len(f.skipped):,} skipped (not videos)")
        parts.extend(f.notes[:2])
        width = max(20, self.app.size.width - 2)
        line = ""
        for part in parts:  # whole parts only: a note that does not fit is left out, not cut
            cand = f"{line} · {part}" if line else part
            if len(cand) <= width or not line:
                line = cut_words(cand, width)
        top = f.summary.reasons.most_common(4)
        if top:
            reasons = "top reasons: "
            for i, (code, n) in enumerate(top):
                item = f"{code} {n:,}"
                cand = f"{line} · {reasons}{', ' if i else ''}{item}"
                if len(cand) > width:
                    break
                reasons += (", " if i else "") + item
            else:
                i = len(top)
            if i:
                line = f"{line} · {reasons}"
        self.query_one("#scan-notes", Static).update(line)

    def _redraw(self) -> None:
        f = self.feed
        if self._mode != "results" or f.finished is not None:
            # Stored results stream the problem files first: their partial counts (every
            # share 100 % corrupt) are not the dataset, so the table waits for the summary.
            self.query_one(SummaryTable).show_summary(f.summary)
        bar = self.query_one(ProgressBar)
        in_dataset = f.summary.overall.total
        if self._mode == "results":
            bar.update(total=None, progress=0)
            label = f"loading stored results… {f.done:,} problem files so far"
        elif self._mode is None and f.finished is not None:
            # Finished or loaded: what the store holds, not files still to come.
            q = self.quarantined or 0
            bar.update(total=max(1, in_dataset + q), progress=max(1, in_dataset + q))
            label = f"{in_dataset + q:,} scanned"
            if q:
                label += f" · {q:,} quarantined · {in_dataset:,} in the dataset"
        else:
            total = max(f.total, f.done)
            if total:
                bar.update(total=total, progress=f.done)
            else:
                bar.update(total=None if self._mode else 1, progress=0 if self._mode else 1)
            label = f"{f.done:,}/{total:,} files"
            if self._mode == "scan" and f.rate:
                label += f" · {f.rate:.1f} files/s · ETA {human_duration(f.eta_s, 0)}"
            if self._mode == "scan":
                self.app.post_message(ScanProgress(f.done, total))
        self.query_one("#progress-label", Static).update(label)
        self._update_status()
        self._update_notes()
        self._update_cluster()

    def on_resize(self) -> None:
        self._update_status()
        self._update_notes()

    def _update_cluster(self) -> None:
        from rich.markup import escape

        from core.cluster import describe

        line = self.query_one("#scan-cluster", Static)
        line.display = self.feed.cluster is not None
        if self.feed.cluster is not None:
            line.update(escape(describe(self.feed.cluster)))


def stored_label(levels: object, level: str | None) -> str:
    """What the store holds: "stored results (standard level)", or each level's share when mixed."""
    if isinstance(levels, dict) and len(levels) > 1:
        order = {lv: i for i, lv in enumerate(LEVELS)}
        parts = [f"{int(n):,} at {lv}" for lv, n in sorted(levels.items(), key=lambda kv: order.get(kv[0], 9))]
        return "stored results, mixed levels: " + ", ".join(parts)
    if isinstance(levels, dict) and len(levels) == 1:
        level = next(iter(levels))
    return f"stored results ({level or '?'} level)"


def no_match_text(text: str, rows: list) -> str:
    """"no problem file matches `verdict:bogus` — known verdicts: …" with what the list holds."""
    known_v = [v for v in ("warning", "damaged", "corrupt") if any(r.verdict == v for r in rows)]
    msg = f"No problem file matches `{text}`."
    terms = parse_filter(text)
    if any(t.field == "verdict" for t in terms):
        msg += " Known verdicts: " + ", ".join(known_v or ["warning", "damaged", "corrupt"]) + "."
    if any(t.field == "reason" for t in terms):
        codes = sorted({c for r in rows for c in r.reasons})
        msg += " Reasons here: " + ", ".join(codes[:8]) + (" …" if len(codes) > 8 else "") + "."
    if any(t.field in ("split", "class") for t in terms):
        splits = sorted({r.split for r in rows if r.split})
        classes = sorted({r.cls for r in rows if r.cls})
        msg += f" Splits: {', '.join(splits)}; classes: {', '.join(classes)}."
    return msg + " escape: back to the list, / to change the filter."
