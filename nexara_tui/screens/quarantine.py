"""The quarantine screen: review flagged files, approve them, move them, undo.

Every non-ok file from `nexara results ROOT` is listed (verdict, reason,
split/class, size, frames decoded), grouped by reason; `r` narrows the list to
one reason at a time. The side panel shows the selected file's FFmpeg messages
and frames sampled across the clip (`nexara preview`), so the user can see that
a "damaged" clip still looks right before deciding.

Approvals live in `app.state.approvals` (a set of paths), so they survive
leaving the screen. `m` moves the approved files: the list is written to a
temporary file on the host (`temp_list_on`: written over SFTP, deleted once the
job has ended) and `nexara quarantine ROOT --files-from PATH --yes` runs there
as a detached job (`host.start_job`), which this screen follows (`host.attach`)
for progress; a dropped link loses nothing.
`u` undoes the last batch (`nexara restore ROOT --batch ID`) after saying how
many files and bytes it will put back (read from the journal, `quarantine
--list`), or says there is nothing to undo. `R` opens the Repair view
(`nexara_tui.screens.repair`): what `nexara repair` would recover for the
approved files (or all), with frames of each repaired candidate. All host I/O runs in thread
workers; the UI thread only draws, a batch of rows about every 0.25 s, so the
first rows of 50,000 appear at once.

After a move or an undo the list and the other screens follow at once from
what the job reported (`DatasetChanged`), and a reload from the store in the
background confirms it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from core.errors import NexaraError
from core.events import Event, EventType, LinkState, Verdict
from core.host import Host, temp_list_on
from core.summary import Counts
from core.units import human_size
from nexara_tui.file_model import FileRow
from nexara_tui.messages import DatasetChanged, HostStateChanged, ScanFinished, ScreenLoaded
from nexara_tui.screens.file_detail import FileDetailScreen
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.widgets.file_list import DEFAULT_COLUMNS, VERDICT_STYLES, Column, FileList
from nexara_tui.widgets.footer import NexaraFooter
from nexara_tui.widgets.frame_preview import FramePreview
from nexara_tui.widgets.header import NexaraHeader

PREVIEW_FRAMES = 8
PREVIEW_WIDTH = 40
LOAD_BATCH_S = 0.25  # rows reach the list in batches about this often while results stream in
PROBLEM_ARGS = ("--verdict", "warning", "--verdict", "damaged", "--verdict", "corrupt")

if TYPE_CHECKING:
    from nexara_tui.app import NexaraApp



# The path (file name always whole, elided in the middle) never goes; at 120 columns with
# the side panel open, frames and split/class give way first, then reason shrinks.
COLUMNS: tuple[Column, ...] = (
    Column("verdict", 8, lambda r: r.verdict, lambda r: VERDICT_STYLES.get(r.verdict), priority=90),
    Column("reason", 22, lambda r: r.reason_text, min_width=10, priority=60),
    Column("split/class", 18, lambda r: f"{r.split}/{r.cls}", min_width=12, priority=30),
    Column("size", 9, lambda r: human_size(r.size), priority=70),
    Column("frames", 6, lambda r: str(r.data.get("frames_decoded", "")), priority=10),
    DEFAULT_COLUMNS[-1],  # path, elided in the middle
)


class QuarantineScreen(Screen):
    TITLE = "Quarantine"

    BINDINGS = [
        Binding("space", "toggle_approval", "Approve", id="quarantine.toggle",
                tooltip="Approve or un-approve the selected file for quarantine"),
        Binding("m", "move", "Move", id="quarantine.move",
                tooltip="Move the approved files into ROOT/corrupted_videos/ (asks first; undoable)"),
        Binding("u", "undo", "Undo", id="quarantine.undo",
                tooltip="Undo the last batch: move its files back (asks first, with count and size)"),
        Binding("R", "repair", "Repair", id="quarantine.repair",
                tooltip="Show what repair would recover (approved files, or all), with frames; y applies"),
        Binding("a", "approve_reason", "By reason", id="quarantine.approve_reason",
                tooltip="Approve every file with the selected file's reason"),
        Binding("A", "approve_corrupt", "All corrupt", id="quarantine.approve_corrupt",
                tooltip="Approve every corrupt (unusable) file"),
        Binding("r", "cycle_reason", "Filter", id="quarantine.reason",
                tooltip="Show one reason at a time (cycles through the reasons present)"),
        Binding("c", "clear_approvals", "Clear", id="quarantine.clear",
                tooltip="Clear all approvals"),
        Binding("v", "toggle_side", "Side panel", show=False, id="quarantine.side",
                tooltip="Show or hide the messages and frame preview (hidden below 100 columns)"),
        Binding("p", "preview", "Preview", show=False, id="quarantine.preview",
                tooltip="Reload the frame preview of the selected file"),
        Binding("D", "duplicates", "Duplicates", id="quarantine.duplicates",
                tooltip="Duplicates view: copies of the same footage, group by group (issue 15)"),
    ]

    DEFAULT_CSS = """
    QuarantineScreen #q-main { height: 1fr; }
    QuarantineScreen #q-left { width: 3fr; }
    QuarantineScreen #q-side { width: 2fr; min-width: 40; max-width: 72; border-left: solid $accent;
                               padding: 0 1; }
    QuarantineScreen.-medium #q-side { width: 40; }
    QuarantineScreen.-narrow #q-side { display: none; }
    QuarantineScreen.-side-on #q-side { display: block; }
    QuarantineScreen.-side-off #q-side { display: none; }
    QuarantineScreen #q-counts { height: auto; padding: 0 1; }
    QuarantineScreen #q-status { height: auto; padding: 0 1; color: $text-muted; }
    QuarantineScreen #q-messages { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[FileRow] = []
        self.summary: dict[str, Any] | None = None
        self.reason_filter: str | None = None
        self.last_batch: str | None = None
        self.busy: str | None = None  # "moving" | "restoring" while a job runs
        self.last_upload: str | None = None  # the approved-list temp file of the last move (on the host)
        self.status_text = ""
        self.loading = False  # results are streaming in
        self.quarantined: int | None = None  # files in ROOT/corrupted_videos/ (from the store)
        self._loaded_for: tuple[int, str] | None = None
        self._preview_for: str | None = None
        self._preview_cache: dict[str, dict[str, Any]] = {}
        self._load_gen = 0
        self._incoming: list[FileRow] = []  # rows of the load in progress
        # Rows this session moved, by batch: an undo puts them back without a reload.
        self._moved: dict[str, list[FileRow]] = {}

    # ---- layout -------------------------------------------------------------------------------
    @property
    def nexara(self) -> NexaraApp:
        """The app, typed (posting's pattern): its host, root, state and broadcasts."""
        return cast("NexaraApp", self.app)

    def compose(self) -> ComposeResult:
        yield NexaraHeader()
        with Horizontal(id="q-main"):
            with Vertical(id="q-left"):
                yield Static(id="q-counts")
                yield Static(id="q-status")
                yield FileList(id="q-list", columns=COLUMNS, marked=self.approvals,
                               empty_text="No flagged files. (Scan first: screen 1.)")
            with VerticalScroll(id="q-side"):
                yield Static(id="q-messages")
                yield FramePreview(id="q-preview")
        yield NexaraFooter()

    @property
    def approvals(self) -> set[str]:
        state = self.nexara.state
        if state is None:  # a bare app (tests of the widget alone)
            if not hasattr(self, "_approvals"):
                self._approvals: set[str] = set()
            return self._approvals
        return state.approvals

    @property
    def file_list(self) -> FileList:
        return self.query_one("#q-list", FileList)

    def on_mount(self) -> None:
        self.file_list.focus()
        self._draw_counts()
        self._maybe_load()

    def on_screen_resume(self) -> None:
        self._maybe_load()
        self.file_list.refresh_rows()  # approvals may have changed elsewhere (scan screen)
        self._draw_counts()

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        if message.state == LinkState.CONNECTED:
            self._maybe_load()

    def on_scan_finished(self, message: ScanFinished) -> None:
        if not message.loaded:  # a fresh scan: verdicts changed
            self.reload()

    def _maybe_load(self) -> None:
        host = self.nexara.host
        root = self.nexara.root
        if host is None or not root:
            return
        key = (id(host), root)
        if key != self._loaded_for:
            self._loaded_for = key
            self.reload()

    # ---- loading results (thread worker; a batch of rows per 0.25 s) --------------------------
    def reload(self) -> None:
        self._load_gen += 1
        self.loading = True
        self._incoming = []
        self._set_status("loading results…")
        self._load_results(self._load_gen)

    @work(thread=True, exclusive=True, group="q-results", exit_on_error=False)
    def _load_results(self, gen: int) -> None:
        """Only the problem files are asked for (`--verdict`): 7,000 rows, not 50,000 events."""
        worker = get_current_worker()
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._load_failed, gen, "not connected to a host, or no dataset root")
            return
        batch: list[FileRow] = []
        last = time.monotonic()
        summary: dict[str, Any] | None = None
        quarantined: int | None = None
        try:
            for ev in host.stream(["results", root, *PROBLEM_ARGS, "--json"]):
                if worker.is_cancelled:
                    return
                if ev["type"] == EventType.FILE:
                    r = ev["result"]
                    if r.get("verdict") not in (None, Verdict.OK):
                        row = FileRow.from_result(dict(r))
                        src = ev.get("source")
                        if src and src.get("url"):  # plan A: where to fetch it again
                            row.data["source_url"] = src["url"]
                        batch.append(row)
                    now = time.monotonic()
                    if now - last >= LOAD_BATCH_S and batch:
                        last = now
                        self.app.call_from_thread(self._rows_arrived, gen, batch)
                        batch = []
                elif ev["type"] == EventType.SUMMARY and "summary" in ev:
                    summary = dict(ev["summary"])
                    q = ev.get("quarantined")
                    quarantined = int(q) if isinstance(q, int) else None
        except NexaraError as exc:
            self.app.call_from_thread(self._load_failed, gen, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a dropped link: say so, stay up
            self.app.call_from_thread(self._load_failed, gen, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._loaded, gen, batch, summary, quarantined)

    def _rows_arrived(self, gen: int, rows: list[FileRow]) -> None:
        """Part of a load: shown at once (the first rows of 50,000 within a fraction of a second)."""
        if gen != self._load_gen:
            return
        self._incoming.extend(rows)
        if len(self._incoming) == len(rows):  # the first batch replaces what was shown
            self._show_rows(list(self._incoming), keep_cursor=True)
        else:
            self.rows = self._incoming
            self.file_list.append_rows(rows)
        self._set_status(f"loading results… {len(self._incoming):,} flagged so far")
        self._draw_counts()

    def _load_failed(self, gen: int, message: str) -> None:
        if gen != self._load_gen:
            return
        self.loading = False
        self.rows = []
        self.file_list.set_rows([])
        self._set_status(f"[red]{escape(message)}[/]")
        self._draw_counts()
        self.post_message(ScreenLoaded("quarantine", error=message))

    def _loaded(self, gen: int, rows: list[FileRow], summary: dict[str, Any] | None,
                quarantined: int | None) -> None:
        if gen != self._load_gen:
            return
        self.loading = False
        self._incoming.extend(rows)
        all_rows, self._incoming = self._incoming, []
        self.summary = summary
        self.quarantined = quarantined
        present = {r.path for r in all_rows}
        # Approvals of files that left the list (moved, rescanned ok) are dropped.
        self.approvals.intersection_update(present)
        if self.reason_filter and not any(self.reason_filter in r.reasons for r in all_rows):
            self.reason_filter = None
        self._show_rows(all_rows, keep_cursor=True)
        if self.busy is None and self.status_text.startswith("loading results"):
            self._set_status("")
        self._draw_counts()
        self.post_message(ScreenLoaded("quarantine", rows=len(all_rows)))
        if summary is not None and self.summary_shown_elsewhere() != summary:
            # The store changed under us (a CLI move, a rescan): the other screens follow.
            with contextlib.suppress(Exception):
                self.nexara.broadcast_scan_finished(summary, root=self.nexara.root,
                                                 level=self.nexara.state.last_scan_level, loaded=True)

    def summary_shown_elsewhere(self) -> dict[str, Any] | None:
        state = self.nexara.state
        return state.last_summary if state is not None else None

    def _show_rows(self, rows: list[FileRow], keep_cursor: bool) -> None:
        selected = self.file_list.selected_row if keep_cursor else None
        self.rows = rows
        self._apply_filter()
        if selected is not None:
            idx = self.file_list.model.index_of(selected.path)
            if idx is not None:
                self.file_list.move_cursor(idx)

    def _apply_filter(self) -> None:
        fl = self.file_list
        rows = self.rows if self.reason_filter is None else [
            r for r in self.rows if self.reason_filter in r.reasons]
        fl.model.sort_key = "reason"  # grouped by reason
        fl.set_rows(rows)

    # ---- drawing ------------------------------------------------------------------------------
    def _set_status(self, text: str) -> None:
        self.status_text = text
        with contextlib.suppress(Exception):
            self.query_one("#q-status", Static).update(text)

    def approved_rows(self) -> list[FileRow]:
        a = self.approvals
        return [r for r in self.rows if r.path in a]

    def _draw_counts(self) -> None:
        by_verdict: dict[str, int] = {}
        for r in self.rows:
            by_verdict[r.verdict] = by_verdict.get(r.verdict, 0) + 1
        approved = self.approved_rows()
        parts = [f"[b]{len(self.rows):,}[/] flagged"]
        for v in ("corrupt", "damaged", "warning"):
            if by_verdict.get(v):
                parts.append(f"{v} {by_verdict[v]:,}")
        line = " · ".join(parts)
        if self.reason_filter:
            line += f"   reason: [b]{escape(self.reason_filter)}[/] (r: next)"
        # Approvals on the second line: the first stays one line in a narrow pane.
        line += f"\n[b]approved {len(approved):,}[/] ({human_size(sum(r.size for r in approved))})"
        if self.summary:
            o = self.summary.get("overall", {})
            line += f" · in dataset: {o.get('total', 0):,} files, corrupt {o.get('corrupt', 0):,}"
        if self.quarantined:
            line += f" · quarantined {self.quarantined:,}"
        with contextlib.suppress(Exception):
            self.query_one("#q-counts", Static).update(line)

    def counts(self) -> dict[str, int]:
        """What the counts line shows, as numbers (for tests and the command palette)."""
        o = (self.summary or {}).get("overall", {})
        return {"flagged": len(self.rows), "approved": len(self.approved_rows()),
                "corrupt": int(o.get("corrupt", 0)), "total": int(o.get("total", 0)),
                "quarantined": int(self.quarantined or 0)}

    # ---- selection → side panel ---------------------------------------------------------------
    @on(FileList.RowHighlighted, "#q-list")
    def _highlighted(self, event: FileList.RowHighlighted) -> None:
        self._show_side(event.row)

    @on(FileList.RowSelected, "#q-list")
    def _selected(self, event: FileList.RowSelected) -> None:
        self.app.push_screen(FileDetailScreen(event.row))

    def _show_side(self, row: FileRow | None) -> None:
        msgs_w = self.query_one("#q-messages", Static)
        preview = self.query_one("#q-preview", FramePreview)
        if row is None:
            msgs_w.update("")
            preview.show_message("")
            return
        msgs = row.data.get("messages") or []
        head = (f"[b]{escape(row.path)}[/]\n{escape(row.verdict)} · {escape(row.reason_text) or '-'}"
                f" · {human_size(row.size)} · frames decoded {row.data.get('frames_decoded', '?')}\n")
        if row.data.get("source_url"):
            head += f"source: {escape(str(row.data['source_url']))}\n"
        body = "\n".join(escape(str(m)) for m in msgs[:40]) or "(no FFmpeg messages)"
        more = f"\n… {len(msgs) - 40} more (enter: details)" if len(msgs) > 40 else ""
        msgs_w.update(head + "[b]FFmpeg messages[/]\n" + body + more)
        cached = self._preview_cache.get(row.path)
        if cached is not None:
            preview.show_frames(cached.get("frames") or [])
            return
        preview.show_message("[dim]loading preview…[/]")
        self._preview_for = row.path
        self._load_preview(row.path)

    @work(thread=True, exclusive=True, group="q-preview", exit_on_error=False)
    def _load_preview(self, rel: str) -> None:
        worker = get_current_worker()
        time.sleep(0.15)  # debounce: holding j/k over 100 files starts one decode, not 100
        if worker.is_cancelled:
            return
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._preview_loaded, rel, None, "not connected to a host")
            return
        result: dict[str, Any] | None = None
        err = ""
        try:
            for ev in host.stream(["preview", root, rel, "--frames", str(PREVIEW_FRAMES),
                                   "--width", str(PREVIEW_WIDTH), "--json"]):
                if ev["type"] == EventType.PREVIEW:
                    result = dict(ev)
                if worker.is_cancelled:
                    return
        except NexaraError as exc:
            err = exc.message
        except Exception as exc:  # noqa: BLE001 - preview is best effort
            err = f"{type(exc).__name__}: {exc}"
        self.app.call_from_thread(self._preview_loaded, rel, result, err)

    def _preview_loaded(self, rel: str, result: dict[str, Any] | None, err: str) -> None:
        if result is not None:
            if len(self._preview_cache) > 64:
                self._preview_cache.clear()
            self._preview_cache[rel] = result
        if rel != self._preview_for:
            return
        preview = self.query_one("#q-preview", FramePreview)
        if result is None:
            preview.show_message(f"[red]preview unavailable:[/] {escape(err or 'no frames')}")
        else:
            preview.show_frames(result.get("frames") or [])

    def action_toggle_side(self) -> None:
        """The side panel is hidden below 100 columns; v shows it (or hides it at any width)."""
        side = self.query_one("#q-side")
        shown = side.display
        self.set_class(not shown, "-side-on")
        self.set_class(shown, "-side-off")

    def action_preview(self) -> None:
        row = self.file_list.selected_row
        if row is not None:
            self._preview_cache.pop(row.path, None)
            self._show_side(row)

    # ---- approvals ----------------------------------------------------------------------------
    def _approvals_changed(self) -> None:
        self.file_list.refresh_rows()
        self._draw_counts()

    def action_toggle_approval(self) -> None:
        row = self.file_list.selected_row
        if row is None:
            return
        self.approvals.symmetric_difference_update({row.path})
        self._approvals_changed()
        self.file_list.action_cursor_down()

    def action_approve_reason(self) -> None:
        row = self.file_list.selected_row
        if row is None or not row.reasons:
            self.notify("the selected file has no reason code to approve by", severity="warning")
            return
        code = row.reasons[0]
        paths = {r.path for r in self.rows if code in r.reasons}
        self.approvals.update(paths)
        self._approvals_changed()
        self.notify(f"approved {len(paths)} file(s) with reason {code}")

    def action_approve_corrupt(self) -> None:
        paths = {r.path for r in self.rows if r.verdict == "corrupt"}
        self.approvals.update(paths)
        self._approvals_changed()
        self.notify(f"approved {len(paths)} corrupt file(s)")

    def action_clear_approvals(self) -> None:
        self.approvals.clear()
        self._approvals_changed()

    def action_cycle_reason(self) -> None:
        codes = sorted({c for r in self.rows for c in r.reasons})
        if not codes:
            self.reason_filter = None
        elif self.reason_filter not in codes:
            self.reason_filter = codes[0]
        else:
            i = codes.index(self.reason_filter) + 1
            self.reason_filter = codes[i] if i < len(codes) else None
        self._apply_filter()
        self._draw_counts()

    def action_duplicates(self) -> None:
        """The Duplicates view (nexara_tui.screens.duplicates); reload here if it moved files."""
        from nexara_tui.screens.duplicates import DuplicatesScreen

        def back(moved: bool | None) -> None:
            if moved:
                self._broadcast_next = True
                self.reload()

        self.app.push_screen(DuplicatesScreen(), back)

    # ---- moving and undoing -------------------------------------------------------------------
    def action_move(self) -> None:
        if self.busy:
            self.notify(f"already {self.busy}", severity="warning")
            return
        rows = self.approved_rows()
        if not rows:
            self.notify("nothing approved (space: approve · a: by reason · A: all corrupt)",
                        severity="warning")
            return
        size = human_size(sum(r.size for r in rows))
        question = (f"Move [b]{len(rows):,}[/] approved file(s), [b]{size}[/], into\n"
                    f"{escape(str(self.nexara.root))}/corrupted_videos/ ?\n\n"
                    "Every move is journaled; u (or `nexara restore`) undoes it.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_job("moving", [r.path for r in rows])

        self.app.push_screen(ConfirmScreen(question), answered)

    def action_repair(self) -> None:
        """Repair (issue 14): the view of candidates; an applied batch becomes the one `u` undoes."""
        from nexara_tui.screens.repair import RepairScreen

        if self.busy:
            self.notify(f"already {self.busy}", severity="warning")
            return
        approved = [r.path for r in self.approved_rows()]

        def done(batch: str | None) -> None:
            if batch:
                self.last_batch = batch
                self.reload()
                # Repaired clips changed verdict in place: the other screens re-read the store.
                self.nexara.broadcast(lambda: DatasetChanged(self.nexara.root, [], [], None, None))
                self._set_status(f"repair batch {escape(batch)} applied; u: undo")

        self.app.push_screen(RepairScreen(approved or None), done)

    def action_undo(self) -> None:
        """Ask the journal what the last batch holds, then confirm with its count and size."""
        if self.busy:
            self.notify(f"already {self.busy}", severity="warning")
            return
        if self.nexara.host is None or not self.nexara.root:
            self.notify("not connected to a dataset yet", severity="warning")
            return
        self._set_status("reading the journal…")
        self._undo_plan()

    @work(thread=True, exclusive=True, group="q-journal", exit_on_error=False)
    def _undo_plan(self) -> None:
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._undo_failed, "not connected to a host, or no dataset root")
            return
        try:
            plan = last_batch_in_quarantine(dict(ev) for ev in host.stream(["quarantine", root, "--list", "--json"]))
        except NexaraError as exc:
            self.app.call_from_thread(self._undo_failed, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a dropped link: say so, stay up
            self.app.call_from_thread(self._undo_failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._confirm_undo, plan)

    def _undo_failed(self, message: str) -> None:
        self._set_status(f"[red]cannot read the journal:[/] {escape(message)}")
        self.notify(message, severity="error", timeout=8)

    def _confirm_undo(self, plan: UndoPlan | None) -> None:
        if plan is None:
            self._set_status("nothing to undo")
            self.notify(f"nothing to undo: no file of {self.nexara.root} is in quarantine",
                        severity="warning")
            return
        self._set_status("")
        question = (f"Put back [b]{plan.files:,}[/] file(s), [b]{human_size(plan.bytes)}[/], of batch "
                    f"[b]{escape(plan.batch)}[/] from\n{escape(str(self.nexara.root))}/corrupted_videos/ "
                    "into the dataset?\n\nA file that has reappeared at its old path is never "
                    "overwritten.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_job("restoring", None, plan.batch)

        self.app.push_screen(ConfirmScreen(question), answered)

    def _start_job(self, what: str, paths: list[str] | None, batch: str | None = None) -> None:
        self.busy = what
        self._set_status(f"{what}…")
        self._run_job(what, paths, batch)

    @work(thread=True, exclusive=True, group="q-job", exit_on_error=False)
    def _run_job(self, what: str, paths: list[str] | None, batch: str | None) -> None:
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._job_done, what, None,
                                      ["not connected to a host, or no dataset root"], [], batch)
            return
        result: dict[str, Any] = {}
        skipped: list[str] = []
        moved: list[str] = []
        try:
            with contextlib.ExitStack() as stack:
                if paths is not None:
                    # The list goes to the host as a temp file, deleted once the job has ended.
                    tmp = stack.enter_context(temp_list_on(host, paths, "nexara-approved"))
                    self.last_upload = tmp
                    argv = ["quarantine", root, "--files-from", tmp, "--yes", "--json"]
                else:
                    argv = ["restore", root, "--batch", batch or "last", "--json"]
                last_draw = 0.0
                for ev in self._job_events(host, argv):
                    if ev["type"] == EventType.MOVED:
                        moved.append(str(ev.get("rel", "")))
                    elif ev["type"] == EventType.PROGRESS:
                        now = time.monotonic()
                        if now - last_draw > 0.25:
                            last_draw = now
                            self.app.call_from_thread(
                                self._set_status, f"{what}… {ev.get('done', 0):,}/{ev.get('total') or 0:,}")
                    elif ev["type"] == EventType.SKIPPED:
                        skipped.append(str(ev.get("message", ev.get("rel", ""))))
                    elif ev["type"] == EventType.BATCH:
                        result = dict(ev)
                    elif ev["type"] == EventType.ERROR:
                        raise NexaraError(str(ev.get("message", "failed")))
                    elif ev["type"] == EventType.JOB_END and ev.get("rc") not in (0, None) and not result:
                        raise NexaraError(f"{argv[0]} job ended with status {ev.get('rc')}")
        except NexaraError as exc:
            self.app.call_from_thread(self._job_done, what, None, [exc.message], [], batch)
            return
        except Exception as exc:  # noqa: BLE001 - a dropped link or a failed job: say so
            self.app.call_from_thread(self._job_done, what, None, [f"{type(exc).__name__}: {exc}"],
                                      [], batch)
            return
        self.app.call_from_thread(self._job_done, what, result, skipped, moved, batch)

    def _job_events(self, host: Host, argv: list[str]) -> Iterator[Event]:
        """Run as a detached job on the host (survives a dropped link) and follow it."""
        job_id = host.start_job(argv)
        for _off, ev in host.attach(job_id, 0, follow=True):
            yield ev

    def _job_done(self, what: str, result: dict[str, Any] | None, problems: list[str],
                  moved: list[str], batch: str | None) -> None:
        self.busy = None
        if result is None:
            self._set_status(f"[red]{what} failed:[/] {escape(problems[0] if problems else '')}")
            self.notify(problems[0] if problems else f"{what} failed", severity="error", timeout=10)
            self.reload()
            return
        n = int(result.get("moved", 0))
        if what == "moving":
            if result.get("batch"):
                self.last_batch = str(result["batch"])
            text = (f"moved {n:,} file(s) ({human_size(result.get('bytes', 0))}), batch "
                    f"{result.get('batch')}; u: undo")
            self._apply_move(set(moved), str(result.get("batch") or ""))
        else:
            self.last_batch = None
            if result.get("op") == "uningest":
                # ingested clips left the dataset, none came out of the quarantine: counts reload
                text = f"undid an ingest: {n:,} file(s) back to INCOMING"
                self._changed(removed=[], restored=[], n_moved=0, complete=False)
            else:
                text = f"restored {n:,} file(s)"
                self._apply_restore(set(moved), batch or "")
        if problems:
            text += f"; {len(problems)} skipped: {problems[0]}"
        self.notify(text, timeout=6)
        # The store confirms in the background (and catches what this session did not see).
        self.reload()
        self._set_status(escape(text))

    # ---- following a move or an undo without a reload -----------------------------------------
    def _apply_move(self, moved: set[str], batch: str) -> None:
        gone = [r for r in self.rows if r.path in moved]
        self._moved[batch] = gone
        self._show_rows([r for r in self.rows if r.path not in moved], keep_cursor=True)
        self.approvals.difference_update(moved)
        self._changed(removed=gone, restored=[], n_moved=len(moved))

    def _apply_restore(self, restored: set[str], batch: str) -> None:
        back = [r for r in self._moved.pop(batch, []) if r.path in restored]
        if len(back) < len(restored):
            # A batch moved before this session: its rows come with the reload.
            self._changed(removed=[], restored=back, n_moved=-len(restored), complete=False)
            return
        self._show_rows(self.rows + back, keep_cursor=True)
        self._changed(removed=[], restored=back, n_moved=-len(restored))

    def _changed(self, removed: list[FileRow], restored: list[FileRow], n_moved: int,
                 complete: bool = True) -> None:
        """New counts from the rows that moved; every screen is told at once."""
        summary = adjust_summary(self.summary, removed, restored) if complete else None
        if summary is not None:
            self.summary = summary
        if self.quarantined is not None:
            self.quarantined = max(0, self.quarantined + n_moved)
        self._draw_counts()
        state = self.nexara.state
        if summary is not None and state is not None:
            state.last_summary = summary
        with contextlib.suppress(Exception):
            self.nexara.broadcast(lambda: DatasetChanged(self.nexara.root, removed, restored, summary,
                                                      self.quarantined))


@dataclass
class UndoPlan:
    batch: str
    files: int
    bytes: int


def last_batch_in_quarantine(events: Iterable[dict[str, Any]]) -> UndoPlan | None:
    """What `restore --batch last` would put back, from `quarantine --list --json` events.

    Replays the journal's batches in order (a move puts files in, a restore takes
    them out); the last batch is the newest one with a file still in quarantine.
    """
    inq: dict[str, tuple[int, str, int]] = {}  # rel -> (order, batch, size)
    order = 0
    for ev in events:
        if ev.get("type") != "journal_batch":
            continue
        for f in ev.get("files") or []:
            if f.get("state") != "done":
                continue
            order += 1
            op = f.get("op", ev.get("op"))  # per file: a repair batch moves originals in and puts copies
            if op == "move":
                inq[f["rel"]] = (order, str(ev.get("batch")), int(f.get("size") or 0))
            elif op == "restore":
                inq.pop(f["rel"], None)
    if not inq:
        return None
    batch = max(inq.values())[1]
    sizes = [size for _o, b, size in inq.values() if b == batch]
    return UndoPlan(batch, len(sizes), sum(sizes))


def adjust_summary(summary: dict[str, Any] | None, removed: list[FileRow],
                   restored: list[FileRow]) -> dict[str, Any] | None:
    """`summary` (Summary.to_dict) with `removed` rows taken out and `restored` ones put back."""
    if summary is None:
        return None
    from core.records import Verdict
    from core.summary import Summary

    s = Summary.from_dict(summary)
    for rows, sign in ((removed, -1), (restored, 1)):
        for r in rows:
            try:
                verdict = Verdict(r.verdict)
            except ValueError:
                continue
            s.groups.setdefault((r.split, r.cls), Counts()).add(verdict, sign)
            for code in set(r.reasons):
                s.reasons[code] += sign
    s.groups = {k: c for k, c in s.groups.items() if c.total > 0}
    s.reasons = +s.reasons  # drop reasons no file carries any more
    return s.to_dict()
