"""The ingest view: new clips into the dataset, verified and de-duplicated, with live progress.

Opened with `i` from any screen. The user names a folder of new clips on the
host (and optionally the split and class; otherwise they come from the layout
INCOMING/<split>/<class>/). `ctrl+d` plans (`nexara ingest … --dry-run`): every
clip with what will happen to it — added (and under which name), rejected as
corrupt (with the scan's reasons), rejected as a copy (of which file), or
without split/class. `ctrl+g` asks, then runs `nexara ingest … --yes` as a
detached job on the host and follows its events: the scans of the dataset
and of the new clips, then the journaled moves; a dropped link loses nothing.
The summary says how many were added and rejected; `nexara restore ROOT
--batch ID` (or `--batch last`) undoes it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, ProgressBar, Static

from core.errors import NexaraError
from core.events import EventType
from nexara_tui.file_model import FileRow
from nexara_tui.screens.duplicates import job_events
from nexara_tui.screens.job_view import JobView
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.widgets.file_list import Column, FileList
from nexara_tui.widgets.footer import NexaraFooter
from nexara_tui.widgets.header import NexaraHeader

if TYPE_CHECKING:
    pass

STATUS_STYLES = {
    "add": Style(color="green"),
    "corrupt": Style(color="red", bold=True),
    "duplicate": Style(color="magenta", bold=True),
    "unplaced": Style(color="yellow"),
}

COLUMNS: tuple[Column, ...] = (
    Column("status", 10, lambda r: r.verdict, lambda r: STATUS_STYLES.get(r.verdict)),
    Column("into / why", 46, lambda r: r.data.get("dest") or r.data.get("reason", "")),
    Column("incoming", 0, lambda r: r.path, elide="middle"),
)


def item_row(ev: dict[str, Any]) -> FileRow:
    return FileRow(path=str(ev.get("src", "")), verdict=str(ev.get("status", "")),
                   reasons=tuple(ev.get("reasons") or ()), split=str(ev.get("split", "")),
                   cls=str(ev.get("cls", "")), size=int(ev.get("size") or 0), data=dict(ev))


class IngestScreen(JobView):
    TITLE = "Ingest"
    STATUS_ID = "i-status"

    BINDINGS = [
        Binding("ctrl+d", "plan", "Plan", priority=True, id="ingest.plan",
                tooltip="Dry run: scan and show what would be added or rejected"),
        Binding("ctrl+g", "go", "Ingest", priority=True, id="ingest.go",
                tooltip="Add the new clips (asks first; journaled, undoable)"),
        Binding("escape", "back", "Back", id="ingest.back", tooltip="Back"),
    ]

    DEFAULT_CSS = """
    IngestScreen #i-form { height: auto; }
    IngestScreen #i-form Input { width: 1fr; }
    IngestScreen #i-form #i-split, IngestScreen #i-form #i-class { width: 18; }
    IngestScreen #i-status { height: auto; padding: 0 1; }
    IngestScreen #i-summary { height: auto; padding: 0 1; }
    """

    def __init__(self, incoming: str = "") -> None:
        super().__init__()
        self.incoming = incoming
        self.items: list[FileRow] = []
        self.summary: dict[str, Any] | None = None
        self.phase = ""

    def compose(self) -> ComposeResult:
        yield NexaraHeader()
        with Vertical():
            with Horizontal(id="i-form"):
                yield Input(value=self.incoming, placeholder="INCOMING folder on the host", id="i-incoming")
                yield Input(placeholder="split (layout)", id="i-split")
                yield Input(placeholder="class (layout)", id="i-class")
            yield Static(id="i-status")
            yield ProgressBar(total=None, show_eta=False, id="i-progress")
            yield Static(id="i-summary")
            yield FileList(id="i-list", columns=COLUMNS,
                           empty_text="ctrl+d: plan (dry run) · ctrl+g: ingest")
        yield NexaraFooter()

    def on_mount(self) -> None:
        self.query_one("#i-incoming", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_plan()

    @property
    def file_list(self) -> FileList:
        return self.query_one("#i-list", FileList)

    def _argv(self) -> list[str] | None:
        incoming = self.query_one("#i-incoming", Input).value.strip()
        if not incoming:
            self.notify("name the folder of new clips first", severity="warning")
            return None
        if self.nexara.root is None:
            self.notify("no dataset root", severity="warning")
            return None
        argv = ["ingest", incoming, str(self.nexara.root)]
        split = self.query_one("#i-split", Input).value.strip()
        cls = self.query_one("#i-class", Input).value.strip()
        if split:
            argv += ["--split", split]
        if cls:
            argv += ["--class", cls]
        return argv

    # ---- actions ------------------------------------------------------------------------------
    def action_plan(self) -> None:
        argv = self._argv()
        if argv is None or self.refuse_busy():
            return
        self._start("planning", [*argv, "--dry-run", "--json"], job=False)

    def action_go(self) -> None:
        argv = self._argv()
        if argv is None or self.refuse_busy():
            return
        adds = sum(r.verdict == "add" for r in self.items)
        planned = f"{adds:,} clip(s) were planned to be added.\n" if self.items else ""
        question = (f"Ingest the clips of [b]{escape(argv[1])}[/] into\n{escape(argv[2])} ?\n\n"
                    f"{planned}Corrupt clips and copies stay where they are; every move is "
                    "journaled and `restore --batch` undoes it.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start("ingesting", [*argv, "--yes", "--json"], job=True)

        self.app.push_screen(ConfirmScreen(question), answered)

    def action_back(self) -> None:
        self.dismiss(bool(self.summary and self.summary.get("added")))

    def _start(self, what: str, argv: list[str], job: bool) -> None:
        self.busy = what
        self.items = []
        self.summary = None
        self.file_list.set_rows([])
        self.query_one("#i-summary", Static).update("")
        self.set_status(f"{what}…")
        self._run(what, argv, job)

    @work(thread=True, exclusive=True, group="i-job", exit_on_error=False)
    def _run(self, what: str, argv: list[str], job: bool) -> None:
        host = self.nexara.host
        rows: list[FileRow] = []
        last = 0.0
        if host is None:
            self.app.call_from_thread(self.run_failed, what, "not connected to a host")
            return
        try:
            stream = job_events(host, argv) if job else host.stream(argv)
            for ev in stream:
                t = ev.get("type")
                if t == EventType.INGEST_ITEM:
                    rows.append(item_row(dict(ev)))
                elif t in (EventType.INGEST_SCAN, EventType.PROGRESS):
                    now = time.monotonic()
                    if now - last > 0.2 or ev.get("step") in ("start", "summary"):
                        last = now
                        self.app.call_from_thread(self._progress, dict(ev))
                elif t == EventType.INGEST_PLAN:
                    self.app.call_from_thread(self._planned, list(rows), dict(ev))
                elif t == EventType.INGEST_SUMMARY:
                    self.app.call_from_thread(self._finished, dict(ev))
                elif t == EventType.ERROR:
                    raise NexaraError(str(ev.get("message", "failed")))
                elif t == "job_end" and ev.get("rc") not in (0, None):
                    raise NexaraError(f"ingest job ended with status {ev.get('rc')}")
        except Exception as exc:  # noqa: BLE001 - a failed run or a dropped link: say so
            self.app.call_from_thread(self.run_failed, what, getattr(exc, "message", str(exc)))
            return
        self.app.call_from_thread(self._done)

    # ---- drawing (UI thread) --------------------------------------------------------------------
    def _progress(self, ev: dict[str, Any]) -> None:
        bar = self.query_one("#i-progress", ProgressBar)
        if ev.get("type") == "ingest_scan":
            self.phase = "scanning the dataset" if ev.get("phase") == "root" else "scanning the new clips"
            total = ev.get("total") or ev.get("to_check")
            if ev.get("step") == "summary":
                bar.update(total=1, progress=1)
            elif total:
                bar.update(total=int(total), progress=int(ev.get("done") or ev.get("cached") or 0))
        else:  # moves
            self.phase = "moving into the dataset"
            bar.update(total=int(ev.get("total") or 1), progress=int(ev.get("done") or 0))
        self.set_status(f"{self.busy or ''}: {self.phase}…")

    def _planned(self, rows: list[FileRow], plan: dict[str, Any]) -> None:
        self.items = rows
        self.file_list.set_rows(rows)
        c = plan.get("counts", {})
        self.query_one("#i-summary", Static).update(
            f"[b green]{c.get('add', 0):,} to add[/] · [b red]{c.get('corrupt', 0):,} corrupt[/] · "
            f"[b magenta]{c.get('duplicate', 0):,} copies[/] · {c.get('unplaced', 0):,} without "
            "split/class")

    def _finished(self, ev: dict[str, Any]) -> None:
        self.summary = ev
        text = (f"added {ev['added']:,}, rejected as corrupt {ev['rejected_corrupt']:,}, "
                f"rejected as duplicates {ev['rejected_duplicate']:,}, without split/class "
                f"{ev['unplaced']:,}")
        if ev.get("dry_run"):
            text = "plan: " + text.replace("added", "would add")
        elif ev.get("batch"):
            text += f" — batch {ev['batch']} (undo: nexara restore ROOT --batch {ev['batch']})"
        self.query_one("#i-summary", Static).update(f"[b]{escape(text)}[/]")

    def _done(self) -> None:
        self.busy = None
        self.set_status("done" if self.summary else "")
        self.query_one("#i-progress", ProgressBar).update(total=1, progress=1)
