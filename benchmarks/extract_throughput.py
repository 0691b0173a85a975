"""Frames/s of Nexara's batched feature extraction vs the tutorial per-clip `model.predict` loop.

Same clips, same backbone object, same frame sampler, one run. The loop is the
pattern in common tutorials: for each clip, decode its frames, then
`model.predict(frames)`. Nexara decodes ahead in a thread pool and runs the
backbone on batches of `extract_batch_frames` frames gathered across clips
(and writes its resumable cache, which the loop does not).

    .venv/bin/python benchmarks/extract_throughput.py [--clips 32] [--backbone MobileNetV2]

Ends with `batched_vs_loop=<x>` (how many times faster the batched path is).
Weights are `none` (no download needed); the speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--backbone", default="MobileNetV2")
    ap.add_argument("--alpha", type=float, default=0.35)
    ap.add_argument("--frame-size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--batch-frames", type=int, default=256)
    a = ap.parse_args()

    import numpy as np

    from core.demo import write_clip
    from core.training.backbone import build_backbone
    from core.training.config import TrainConfig
    from core.training.data import Clip
    from core.training.features import extract_split
    from core.training.frames import clip_frames

    cfg = TrainConfig(backbone=a.backbone, backbone_alpha=a.alpha, backbone_weights="none",
                      frame_size=a.frame_size, frames_per_clip=a.frames, extract_batch_frames=a.batch_frames)
    with tempfile.TemporaryDirectory(prefix="nexara-bench-") as tmp:
        root = Path(tmp) / "data"
        clips = []
        for i in range(a.clips):
            label = ("violent", "nonviolent")[i % 2]
            p = write_clip(root / "test" / label / f"c{i:03d}.mp4", label, seed=i, seconds=2.0)
            st = p.stat()
            clips.append(Clip(p.relative_to(root).as_posix(), "test", label, int(label == "violent"),
                              st.st_size, st.st_mtime_ns))
        backbone = build_backbone(cfg)
        total_frames = a.clips * a.frames
        print(f"{a.clips} clips x {a.frames} frames, {backbone.description}, CPU cores: {os.cpu_count()}")

        # Warm both paths up (graph tracing is not what is being measured).
        warm = clip_frames(root / clips[0].rel, a.frames, a.frame_size)
        backbone.model.predict(warm, verbose=0)
        reps = -(-a.batch_frames // a.frames)
        backbone.model.predict_on_batch(np.concatenate([warm] * reps)[:a.batch_frames])

        t0 = time.perf_counter()
        for c in clips:
            frames = clip_frames(root / c.rel, a.frames, a.frame_size)
            backbone.model.predict(frames, verbose=0)
        loop_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        for _ in extract_split(root, clips, "test", cfg, "plain", Path(tmp) / "cache",
                               backbone_factory=lambda: backbone):
            pass
        batched_s = time.perf_counter() - t0

    loop_fps, batched_fps = total_frames / loop_s, total_frames / batched_s
    print(f"per-clip model.predict loop: {loop_fps:8.1f} frames/s ({loop_s:.2f} s)")
    print(f"nexara batched extraction:   {batched_fps:8.1f} frames/s ({batched_s:.2f} s)")
    print(f"batched_vs_loop={batched_fps / loop_fps:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
