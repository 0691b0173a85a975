"""The Repair view (from the quarantine screen, key R): what repair would recover, then do it.

It runs `nexara repair ROOT --dry-run --json --preview-frames N` on the host
(the approved files only, when some are approved) and lists each candidate:
the strategy, seconds recovered of seconds present, verdict before → after;
the side panel shows why, and frames sampled across the *repaired candidate*
(the candidate's own frames, decoded on the host), so the user sees what
would replace the original before saying yes. `y` puts them in place: the
repairable files' list goes to the host as a temp file and
`nexara repair ROOT --files-from PATH --yes` runs there as a detached job
(each file is verified again before it moves). The screen returns the batch
id, so `u` on the quarantine screen undoes it like a quarantine batch.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from core.errors import NexaraError
from core.events import CandidateEvent, EventType, RepairSummaryEvent
from core.host import temp_list_on
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.widgets.footer import NexaraFooter
from nexara_tui.widgets.frame_preview import FramePreview
from nexara_tui.widgets.table import Table

if TYPE_CHECKING:
    from nexara_tui.app import NexaraApp

PREVIEW_FRAMES = 6


class RepairScreen(ModalScreen[str | None]):
    """Candidates of a repair dry run; dismisses with the batch id once applied (None otherwise)."""

    BINDINGS = [
        Binding("y", "apply", "Repair", id="repair.apply",
                tooltip="Put the repairable clips in place (originals into corrupted_videos/; u undoes)"),
        Binding("escape,q", "close", "Close", id="repair.close", tooltip="Back to the quarantine list"),
    ]
    DEFAULT_CSS = """
    RepairScreen { align: center middle; }
    RepairScreen > Vertical { width: 96%; height: 90%; border: round $accent; background: $surface; }
    RepairScreen #r-status { height: auto; padding: 0 1; }
    RepairScreen #r-main { height: 1fr; }
    RepairScreen #r-table { width: 3fr; }
    RepairScreen #r-side { width: 2fr; min-width: 40; border-left: solid $accent; padding: 0 1; }
    """

    def __init__(self, paths: list[str] | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.candidates: list[CandidateEvent] = []
        self.summary: RepairSummaryEvent | None = None
        self.loaded = False
        self.busy = False
        self.status_text = ""

    @property
    def nexara(self) -> NexaraApp:
        """The app, typed: its host and root."""
        return cast("NexaraApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[dim]trying repairs (nothing changes until you press y)…[/]", id="r-status")
            with Horizontal(id="r-main"):
                yield Table(id="r-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="r-side"):
                    yield Static(id="r-detail")
                    yield FramePreview(id="r-preview")
            yield NexaraFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "strategy", "recovered", "verdict", "path")
        table.focus()
        self._plan()

    # ---- the dry run ----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="r-plan", exit_on_error=False)
    def _plan(self) -> None:
        worker = get_current_worker()
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._failed, "not connected to a host, or no dataset root")
            return
        got: list[CandidateEvent] = []
        summary: RepairSummaryEvent | None = None
        try:
            with contextlib.ExitStack() as stack:
                argv = ["repair", root, "--dry-run", "--json", "--preview-frames", str(PREVIEW_FRAMES)]
                if self.paths is not None:
                    argv += ["--files-from", stack.enter_context(temp_list_on(host, self.paths, "nexara-repair"))]
                for ev in host.stream(argv):
                    if worker.is_cancelled:
                        return
                    if ev["type"] == EventType.CANDIDATE:
                        if ev["status"] != "no_strategy":
                            got.append(ev)
                    elif ev["type"] == EventType.REPAIR_SUMMARY:
                        summary = ev
                    elif ev["type"] == EventType.PROGRESS:
                        self.app.call_from_thread(self._set_status, f"trying repairs… {ev.get('done', 0):,}/"
                                                  f"{ev.get('total', 0):,} (nothing changes until you press y)")
        except NexaraError as exc:
            self.app.call_from_thread(self._failed, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a dropped link: say so, stay up
            self.app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._loaded, got, summary)

    def _failed(self, message: str) -> None:
        self.loaded = True
        self._set_status(f"[red]{escape(message)}[/]")

    def _loaded(self, got: list[CandidateEvent], summary: RepairSummaryEvent | None) -> None:
        got.sort(key=lambda c: (c["status"] != "repairable", c["rel"]))
        self.candidates = got
        self.summary = summary
        table = self.query_one(DataTable)
        table.clear()
        for c in got:
            ok = c["status"] == "repairable"
            present = c.get("seconds_present")
            rec = (f"{c['seconds_recovered']:.1f}" + (f"/{present:.1f}" if present else "") + " s") if ok else "-"
            verified = c.get("after")
            after = verified["verdict"] if ok and verified else ""
            table.add_row("✓" if ok else "✗", c.get("strategy") or "-", rec,
                          f"{c['before']['verdict']}→{after}" if ok else c["before"]["verdict"],
                          c["rel"], key=c["rel"])
        self.loaded = True
        self._set_status(self._summary_line())
        if got:
            self._show(got[0])

    def _summary_line(self) -> str:
        s: dict[str, Any] = dict(self.summary or {})
        n = self.repairable_count
        if not n:
            return (f"nothing repairable among {s.get('considered', 0):,} file(s) "
                    f"({s.get('no_strategy', 0):,} with no footage to recover) · escape: back")
        return (f"[b]{n:,}[/] repairable of {s.get('tried', 0):,} tried · {s.get('seconds_recovered', 0):.1f} s "
                f"of {s.get('seconds_present', 0):.1f} s recovered · "
                f"unusable made usable: {s.get('corrupt_recovered', 0):,} · [b]y[/]: put them in place")

    @property
    def repairable_count(self) -> int:
        return sum(c["status"] == "repairable" for c in self.candidates)

    def _set_status(self, text: str) -> None:
        self.status_text = text
        with contextlib.suppress(Exception):
            self.query_one("#r-status", Static).update(text)

    # ---- selection → side panel ---------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#r-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        c = next((c for c in self.candidates if c["rel"] == key), None)
        if c is not None:
            self._show(c)

    def _show(self, c: CandidateEvent) -> None:
        detail = self.query_one("#r-detail", Static)
        preview = self.query_one("#r-preview", FramePreview)
        before = c["before"]
        head = (f"[b]{escape(c['rel'])}[/]\nwas {escape(before['verdict'])} "
                f"({escape(', '.join(before.get('reasons') or []) or '-')})\n")
        if c["status"] == "repairable":
            body = (f"[b]{escape(c['strategy'])}[/]: {escape(c.get('detail', ''))}\n"
                    f"[b]frames of the repaired candidate[/]")
            preview.show_frames(c.get("frames") or [])
        else:
            body = f"[red]not repaired[/]: {escape(c.get('why', ''))}"
            preview.show_message("")
        detail.update(head + body)

    # ---- applying -------------------------------------------------------------------------------
    def action_apply(self) -> None:
        if self.busy or not self.loaded:
            return
        rels = [c["rel"] for c in self.candidates if c["status"] == "repairable"]
        if not rels:
            self.notify("nothing to repair", severity="warning")
            return
        question = (f"Put [b]{len(rels):,}[/] repaired clip(s) in place?\n\nEach original goes into "
                    f"{escape(str(self.nexara.root))}/corrupted_videos/ in the same journaled batch;\n"
                    "u on the quarantine screen (or `nexara restore --batch`) undoes it.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self._set_status("repairing…")
                self._apply(rels)

        self.app.push_screen(ConfirmScreen(question), answered)

    @work(thread=True, exclusive=True, group="r-apply", exit_on_error=False)
    def _apply(self, rels: list[str]) -> None:
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._apply_failed, "not connected to a host, or no dataset root")
            return
        batch: dict[str, Any] = {}
        try:
            with temp_list_on(host, rels, "nexara-repair") as lst:
                for ev in _job_events(host, ["repair", root, "--files-from", lst, "--yes", "--json"]):
                    t = ev.get("type")
                    if t == "batch":
                        batch = ev
                    elif t == "error":
                        raise NexaraError(str(ev.get("message", "repair failed")))
                    elif t == "job_end" and ev.get("rc") not in (0, None) and not batch:
                        raise NexaraError(f"repair job ended with status {ev.get('rc')}")
                    elif t == "progress":
                        self.app.call_from_thread(self._set_status,
                                                  f"repairing… {ev.get('done', 0):,}/{ev.get('total', 0):,}")
        except NexaraError as exc:
            self.app.call_from_thread(self._apply_failed, exc.message)
            return
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._apply_failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._applied, batch)

    def _apply_failed(self, message: str) -> None:
        self.busy = False
        self._set_status(f"[red]repair failed:[/] {escape(message)}")

    def _applied(self, batch: dict[str, Any]) -> None:
        self.busy = False
        self.notify(f"repaired {batch.get('repaired', 0):,} clip(s), "
                    f"{batch.get('seconds_recovered', 0):.1f} s of footage; u: undo", timeout=6)
        self.dismiss(batch.get("batch"))

    def action_close(self) -> None:
        if not self.busy:
            self.dismiss(None)


def _job_events(host: Any, argv: list[str]):
    """As a detached job on the host when it can (survives a dropped link), else streamed."""
    try:
        job_id = host.start_job(argv)
    except (NotImplementedError, AttributeError):
        yield from host.stream(argv)
        return
    for _off, ev in host.attach(job_id, 0, follow=True):
        yield ev
