"""A footer that degrades by priority: at 80 columns it drops keys whole, never cuts one.

Textual's Footer lays every shown binding out in a row and lets the ones that
do not fit run off the edge (a stray character at 80 columns, and Quit and
Help gone). This one measures each key before composing and keeps, in order:
Help and Quit (always, last), then the screen's bindings in the order
the screen lists them (its most important first), then the command palette
key. What does not fit is still one `?` away: the help screen lists every key.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS = ("app.help", "app.quit")  # binding ids shown whatever the width


def _key_width(display: str, description: str, compact: bool) -> int:
    """Cells a FooterKey takes, margin included (mirrors Footer's DEFAULT_CSS)."""
    if compact:  # key padding 0, description padding-left 1, margin-right 1
        return cell_len(display) + (1 + cell_len(description) if description else 0) + 1
    return cell_len(display) + 2 + (cell_len(description) + 1 if description else 0)


class NexaraFooter(Footer):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("compact", True)
        kwargs.setdefault("show_command_palette", False)
        super().__init__(**kwargs)
        self._composed_for = -1
        self._composed_keys: tuple[object, ...] | None = None

    def _keys_shown(self) -> tuple[object, ...]:
        """What a compose would lay out: the width and every shown binding as it would appear."""
        return (self.app.size.width, *(
            (binding.key, self.app.get_key_display(binding), binding.description, binding.action,
             binding.id, enabled, tooltip, node is self.app)
            for node, binding, enabled, tooltip in self.screen.active_bindings.values() if binding.show))

    def bindings_changed(self, screen) -> None:  # noqa: ANN001 - Textual's signature
        """Recompose only when the keys shown would change.

        Textual's Footer recomposes (unmounts and mounts every key, restyles them) on each
        `bindings_updated` signal, and a screen switch sends at least two with the same
        keys (tests/tui/test_footer_recompose.py: 40 composes in 20 switches). On the
        50,000-file benchmark that was a third of the switch: median 175 → 112 ms once
        equal keys at an equal width keep the footer as it is.
        """
        if (self._bindings_ready and self.is_attached and screen is self.screen
                and self._composed_keys == self._keys_shown()):
            return
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.app.size.width
        self._composed_for = width
        self._composed_keys = self._keys_shown()
        seen: set[str] = set()
        rest: list[tuple[bool, FooterKey]] = []
        always: list[FooterKey] = []
        for _key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action, disabled=not enabled, tooltip=tooltip)
            # Not `data_bind(compact=Footer.compact)` as Textual's Footer does: each bind leaves a
            # watcher on the footer holding the key, and the footer recomposes on every screen
            # switch — 0.4 MB per switch that never came back (issue 16's memory growth).
            key.compact = self.compact
            key.nexara_width = _key_width(key.key_display, key.description, self.compact)  # type: ignore[attr-defined]
            if binding.id in ALWAYS:
                always.append(key)
            else:
                rest.append((_node is self.app, key))
        room = width - sum(k.nexara_width for k in always)  # type: ignore[attr-defined]
        # The screen's own keys first (in its order), the app's (Host…) after them.
        for _is_app, key in sorted(rest, key=lambda p: p[0]):
            if key.nexara_width <= room:  # type: ignore[attr-defined]
                room -= key.nexara_width  # type: ignore[attr-defined]
                yield key
        yield from always

    def on_resize(self) -> None:
        if self.app.size.width != self._composed_for and self._bindings_ready:
            self.call_after_refresh(self.recompose)
