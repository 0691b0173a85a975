"""`make demo-pipeline`: scan → decide → repair → quarantine → train → evaluate on the demo dataset, twice.

This runs the Makefile recipe itself (real clips, real scan, real TensorFlow on
the CPU), because the recipe is what a new user runs: a broken flag or a step
that cannot be repeated would otherwise only show on their laptop. The second
run checks what a user expects of `make demo` run again: it replays the same
pipeline on the same data instead of failing on what the first run left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.balance import imbalance, tolerance_ratio
from core.demo import GroundTruth
from core.errors import NexaraError
from core.training.config import PRESETS, TrainConfig, apply_overrides, apply_preset, load_config
from tests.training_fixtures import REPO

STEPS = ["restore", "scan", "decide", "repair", "quarantine", "train", "evaluate", "total"]


def _make(demo_dir: Path) -> subprocess.CompletedProcess:
    make = shutil.which("make")
    assert make is not None, "make runs this suite (`make test`), so it must be on PATH"
    # The interpreter running the tests stands in for .venv (-o: never reinstall it here).
    nexara = f"{sys.executable} -m core"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [make, "--no-print-directory", "-o", ".venv/.installed", "demo-pipeline", f"DEMO_DIR={demo_dir}",
         f"PY={sys.executable}", f"NEXARA={nexara}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400,
    )


def _quarantined(root: Path) -> set[str]:
    """Originals in the quarantine (not the journal, not repaired copies moved aside by a restore)."""
    q = root / "corrupted_videos"
    return {p.relative_to(q).as_posix() for p in q.rglob("*") if p.is_file() and p.name != "journal.jsonl"
            and p.relative_to(q).parts[0] != ".repair"}


def _repaired(root: Path) -> set[str]:
    """Dataset clips that are verified repaired copies (per the scan store)."""
    r = subprocess.run([sys.executable, "-m", "core", "results", str(root), "--repaired", "--json"],
                       cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    return {e["result"]["path"] for e in map(json.loads, r.stdout.splitlines()) if e["type"] == "file"}


def test_make_demo_pipeline_learns_and_can_be_run_again(tmp_path):
    demo_dir = tmp_path / "demo_data" / "organized_dataset"
    first = _make(demo_dir)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    work = demo_dir.parent
    times = (work / "demo_times.txt").read_text().splitlines()
    assert [line.split()[0] for line in times] == STEPS
    assert all(float(line.split()[1].rstrip("s")) >= 0 for line in times)

    # Repair put verified copies in place of some clips (their originals in the quarantine), and
    # quarantine moved exactly the unusable clips repair could not bring back.
    gt = GroundTruth.load(demo_dir)
    unusable = {rel for rel, e in gt.files.items() if not e.usable}
    repaired = _repaired(demo_dir)
    assert repaired & unusable, "repair brought back none of the unusable demo clips"
    assert unusable and _quarantined(demo_dir) == unusable | repaired
    assert all((demo_dir / rel).is_file() for rel in repaired)
    assert not any((demo_dir / rel).exists() for rel in unusable - repaired)

    # decide's config balances the demo's train split, never unbalances it (issue 12): the
    # effective counts (valid x multiplier) are at least as even as the valid counts, and a
    # split within 50 % ± 5 points keeps one multiplier for every class and weights of 1.0.
    valid = Counter(rel.split("/")[1] for rel, e in gt.files.items()
                    if e.usable and rel.startswith("train/"))
    cfg = load_config(work / "demo_train.toml")
    eff = {c: n * cfg.class_multipliers[c] for c, n in valid.items()}
    assert imbalance(eff) <= imbalance(dict(valid)), (valid, cfg.class_multipliers)
    if imbalance(dict(valid)) <= tolerance_ratio(0.05):
        assert set(cfg.class_multipliers.values()) == {cfg.augmentation_multiplier}
        assert set(cfg.class_weights.values()) == {1.0}

    # The run used the demo preset on top of decide's config (its class weights kept).
    run = work / "demo_run"
    used = (run / "config.toml").read_text()
    assert 'backbone = "tiny"' in used and "[class_weights]" in used
    report = json.loads((run / "evaluation-test-tta.json").read_text())
    for name in ("plain", "tta"):
        rep = report["results"][name]
        # Chance is 50 %: the accuracy and the lower end of its 95 % interval are clearly above it.
        assert rep["accuracy"] >= 0.75 and rep["interval95"][0] > 0.5, (name, rep)

    second = _make(demo_dir)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    # The same clips were restored, repaired and quarantined again, and training started afresh.
    assert f"restored {len(unusable | repaired)} file(s)" in second.stdout
    assert _repaired(demo_dir) == repaired
    assert _quarantined(demo_dir) == unusable | repaired
    again = [json.loads(line)["epoch"] for line in (run / "epochs.jsonl").read_text().splitlines()]
    assert again == list(range(1, len(again) + 1)) and (run / "train_end.json").is_file()
    assert json.loads((run / "evaluation-test-tta.json").read_text())["results"]["tta"]["accuracy"] >= 0.75


def test_demo_preset_sits_between_the_config_file_and_set():
    decided = apply_overrides(TrainConfig(), ["class_weights={violent=1.5}", "epochs=150"])
    cfg = apply_preset(decided, "demo")
    assert cfg.backbone == "tiny" and cfg.backbone_weights == "none" and cfg.epochs == PRESETS["demo"]["epochs"]
    assert cfg.class_weights == {"violent": 1.5}  # the data-derived keys are kept
    assert apply_overrides(cfg, ["epochs=3"]).epochs == 3  # --set still wins
    assert apply_preset(decided, None) == decided
    with pytest.raises(NexaraError, match="unknown preset.*known: demo"):
        apply_preset(decided, "fast")
