"""A real diverged training run reaches the monitor's NaN alarm (real Keras fit, no hand-made records).

A NaN loss used to be written as null, which the monitor reads as "no loss
logged", so the alarm meant to catch divergence never fired on our own runs.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from core.events import dumps
from core.monitor.parsers import JsonlParser
from core.monitor.state import RunState
from core.training.features import FeatureSet
from core.training.train import fit
from tests.training_fixtures import tiny_config

CLASSES = ["nonviolent", "violent"]


def _features() -> FeatureSet:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 4, 8)).astype(np.float32)
    y = np.array([0, 1] * 8, np.int32)
    return FeatureSet(x, y, [f"c{i}" for i in range(16)], ["original"] * 16)


def test_nan_loss_from_real_training_fires_the_monitor_alarm(tmp_path, capsys):
    # The classic cause: a learning rate far too high makes the weights overflow within an epoch.
    fs = _features()
    cfg = tiny_config("epochs=3", "batch_size=4", "learning_rate=1e20", "early_stopping_patience=5")
    sunk: list[dict] = []
    fit(fs, fs, CLASSES, cfg, tmp_path, sink=sunk.append)

    assert [e["epoch"] for e in sunk] == [1, 2, 3]
    assert sunk[0]["loss"] == "nan"  # not null: the record says the loss diverged
    # The job's event log is strict JSON: every record still serialises.
    log = "".join(dumps(e) + "\n" for e in sunk).encode()
    on_disk = (tmp_path / "epochs.jsonl").read_bytes()

    for source in (log, on_disk):
        state = RunState("job", "events")
        parser = JsonlParser()
        state.apply(parser.feed(source))
        assert math.isnan(state.records[0].loss)
        nan = [a for a in state.alarms if a.code == "nan"]
        assert [(a.epoch, a.severity) for a in nan] == [(1, "error")], state.alarms
        assert "loss is nan" in nan[0].message
        # The monitor's --json keeps it too.
        assert json.loads(json.dumps(state.records[0].to_json(), allow_nan=False))["loss"] == "nan"

    # The trainer's own console rendering shows it rather than crashing on a string.
    from core.commands import train as train_cmd

    train_cmd.render(iter(sunk), argparse.Namespace(json=False, wait=True))
    out = capsys.readouterr().out
    assert "loss nan" in out and out.count("epoch ") == 3
