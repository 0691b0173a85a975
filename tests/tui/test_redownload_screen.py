"""Pilot test (issue 19): plan A end to end in the TUI, with real yt-dlp and no internet.

Decide → `g` lists the lost clips' sources → ctrl+g fetches them as a detached job
(a local HTTP server on 127.0.0.1 serves one source; the other is a 404) → every
row shows its outcome → ctrl+n opens ingest on INCOMING → the fetched clip is back
in its split/class through the journal, and `restore --batch last` would undo it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.demo import make_damaged, write_clip
from core.host.local import LocalHost
from nexara_tui.app import NexaraApp
from nexara_tui.screens.decision import DecisionScreen
from nexara_tui.screens.ingest import IngestScreen
from nexara_tui.screens.prompts import ConfirmScreen
from nexara_tui.screens.redownload import RedownloadScreen, default_incoming
from tests.test_redownload import server  # noqa: F401 - the fixture
from tests.tui.conftest import wait_for

pytestmark = pytest.mark.timeout(300)


def _dataset(root: Path, base: str, served: Path) -> None:
    tv = root / "train" / "violent"
    for i in range(3):
        write_clip(tv / f"ok_{i}.mp4", "violent", seed=40 + i)
        write_clip(root / "train" / "nonviolent" / f"ok_{i}.mp4", "nonviolent", seed=50 + i)
    make_damaged(tv / "lost.mp4", "truncated_moov_end", seed=1)
    (tv / "lost.info.json").write_text(json.dumps({"id": "lost", "webpage_url": f"{base}/lost.mp4"}))
    write_clip(served / "lost.mp4", "violent", seed=101)  # the source, still online
    make_damaged(tv / "gone.mp4", "zero_byte", seed=2)
    (tv / "gone.info.json").write_text(json.dumps({"id": "gone", "webpage_url": f"{base}/gone.mp4"}))


def test_default_incoming_is_roots_sibling():
    assert default_incoming("/workspace/organized_dataset/") == "/workspace/organized_dataset_incoming"
    assert default_incoming("ds") == "ds_incoming"


async def test_fetch_the_lost_clips_then_ingest_them(tmp_path: Path, server):  # noqa: F811
    base, served = server
    root = tmp_path / "ds"
    _dataset(root, base, served)
    host = LocalHost()
    assert host.run(["scan", str(root), "--json", "--workers", "1"], timeout=120).rc == 0
    app = NexaraApp(root=str(root), host=host)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen), what="the Decide screen")
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, RedownloadScreen), what="the plan A view")
        rd: RedownloadScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: rd.plan is not None and not rd.busy, what="the sources listed")
        assert {r.path for r in rd.rows} == {f"{base}/lost.mp4", f"{base}/gone.mp4"}
        assert all(r.split == "train" and r.cls == "violent" and r.verdict == "to fetch" for r in rd.rows)
        assert "2 lost" in str(rd.query_one("#rd-summary").render())

        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: rd.end is not None and not rd.busy, timeout=120,
                       what="the download job to end")
        status = {r.path: r.verdict for r in rd.rows}
        assert status == {f"{base}/lost.mp4": "ok", f"{base}/gone.mp4": "error"}
        gone = next(r for r in rd.rows if r.path.endswith("gone.mp4"))
        assert "404" in gone.data["error"]
        inc = Path(default_incoming(str(root)))
        fetched = [p for p in (inc / "train" / "violent").iterdir() if p.suffix == ".mp4"]
        assert len(fetched) == 1
        assert (rd.end or {})["downloaded"] == 1 and (rd.end or {})["failed"] == 1

        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, IngestScreen), what="the ingest view")
        ing: IngestScreen = app.screen  # type: ignore[assignment]
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the ingest question")
        await pilot.press("y")
        await wait_for(pilot, lambda: ing.summary is not None and not ing.busy, timeout=120,
                       what="the ingest to end")
        assert ing.summary is not None and ing.summary["added"] == 1
        assert (root / "train" / "violent" / fetched[0].name).is_file()
        assert not fetched[0].exists()  # moved, not copied


async def test_reopening_the_view_follows_the_download_that_runs(tmp_path: Path, server):  # noqa: F811
    """A download started elsewhere (the CLI, or this view before the link dropped) is followed,
    not started twice: its rows come from the job's own events."""
    base, served = server
    root = tmp_path / "ds"
    tv = root / "train" / "violent"
    for i in range(2):
        write_clip(tv / f"ok_{i}.mp4", "violent", seed=60 + i)
    for name in ("first", "second"):  # two good sources: the job pauses between them
        make_damaged(tv / f"{name}.mp4", "zero_byte", seed=len(name))
        (tv / f"{name}.info.json").write_text(json.dumps({"id": name, "webpage_url": f"{base}/{name}.mp4"}))
        write_clip(served / f"{name}.mp4", "violent", seed=100 + len(name))
    host = LocalHost()
    assert host.run(["scan", str(root), "--json", "--workers", "1"], timeout=120).rc == 0
    inc = tmp_path / "incoming"
    job = host.start_job(["redownload", str(root), "--run", "--foreground", "--into", str(inc),
                          "--sleep", "120"])
    for _off, ev in host.attach(job, 0, follow=True):  # the job's own log: its first download
        assert ev["type"] != "job_end", "the job ended before its first download"
        if ev["type"] == "download":
            break
    try:
        app = NexaraApp(root=str(root), host=host)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, DecisionScreen), what="Decide")
            await pilot.press("g")
            await wait_for(pilot, lambda: isinstance(app.screen, RedownloadScreen), what="the plan A view")
            rd: RedownloadScreen = app.screen  # type: ignore[assignment]
            await wait_for(pilot, lambda: any(r.verdict == "ok" for r in rd.rows), timeout=60,
                           what="the running job's first download")
            assert rd.busy == "downloading" and rd.end is None  # following, not finished
            assert sorted(r.verdict for r in rd.rows) == ["ok", "to fetch"]
            assert len(host.jobs()) == 1  # nothing started a second download
            host.cancel_job(job)
            await wait_for(pilot, lambda: not rd.busy, timeout=60, what="the follow to end")
    finally:
        host.cancel_job(job)


async def test_the_views_footers_keep_help_and_quit_at_80_columns(tmp_path: Path, monkeypatch):
    """The Re-download, Duplicates and Repair views used Textual's Footer, which ran "q Quit"
    off the edge at 80 columns ("q Qui" in tmux); they use the app's footer now."""
    from textual.widgets import Footer

    from nexara_tui.screens.duplicates import DuplicatesScreen
    from tests.tui import factory

    monkeypatch.chdir(tmp_path)
    factory.no_user_config(tmp_path)
    factory.build_store(tmp_path / "ds", 50, seed=2)
    app = NexaraApp(root="ds", host=LocalHost())
    async with app.run_test(size=(80, 24)) as pilot:
        for view in (RedownloadScreen(), DuplicatesScreen()):
            await app.push_screen(view)
            await wait_for(pilot, lambda v=view: any(k.key_display == "q" for k in v.query("FooterKey")),
                           what=f"{type(view).__name__}'s footer")
            footer = view.query_one(Footer)
            keys = [k.key_display for k in footer.query("FooterKey")]
            assert "?" in keys and keys[-1] == "q", keys
            used = sum(k.outer_size.width for k in footer.query("FooterKey"))
            assert used <= 80, (keys, used)
            view.dismiss(None)
            await pilot.pause()
