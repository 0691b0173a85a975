"""`?`: every key of the screen underneath, with what it does, in a box that scrolls.

Textual's help panel is a side strip that is cut off at 80×24 and cannot be
scrolled. This is a modal over the current screen: the screen's own keys
first (the focused widget's, then the screen's), then the app's, each with its
binding id so `[keys]` in the config can remap it. Up/Down, PgUp/PgDn, j/k,
g/G scroll; `?`, escape or q close it.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def binding_rows(screen: Screen) -> list[tuple[str, str, str, str]]:
    """(section, keys, description, id and tooltip) for every binding active on `screen`."""
    app = screen.app
    rows: list[tuple[str, str, str, str]] = []
    seen: set[tuple[int, str]] = set()
    by_node: dict[int, list[tuple[str, str, str, str]]] = {}
    order: list[int] = []
    for _key, active in screen.active_bindings.items():
        b, node = active.binding, active.node
        if not b.description or (id(node), b.action) in seen:
            continue
        seen.add((id(node), b.action))
        keys = ", ".join(app.get_key_display(Binding(k.strip(), b.action)) for k in b.key.split(","))
        section = "App" if node is app else ("Screen" if node is screen else type(node).__name__)
        detail = b.tooltip or ""
        if b.id:
            detail = f"{detail}  [{b.id}]" if detail else f"[{b.id}]"
        if id(node) not in by_node:
            by_node[id(node)] = []
            order.append(id(node))
        by_node[id(node)].append((section, keys, b.description, detail))
    # The focused widget's and the screen's keys before the app's.
    for nid in sorted(order, key=lambda n: by_node[n][0][0] == "App"):
        rows.extend(by_node[nid])
    return rows


def help_table(screen: Screen) -> Table:
    t = Table(show_header=True, header_style="bold", box=None, expand=True, pad_edge=False)
    t.add_column("key", no_wrap=True, style="bold")
    t.add_column("does", no_wrap=True)
    t.add_column("more", overflow="fold", style="dim", ratio=1)
    last = None
    for section, keys, desc, detail in binding_rows(screen):
        if section != last:
            if last is not None:
                t.add_row("", "", "")
            t.add_row(Text(section, style="bold underline"), "", "")
            last = section
        t.add_row(escape(keys), escape(desc), escape(detail))
    return t


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 110; height: 90%; border: round $accent; background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title { height: 1; text-style: bold; }
    HelpScreen #help-scroll { height: 1fr; }
    HelpScreen .hint { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close", tooltip="Close the help"),
        Binding("j", "scroll('down')", "Down", show=False, id="help.down", tooltip="Scroll down"),
        Binding("k", "scroll('up')", "Up", show=False, id="help.up", tooltip="Scroll up"),
        Binding("g", "scroll('home')", "Top", show=False, id="help.top", tooltip="Scroll to the top"),
        Binding("G", "scroll('end')", "Bottom", show=False, id="help.bottom",
                tooltip="Scroll to the end"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under
        self.title_text = f"Keys — {under.title or type(under).__name__.removesuffix('Screen')}"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="help-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(help_table(self.under), id="help-body")
            yield Static("↑↓ PgUp PgDn j k g G: scroll · ?, escape: close · remap keys by id in "
                         "[keys] of the config", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, where: str) -> None:
        box = self.query_one("#help-scroll", VerticalScroll)
        {"down": box.scroll_down, "up": box.scroll_up, "home": box.scroll_home,
         "end": box.scroll_end}[where](animate=False)
