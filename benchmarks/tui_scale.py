"""The TUI on a 50,000-file store: first frame, data complete, screen switches, refresh after
a move, memory over 300 switches.

Builds a 50,000-entry dataset (small files on disk, a real scan store; see
tests/tui/factory.py) in a temp dir and measures, on this machine:

- process start → first frame, as a user sees it: `nexara tui ROOT` in a
  detached tmux pane of 120×40, polling `capture-pane` until the header is
  drawn, then until the scan screen shows the whole dataset's OVERALL row.
  Baseline in the same run: a bare Textual app (`python -c 'App().run()'`
  with a Static) to its first frame in the same kind of pane.
- screen switches (keys 2, 3, 4, 1 cycled) in a headless app at 120×40: the
  time from the key to the new screen painted, median and worst, against the
  same switch between two empty screens of a bare app in this process.
- refresh after a move: approve every corrupt file (A), move (m, y) through
  the real detached job, time until the quarantine list and the scan screen's
  summary show the dataset without them; then the same for undo (u, y).
- RSS after 300 switches (and its growth from the first 30).

Targets (issue 16): first frame < 1 s, every switch < 200 ms, refresh < 2 s,
bounded memory. Usage: python benchmarks/tui_scale.py [--files N] [--switches N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def tmux_first_frame(cmd: list[str], until: list[str], env: dict[str, str], size=(120, 40),
                     timeout: float = 60.0) -> list[float]:
    """Seconds from spawning `cmd` in a fresh tmux pane until each text in `until` is on screen.

    A text with a `|` in it means all its parts on one line (e.g. "OVERALL|50,000").
    """
    tmux_first_frame.n = getattr(tmux_first_frame, "n", 0) + 1  # type: ignore[attr-defined]
    sock = f"nexara-bench-{os.getpid()}-{tmux_first_frame.n}"  # type: ignore[attr-defined]
    name = "bench"
    shell = " ".join(subprocess.list2cmdline([c]) for c in cmd)
    t0 = time.monotonic()
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]),
                    "env " + " ".join(f"{k}={v}" for k, v in env.items()) + " " + shell], check=True)
    out: list[float] = []
    try:
        for text in until:
            while True:
                screen = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", name],
                                        capture_output=True, text=True).stdout
                parts = text.split("|")
                if any(all(p in line for p in parts) for line in screen.splitlines()):
                    out.append(time.monotonic() - t0)
                    break
                if time.monotonic() - t0 > timeout:
                    raise SystemExit(f"tmux: {text!r} not on screen after {timeout:.0f} s:\n{screen}")
                time.sleep(0.02)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    return out


BARE_APP = ("from textual.app import App\nfrom textual.widgets import Static\n"
            "class A(App):\n    def compose(self):\n        yield Static('bare app ready')\nA().run()\n")


async def switch_times(app, keys: str, rounds: int, settle) -> list[float]:
    times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for _ in range(rounds):
            for k in keys:
                t0 = time.perf_counter()
                await pilot.press(k)
                await pilot.pause()
                times.append(time.perf_counter() - t0)
    return times


async def bench_app(root: str, switches: int) -> dict[str, float]:
    from textual.app import App
    from textual.screen import Screen
    from textual.widgets import Static

    from core.host.local import LocalHost
    from nexara_tui.app import NexaraApp
    from nexara_tui.messages import ScanFinished
    from nexara_tui.screens.prompts import ConfirmScreen
    from nexara_tui.screens.quarantine import QuarantineScreen
    from tests.tui.conftest import wait_for

    class Bare(App):
        MODES = {"a": lambda: Screen(), "b": lambda: Screen()}  # noqa: RUF012

        def compose(self):
            yield Static("bare")

        async def on_mount(self):
            await self.switch_mode("a")

    class BareKeys(Bare):
        BINDINGS = [("1", "switch_mode('a')"), ("2", "switch_mode('b')")]  # noqa: RUF012

    async def nothing(pilot):
        await pilot.pause()

    bare = await switch_times(BareKeys(), "21", 20, nothing)
    out: dict[str, float] = {"bare_switch_ms": statistics.median(bare) * 1000}

    finished: list[ScanFinished] = []
    app = NexaraApp(root=root, host=LocalHost())
    rss: list[float] = []
    times: list[float] = []
    async with app.run_test(size=(120, 40), message_hook=lambda m: finished.append(m)
                            if isinstance(m, ScanFinished) else None) as pilot:
        t0 = time.perf_counter()
        await wait_for(pilot, lambda: finished, timeout=120, what="the stored results")
        out["results_complete_s"] = time.perf_counter() - t0
        # Each screen visited once (first visits load their data), then the timed rounds.
        for k in "2341":
            await pilot.press(k)
            await pilot.pause()
        # (not app.workers.wait_for_complete(): the monitor's GPU poll never completes)
        dec, qua = app.mode_screen("decision"), app.mode_screen("quarantine")
        await wait_for(pilot, lambda: dec.decision is not None and not qua.loading, timeout=300,
                       what="the decision and the quarantine list")
        base = rss_mb()
        print(f"first visits done; RSS {base:.0f} MB", flush=True)
        for i in range(switches // 4):
            for k in "2341":
                t0 = time.perf_counter()
                await pilot.press(k)
                await pilot.pause()
                times.append(time.perf_counter() - t0)
            if i % 10 == 9:
                rss.append(rss_mb())
        out.update(switch_median_ms=statistics.median(times) * 1000, switch_max_ms=max(times) * 1000,
                   rss_start_mb=base, rss_after_mb=rss[-1] if rss else rss_mb(),
                   rss_growth_last_mb=(rss[-1] - rss[len(rss) // 2]) if len(rss) > 1 else 0.0)

        # Refresh after a move: every corrupt file approved, moved by the real job.
        print(f"{len(times)} switches: median {statistics.median(times) * 1000:.0f} ms", flush=True)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, QuarantineScreen)
        await wait_for(pilot, lambda: not screen.loading and screen.counts()["flagged"] > 0,
                       timeout=120, what="rows")
        flagged = screen.counts()["flagged"]
        total = screen.counts()["total"]
        await pilot.press("A")
        approved = screen.counts()["approved"]
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        t_job = time.perf_counter()
        await wait_for(pilot, lambda: screen.busy is None and screen.counts()["flagged"] == flagged - approved,
                       timeout=600, what="the list without the moved files")
        t_list = time.perf_counter()
        scan = app.mode_screen("scan")
        await wait_for(pilot, lambda: scan.feed.summary.overall.total == total - approved,
                       timeout=600, what="the scan summary without them")
        t_sum = time.perf_counter()
        out.update(moved=approved, move_job_and_list_s=t_list - t_job, move_summary_s=t_sum - t_job)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--switches", type=int, default=300)
    ap.add_argument("--no-tmux", action="store_true", help="skip the tmux first-frame measurement")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nexara-tui-scale-"))
    state = tmp / "state"
    os.environ["NEXARA_STATE_DIR"] = str(state)
    try:
        from tests.tui.factory import build_store

        t0 = time.perf_counter()
        store = build_store(tmp / "ds", args.files)
        print(f"store: {store.total:,} files, {store.problems:,} problem files, "
              f"built in {time.perf_counter() - t0:.1f} s", flush=True)
        env = {"NEXARA_STATE_DIR": str(state), "PATH": os.environ.get("PATH", ""),
               "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/root")}
        bare_file = tmp / "bare.py"
        bare_file.write_text(BARE_APP)
        py = sys.executable
        nexara = str(Path(py).with_name("nexara"))
        if not args.no_tmux:
            (bare,) = tmux_first_frame([py, str(bare_file)], ["bare app ready"], env)
            first, complete = tmux_first_frame([nexara, "tui", str(store.root)],
                                               ["1 Scan", f"OVERALL|{store.total:,}"], env)
            print(f"tmux 120x40: first frame {first:.2f} s (bare Textual app {bare:.2f} s, "
                  f"ratio {first / bare:.2f}); stored results on screen {complete:.2f} s", flush=True)
        res = asyncio.run(bench_app(str(store.root), args.switches))
        print(f"headless: stored results complete {res['results_complete_s']:.2f} s", flush=True)
        print(f"screen switch: median {res['switch_median_ms']:.0f} ms, worst {res['switch_max_ms']:.0f} ms "
              f"(bare app {res['bare_switch_ms']:.0f} ms, ratio "
              f"{res['switch_median_ms'] / max(res['bare_switch_ms'], 0.1):.1f})")
        print(f"RSS: {res['rss_start_mb']:.0f} MB after the first visits, {res['rss_after_mb']:.0f} MB "
              f"after {args.switches} switches (last half: {res['rss_growth_last_mb']:+.1f} MB)")
        print(f"move {res['moved']:,} files: list refreshed {res['move_job_and_list_s']:.2f} s after y "
              f"(job included), scan summary {res['move_summary_s']:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
