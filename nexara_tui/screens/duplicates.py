"""The quarantine screen's Duplicates view: group by group, keep one copy, quarantine the others.

Opened from the quarantine screen (`D`). The groups come from `nexara dupes
ROOT --json` on the host (the fingerprints the scan stored; nothing is decoded
again). Each group's rows show its files with split/class and resolution;
groups that cross splits (leakage) or classes (label conflict) are flagged.
The default choice keeps the copy in the split that does not leak and the best
quality there (`core.dupes.choose_keep`): `A` approves every other copy of
every group, `k` keeps the selected file instead (approving the rest of its
group), `space` toggles one file. `m` moves the approved copies through the
same journal as every quarantine (`nexara quarantine ROOT --files-from LIST
--yes`, a detached job), `u` undoes the last batch. Approvals live in
`app.state.dupe_approvals`, apart from the quarantine list's (which only
holds flagged files), so both survive leaving the screens.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from core.errors import NexaraError
from core.events import EventType
from core.host import temp_list_on
from core.units import human_size
from nexara_tui.file_model import FileRow
from nexara_tui.screens.job_view import JobView
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.widgets.file_list import Column, FileList
from nexara_tui.widgets.footer import NexaraFooter
from nexara_tui.widgets.header import NexaraHeader

if TYPE_CHECKING:
    pass

_FLAG = Style(color="red", bold=True)

COLUMNS: tuple[Column, ...] = (
    Column("group", 6, lambda r: str(r.data.get("group", ""))),
    Column("kind", 6, lambda r: r.data.get("kind", "")),
    Column("flags", 16, lambda r: r.data.get("flags", ""), lambda r: _FLAG if r.data.get("flags") else None),
    Column("split/class", 18, lambda r: f"{r.split}/{r.cls}"),
    Column("size", 9, lambda r: f"{r.data.get('width', 0)}x{r.data.get('height', 0)}"),
    Column("choice", 7, lambda r: "keep" if r.data.get("is_keep") else ""),
    Column("path", 0, lambda r: r.path, elide="middle"),
)


def job_events(host: Any, argv: list[str]) -> Iterator[dict[str, Any]]:
    """Run as a detached job on the host when it can (survives a dropped link), else stream."""
    try:
        job_id = host.start_job(argv)
    except (NotImplementedError, AttributeError):
        yield from host.stream(argv)
        return
    for _off, ev in host.attach(job_id, 0, follow=True):
        yield ev


def rows_from_groups(groups: list[dict[str, Any]]) -> list[FileRow]:
    rows = []
    for n, g in enumerate(groups, 1):
        flags = []
        if len(g.get("splits", [])) > 1:
            flags.append("LEAK")
        if len(g.get("classes", [])) > 1:
            flags.append("CONFLICT")
        for m in g.get("members", []):
            rows.append(FileRow(
                path=m["path"], verdict=m.get("verdict", ""), split=m.get("split", ""),
                cls=m.get("class", ""), size=int(m.get("size") or 0),
                data={"group": n, "kind": g.get("kind", ""), "flags": " ".join(flags),
                      "is_keep": m["path"] == g.get("keep"), "width": m.get("width", 0),
                      "height": m.get("height", 0)},
            ))
    return rows


class DuplicatesScreen(JobView):
    TITLE = "Duplicates"
    STATUS_ID = "d-status"

    BINDINGS = [
        Binding("space", "approve_one", "Approve", id="dupes.toggle",
                tooltip="Approve or un-approve the selected copy for quarantine"),
        Binding("K", "keep", "Keep this", id="dupes.keep",
                tooltip="Keep the selected file; approve the other copies of its group"),
        Binding("A", "approve_defaults", "Approve copies", id="dupes.approve_defaults",
                tooltip="In every group keep the default copy (non-leaking split, best quality); "
                        "approve the others"),
        Binding("c", "clear", "Clear", id="dupes.clear", tooltip="Clear the duplicate approvals"),
        Binding("m", "move", "Move", id="dupes.move",
                tooltip="Move the approved copies into ROOT/corrupted_videos/ (asks first; undoable)"),
        Binding("u", "undo", "Undo", id="dupes.undo", tooltip="Undo the last batch"),
        Binding("r", "reload", "Reload", id="dupes.reload", tooltip="Group again from the store"),
        Binding("escape", "back", "Back", id="dupes.back", tooltip="Back to the quarantine list"),
    ]

    DEFAULT_CSS = """
    DuplicatesScreen #d-counts { height: auto; padding: 0 1; }
    DuplicatesScreen #d-status { height: auto; padding: 0 1; color: $text-muted; }
    DuplicatesScreen #d-findings { height: auto; max-height: 8; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[dict[str, Any]] = []
        self.findings: list[dict[str, Any]] = []
        self.rows: list[FileRow] = []
        self.loaded = False  # the groups shown are the store's current ones (False while regrouping)
        self.last_batch: str | None = None
        self.moved_any = False  # told to the quarantine screen on the way back (it reloads)

    @property
    def approvals(self) -> set[str]:
        return self.nexara.state.dupe_approvals

    def compose(self) -> ComposeResult:
        yield NexaraHeader()
        with Vertical():
            yield Static(id="d-counts")
            yield Static(id="d-status")
            yield Static(id="d-findings")
            yield FileList(id="d-list", columns=COLUMNS, marked=self.approvals,
                           empty_text="No duplicates. (Scan first: screen 1.)")
        yield NexaraFooter()

    @property
    def file_list(self) -> FileList:
        return self.query_one("#d-list", FileList)

    def on_mount(self) -> None:
        self.file_list.focus()
        self.action_reload()

    # ---- loading ------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.loaded = False
        self.set_status("grouping…")
        self._load()

    @work(thread=True, exclusive=True, group="d-load", exit_on_error=False)
    def _load(self) -> None:
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._failed, "not connected to a host, or no dataset root")
            return
        result: dict[str, Any] | None = None
        try:
            for ev in host.stream(["dupes", root, "--json"]):
                if ev["type"] == EventType.DUPES:
                    result = dict(ev)
        except NexaraError as exc:
            self.app.call_from_thread(self._failed, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a dropped link: say so, stay up
            self.app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._loaded, result or {})

    def _failed(self, message: str) -> None:
        self.set_status(f"[red]{escape(message)}[/]")
        self.loaded = True

    def _loaded(self, result: dict[str, Any]) -> None:
        self.groups = list(result.get("groups") or [])
        self.findings = list(result.get("findings") or [])
        self.rows = rows_from_groups(self.groups)
        present = {r.path for r in self.rows}
        self.approvals.intersection_update(present)
        self.file_list.set_rows(self.rows)  # in group order (the engine's: leaks and conflicts first)
        lines = [f"[b red]{escape(f['severity'].upper())}[/] {escape(f['message'])}"
                 if f["severity"] == "critical" else f"{escape(f['severity'])}: {escape(f['message'])}"
                 for f in self.findings[:6]]
        self.query_one("#d-findings", Static).update("\n".join(lines))
        if self.busy is None:
            self.set_status("")
        self._draw_counts()
        self.loaded = True

    # ---- drawing ------------------------------------------------------------------------------
    def approved_rows(self) -> list[FileRow]:
        return [r for r in self.rows if r.path in self.approvals]

    def _draw_counts(self) -> None:
        leaks = sum(len(g.get("splits", [])) > 1 for g in self.groups)
        conflicts = sum(len(g.get("classes", [])) > 1 for g in self.groups)
        copies = sum(len(g.get("files", [])) - 1 for g in self.groups)
        approved = self.approved_rows()
        line = (f"[b]{len(self.groups):,}[/] group(s) of the same footage · {copies:,} redundant "
                f"cop{'y' if copies == 1 else 'ies'} · [b red]{leaks:,} leak[/] across splits · "
                f"[b red]{conflicts:,} label conflict(s)[/]\n[b]approved {len(approved):,}[/] "
                f"({human_size(sum(r.size for r in approved))}) · A: approve all but the kept copy")
        with contextlib.suppress(Exception):
            self.query_one("#d-counts", Static).update(line)

    def _changed(self) -> None:
        self.file_list.refresh_rows()
        self._draw_counts()

    # ---- choices ------------------------------------------------------------------------------
    def action_approve_one(self) -> None:
        row = self.file_list.selected_row
        if row is None:
            return
        self.approvals.symmetric_difference_update({row.path})
        self._changed()
        self.file_list.action_cursor_down()

    def action_keep(self) -> None:
        row = self.file_list.selected_row
        if row is None:
            return
        group = row.data.get("group")
        for r in self.rows:
            if r.data.get("group") == group:
                r.data["is_keep"] = r.path == row.path
                (self.approvals.discard if r.path == row.path else self.approvals.add)(r.path)
        self._changed()

    def action_approve_defaults(self) -> None:
        paths = {r.path for r in self.rows if not r.data.get("is_keep")}
        self.approvals.update(paths)
        self._changed()
        self.notify(f"approved {len(paths)} cop{'y' if len(paths) == 1 else 'ies'}; "
                    "one file of each group is kept")

    def action_clear(self) -> None:
        self.approvals.clear()
        self._changed()

    def action_back(self) -> None:
        self.dismiss(self.moved_any)

    # ---- moving and undoing -------------------------------------------------------------------
    def action_move(self) -> None:
        if self.refuse_busy():
            return
        if not self.loaded:
            self.notify("still grouping", severity="warning")
            return
        rows = self.approved_rows()
        if not rows:
            self.notify("nothing approved (A: all copies but one per group · space · K)",
                        severity="warning")
            return
        kept = {g for g in {r.data.get("group") for r in self.rows}
                if all(r.path in self.approvals for r in self.rows if r.data.get("group") == g)}
        warn = (f"\n[b red]{len(kept)} group(s) would keep no copy at all.[/]" if kept else "")
        question = (f"Move [b]{len(rows):,}[/] duplicate cop{'y' if len(rows) == 1 else 'ies'}, "
                    f"[b]{human_size(sum(r.size for r in rows))}[/], into\n"
                    f"{escape(str(self.nexara.root))}/corrupted_videos/ ?{warn}\n\n"
                    "Every move is journaled; u (or `nexara restore`) undoes it.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start("moving", [r.path for r in rows])

        self.app.push_screen(ConfirmScreen(question), answered)

    def action_undo(self) -> None:
        if self.refuse_busy():
            return
        self._start("restoring", None)

    def _start(self, what: str, paths: list[str] | None) -> None:
        self.busy = what
        self.loaded = False  # the groups change with the move: regrouped when it is done
        self.set_status(f"{what}…")
        self._run(what, paths, self.last_batch)

    @work(thread=True, exclusive=True, group="d-job", exit_on_error=False)
    def _run(self, what: str, paths: list[str] | None, batch: str | None) -> None:
        host, root = self.nexara.host, self.nexara.root
        if host is None or root is None:
            self.app.call_from_thread(self._done, what, None, "not connected to a host, or no dataset root")
            return
        result: dict[str, Any] = {}
        try:
            with contextlib.ExitStack() as stack:
                if paths is not None:
                    tmp = stack.enter_context(temp_list_on(host, paths, "nexara-dupes"))
                    argv = ["quarantine", root, "--files-from", tmp, "--yes", "--json"]
                else:
                    argv = ["restore", root, "--batch", batch or "last", "--json"]
                last = 0.0
                for ev in job_events(host, argv):
                    t = ev.get("type")
                    if t == "progress" and time.monotonic() - last > 0.25:
                        last = time.monotonic()
                        self.app.call_from_thread(
                            self.set_status, f"{what}… {ev.get('done', 0):,}/{ev.get('total', 0):,}")
                    elif t == "batch":
                        result = ev
                    elif t == "error":
                        raise NexaraError(str(ev.get("message", "failed")))
        except Exception as exc:  # noqa: BLE001 - a failed job or a dropped link: say so
            self.app.call_from_thread(self._done, what, None, getattr(exc, "message", str(exc)))
            return
        self.app.call_from_thread(self._done, what, result, "")

    def _done(self, what: str, result: dict[str, Any] | None, problem: str) -> None:
        self.busy = None
        if result is None:
            self.set_status(f"[red]{what} failed:[/] {escape(problem)}")
            self.notify(problem or f"{what} failed", severity="error", timeout=10)
        else:
            self.moved_any = True
            n = int(result.get("moved", 0))
            if what == "moving":
                self.last_batch = result.get("batch") or self.last_batch
                text = f"moved {n:,} cop{'y' if n == 1 else 'ies'}, batch {result.get('batch')}; u: undo"
            else:
                self.last_batch = None
                text = f"restored {n:,} file(s)"
            self.notify(text, timeout=6)
            self.set_status(escape(text))
        self.action_reload()
