"""Batched, resumable feature extraction with an on-disk cache per split.

Why batched: the tutorial pattern (`model.predict` once per clip) pays the
framework's per-call overhead 22,000 times and leaves the accelerator idle while
the CPU decodes. Here a thread pool decodes clips ahead (PyAV and OpenCV release
the GIL) while the main thread runs the backbone on large batches of frames
gathered across many clips (`extract_batch_frames`).

Cache layout (outside the dataset): `BASE/<split>-<mode>-<fingerprint12>/`
holding `fingerprint.json` and shards `shard-NNNNNN.npy` (float16 features,
`(clips*views, frames, dim)`) each committed by its `shard-NNNNNN.json` index
(written last, atomically: a shard without its index is ignored). A killed
extraction resumes by skipping every (clip, view) some index already holds for
the clip's current size and mtime. The fingerprint covers everything that
changes a feature (frames, size, backbone, alpha, weights and their file
digest, augmentation settings, extractor version); a directory whose
fingerprint does not match is rebuilt, never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import NexaraError
from core.events import event
from core.fsops import atomic_write, write_text_atomic
from core.training.augment import OVERSAMPLE, ViewSpec, random_view, render, tta_specs
from core.training.config import TrainConfig
from core.training.data import Clip, ClipSet

EXTRACTOR_VERSION = 1
MODES = ("plain", "train", "tta")  # plain: the original view; train: + augmented views; tta: the TTA views


@dataclass(frozen=True)
class View:
    index: int
    name: str
    spec: ViewSpec


@dataclass
class FeatureSet:
    """Loaded features: x (N, frames, dim) float32, y (N,) int, and which clip/view each row is."""

    x: np.ndarray
    y: np.ndarray
    rels: list[str]
    views: list[str]

    def __len__(self) -> int:
        return len(self.y)


def class_multiplier(cfg: TrainConfig, cls: str) -> int:
    return cfg.class_multipliers.get(cls, cfg.augmentation_multiplier)


def views_for(clip: Clip, cfg: TrainConfig, mode: str) -> list[View]:
    if mode == "plain":
        return [View(0, "original", ViewSpec())]
    if mode == "train":
        m = class_multiplier(cfg, clip.cls)
        return [View(0, "original", ViewSpec())] + [
            View(i, f"aug{i}", random_view(cfg.seed, clip.rel, i)) for i in range(1, m)
        ]
    if mode == "tta":
        return [View(i, n, s) for i, (n, s) in enumerate(zip(cfg.tta_views, tta_specs(cfg.tta_views), strict=True))]
    raise ValueError(mode)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def fingerprint(cfg: TrainConfig, mode: str) -> dict[str, Any]:
    """Everything that changes the features of a (clip, view); the cache directory is named by it."""
    fp: dict[str, Any] = {
        "extractor": EXTRACTOR_VERSION,
        "mode": mode,
        "frames_per_clip": cfg.frames_per_clip,
        "frame_size": cfg.frame_size,
        "backbone": cfg.backbone,
        "backbone_alpha": cfg.backbone_alpha,
        "backbone_weights": cfg.backbone_weights,
    }
    if cfg.backbone_weights == "none":
        fp["seed"] = cfg.seed  # random init is seeded
    elif cfg.backbone_weights != "imagenet":
        p = Path(cfg.backbone_weights).expanduser()
        fp["weights_digest"] = _file_digest(p) if p.is_file() else "missing"
    if mode == "train":
        fp["augmentation_multiplier"] = cfg.augmentation_multiplier
        fp["class_multipliers"] = dict(sorted(cfg.class_multipliers.items()))
        fp["seed"] = cfg.seed
    if mode == "tta":
        fp["tta_views"] = list(cfg.tta_views)
    return fp


def fingerprint_hash(fp: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:12]


def default_cache_base(root: Path) -> Path:
    """Per-dataset cache base in the state directory, beside the scan store."""
    from core.paths import store_path_for

    store = store_path_for(root)
    return store.parent.parent / "features" / store.stem


class FeatureCache:
    """One split's features for one fingerprint: append-only shards plus their indexes."""

    def __init__(self, directory: Path, fp: dict[str, Any]):
        self.dir = Path(directory)
        self.fp = fp
        self.rebuilt = False

    @classmethod
    def for_split(cls, base: Path, split: str, cfg: TrainConfig, mode: str) -> FeatureCache:
        fp = {**fingerprint(cfg, mode), "split": split}
        return cls(Path(base) / f"{split}-{mode}-{fingerprint_hash(fp)}", fp)

    def open(self) -> FeatureCache:
        fp_file = self.dir / "fingerprint.json"
        if fp_file.exists():
            try:
                old = json.loads(fp_file.read_text())
            except (OSError, json.JSONDecodeError):
                old = None
            if old != self.fp:
                # Built by another config (or damaged): rebuild, never reuse.
                shutil.rmtree(self.dir)
                self.rebuilt = True
        self.dir.mkdir(parents=True, exist_ok=True)
        if not fp_file.exists():
            write_text_atomic(fp_file, json.dumps(self.fp, sort_keys=True, indent=1))
        return self

    def _indexes(self) -> list[tuple[int, list[dict[str, Any]]]]:
        out = []
        for p in sorted(self.dir.glob("shard-*.json")):
            try:
                out.append((int(p.stem.split("-")[1]), json.loads(p.read_text())))
            except (ValueError, json.JSONDecodeError):
                continue  # torn index: the shard does not count
        return out

    def entries(self, clips: list[Clip]) -> dict[tuple[str, int], tuple[int, int | None]]:
        """(rel, view) -> (shard, row) for entries that still match the clip's size and mtime."""
        current = {c.rel: (c.size, c.mtime_ns) for c in clips}
        found: dict[tuple[str, int], tuple[int, int | None]] = {}
        for shard, entries in self._indexes():
            for e in entries:
                if current.get(e["rel"]) == (e["size"], e["mtime_ns"]):
                    found[(e["rel"], e["view"])] = (shard, e.get("row"))
        return found

    def next_shard(self) -> int:
        nums = [int(p.stem.split("-")[1]) for p in self.dir.glob("shard-*.json")]
        return max(nums, default=-1) + 1

    def write_shard(self, number: int, feats: np.ndarray, entries: list[dict[str, Any]]) -> None:
        base = self.dir / f"shard-{number:06d}"
        if len(feats):
            with atomic_write(base.with_suffix(".npy"), "wb") as f:
                np.save(f, feats.astype(np.float16))
        write_text_atomic(base.with_suffix(".json"), json.dumps(entries))  # the commit point

    def load(self, clips: list[Clip], cfg: TrainConfig, mode: str) -> FeatureSet:
        """Every planned (clip, view) found in the cache, in clip order."""
        found = self.entries(clips)
        shards: dict[int, np.ndarray] = {}
        xs, ys, rels, views = [], [], [], []
        for clip in clips:
            for v in views_for(clip, cfg, mode):
                loc = found.get((clip.rel, v.index))
                if loc is None or loc[1] is None:
                    continue
                shard, row = loc
                if shard not in shards:
                    shards[shard] = np.load(self.dir / f"shard-{shard:06d}.npy", mmap_mode="r")
                xs.append(shards[shard][row])
                ys.append(clip.label)
                rels.append(clip.rel)
                views.append(v.name)
        if not xs:
            return FeatureSet(np.zeros((0, cfg.frames_per_clip, 0), np.float32), np.zeros(0, np.int32), [], [])
        return FeatureSet(np.stack(xs).astype(np.float32), np.asarray(ys, np.int32), rels, views)


def _decode(root: Path, clip: Clip, views: list[View], cfg: TrainConfig) -> list[tuple[View, np.ndarray]] | None:
    from core.training.frames import clip_frames

    oversample = OVERSAMPLE if any(v.spec.needs_oversample for v in views) else 1
    fine = clip_frames(root / clip.rel, cfg.frames_per_clip, cfg.frame_size, oversample)
    if fine is None:
        return None
    return [(v, render(fine, cfg.frames_per_clip, oversample, v.spec)) for v in views]


def decode_workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


def extract_split(
    root: Path,
    clips: list[Clip],
    split: str,
    cfg: TrainConfig,
    mode: str,
    base: Path,
    *,
    backbone_factory: Callable[[], Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Extract what the cache lacks for this split; yields progress events and one `features` event."""
    cache = FeatureCache.for_split(base, split, cfg, mode).open()
    if cache.rebuilt:
        yield event("log", message=f"{cache.dir}: features cache from another config — rebuilding")
    found = cache.entries(clips)
    todo = [(c, [v for v in views_for(c, cfg, mode) if (c.rel, v.index) not in found]) for c in clips]
    todo = [(c, vs) for c, vs in todo if vs]
    total_views = sum(len(views_for(c, cfg, mode)) for c in clips)
    reused = len({k for k in found if k[0] in {c.rel for c in clips}})
    t0 = time.perf_counter()
    frames_done = 0
    skipped: list[str] = []
    if todo:
        backbone = (backbone_factory or (lambda: _default_backbone(cfg)))()
        shard_no = cache.next_shard()
        buf_frames: list[np.ndarray] = []
        buf_entries: list[dict[str, Any]] = []
        done_clips = 0

        def flush() -> None:
            nonlocal shard_no, buf_frames, buf_entries, frames_done
            feats = _infer(backbone, buf_frames, cfg) if buf_frames else np.zeros((0,), np.float16)
            cache.write_shard(shard_no, feats, buf_entries)
            frames_done += sum(len(f) for f in buf_frames)
            shard_no += 1
            buf_frames, buf_entries = [], []

        with ThreadPoolExecutor(decode_workers(), thread_name_prefix="nexara-decode") as pool:
            window: deque[tuple[Clip, list[View], Future]] = deque()
            pending = iter(todo)
            ahead = decode_workers() * 4  # decode ahead of the backbone, bounded memory

            def fill() -> None:
                while len(window) < ahead:
                    nxt = next(pending, None)
                    if nxt is None:
                        return
                    window.append((nxt[0], nxt[1], pool.submit(_decode, root, nxt[0], nxt[1], cfg)))

            fill()
            while window:
                clip, views, fut = window.popleft()
                fill()
                rendered = fut.result()
                meta = {"rel": clip.rel, "size": clip.size, "mtime_ns": clip.mtime_ns}
                if rendered is None:
                    skipped.append(clip.rel)
                    buf_entries.extend({**meta, "view": v.index, "name": v.name, "row": None} for v in views)
                else:
                    for v, frames in rendered:
                        buf_entries.append({**meta, "view": v.index, "name": v.name, "row": len(buf_frames)})
                        buf_frames.append(frames)
                done_clips += 1
                if sum(len(f) for f in buf_frames) >= cfg.extract_batch_frames or not window:
                    flush()
                    elapsed = time.perf_counter() - t0
                    rate = frames_done / elapsed if elapsed > 0 else 0.0
                    eta = (len(todo) - done_clips) * elapsed / done_clips if done_clips else None
                    yield event("progress", phase="extract", split=split, done=done_clips,
                                total=len(todo), rate=round(rate, 1),
                                eta_s=round(eta, 1) if eta is not None else None)
    elapsed = time.perf_counter() - t0
    yield event(
        "features", split=split, mode=mode, dir=str(cache.dir), clips=len(clips), views=total_views,
        extracted=sum(len(vs) for _, vs in todo), reused=reused, skipped=skipped,
        frames=frames_done, seconds=round(elapsed, 2),
        frames_per_s=round(frames_done / elapsed, 1) if elapsed > 0 and frames_done else None,
    )


def _default_backbone(cfg: TrainConfig) -> Any:
    from core.training.backbone import build_backbone

    return build_backbone(cfg)


def _infer(backbone: Any, clips_frames: list[np.ndarray], cfg: TrainConfig) -> np.ndarray:
    """One backbone pass over the frames of many clips: (clips, frames, dim) float16."""
    import tensorflow as tf

    model = backbone.model if hasattr(backbone, "model") else backbone
    batch = np.concatenate(clips_frames)
    try:
        out = np.asarray(model.predict_on_batch(batch))
    except tf.errors.ResourceExhaustedError:
        raise NexaraError(
            f"out of memory running the backbone on {len(batch)} frames — lower "
            f"extract_batch_frames (now {cfg.extract_batch_frames}), e.g. --set extract_batch_frames="
            f"{max(1, cfg.extract_batch_frames // 2)}"
        ) from None
    return out.reshape(len(clips_frames), cfg.frames_per_clip, -1).astype(np.float16)


SPLIT_MODES = {"train": "train", "val": "plain", "test": "plain"}


def extract_all(
    clipset: ClipSet, cfg: TrainConfig, base: Path | None = None, splits: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Extract every split that training and evaluation need (train with augmentation)."""
    base = Path(base) if base else default_cache_base(clipset.root)
    backbone: list[Any] = []

    def shared() -> Any:  # one backbone for all splits, built only if something is missing
        if not backbone:
            backbone.append(_default_backbone(cfg))
        return backbone[0]

    for split in splits or [s for s in SPLIT_MODES if clipset.split(s)]:
        yield from extract_split(clipset.root, clipset.split(split), split, cfg, SPLIT_MODES.get(split, "plain"),
                                 base, backbone_factory=shared)


def load_split(clipset: ClipSet, split: str, cfg: TrainConfig, mode: str, base: Path | None = None) -> FeatureSet:
    base = Path(base) if base else default_cache_base(clipset.root)
    return FeatureCache.for_split(base, split, cfg, mode).open().load(clipset.split(split), cfg, mode)
