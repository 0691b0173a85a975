"""Bad output paths give one line naming the file, before any work, in both output modes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _nexara(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *argv], capture_output=True, text=True, timeout=120
    )


def _tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "train" / "violent").mkdir(parents=True)
    (root / "train" / "violent" / "empty.mp4").write_bytes(b"")
    return root


def test_unwritable_report_is_refused_before_the_scan(tmp_path):
    root = _tiny_root(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = blocker / "report.json"  # a folder that is a file: unwritable even for root
    r = _nexara("scan", str(root), "--report", str(target))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(target) in lines[0] and "--report" in lines[0]
    assert "checked" not in r.stdout  # nothing was scanned


def test_render_error_in_json_mode_is_an_error_event(tmp_path):
    root = _tiny_root(tmp_path)
    r = _nexara("scan", str(root), "--json", "--report", str(tmp_path))  # a directory
    assert r.returncode != 0
    events = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    assert events and events[-1]["type"] == "error"
    assert str(tmp_path) in events[-1]["message"]
    assert "Traceback" not in r.stderr
