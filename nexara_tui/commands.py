"""Command palette provider: every action the current screen and the app offer.

Built from the live bindings of the screen that is open (posting's approach),
so a screen a later helper adds shows up in the palette without registering
anything, and the palette doubles as a searchable list of what each key does.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class NexaraCommands(Provider):
    def _commands(self) -> list[tuple[str, str, object, str]]:
        """(title, help, node, action) for each binding active on the current screen."""
        screen = self.screen
        out: list[tuple[str, str, object, str]] = []
        seen: set[tuple[int, str]] = set()
        for key, active in screen.active_bindings.items():
            b = active.binding
            if not b.description or (id(active.node), b.action) in seen:
                continue
            seen.add((id(active.node), b.action))
            display = self.app.get_key_display(b) if hasattr(self.app, "get_key_display") else key
            out.append((f"{b.description} ({display})", b.tooltip or b.description, active.node, b.action))
        return out

    async def discover(self) -> Hits:
        for title, help_, node, action in self._commands():
            yield DiscoveryHit(title, partial(self._run, node, action), help=help_)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_, node, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, node, action), help=help_)

    async def _run(self, node: object, action: str) -> None:
        await self.app.run_action(action, node)  # type: ignore[arg-type]
