"""The Decision screen: the decision matrix for the dataset on the current host.

Data comes only through the Host: `nexara decide ROOT --json` runs where the
scan store lives (this machine or the GPU box) in a thread worker, and the UI
thread only draws (dolphie's fetch/draw split). The screen re-asks whenever it
is shown again, when a scan finishes, and when the host reconnects: `decide`
reads a few counters from the store, so asking is cheap at any dataset size.

Keys: `w` writes the training config on the host (`decide --write-config`),
`d` toggles counting damaged clips as lost, `r` refreshes. Keyboard only;
colours are theme variables, so 256-colour terminals read it fine.
"""

from __future__ import annotations

import contextlib
import posixpath
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from core.decision import Decision, pct
from core.errors import NexaraError
from core.events import EventType, LinkState
from core.host import Host
from nexara_tui.messages import DatasetChanged, HostStateChanged, ScanFinished, ScreenLoaded
from nexara_tui.screens.prompts import ConfirmScreen, PromptScreen
from nexara_tui.widgets.footer import NexaraFooter
from nexara_tui.widgets.header import NexaraHeader
from nexara_tui.widgets.table import Table

COLUMNS = ("split/class", "valid", "lost", "rate", "weight", "balanced", "mult", "effective",
           "re-download")
# Below 100 columns the headers shorten so the whole table fits 80 cells. Widths are fixed
# (not sized to whatever cell was widest so far), so the table reads the same every time.
SHORT = {"weight": "wt", "balanced": "bal.", "effective": "eff.", "re-download": "re-dl"}
WIDTHS = {"split/class": 18, "valid": 7, "lost": 6, "rate": 7, "weight": 6, "balanced": 8,
          "mult": 4, "effective": 9, "re-download": 11}
# 80 columns: 57 of content + 2 of padding per column + the page's scrollbar (10,995 / 20,190 fit).
NARROW_WIDTHS = {**WIDTHS, "split/class": 16, "valid": 6, "lost": 5, "rate": 6, "weight": 4,
                 "balanced": 4, "effective": 6, "re-download": 6}
_SEVERITY = {"critical": "bold red", "warning": "yellow", "info": "cyan"}

if TYPE_CHECKING:
    from nexara_tui.app import NexaraApp


class PathPromptScreen(PromptScreen):
    """PromptScreen with the answer pre-filled (the suggested config path)."""

    def __init__(self, question: str, default: str) -> None:
        super().__init__(question)
        self.default = default

    def on_mount(self) -> None:
        from textual.widgets import Input

        box = self.query_one(Input)
        box.value = self.default
        box.cursor_position = len(self.default)
        box.focus()


def default_config_path(root: str) -> str:
    """ROOT/../train.toml: next to the dataset, never inside it (the dataset is the user's)."""
    parent = posixpath.dirname(root.rstrip("/")) or "/"
    return posixpath.join(parent, "train.toml")


def moved_text(quarantined: dict[str, Any] | None, d: Decision) -> Text:
    """"Moved: 2,860 (corrupt 2,860) · left: 17,140 (corrupt 0)" — after a quarantine."""
    o = (quarantined or {}).get("overall") or {}
    n = int(o.get("total", 0))
    if not n:
        return Text("")
    kinds = ", ".join(f"{v} {int(o.get(v, 0)):,}" for v in ("corrupt", "damaged", "warning")
                      if o.get(v))
    t = Text()
    t.append(f"Moved to ROOT/corrupted_videos/: {n:,} file(s)" + (f" ({kinds})" if kinds else ""),
             style="bold")
    t.append(f" · left in the dataset: {d.total:,} ({d.lost:,} lost) · "
             f"{n + d.total:,} scanned. The matrix below counts what is left.")
    return t


class DecisionScreen(Screen):
    TITLE = "Decision"
    DEFAULT_CSS = """
    DecisionScreen #d-status { height: auto; padding: 0 1; color: $text-muted; }
    DecisionScreen #d-headline { height: auto; padding: 0 1; text-style: bold; }
    DecisionScreen #d-bands { height: auto; margin: 0 1; }
    DecisionScreen .band { width: 1fr; height: auto; min-height: 4; border: round $panel;
                           padding: 0 1; color: $text-muted; }
    DecisionScreen .band.-active { border: heavy $warning; color: $text; text-style: bold; }
    DecisionScreen #band-clean.-active { border: heavy $success; }
    DecisionScreen #band-rebuild.-active { border: heavy $error; }
    DecisionScreen #d-table { height: auto; margin: 0 1; }
    DecisionScreen #d-body { height: 1fr; }
    DecisionScreen #d-moved { height: auto; padding: 0 1; color: $warning; }
    DecisionScreen #d-more { height: 1; padding: 0 1; background: $panel; color: $text; }
    DecisionScreen #d-more.-hidden { visibility: hidden; }  /* keeps its line: the body height never changes */
    DecisionScreen #d-options, DecisionScreen #d-findings { height: auto; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "write_config", "Write config", id="decision.write",
                tooltip="Write the training config (TOML) with these weights and multipliers"),
        Binding("g", "redownload", "Re-download", id="decision.redownload",
                tooltip="Plan A: list the lost clips' sources, fetch them (yt-dlp), then ingest"),
        Binding("d", "toggle_damaged", "Damaged lost/kept", id="decision.damaged",
                tooltip="Count damaged clips as lost (default: kept, they still decode)"),
        Binding("r", "refresh", "Refresh", id="decision.refresh",
                tooltip="Recompute from the stored scan results"),
        Binding("j", "scroll('down')", "Down", show=False, id="decision.down",
                tooltip="Scroll down (also ↓, PgDn, space): the options' Why and Risk, the findings"),
        Binding("k", "scroll('up')", "Up", show=False, id="decision.up", tooltip="Scroll up (also ↑, PgUp)"),
        Binding("space", "scroll('page')", "Page", show=False, id="decision.page",
                tooltip="One page down"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.decision: Decision | None = None
        self.summary: dict[str, Any] | None = None
        self.status_text = ""
        self.quarantined: dict[str, Any] | None = None  # Summary.to_dict of the moved files
        self._asked_for: tuple[int, str | None] | None = None  # (id(host), root) last asked
        self.damaged_is_lost = False
        self.last_written: str | None = None

    @property
    def nexara(self) -> NexaraApp:
        """The app, typed (posting's pattern): its host, root, state and broadcasts."""
        return cast("NexaraApp", self.app)

    def compose(self) -> ComposeResult:
        yield NexaraHeader()
        yield Static("", id="d-status")
        with VerticalScroll(id="d-body"):
            yield Static("", id="d-moved")
            yield Static("", id="d-headline")
            with Horizontal(id="d-bands"):
                yield Static("< 20 %", id="band-clean", classes="band")
                yield Static("20–40 %", id="band-salvage", classes="band")
                yield Static("> 40 %", id="band-rebuild", classes="band")
            yield Table(id="d-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="d-options")
            yield Static("", id="d-findings")
        yield Static("", id="d-more", classes="-hidden")
        yield NexaraFooter()

    @property
    def table(self) -> DataTable:
        return self.query_one("#d-table", DataTable)

    @property
    def body(self) -> VerticalScroll:
        return self.query_one("#d-body", VerticalScroll)

    def _add_columns(self) -> None:
        narrow = self.app.size.width < 100
        self._narrow: bool | None = narrow
        widths = NARROW_WIDTHS if narrow else WIDTHS
        t = self.table
        t.clear(columns=True)
        for c in COLUMNS:
            t.add_column(SHORT.get(c, c) if narrow else c, key=c, width=widths[c])
        if self.decision is not None:
            self._draw(self.decision)

    def on_mount(self) -> None:
        t = self.table
        self._narrow = None
        self._add_columns()
        # The page scrolls, not the table inside it: ↓ and PgDn reach the options and findings.
        t.can_focus = False
        self.body.focus()
        self.watch(self.body, "scroll_y", self._update_more, init=False)
        self.watch(self.body, "virtual_size", self._update_more, init=False)  # content re-laid out
        # No fetch here: the ScreenResume that follows the first mount asks (one fetch, not two).

    def on_resize(self) -> None:
        if (self.app.size.width < 100) != self._narrow:
            self._add_columns()
        self.call_after_refresh(self._update_more)

    def _update_more(self, *_: object) -> None:
        """Says what is below the fold and how to get there (hidden at the bottom)."""
        body = self.body
        more = self.query_one("#d-more", Static)
        below = body.max_scroll_y - body.scroll_y
        if below <= 0:
            more.add_class("-hidden")
            return
        what = []
        if self.decision is not None:
            findings = self.query_one("#d-findings")
            options = self.query_one("#d-options")
            bottom = body.scroll_y + body.scrollable_content_region.height
            if options.virtual_region.y + options.virtual_region.height > bottom:
                what.append("options (Why, Risk)")
            if findings.virtual_region.y + findings.virtual_region.height > bottom:
                what.append("findings")
        more.update(f"▼ {int(below)} more lines" + (f": {', '.join(what)}" if what else "")
                    + " · ↓ j PgDn")
        more.remove_class("-hidden")

    def action_scroll(self, where: str) -> None:
        body = self.body
        if where == "down":
            body.scroll_down(animate=False)
        elif where == "up":
            body.scroll_up(animate=False)
        else:
            body.scroll_page_down(animate=False)

    def on_screen_resume(self) -> None:
        """Asked once; after that only when the data changed (a scan, a move, a new host or root)
        or on r — a visit costs nothing, even on a 50,000-file store."""
        key = (id(self.nexara.host), self.nexara.root)
        if key != self._asked_for:
            self.refresh_decision()

    def on_scan_finished(self, message: ScanFinished) -> None:
        self.refresh_decision()

    def on_dataset_changed(self, message: DatasetChanged) -> None:
        self.refresh_decision()  # files moved out or back: what is left changed

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        if message.state == LinkState.CONNECTED:
            self.refresh_decision()

    def action_refresh(self) -> None:
        self.refresh_decision()

    def action_toggle_damaged(self) -> None:
        self.damaged_is_lost = not self.damaged_is_lost
        self.notify("damaged clips now count as " + ("lost" if self.damaged_is_lost else "kept"))
        self.refresh_decision()

    # ---- fetching (thread worker) -----------------------------------------------------------
    def _argv(self, root: str) -> list[str]:
        argv = ["decide", root]
        if self.damaged_is_lost:
            argv.append("--count-damaged-as-lost")
        return argv

    def refresh_decision(self) -> None:
        host = self.nexara.host
        root = self.nexara.root
        self._asked_for = (id(host), root)
        if host is None:
            self._set_status("waiting for the host…")
            return
        if not root:
            self._set_status("no dataset root: start with `nexara tui ROOT` or pick one with h")
            return
        # Keep showing the last numbers while the new ones are computed (no flicker).
        self._set_status(f"{self.status_text} · refreshing…" if self.decision is not None
                         and "refreshing" not in self.status_text
                         else self.status_text if self.decision is not None
                         else "computing the decision matrix…")
        self._fetch(host, root)

    @work(thread=True, exclusive=True, group="decide", exit_on_error=False)
    def _fetch(self, host: Host, root: str) -> None:
        worker = get_current_worker()
        decision: dict[str, Any] | None = None
        summary: dict[str, Any] | None = None
        quarantined: dict[str, Any] | None = None
        error: str | None = None
        try:
            for ev in host.stream([*self._argv(root), "--json"]):
                if worker.is_cancelled:
                    return
                if ev["type"] == EventType.DECISION:
                    decision, summary = ev["decision"], dict(ev["summary"])
                    quarantined = ev.get("quarantined")
                elif ev["type"] == EventType.ERROR:
                    error = str(ev.get("message", "decide failed"))
        except NexaraError as exc:
            error = exc.message
        except Exception as exc:  # noqa: BLE001 - a dropped link: say so, stay up
            error = f"{type(exc).__name__}: {exc}"
        if worker.is_cancelled:
            return
        self.app.call_from_thread(self._loaded, decision, summary, error, quarantined)

    # ---- drawing (UI thread) ------------------------------------------------------------------
    def _loaded(self, decision: dict[str, Any] | None, summary: dict[str, Any] | None,
                error: str | None, quarantined: dict[str, Any] | None = None) -> None:
        if error or decision is None:
            self.decision = None
            self._set_status(f"[red]{escape(error or 'decide sent no decision')}[/]")
            self._clear()
            self.post_message(ScreenLoaded("decision", error=error or "no decision"))
            return
        try:
            d = Decision.from_dict(decision)
        except (KeyError, TypeError) as exc:  # an engine of another version on the host
            self._set_status(f"[red]cannot read the decision from the host: {escape(str(exc))}[/]")
            self.post_message(ScreenLoaded("decision", error=str(exc)))
            return
        self.decision, self.summary, self.quarantined = d, summary, quarantined
        self._set_status(
            f"{d.total:,} clips, {d.lost:,} lost ({pct(d.rate)})"
            + (" · damaged counted as lost" if d.damaged_is_lost else " · damaged kept")
            + f" · weights and multipliers from the {d.basis} split"
            + " · w: write training config")
        self._draw(d)
        self.call_after_refresh(self._update_more)
        self.post_message(ScreenLoaded("decision", rows=len(d.rows)))

    def _clear(self) -> None:
        self.table.clear()
        for w in ("#d-moved", "#d-headline", "#d-options", "#d-findings"):
            self.query_one(w, Static).update("")
        for b in self.query(".band"):
            b.remove_class("-active")

    def _draw(self, d: Decision) -> None:
        self.query_one("#d-moved", Static).update(moved_text(self.quarantined, d))
        self.query_one("#d-headline", Static).update(Text(d.headline))
        for b in d.bands:
            w = self.query_one(f"#band-{b.key}", Static)
            marker = "▶ " if b.active else "  "
            w.update(Text(f"{marker}{b.label}\n{b.title}"))
            w.set_class(b.active, "-active")
        t = self.table
        t.clear()
        alarm = float(d.policy.get("class_alarm", 0.4))
        for r in d.rows:
            plan = r.split == d.basis
            dash = "—" if plan else ""
            style = "" if plan else "dim"
            cells = [
                f"{r.split}/{r.cls}", f"{r.valid:,}", f"{r.lost:,}", pct(r.rate),
                f"{r.weight_applied:.2f}" if r.weight_applied is not None else dash,
                f"{r.weight_balanced:.2f}" if r.weight_balanced is not None else dash,
                f"{r.multiplier}×" if r.multiplier is not None else dash,
                f"{r.effective:,}" if r.effective is not None else "",
                f"{r.redownload:,}" if r.redownload is not None else "",
            ]
            row = [Text(c, style="bold red" if i == 3 and r.rate > alarm else style,
                        justify="left" if i == 0 else "right") for i, c in enumerate(cells)]
            t.add_row(*row, key=f"{r.split}/{r.cls}")
        opts = Text()
        moved = int(((self.quarantined or {}).get("overall") or {}).get("total", 0))
        for o in d.options:
            head = ("RECOMMENDED: " if o.recommended else "") + (
                f"Option {o.key} — {o.title}" if o.key in ("A", "B") else o.title)
            opts.append(head + "\n", style="bold green" if o.recommended else "bold")
            for s in o.steps:
                if moved and s.startswith("Run `nexara quarantine ROOT`"):
                    opts.append(f"  ✓ done: {moved:,} file(s) already moved to corrupted_videos/ "
                                "(u on screen 3, or `nexara restore ROOT`, undoes it)\n",
                                style="green")
                    continue
                opts.append(f"  • {s}\n")
            opts.append(f"  Why: {o.why}\n")
            opts.append(f"  Risk: {o.risk}\n", style="yellow")
        self.query_one("#d-options", Static).update(opts)
        f = Text("Findings\n", style="bold")
        for i in d.intervals:
            if i.cls is None and i.half_width is not None:
                f.append(f"  {i.split}: {i.n:,} clips measure {pct(i.target, 0)} as "
                         f"{pct(i.low)}–{pct(i.high)} (95 % Wilson, ±{i.half_width * 100:.1f} pts)\n")
        for fd in d.findings:
            f.append(f"  {fd.severity.upper():8} ", style=_SEVERITY.get(fd.severity, ""))
            f.append(fd.message + "\n")
        self.query_one("#d-findings", Static).update(f)

    def _set_status(self, text: str) -> None:
        self.status_text = text
        with contextlib.suppress(Exception):
            self.query_one("#d-status", Static).update(text)

    def row_cells(self, key: str) -> list[str]:
        """The table's cells for `split/class` as plain strings (for tests and the palette)."""
        return [str(c) for c in self.table.get_row(key)]

    # ---- writing the training config ---------------------------------------------------------
    def action_redownload(self) -> None:
        """The plan A view (nexara_tui.screens.redownload); back here, the counts refresh."""
        from nexara_tui.screens.redownload import RedownloadScreen

        def back(fetched: bool | None) -> None:
            if fetched:
                self.action_refresh()

        self.app.push_screen(RedownloadScreen(), back)

    def action_write_config(self) -> None:
        root = self.nexara.root
        if self.decision is None or not root:
            self.notify("nothing to write yet: the decision is not loaded", severity="warning")
            return

        def answered(path: str | None) -> None:
            if path and path.strip():
                self._write(path.strip(), force=False)

        self.app.push_screen(
            PathPromptScreen(f"Write the training config on {getattr(self.nexara.host, 'name', 'host')} "
                             "to (a TOML file; the dataset is not touched):",
                             default_config_path(root)),
            answered)

    def _write(self, path: str, force: bool) -> None:
        self._set_status(f"writing {escape(path)}…")
        self._write_worker(self.nexara.host, self.nexara.root, path, force)

    @work(thread=True, exclusive=True, group="decide-write", exit_on_error=False)
    def _write_worker(self, host: Host, root: str, path: str, force: bool) -> None:
        # Human mode on purpose: with --json the CLI reports a render-side error (file exists)
        # only through the exit code; here its one-line message arrives on stderr.
        argv = [*self._argv(root), "--write-config", path] + (["--force"] if force else [])
        try:
            res = host.run(argv, timeout=120)
            rc, err = res.rc, res.stderr
        except Exception as exc:  # noqa: BLE001 - shown, the app stays up
            rc, err = 1, getattr(exc, "message", str(exc))
        self.app.call_from_thread(self._written, path, rc, err)

    def _written(self, path: str, rc: int, stderr: str) -> None:
        lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {rc}"
        if rc == 0:
            self.last_written = path
            self._set_status(f"wrote training config {escape(path)} — `nexara train --config {escape(path)}`")
            self.notify(f"wrote {path}")
            return
        if "already exists" in last:
            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._write(path, force=True)
                else:
                    self._set_status("config not written")

            self.app.push_screen(ConfirmScreen(f"{path} already exists. Replace it?"), confirmed)
            return
        self._set_status(f"[red]{escape(last.removeprefix('nexara: '))}[/]")
        self.notify(last, severity="error", timeout=8)
