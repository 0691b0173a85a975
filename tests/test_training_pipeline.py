"""extract → train → evaluate on real demo clips with real TensorFlow (tiny backbone, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import NexaraError
from core.events import dumps
from core.training.evaluate import evaluate
from core.training.features import extract_all
from core.training.train import train
from tests.training_fixtures import make_dataset, scan_into_store, tiny_config


def tensorboard_epochs(folder):
    """Every epoch of a TensorBoard log folder, as `nexara monitor FOLDER --once` reads it."""
    from core.host.local import LocalHost
    from core.monitor.follow import Follower, resolve
    from core.monitor.records import EpochRecord

    host = LocalHost()
    return [i for up in Follower(host, resolve(host, str(folder))).updates(follow=False)
            for i in up.items if isinstance(i, EpochRecord)]


EPOCH_KEYS = {
    "v", "type", "t", "epoch", "epochs", "loss", "accuracy", "val_loss", "val_accuracy", "recall", "gap",
    "lr", "seconds", "best_epoch", "best_val_accuracy", "since_improvement", "patience",
}


def test_extract_train_evaluate_beats_chance(tmp_path):
    root = make_dataset(tmp_path / "data", clips_per_class=12)
    scan_into_store(root)
    cfg = tiny_config("epochs=15", "learning_rate=0.005", "seed=7")
    cache = tmp_path / "cache"

    feats = [e for e in extract_all(__import__("core.training.data", fromlist=["x"]).usable_clips(root, cfg),
                                    cfg, cache) if e["type"] == "features"]
    assert {e["split"] for e in feats} == {"train", "val", "test"}
    train_ev = next(e for e in feats if e["split"] == "train")
    assert train_ev["views"] == 2 * train_ev["clips"]  # augmentation_multiplier 2: original + 1 view

    run = tmp_path / "run"
    events = list(train(root, cfg, run, cache, tensorboard=tmp_path / "tb"))
    types = [e["type"] for e in events]
    assert types[0] == "train_start" and types[-1] == "train_end"
    start = events[0]
    assert start["classes"] == ["nonviolent", "violent"] and start["epochs"] == 15
    assert start["counts"]["train"] == {"nonviolent": 12, "violent": 12}
    # Features came from the cache extract_all just wrote: nothing re-extracted.
    assert all(e["extracted"] == 0 for e in events if e["type"] == "features")

    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1)) and epochs
    for e in epochs:
        assert set(e) == EPOCH_KEYS, set(e) ^ EPOCH_KEYS
        assert set(e["recall"]) == {"violent", "nonviolent"}
        assert e["gap"] == pytest.approx(abs(e["recall"]["violent"] - e["recall"]["nonviolent"]), abs=1e-5)
        assert e["lr"] == pytest.approx(cfg.learning_rate)
        assert e["patience"] == cfg.early_stopping_patience
        dumps(e)  # strict JSON (no NaN)
    best = max(epochs, key=lambda e: (e["val_accuracy"], -e["epoch"]))
    assert epochs[-1]["best_epoch"] == best["epoch"]
    assert epochs[-1]["since_improvement"] == epochs[-1]["epoch"] - best["epoch"]
    on_disk = [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]
    assert on_disk == epochs
    assert (run / "model.keras").is_file() and (run / "config.toml").is_file()
    assert events[-1]["best_epoch"] == best["epoch"]
    # --tensorboard: Keras' TensorBoard callback wrote the same epochs, which the monitor reads.
    assert start["tensorboard"] == str(tmp_path / "tb")
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["train", "validation"]
    tb = [r for r in tensorboard_epochs(tmp_path / "tb")]
    assert [r.epoch for r in tb] == [e["epoch"] for e in epochs] and {r.run for r in tb} == {1}
    for r, e in zip(tb, epochs, strict=True):
        for name in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            assert getattr(r, name) == pytest.approx(e[name], abs=1e-6), (name, r.epoch)

    ev = list(evaluate(root, run / "model.keras", cfg, tta=True, cache_base=cache))[-1]
    assert ev["type"] == "evaluation"
    plain, tta = ev["results"]["plain"], ev["results"]["tta"]
    assert plain["total"] == 10  # ceil(12 * 0.4) per class
    # Chance is 50 %; the classes differ learnably.
    assert plain["accuracy"] >= 0.8, plain
    assert tta["accuracy"] >= 0.8, tta
    # TTA changes the predicted probabilities (its views are different inputs).
    assert tta["mean_abs_prob_change"] > 1e-4
    assert ev["passed"] == tta["passed"] and ev["judged_on"] == "tta"
    for rep in (plain, tta):
        m = np.asarray(rep["confusion"]["matrix"])
        assert m.sum() == rep["total"] and np.trace(m) == rep["correct"]
        assert rep["accuracy"] == pytest.approx(rep["correct"] / rep["total"])
        for i, cls in enumerate(rep["confusion"]["labels"]):
            assert rep["recall"][cls] == pytest.approx(m[i, i] / m[i].sum())
        lo, hi = rep["interval95"]
        assert lo <= rep["accuracy"] <= hi
        assert rep["passed"] == all(c["pass"] for c in rep["gate"].values())
    # The per-clip TTA probabilities written beside the model reproduce the TTA confusion matrix.
    saved = json.loads((run / "evaluation-test-tta.json").read_text())
    labels = np.asarray([c["label"] for c in saved["per_clip"].values()])
    preds = np.asarray([int(c["p_tta"] >= 0.5) for c in saved["per_clip"].values()])
    m = np.zeros((2, 2), int)
    np.add.at(m, (labels, preds), 1)
    assert m.tolist() == tta["confusion"]["matrix"]

    # A finished run is not silently retrained over.
    with pytest.raises(NexaraError, match="already finished"):
        list(train(root, cfg, run, cache))
