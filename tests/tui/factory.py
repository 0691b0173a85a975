"""Building the app and its data for tests, snapshots and benchmarks (posting's pattern).

Everything here is real: a dataset folder with files on disk, a real scan
store (`core.store.ScanStore`) holding a verdict per file in the engine's own
record format, a real `LocalHost` running the real `nexara` subprocesses. Only
what would make a picture differ from run to run is fixed: the root is given
to the app as a path relative to the test's working directory (the header
shows `ds`, not a temp path), seeds are fixed, and nothing on screen reads a
clock.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from core.records import FileResult, Verdict

SPLITS = (("train", 0.7), ("val", 0.15), ("test", 0.15))
CLASSES = ("violent", "nonviolent")
# (verdict, reasons, FFmpeg-like message) for the problem files, in rotation.
PROBLEMS = (
    (Verdict.CORRUPT, ["moov_missing"], "moov atom not found"),
    (Verdict.CORRUPT, ["truncated"], "stream ends 3.2 s before its declared duration"),
    (Verdict.DAMAGED, ["decode_errors"], "error while decoding MB 12 7, bytestream -5"),
    (Verdict.WARNING, ["audio_errors"], "Invalid frame size in the audio stream"),
    (Verdict.CORRUPT, ["no_video_stream"], "no video stream in the container"),
)


# A 1 s, 64×48 clip made by our demo generator (`core.demo.write_clip(p, "violent",
# size=(64, 48), fps=10, seconds=1.0, seed=5)`), kept as a file: x264's threads make two
# encodes differ by a few pixels, and a snapshot of its preview must not.
DEMO_CLIP = Path(__file__).with_name("data") / "demo_clip_64x48.mp4"


@dataclass(frozen=True)
class Store:
    root: Path
    total: int
    problems: int
    real: tuple[str, ...] = ()  # the problem files that are real encoded clips


def build_store(root: Path, n: int, seed: int = 7, problem_share: float = 0.14,
                long_names: bool = False, levels: tuple[str, ...] = ("standard",),
                real_clips: int = 0, skew: dict[str, float] | None = None) -> Store:
    """`n` small files under ROOT/{split}/{class}/ and a scan store with a verdict for each.

    The files are a few bytes each (their size and mtime are what the store
    validates, and what a quarantine move checks before it moves), so a
    50,000-file dataset is built in seconds; problem files carry reasons and
    messages in rotation. The first `real_clips` problem files are real encoded
    clips (DEMO_CLIP, from core.demo), so a preview decodes frames. `skew` gives a
    class its own problem share (a class that lost far more: a finding).
    Deterministic for a seed.
    """
    from core.store import ScanStore

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    results: list[FileResult] = []
    problems = 0
    real: list[str] = []
    for i in range(n):
        r = rng.random()
        split = "train" if r < 0.7 else ("val" if r < 0.85 else "test")
        cls = CLASSES[i % 2]
        stem = (f"{cls}_{'recorded_at_the_north_entrance_camera_' if long_names else ''}"
                f"{i:06d}")
        rel = f"{split}/{cls}/{stem}.mp4"
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        size = 64 + (i * 7919) % 4096
        share = (skew or {}).get(cls, problem_share)
        bad = rng.random() < share
        if bad and problems < real_clips:
            import shutil

            shutil.copyfile(DEMO_CLIP, p)
            real.append(rel)
        else:
            p.write_bytes(b"\0" * size)
        st = p.stat()
        size = st.st_size
        level = levels[i % len(levels)]
        if bad:
            verdict, reasons, msg = PROBLEMS[problems % len(PROBLEMS)]
            problems += 1
            res = FileResult(path=rel, split=split, cls=cls, verdict=verdict, reasons=list(reasons),
                             messages=[msg], frames_decoded=(i % 90), size=size,
                             mtime_ns=st.st_mtime_ns, level=level)
        else:
            res = FileResult(path=rel, split=split, cls=cls, verdict=Verdict.OK, frames_decoded=90,
                             size=size, mtime_ns=st.st_mtime_ns, level=level)
        results.append(res)
    with ScanStore.for_root(root) as store:
        for k in range(0, len(results), 5000):
            store.put_many(results[k:k + 5000])
        store.set_meta("last_scan", {"level": levels[-1], "finished": 0.0, "complete": True,
                                     "total": n, "checked": n, "seconds": 1.0, "engine": "bench"})
    return Store(root, n, problems, tuple(real))


def chdir_root(tmp_path: Path, name: str = "ds") -> str:
    """Work in `tmp_path` and return ROOT relative to it: the header shows `ds`, not a temp path."""
    os.chdir(tmp_path)
    return name


def no_user_config(tmp_path: Path) -> None:
    """The user's own config (remapped keys) must not change a picture."""
    cfg = tmp_path / "nexara-config.toml"
    cfg.write_text("")
    os.environ["NEXARA_CONFIG"] = str(cfg)


def scan_app(root: str):
    from core.host.local import LocalHost
    from nexara_tui.app import NexaraApp

    return NexaraApp(root=root, host=LocalHost())


EPOCHS = 24


def write_epochs(path: Path, epochs: int = EPOCHS) -> Path:
    """An epochs.jsonl (our trainer's format) that overfits from epoch 14 and whose violent
    recall collapses at epoch 20: the monitor raises its alarms on it."""
    import json

    lines = []
    for i in range(1, epochs + 1):
        over = max(0, i - 13)
        violent = 0.72 if i < 20 else 0.05
        lines.append(json.dumps({
            "v": 1, "type": "epoch", "epoch": i, "epochs": 60, "loss": round(1.0 / i, 4),
            "accuracy": round(0.55 + i / 100, 4), "val_loss": round(0.9 - 0.02 * min(i, 13) + 0.03 * over, 4),
            "val_accuracy": round(0.52 + min(i, 13) / 100, 4),
            "recall": {"violent": violent, "nonviolent": 0.74 if i < 20 else 0.97},
            "lr": 3e-3 if i < 16 else 3e-4, "seconds": 41.5, "patience": 10,
        }))
    path.write_text("\n".join(lines) + "\n")
    return path
