"""The one-line header every screen shows: which screen, which host, which dataset.

Over SSH the question "where is this running, and is the link up?" must be
answerable at a glance on every screen, so the header reads the app's shared
`AppState` and re-renders whenever the app publishes `state_signal` (host
switched, link dropped or back, root changed). Colours are named ANSI colours
so it stays readable at 256 colours (SSH does not forward COLORTERM).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from nexara_tui.fit import elide_middle

_LINK_STYLE = {
    "connected": ("●", "green"),
    "connecting": ("◌", "yellow"),
    "reconnecting": ("◌", "yellow"),
    "disconnected": ("○", "red"),
    "error": ("✗", "red"),
}


# The four screens as tabs: (app mode, binding id, default key, label). The number
# keys live here rather than in the footer, which must keep room for screen keys.
TABS = (
    ("scan", "app.scan", "1", "Scan"),
    ("decision", "app.decision", "2", "Decide"),
    ("quarantine", "app.quarantine", "3", "Quarantine"),
    ("monitor", "app.monitor", "4", "Monitor"),
)


def header_text(title: str, host: str, link: str, root: str | None, detail: str = "",
                extra: str = "", mode: str | None = None,
                keys: dict[str, str] | None = None, width: int | None = None) -> Text:
    """The header line; a plain function so it is testable without an app.

    With `mode` (the app's current screen mode) the screens are shown as tabs
    with their keys, the current one highlighted; without it, just `title`.
    With `width`, parts give way by priority until the line fits: the link's
    detail first, then the "Nexara" badge, then the other tabs' names (their
    keys stay), and the root is elided in the middle into what is left, so the
    current screen, the host and its link state, and "scan running" are
    always there.
    """
    variants = [(True, True, True), (False, True, True), (False, False, True), (False, False, False)]
    for show_detail, brand, full_tabs in variants:
        t = _header(title, host, link, root, detail if show_detail else "", extra, mode, keys,
                    brand, full_tabs, None)
        if width is None or t.cell_len <= width:
            return t
    # Even the most compact line is too wide: the root is elided in the middle into what is left.
    return _header(title, host, link, root, "", extra, mode, keys, False, False, width)


def _header(title: str, host: str, link: str, root: str | None, detail: str, extra: str,
            mode: str | None, keys: dict[str, str] | None, brand: bool, full_tabs: bool,
            width: int | None) -> Text:
    mark, colour = _LINK_STYLE.get(link, ("?", "yellow"))
    t = Text(no_wrap=True, overflow="ellipsis")
    if brand:
        t.append(" Nexara ", style="bold reverse")
    if mode is None:
        t.append(f" {title} ", style="bold")
    else:
        t.append(" ")
        for tab_mode, binding_id, default_key, label in TABS:
            key = (keys or {}).get(binding_id, default_key)
            if tab_mode == mode:
                t.append(f" {key} {label} ", style="bold reverse")
            elif full_tabs:
                t.append(f" {key}", style="bold")
                t.append(f" {label} ", style="dim")
            else:
                t.append(f" {key} ", style="bold")
        t.append(" ")
    t.append("│ host ", style="dim")
    t.append(host, style="bold")
    t.append(f" {mark} {link}", style=colour)
    if detail and link != "connected":
        t.append(f" ({detail})", style=colour)
    tail = Text(f" │ {extra}", style="dim") if extra else Text()
    t.append(" │ root ", style="dim")
    text = root or "(none — press o to pick one)"
    if width is not None:
        room = max(8, width - t.cell_len - tail.cell_len)
        text = elide_middle(text, room)
    t.append(text, style="bold" if root else "italic")
    t.append_text(tail)
    return t


class NexaraHeader(Static):
    """Shows the current screen's title, the host and its link state, and the dataset root."""

    DEFAULT_CSS = """
    NexaraHeader {
        dock: top;
        height: 1;
        width: 100%;
        background: $panel;
    }
    """

    def on_mount(self) -> None:
        signal = getattr(self.app, "state_signal", None)
        if signal is not None:
            signal.subscribe(self, self._on_state)
        self._on_state(None)

    def _on_state(self, _data: Any) -> None:
        state = getattr(self.app, "state", None)
        title = self.screen.title or type(self.screen).__name__.removesuffix("Screen")
        if state is None:
            self.update(header_text(title, "local", "connected", None))
            return
        extra = ""
        if state.scan_running:
            share = getattr(state, "scan_share", None)
            extra = "scan running" + (f" {share} %" if share is not None else "")
        mode_of = getattr(self.app, "mode_of", None)
        mode = mode_of(self.screen) if mode_of else None
        self.update(header_text(title, state.host_name, state.link_state, state.root,
                                state.link_detail, extra, mode=mode, keys=self._tab_keys(),
                                # The app's width: known at mount, before this widget's layout.
                                width=self.app.size.width or None))

    def on_resize(self) -> None:
        self._on_state(None)

    def _tab_keys(self) -> dict[str, str]:
        """The keys the screen bindings have now (the config's [keys] may remap them)."""
        keys: dict[str, str] = {}
        try:
            for key, active in self.app.active_bindings.items():
                if active.binding.id:
                    keys.setdefault(active.binding.id, self.app.get_key_display(active.binding) or key)
        except Exception:  # noqa: BLE001 - a header must never take the screen down
            return {}
        return keys
