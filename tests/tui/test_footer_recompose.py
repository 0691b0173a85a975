"""A screen switch must not rebuild the footer when its keys are the same (issue 16).

Textual's Footer recomposes — unmounts, mounts and restyles every key — on each
`bindings_updated` signal, and a switch sends at least two (40 composes in the 20
switches below, before the fix). On the 50,000-file benchmark switching cost 175 ms
median, 112 ms once equal keys kept the footer as it was. A resize still recomposes it.
"""

from __future__ import annotations

from nexara_tui.app import NexaraApp
from nexara_tui.widgets.footer import NexaraFooter
from tests.tui import factory
from tests.tui.conftest import wait_for


async def test_switching_back_and_forth_keeps_the_footers(tmp_path, monkeypatch):
    from core.host.local import LocalHost

    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 300, seed=4)
    composes: list[str] = []
    original = NexaraFooter.compose

    def counted(self):
        composes.append(type(self.screen).__name__)
        return original(self)

    monkeypatch.setattr(NexaraFooter, "compose", counted)
    app = NexaraApp(root="ds", host=LocalHost())
    async with app.run_test(size=(120, 40)) as pilot:
        scan = app.mode_screen("scan")
        await wait_for(pilot, lambda: scan.mode is None and scan.feed.finished is not None,
                       what="the stored results")
        for key in "2121":  # first visits: each footer composes for its keys
            await pilot.press(key)
            await pilot.pause()
        dec = app.mode_screen("decision")
        await wait_for(pilot, lambda: dec.decision is not None, what="the decision")
        await pilot.pause()
        composes.clear()
        switches = 20
        for _ in range(switches // 2):
            for key in "21":
                await pilot.press(key)
                await pilot.pause()
        assert len(composes) <= switches // 4, composes  # was several per switch
        footer = app.screen.query_one(NexaraFooter)
        assert any(k.key_display == "q" for k in footer.query("FooterKey"))  # still all there
        composes.clear()
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: composes, what="the footer to recompose for 80 columns")
