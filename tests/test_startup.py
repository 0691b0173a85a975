"""The app opens fast: importing, building and mounting it never loads av, cv2 or tensorflow.

Run in a fresh interpreter, because this test process has imported all sorts
of things already. Timing is printed for the record, not asserted (shared CI).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("av", "cv2", "tensorflow", "keras", "numpy")

PROBE = r"""
import asyncio, json, sys, time
t0 = time.perf_counter()
from nexara_tui.app import NexaraApp
t_import = time.perf_counter() - t0
from core.host.local import LocalHost
app = NexaraApp(root=None, host=LocalHost())
t_construct = time.perf_counter() - t0
after_construct = sorted(m for m in %(heavy)r if m in sys.modules)

first = {}

async def mount():
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first["scan_screen_s"] = time.perf_counter() - t0
        for key in "1234":
            await pilot.press(key)
        await pilot.pause()

t1 = time.perf_counter()
asyncio.run(mount())
t_mount = time.perf_counter() - t1
after_mount = sorted(m for m in %(heavy)r if m in sys.modules)
print(json.dumps({"import_s": t_import, "construct_s": t_construct, "mount_s": t_mount, **first,
                  "after_construct": after_construct, "after_mount": after_mount}))
"""


def test_app_never_imports_heavy_modules():
    p = subprocess.run([sys.executable, "-c", PROBE % {"heavy": HEAVY}], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"\nimport nexara_tui.app: {r['import_s'] * 1000:.0f} ms, constructed by "
          f"{r['construct_s'] * 1000:.0f} ms, scan screen up {r['scan_screen_s'] * 1000:.0f} ms after "
          f"start, all four screens mounted in {r['mount_s'] * 1000:.0f} ms")
    # av, cv2 and tensorflow are forbidden in the TUI; numpy would mean one of them is near.
    assert r["after_construct"] == []
    assert r["after_mount"] == []


DASK = ("dask", "distributed", "bokeh", "tornado")

SCAN_PROBE = r"""
import contextlib, io, json, sys
from core.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        rc = main(sys.argv[1:])
    except SystemExit as exc:  # --help
        rc = exc.code or 0
print(json.dumps({"rc": rc, "lines": len(out.getvalue().splitlines()),
                  "mentions_cluster": "--cluster" in out.getvalue(),
                  "loaded": sorted(m for m in %(dask)r if m in sys.modules)}))
"""


def test_scan_without_cluster_never_imports_dask(tmp_path):
    """Dask is the `--cluster` extra: a local scan, its --help and its --json never load it."""
    root = tmp_path / "ds"
    (root / "train" / "violent").mkdir(parents=True)
    for i in range(3):
        (root / "train" / "violent" / f"c{i}.mp4").write_bytes(b"not a video" * (i + 1))
    for argv in (["scan", str(root), "--json", "--workers", "1"], ["scan", str(root)],
                 ["scan", "--help"]):
        p = subprocess.run([sys.executable, "-c", SCAN_PROBE % {"dask": DASK}, *argv],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout.strip().splitlines()[-1])
        assert r["rc"] == 0 and r["lines"] > 0, r
        assert r["loaded"] == [], argv
        if argv[-1] == "--help":
            assert r["mentions_cluster"]
