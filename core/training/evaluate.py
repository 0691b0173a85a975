"""`evaluate`: the test split, with and without TTA, judged against the deployment gate.

The gate is the seed's bar for 110 cameras (overall ≥ 90 %, violent recall
≥ 88 %, non-violent ≥ 91 %, gap < 8 %), all configurable. The verdict uses
the TTA result when TTA was run (that is how the model will be judged), the
plain one otherwise. The accuracy comes with its 95 % Wilson interval, because
on a few hundred test clips "90.4 %" and "88 %" may not differ.

TTA: every test clip is seen through each configured view (original, flip,
crops, temporal shifts: see `core.training.augment`), features for all views are
cached like any split, and the per-clip probability is the mean over views.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import NexaraError
from core.events import event
from core.training.config import TrainConfig
from core.training.metrics import confusion, gap, recall_per_class, wilson_interval


def report(y: np.ndarray, probs: np.ndarray, classes: list[str], cfg: TrainConfig) -> dict[str, Any]:
    """Accuracy, interval, per-class recall, confusion matrix and the gate, from clip probabilities."""
    pred = (probs >= 0.5).astype(int)
    correct = int((pred == y).sum())
    total = int(len(y))
    acc = correct / total if total else 0.0
    lo, hi = wilson_interval(correct, total)
    recalls = recall_per_class(y, pred, classes)
    g = gap(recalls)
    checks: dict[str, Any] = {
        "overall": {"value": round(acc, 6), "min": cfg.gate_overall, "pass": acc >= cfg.gate_overall},
        "gap": {"value": round(g, 6), "max": cfg.gate_max_gap, "pass": g < cfg.gate_max_gap},
    }
    for cls in classes:
        need = cfg.gate_recall.get(cls, 0.0)
        checks[f"recall_{cls}"] = {"value": round(recalls[cls], 6), "min": need, "pass": recalls[cls] >= need}
    return {
        "accuracy": round(acc, 6), "correct": correct, "total": total,
        "interval95": [round(lo, 6), round(hi, 6)],
        "recall": {k: round(v, 6) for k, v in recalls.items()}, "gap": round(g, 6),
        "confusion": {"labels": classes, "rows": "true", "columns": "predicted",
                      "matrix": confusion(y, pred, len(classes))},
        "gate": checks, "passed": all(c["pass"] for c in checks.values()),
    }


def tta_average(rels: list[str], probs: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Mean probability per clip over its views, clips in first-seen order."""
    order: dict[str, list[float]] = {}
    for rel, p in zip(rels, probs, strict=True):
        order.setdefault(rel, []).append(float(p))
    return list(order), np.asarray([np.mean(v) for v in order.values()], dtype=np.float64)


def evaluate(
    root: Path, model_path: Path, cfg: TrainConfig, *, tta: bool, cache_base: Path | None = None,
    split: str = "test",
) -> Iterator[dict[str, Any]]:
    model_path = Path(model_path).expanduser()
    if not model_path.is_file():  # before TensorFlow's seconds of start-up
        raise NexaraError(f"{model_path}: no such model file")

    import keras

    from core.training.data import require_both_classes, usable_clips
    from core.training.features import default_cache_base, extract_split, load_split

    clipset = usable_clips(root, cfg)
    if not clipset.split(split):
        raise NexaraError(f"{clipset.root}: no usable clips in the {split} split")
    require_both_classes(clipset, split)
    base = Path(cache_base) if cache_base else default_cache_base(clipset.root)
    clips = clipset.split(split)
    modes = ["plain"] + (["tta"] if tta else [])
    for mode in modes:
        yield from extract_split(clipset.root, clips, split, cfg, mode, base)
    try:
        model = keras.models.load_model(str(model_path), compile=False)
    except Exception as exc:
        raise NexaraError(f"{model_path}: not a Nexara model ({' '.join(str(exc).split())[:200]})") from None
    fs = load_split(clipset, split, cfg, "plain", base)
    if tuple(model.input_shape[1:]) != tuple(fs.x.shape[1:]):
        raise NexaraError(
            f"{model_path}: expects features {tuple(model.input_shape[1:])} but this config gives "
            f"({cfg.frames_per_clip}, {fs.x.shape[2]}) — evaluate with the config the model was trained with"
        )
    plain_probs = np.asarray(model.predict(fs.x, batch_size=cfg.batch_size, verbose=0)).reshape(-1)
    results = {"plain": report(fs.y, plain_probs, clipset.classes, cfg)}
    per_clip: dict[str, dict[str, Any]] = {
        rel: {"label": int(y), "p_plain": round(float(p), 6)}
        for rel, y, p in zip(fs.rels, fs.y, plain_probs, strict=True)
    }
    if tta:
        tfs = load_split(clipset, split, cfg, "tta", base)
        view_probs = np.asarray(model.predict(tfs.x, batch_size=cfg.batch_size, verbose=0)).reshape(-1)
        rels, probs = tta_average(tfs.rels, view_probs)
        label = {r: int(y) for r, y in zip(tfs.rels, tfs.y, strict=True)}
        y = np.asarray([label[r] for r in rels])
        rep = report(y, probs, clipset.classes, cfg)
        plain_by = {r: p for r, p in zip(fs.rels, plain_probs, strict=True)}
        common = [i for i, r in enumerate(rels) if r in plain_by]
        diffs = np.asarray([abs(probs[i] - plain_by[rels[i]]) for i in common])
        flips = sum(int((probs[i] >= 0.5) != (plain_by[rels[i]] >= 0.5)) for i in common)
        rep["views"] = list(cfg.tta_views)
        rep["changed_predictions"] = int(flips)
        rep["mean_abs_prob_change"] = round(float(diffs.mean()) if len(diffs) else 0.0, 6)
        results["tta"] = rep
        for r, p in zip(rels, probs, strict=True):
            per_clip.setdefault(r, {"label": label[r]})["p_tta"] = round(float(p), 6)
    judged = "tta" if tta else "plain"
    ev = event(
        "evaluation", model=str(model_path), root=str(clipset.root), split=split, classes=clipset.classes,
        positive_class=cfg.positive_class, clips=len(clips), results=results, judged_on=judged,
        passed=results[judged]["passed"],
    )
    out = model_path.parent / f"evaluation-{split}{'-tta' if tta else ''}.json"
    with contextlib.suppress(OSError):  # a read-only run directory: the event still carries the report
        out.write_text(json.dumps({**ev, "per_clip": per_clip}, indent=1), encoding="utf-8")
    yield ev
