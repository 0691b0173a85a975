"""Focal loss and class weights reach the loss that training minimises (real Keras, fixed batch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import NexaraError
from core.training.features import FeatureSet
from core.training.model import build_head, compile_head, label_weights, make_loss, sample_weights
from core.training.train import fit
from tests.training_fixtures import tiny_config

CLASSES = ["nonviolent", "violent"]


def _batch():
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 0, 1, 1, 1], np.float32)
    p = np.array([0.2, 0.6, 0.4, 0.7, 0.3, 0.9], np.float32)
    x = rng.normal(size=(6, 4, 8)).astype(np.float32)
    return x, y, p


def test_focal_gamma_reaches_the_loss():
    _, y, p = _batch()
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    pt = np.where(y == 1, p, 1 - p)
    for gamma in (0.0, 3.0):
        got = float(make_loss(tiny_config(f"focal_gamma={gamma}"))(y[:, None], p[:, None]))
        assert got == pytest.approx(float(np.mean((1 - pt) ** gamma * bce)), rel=1e-4)
    assert float(make_loss(tiny_config("focal_gamma=3.0"))(y[:, None], p[:, None])) < float(np.mean(bce)) / 2


def test_class_weights_map_through_positive_class():
    cfg = tiny_config("class_weights={violent=2.2, nonviolent=1.0}")
    assert label_weights(cfg, CLASSES).tolist() == pytest.approx([1.0, 2.2])
    assert sample_weights(np.array([1, 0, 1]), cfg, CLASSES).tolist() == pytest.approx([2.2, 1.0, 2.2])
    # The seed's {0: 2.2, 1: 1.0} style is refused: classes are named, not numbered.
    with pytest.raises(NexaraError, match=r"class_weights\.0.*no class '0'"):
        label_weights(tiny_config("class_weights={0=2.2}"), CLASSES)


def test_class_weights_reach_the_compiled_loss():
    x, y, _ = _batch()
    cfg = tiny_config("class_weights={violent=3.0}")
    model = compile_head(build_head(4, 8, cfg), cfg)
    w = sample_weights(y.astype(int), cfg, CLASSES)
    plain = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)["loss"]
    weighted = model.evaluate(x, y, sample_weight=w, batch_size=6, verbose=0, return_dict=True)["loss"]
    per = make_loss(cfg)(y[:, None], model.predict(x, verbose=0), sample_weight=None)
    assert plain == pytest.approx(float(per), rel=1e-3)
    assert weighted != pytest.approx(plain, rel=1e-3)
    probs = model.predict(x, verbose=0)
    each = np.array([float(make_loss(cfg)(y[i:i + 1, None], probs[i:i + 1])) for i in range(6)])
    assert weighted == pytest.approx(float(np.sum(w * each) / len(y)), rel=1e-3)


def test_training_fit_uses_the_class_weights(tmp_path):
    """The logged training loss of the real fit() scales with the configured weight."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4, 8)).astype(np.float32)
    y = np.array([0, 1] * 8, np.int32)
    fs = FeatureSet(x, y, [f"c{i}" for i in range(16)], ["original"] * 16)
    losses = {}
    for name, extra in (("plain", ()), ("heavy", ("class_weights={violent=10.0, nonviolent=10.0}",))):
        run = tmp_path / name
        run.mkdir()
        cfg = tiny_config("epochs=1", "learning_rate=1e-9", "batch_size=16", *extra)
        fit(fs, fs, CLASSES, cfg, run, sink=lambda ev: None)
        losses[name] = json.loads((run / "epochs.jsonl").read_text().splitlines()[0])["loss"]
    assert losses["heavy"] == pytest.approx(10 * losses["plain"], rel=0.02)
