"""Shared helpers for the training tests: a tiny learnable demo dataset and a scanned store.

The clips are real encoded videos from `core.demo` (violent = fast chaotic
motion, nonviolent = slow drift); the store holds real `check_file` verdicts.
Configs are tiny (tiny conv backbone, 32 px, 6 frames) so TensorFlow on two
shared CPU cores gets through extract → train → evaluate in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.dataset import discover
from core.integrity import check_file
from core.store import ScanStore
from core.training.config import TrainConfig, apply_overrides

REPO = Path(__file__).resolve().parent.parent

TINY = [
    "backbone=tiny", "backbone_weights=none", "frame_size=32", "frames_per_clip=6",
    "batch_size=8", "lstm_units=16", "dense_units=16", "augmentation_multiplier=2",
    "extract_batch_frames=48", "early_stopping_patience=10",
    "tta_views=['original','flip','crop_center','shift_early','shift_late']",
]


def tiny_config(*extra: str) -> TrainConfig:
    return apply_overrides(TrainConfig(), [*TINY, *extra])


def write_config(path: Path, *extra: str) -> Path:
    import tomli_w

    path.write_text(tomli_w.dumps(tiny_config(*extra).to_dict()), encoding="utf-8")
    return path


def make_dataset(root: Path, clips_per_class: int = 8, seed: int = 3) -> Path:
    from core.demo import make_demo

    make_demo(root, clips_per_class=clips_per_class, seed=seed, kinds=[], seconds=1.0)
    return root


def scan_into_store(root: Path) -> None:
    """Real integrity verdicts for every clip, stored as `nexara scan` would."""
    listing = discover(root)
    with ScanStore.for_root(root) as store:
        store.put_many([check_file(listing.root, v, "quick") for v in listing.videos])


def nexara(*args: str) -> subprocess.Popen:
    """`nexara ARGS` in a subprocess (same state dir), stdout piped for its JSON events."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "core", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env, cwd=str(REPO),
    )
