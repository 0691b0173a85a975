"""Real Keras training logs for the monitor's tests, made once per test session.

One subprocess imports TensorFlow once and runs a tiny `model.fit` four
times: verbose=1 with a `CSVLogger` (the CSV and the progress-bar console log
of the same epochs), then verbose=2, then verbose=1 without validation, then
verbose=1 on a dataset of unknown length. Its
stdout is split at marker lines. Nothing here is hand-written: the parsers are
tested against what Keras actually prints.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

EPOCHS = 3
MARK = "@@NEXARA-SPLIT@@"

SCRIPT = r'''
import os, sys
import numpy as np
import keras
from keras import ops

csv_path = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x[:, 0] > 0).astype("float32")


def recall_nonviolent(y_true, y_pred):
    neg = ops.cast(ops.reshape(y_true, (-1,)) < 0.5, "float32")
    hit = neg * ops.cast(ops.reshape(y_pred, (-1,)) < 0.5, "float32")
    return ops.sum(hit) / ops.maximum(ops.sum(neg), 1.0)


def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
              metrics=["accuracy", keras.metrics.Recall(name="recall_violent"), recall_nonviolent])
    return m


sched = lambda: keras.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5)
model().fit(x, y, validation_split=0.25, epochs=@EPOCHS@, batch_size=8, verbose=1,
            callbacks=[sched(), keras.callbacks.CSVLogger(csv_path)])
print("@MARK@", flush=True)
model().fit(x, y, validation_split=0.25, epochs=@EPOCHS@, batch_size=8, verbose=2,
            callbacks=[sched()])
print("@MARK@", flush=True)
model().fit(x, y, epochs=@EPOCHS@, batch_size=8, verbose=1)
print("@MARK@", flush=True)
import tensorflow as tf
ds = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True).batch(8)  # no length
model().fit(ds, validation_data=ds, epochs=@EPOCHS@, verbose=1)
'''.replace("@EPOCHS@", str(EPOCHS)).replace("@MARK@", MARK)


@dataclass(frozen=True)
class KerasLogs:
    dir: Path
    csv: Path  # CSVLogger output of the verbose=1 run
    console_v1: Path  # verbose=1 stdout (progress bars, ANSI, \r and \b)
    console_v2: Path  # verbose=2 stdout
    console_noval: Path  # verbose=1 without validation data
    console_unknown: Path  # verbose=1 on a dataset of unknown length (`8/Unknown` in epoch 1)


@functools.cache
def keras_logs() -> KerasLogs:
    d = Path(tempfile.mkdtemp(prefix="nexara-keras-logs-"))
    csv = d / "training_log.csv"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(csv)], capture_output=True,
                          env=env, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError("keras fit failed:\n" + proc.stderr.decode("utf-8", "replace")[-3000:])
    parts = proc.stdout.split((MARK + "\n").encode())
    assert len(parts) == 4, proc.stdout[:2000]
    paths = []
    for name, data in zip(("console_v1.log", "console_v2.log", "console_noval.log",
                                "console_unknown.log"), parts, strict=True):
        p = d / name
        p.write_bytes(data)
        paths.append(p)
    return KerasLogs(d, csv, *paths)
