"""Plan A in the TUI: which lost clips can be fetched again, fetched, then ingested.

Opened with `g` from the Decide screen (whose last columns count lost / with a
source / re-downloaded / back). On open it lists the lost clips' sources
(`nexara redownload ROOT --json`: one row per distinct URL, in the split/class
the clip is fetched for, and a line per split/class with how many have no known
source). `ctrl+g` asks, then runs the download on the host as a detached job
(`redownload --run`, yt-dlp, rate-limited, resumable by its archive) and follows
its events: every row turns ok / already / error (with yt-dlp's one-line reason:
removed, private, geo-blocked, 404), with a progress bar. A dropped link loses
nothing: the job goes on and reopening the view follows it again. `i` then opens
the ingest view on the INCOMING folder, so the clips go back into their split
through the scan, the duplicate check and the journal.
"""

from __future__ import annotations

import contextlib
import posixpath
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
    from core.host.base import Host

TO_FETCH = "to fetch"
STATUS_STYLES = {
    TO_FETCH: Style(dim=True),
    "ok": Style(color="green", bold=True),
    "already": Style(color="green"),
    "error": Style(color="red", bold=True),
}

COLUMNS: tuple[Column, ...] = (
    Column("status", 9, lambda r: r.verdict, lambda r: STATUS_STYLES.get(r.verdict)),
    Column("for", 18, lambda r: f"{r.split}/{r.cls}"),
    Column("source / file / why", 0,
           lambda r: r.data.get("error") or r.data.get("file") or r.path, elide="middle"),
)


def default_incoming(root: str) -> str:
    """Where `nexara redownload --run` puts clips when not told: ROOT's sibling `<name>_incoming`
    (a path on the host, which may be another machine: plain POSIX path arithmetic)."""
    root = root.rstrip("/") or "/"
    return posixpath.join(posixpath.dirname(root), posixpath.basename(root) + "_incoming")


def target_rows(targets: list[dict[str, Any]]) -> list[FileRow]:
    return [FileRow(path=str(t["url"]), verdict=TO_FETCH, split=str(t.get("split", "")),
                    cls=str(t.get("class", "")), data={"rels": list(t.get("rels") or [])})
            for t in targets]


def running_job(host: Host, root: str) -> str | None:
    """The id of a running `redownload --run` job of this ROOT on the host, if there is one."""
    for j in host.jobs():
        if (j.status == "running" and j.argv[:1] == ["redownload"] and "--run" in j.argv
                and len(j.argv) > 1 and j.argv[1].rstrip("/") == root.rstrip("/")):
            return j.id
    return None


class RedownloadScreen(JobView):
    TITLE = "Re-download"
    STATUS_ID = "rd-status"

    BINDINGS = [
        Binding("ctrl+d", "plan", "List", priority=True, id="redownload.plan",
                tooltip="List the lost clips' sources again (nothing is fetched)"),
        Binding("ctrl+g", "go", "Download", priority=True, id="redownload.go",
                tooltip="Fetch them with yt-dlp into INCOMING, as a job on the host (asks first)"),
        Binding("ctrl+n", "ingest", "Ingest", priority=True, id="redownload.ingest",
                tooltip="Open the ingest view on INCOMING: verified, de-duplicated, journaled"),
        Binding("escape", "back", "Back", id="redownload.back", tooltip="Back"),
    ]

    DEFAULT_CSS = """
    RedownloadScreen #rd-form { height: auto; }
    RedownloadScreen #rd-form Input { width: 1fr; }
    RedownloadScreen #rd-status { height: auto; padding: 0 1; }
    RedownloadScreen #rd-summary { height: auto; padding: 0 1; }
    """

    def __init__(self, incoming: str = "") -> None:
        super().__init__()
        self.incoming = incoming
        self.rows: list[FileRow] = []
        self._by_url: dict[str, FileRow] = {}
        self.plan: dict[str, Any] | None = None
        self.end: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield NexaraHeader()
        with Vertical():
            with Horizontal(id="rd-form"):
                yield Input(value=self.incoming, placeholder="INCOMING folder on the host",
                            id="rd-incoming")
            yield Static(id="rd-status")
            yield ProgressBar(total=None, show_eta=True, id="rd-progress")
            yield Static(id="rd-summary")
            yield FileList(id="rd-list", columns=COLUMNS,
                           empty_text="no lost clip with a known source (ctrl+d: list again)")
        yield NexaraFooter()

    def on_mount(self) -> None:
        root = self.nexara.root
        if not self.incoming and root:
            self.incoming = default_incoming(str(root))
            self.query_one("#rd-incoming", Input).value = self.incoming
        self.file_list.focus()
        self._open()

    @property
    def file_list(self) -> FileList:
        return self.query_one("#rd-list", FileList)

    # ---- actions ------------------------------------------------------------------------------
    def action_plan(self) -> None:
        if self.refuse_busy() or self.nexara.root is None:
            return
        self._start("listing", ["redownload", str(self.nexara.root), "--json"], job=False)

    def action_go(self) -> None:
        root = self.nexara.root
        incoming = self.query_one("#rd-incoming", Input).value.strip()
        if self.refuse_busy() or root is None:
            return
        if not incoming:
            self.notify("name the INCOMING folder first", severity="warning")
            return
        n = sum(r.verdict == TO_FETCH for r in self.rows)
        question = (f"Download the sources of the lost clips of [b]{escape(str(root))}[/]\n"
                    f"into [b]{escape(incoming)}[/]<split>/<class>/ ?\n\n"
                    f"{n:,} source(s) to fetch, 1 s apart, with yt-dlp on the host; a rerun "
                    "fetches nothing twice. Nothing enters the dataset until you ingest.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.incoming = incoming
                self._start("downloading", ["redownload", str(root), "--run", "--foreground",
                                            "--into", incoming, "--json"], job=True)

        self.app.push_screen(ConfirmScreen(question), answered)

    def action_ingest(self) -> None:
        from nexara_tui.screens.ingest import IngestScreen

        incoming = self.query_one("#rd-incoming", Input).value.strip()
        if incoming:
            self.app.push_screen(IngestScreen(incoming))

    def action_back(self) -> None:
        self.dismiss(bool(self.end and self.end.get("downloaded")))

    def _start(self, what: str, argv: list[str], job: bool, attach: str | None = None) -> None:
        self.busy = what
        self.end = None
        self.set_status(f"{what}…")
        self._run(what, argv, job, attach)

    # ---- the worker thread ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="rd-open", exit_on_error=False)
    def _open(self) -> None:
        """A download already running for this ROOT is followed; otherwise the sources are listed."""
        host, root = self.nexara.host, self.nexara.root
        job = None
        if host is not None and root is not None:
            with contextlib.suppress(Exception):  # no job list (a dropped link): just list
                job = running_job(host, str(root))
        if job is not None:
            self.app.call_from_thread(self._start, "downloading", [], True, job)
        else:
            self.app.call_from_thread(self.action_plan)

    @work(thread=True, exclusive=True, group="rd-job", exit_on_error=False)
    def _run(self, what: str, argv: list[str], job: bool, attach: str | None) -> None:
        host = self.nexara.host
        if host is None:
            self.app.call_from_thread(self.run_failed, what, "not connected to a host")
            return
        pending: list[dict[str, Any]] = []
        last = 0.0
        try:
            if attach is not None:
                stream: Any = (ev for _off, ev in host.attach(attach, 0, follow=True))
            else:
                stream = job_events(host, argv) if job else host.stream(argv)
            for ev in stream:
                t = ev.get("type")
                if t == EventType.REDOWNLOAD_PLAN:
                    self.app.call_from_thread(self._planned, dict(ev))
                elif t == EventType.REDOWNLOAD_START:
                    self.app.call_from_thread(self._started, dict(ev))
                elif t == EventType.DOWNLOAD:
                    pending.append(dict(ev))
                    now = time.monotonic()
                    if now - last > 0.2:  # a few redraws a second, whatever the rate
                        last = now
                        self.app.call_from_thread(self._downloaded, pending)
                        pending = []
                elif t == EventType.REDOWNLOAD_END:
                    self.app.call_from_thread(self._downloaded, pending)
                    pending = []
                    self.app.call_from_thread(self._finished, dict(ev))
                elif t == EventType.ERROR:
                    raise NexaraError(str(ev.get("message", "failed")))
                elif t == "job_end" and ev.get("rc") not in (0, None):
                    raise NexaraError(f"re-download job ended with status {ev.get('rc')}")
        except Exception as exc:  # noqa: BLE001 - a failed run or a dropped link: say so
            self.app.call_from_thread(self._downloaded, pending)
            self.app.call_from_thread(self.run_failed, what, getattr(exc, "message", str(exc)))
            return
        self.app.call_from_thread(self._done)

    # ---- drawing (UI thread) --------------------------------------------------------------------
    def _planned(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.rows = target_rows(list(plan.get("targets") or []))
        self._by_url = {r.path: r for r in self.rows}
        self.file_list.set_rows(self.rows)
        lines = []
        for g in plan.get("groups") or []:
            without = int(g.get("lost", 0)) - int(g.get("with_source", 0))
            lines.append(f"{g['split']}/{g['class']}: [b]{g['lost']:,}[/] lost, "
                         f"[green]{g['with_source']:,}[/] with a source ({g['urls']:,} URL(s))"
                         + (f", [yellow]{without:,} without[/]" if without else ""))
        for c in plan.get("coverage") or []:
            if c.get("need"):
                lines.append(f"decision matrix, {c['class']}: re-download {c['need']:,} "
                             f"({c['split']}); {c['urls']:,} source(s) known")
        self.query_one("#rd-summary", Static).update("\n".join(lines) or "no lost clips")

    def _started(self, ev: dict[str, Any]) -> None:
        self.query_one("#rd-progress", ProgressBar).update(total=max(1, int(ev.get("total") or 0)),
                                                           progress=0)
        self.set_status(f"downloading into {escape(str(ev.get('into', '')))} …")

    def _downloaded(self, evs: list[dict[str, Any]]) -> None:
        if not evs:
            return
        for ev in evs:
            row = self._by_url.get(str(ev.get("url")))
            if row is None:  # followed a job started elsewhere: its rows come with its events
                row = FileRow(path=str(ev.get("url")), verdict=TO_FETCH, split=str(ev.get("split", "")),
                              cls=str(ev.get("cls", "")), data={})
                self.rows.append(row)
                self._by_url[row.path] = row
            row.verdict = str(ev.get("status", ""))
            row.data["file"] = ev.get("file") or ""
            row.data["error"] = ev.get("error") or ""
        self.file_list.set_rows(self.rows)
        last = evs[-1]
        self.query_one("#rd-progress", ProgressBar).update(total=max(1, int(last.get("total") or 1)),
                                                           progress=int(last.get("done") or 0))
        failed = sum(r.verdict == "error" for r in self.rows)
        self.set_status(f"downloading: {last.get('done', 0):,}/{last.get('total', 0):,}"
                         + (f" · [red]{failed:,} failed[/]" if failed else "") + " …")

    def _finished(self, ev: dict[str, Any]) -> None:
        self.end = ev
        self.query_one("#rd-summary", Static).update(
            f"[b]downloaded {ev['downloaded']:,}, already there {ev['already']:,}, failed "
            f"{ev['failed']:,}[/] in {ev['seconds']:.0f} s — into {escape(str(ev['into']))}\n"
            "ctrl+n: ingest them (verified, copies refused, journaled; restore --batch undoes it)")

    def _done(self) -> None:
        self.busy = None
        self.set_status("done" if self.end else "")
        if self.end:
            self.query_one("#rd-progress", ProgressBar).update(total=1, progress=1)
