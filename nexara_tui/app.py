"""The Nexara app: four screens over one Host, switched by number keys.

The app owns what every screen shares — the `Host` (this machine or the GPU
box), the dataset root on that host, and `AppState` (link state, quarantine
approvals, the last scan summary) — and nothing else. Screens are Textual
modes created lazily on first visit (the app opens in well under a second and
never imports av, cv2 or tensorflow); they keep their state when you switch
away. Opening an SSH host takes seconds, so it happens in a worker while the
UI is already up, and the header shows "connecting".
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal

from core.events import LinkState
from core.host import Host
from nexara_tui.commands import NexaraCommands
from nexara_tui.messages import HostStateChanged, ScanFinished, ScanProgress, ScreenLoaded
from nexara_tui.state import AppState

if TYPE_CHECKING:
    from nexara_tui.connect import HostOpener

# mode name → (module, class). Imported on first visit only.
SCREENS: dict[str, tuple[str, str]] = {
    "scan": ("nexara_tui.screens.scan", "ScanScreen"),
    "decision": ("nexara_tui.screens.decision", "DecisionScreen"),
    "quarantine": ("nexara_tui.screens.quarantine", "QuarantineScreen"),
    "monitor": ("nexara_tui.screens.monitor", "MonitorScreen"),
}


class NexaraApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "Nexara"
    ENABLE_COMMAND_PALETTE = True
    # Classes on every screen by terminal size, for the layouts of 80×24, 120×40 and 200×50.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (160, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    COMMANDS = App.COMMANDS | {NexaraCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_screen_mode('scan')", "Scan", show=False, id="app.scan",
                tooltip="Scan screen: integrity verdicts, live counts, problem files"),
        Binding("2", "switch_screen_mode('decision')", "Decide", show=False, id="app.decision",
                tooltip="Decision screen: what losing the corrupt files does to each class"),
        Binding("3", "switch_screen_mode('quarantine')", "Quarantine", show=False, id="app.quarantine",
                tooltip="Quarantine screen: review and move unusable files (journaled, reversible)"),
        Binding("4", "switch_screen_mode('monitor')", "Monitor", show=False, id="app.monitor",
                tooltip="Monitor screen: follow a training job's epochs and logs"),
        Binding("i", "ingest", "Ingest", show=False, id="app.ingest",
                tooltip="Ingest view: add new clips (verified, copies refused, undoable)"),
        Binding("h", "pick_host", "Host", id="app.host",
                tooltip="Pick the host: this machine or an alias from ~/.ssh/config"),
        Binding("question_mark", "toggle_help", "Help", id="app.help",
                tooltip="Every key of this screen and what it does (scrolls; ? or escape closes)"),
        Binding("o", "pick_root", "Root", show=False, id="app.root",
                tooltip="Pick the dataset root on the current host"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit Nexara (running jobs keep running)"),
    ]

    def __init__(self, root: str | None = None, host: Host | None = None, host_name: str | None = None,
                 scan_on_start: bool = False, level: str = "standard",
                 host_opener: HostOpener | None = None, cluster: str | None = None) -> None:
        """`host` is an open core.host.Host; otherwise `host_name` is opened in a worker on mount."""
        # Older terminals and SSH sessions: never rely on truecolor.
        super().__init__()
        name = host_name or (host.name if host is not None else None) or "local"
        self.state = AppState(host_name=name, root=root, level=level, cluster=cluster,
                              link_state=host.link_state if host is not None else LinkState.CONNECTING)
        self.host: Host | None = host
        if host is not None:  # a host opened by the caller: its link reports reach the header too
            host.watch_link(self._link_watcher(name))
        self.scan_on_start = scan_on_start
        self._host_opener = host_opener
        self.state_signal: Signal[AppState] = Signal(self, "nexara-state")
        self._mode_screens: dict[str, Screen] = {}
        self._heap_settle_pending = False
        for mode in SCREENS:
            self.add_mode(mode, self._screen_factory(mode))

    # ---- properties other screens use ---------------------------------------------------------
    @property
    def root(self) -> str | None:
        return self.state.root

    @root.setter
    def root(self, value: str | None) -> None:
        self.state.root = value
        self.notify_state_changed()

    def _screen_factory(self, mode: str) -> Callable[[], Screen]:
        def make() -> Screen:
            import importlib

            module, cls = SCREENS[mode]
            screen = getattr(importlib.import_module(module), cls)()
            self._mode_screens[mode] = screen
            return screen

        return make

    async def on_mount(self) -> None:
        self._load_keymap()
        await self.action_switch_screen_mode("scan")
        if self.host is None:
            self.connect(self.state.host_name)

    def _load_keymap(self) -> None:
        """Remap keys from the config file's `[keys]` table: binding id = "keys" (posting-style).

            [keys]
            "scan.level" = "v"          # ids are listed with the bindings (and shown by ?)
            "app.quit" = "q,ctrl+c"
        """
        from core.config import load_config

        try:
            keys = load_config().raw.get("keys", {})
        except Exception as exc:  # noqa: BLE001 - a broken config must not stop the app
            self.notify(f"config: {getattr(exc, 'message', exc)}", severity="error", timeout=10)
            return
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            self.notify("config: [keys] must map binding ids to key strings, e.g. \"scan.level\" = \"v\"",
                        severity="error", timeout=10)
            return
        if keys:
            self.set_keymap({str(k): v for k, v in keys.items()})

    # ---- shared state -------------------------------------------------------------------------
    def notify_state_changed(self) -> None:
        """Re-render every header (and anything else subscribed to `state_signal`)."""
        self.state_signal.publish(self.state)

    def broadcast(self, make_message: Callable[[], Any]) -> None:
        """Post a fresh message to every screen created so far (active or not)."""
        for screen in list(self._mode_screens.values()):
            if screen.is_attached:
                screen.post_message(make_message())

    def broadcast_scan_finished(self, summary: dict[str, Any], root: str | None = None,
                                level: str | None = None, loaded: bool = False) -> None:
        self.state.last_summary = summary
        self.state.last_scan_level = level
        self.broadcast(lambda: ScanFinished(summary, root=root, level=level, loaded=loaded))
        self.settle_heap()

    def on_screen_loaded(self, message: ScreenLoaded) -> None:
        self.settle_heap()

    def settle_heap(self) -> None:
        """After a big load, move what survives out of the garbage collector's sight.

        A 50,000-file store is about a million tracked objects (rows, their dicts and
        tuples). Python's full collections walk all of them — 160–200 ms each, 43 times in
        200 screen switches (benchmarks/tui_scale.py, gc callbacks) — and one landing in
        a switch made it 400–850 ms. So once a load is painted: collect (what the last
        freeze kept, garbage now, goes too, so memory stays bounded), then `gc.freeze()`
        the survivors; later full collections walk only what came after. One pause
        per load, when the user has just waited for it anyway, instead of dozens later.
        """
        if not self._heap_settle_pending:
            self._heap_settle_pending = True
            self.call_after_refresh(self._settle_heap_now)

    def _settle_heap_now(self) -> None:
        self._heap_settle_pending = False
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def on_scan_progress(self, message: ScanProgress) -> None:
        share = int(100 * message.done / message.total) if message.total else None
        if share != self.state.scan_share:  # headers redraw once per percent, not per batch
            self.state.scan_share = share
            self.notify_state_changed()

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        if message.from_app or message.host_name != self.state.host_name:
            return  # our own copy bubbling back, or a late report about a host we left
        self.state.link_state = message.state
        self.state.link_detail = message.detail
        self.notify_state_changed()
        self.broadcast(lambda: HostStateChanged(message.host_name, message.state, message.detail,
                                                from_app=True))

    # ---- hosts --------------------------------------------------------------------------------
    def connect(self, name: str, root: str | None = None) -> None:
        """Open `name` in a worker; the header says connecting until it is up."""
        self.state.host_name = name
        self.state.link_state = LinkState.CONNECTING
        self.state.link_detail = ""
        if root is not None:
            self.state.root = root
        self.notify_state_changed()
        self._open_host(name)

    def _link_watcher(self, name: str) -> Callable[[LinkState, str], None]:
        """A `Host.watch_link` callback posting HostStateChanged (called from the host's threads)."""

        def on_state(state: LinkState | str, detail: str = "") -> None:
            self.post_message(HostStateChanged(name, LinkState(state), str(detail or "")))

        return on_state

    def open_host_blocking(self, name: str) -> Host:
        """Open host `name` (call from a worker thread): prompts for host key / passphrase."""
        from nexara_tui.connect import open_interactive

        opener: HostOpener
        if self._host_opener is not None:
            opener = self._host_opener
        else:
            from core.host import open_host as opener

        return open_interactive(self, name, opener, on_state=self._link_watcher(name))

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def _open_host(self, name: str) -> None:
        try:
            host = self.open_host_blocking(name)
        except Exception as exc:  # noqa: BLE001 - any failure is shown, the app stays up
            self.call_from_thread(self._host_failed, name, exc)
            return
        self.call_from_thread(self.set_host, host, name)

    def _host_failed(self, name: str, exc: Exception) -> None:
        from nexara_tui.connect import describe_error

        detail = describe_error(exc)
        self.post_message(HostStateChanged(name, LinkState.ERROR, detail[:120]))
        self.notify(f"could not open host {name}: {detail}", severity="error", timeout=10)

    def set_host(self, host: Host, name: str | None = None) -> None:
        """Switch to an open Host (from the picker or a test); closes the previous one."""
        old = self.host
        self.host = host
        self.state.host_name = name or host.name
        if old is not None and old is not host:
            with contextlib.suppress(Exception):  # closing a dead link may fail; it is gone anyway
                old.close()
        self.post_message(HostStateChanged(self.state.host_name, LinkState.CONNECTED))

    def mode_screen(self, mode: str) -> Screen | None:
        """The screen of `mode` if it has been created (modes are created on first visit)."""
        return self._mode_screens.get(mode)

    def mode_of(self, screen: Screen) -> str | None:
        """The mode a screen was made for (its header highlights that tab), or None for a modal."""
        return next((m for m, s in self._mode_screens.items() if s is screen), None)

    # ---- actions ------------------------------------------------------------------------------
    async def action_switch_screen_mode(self, mode: str) -> None:
        if self.current_mode != mode:
            await self.switch_mode(mode)
        self._ensure_header(self.screen)

    def _ensure_header(self, screen: Screen) -> None:
        """Every screen shows host and root, even one whose author forgot the header."""
        from nexara_tui.widgets.header import NexaraHeader

        if not screen.query(NexaraHeader):
            screen.mount(NexaraHeader())

    def action_pick_host(self) -> None:
        from nexara_tui.screens.host_picker import HostPickerScreen

        def picked(result: tuple[Host, str, str | None] | None) -> None:
            if result is not None:
                host, name, root = result
                if root is not None:
                    self.state.root = root
                self.set_host(host, name)

        self.push_screen(HostPickerScreen(current=self.state.host_name, root=self.state.root), picked)

    def action_ingest(self) -> None:
        """The ingest view (nexara_tui.screens.ingest, issue 15), over the current screen."""
        from nexara_tui.screens.ingest import IngestScreen

        if not isinstance(self.screen, IngestScreen):
            self.push_screen(IngestScreen())

    def action_pick_root(self) -> None:
        """`o`: pick the dataset root on the current host; every screen follows the new root."""
        from nexara_tui.screens.root_picker import RootPickerScreen

        def picked(root: str | None) -> None:
            if root and root != self.state.root:
                self.state.root = root
                self.notify_state_changed()
                # The same message a new host sends: each screen reloads for (host, root).
                self.post_message(HostStateChanged(self.state.host_name, self.state.link_state))

        self.push_screen(RootPickerScreen(self.host, self.state.host_name, self.state.root), picked)

    def action_toggle_help(self) -> None:
        """`?`: a scrollable list of every key of the current screen (and closes it again)."""
        from nexara_tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen(self.screen))

    def on_unmount(self) -> None:
        gc.unfreeze()  # an app run inside a longer process (tests, a notebook) leaves it as it was
        if self.host is not None:
            with contextlib.suppress(Exception):  # leaving anyway
                self.host.close()
