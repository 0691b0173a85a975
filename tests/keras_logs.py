"""Real Keras training logs for the monitor's tests, made once per test session.

One subprocess imports TensorFlow once (`_session`) and runs tiny `model.fit`s:
SCRIPT four times with stdout on a file — verbose=1 with a `CSVLogger` (the CSV
and the progress-bar console log of the same epochs), then verbose=2, then
verbose=1 without validation, then verbose=1 on a dataset of unknown length —
split at marker lines (`keras_logs`); then RUNS_SCRIPT on a pseudo-terminal:
a CSVLogger appended over two fits, verbose=1 on a `tf.data` input of unknown
length with warnings on the same terminal, a TensorBoard folder of two fits,
each with its `History` (`keras_runs`). Nothing here is hand-written: the
parsers are tested against what Keras actually writes.
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
    d = _session()
    parts = (d / "plain_stdout.log").read_bytes().split((MARK + "\n").encode())
    assert len(parts) == 4, parts[0][:2000]
    paths = []
    for name, data in zip(("console_v1.log", "console_v2.log", "console_noval.log",
                                "console_unknown.log"), parts, strict=True):
        p = d / name
        p.write_bytes(data)
        paths.append(p)
    return KerasLogs(d, d / "training_log.csv", *paths)


# -- Logs a Keras user already has, each with the `History` of the run that wrote it ----------

RUNS_SCRIPT = r'''
import json, sys, warnings
import numpy as np
import keras
import tensorflow as tf
from keras import ops

out = sys.argv[1]
warnings.simplefilter("always")  # a warning every epoch, as a user's own code may well do
rng = np.random.default_rng(1)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")


def recall_nonviolent(y_true, y_pred):
    neg = ops.cast(ops.reshape(y_true, (-1,)) < 0.5, "float32")
    hit = neg * ops.cast(ops.reshape(y_pred, (-1,)) < 0.5, "float32")
    return ops.sum(hit) / ops.maximum(ops.sum(neg), 1.0)


def model(seed, lr=0.01):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy",
              metrics=["accuracy", keras.metrics.Recall(name="recall_violent"), recall_nonviolent])
    return m


class MidEpochWarning(keras.callbacks.Callback):
    """User code that warns while the progress bar is being redrawn."""
    def on_train_batch_end(self, batch, logs=None):
        if batch == 3:
            warnings.warn("the user's own warning, in the middle of the epoch")


sched = lambda: keras.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5)
hist = {}
# 1. CSVLogger(append=True) over two fit() calls: 3 epochs, then 2 of a fresh model.
csv_log = lambda name: keras.callbacks.CSVLogger(out + "/" + name, append=True)
h1 = model(0).fit(x, y, validation_split=0.25, epochs=3, batch_size=8, verbose=0,
                  callbacks=[sched(), csv_log("appended.csv")])
h2 = model(5, 0.05).fit(x, y, validation_split=0.25, epochs=2, batch_size=8, verbose=0,
                        callbacks=[sched(), csv_log("appended.csv")])
hist["csv"] = [h1.history, h2.history]
# The second fit logs other metrics (no scheduler: no learning_rate): its rows are one
# field short of the header CSVLogger wrote for the first.
model(0).fit(x, y, validation_split=0.25, epochs=2, batch_size=8, verbose=0,
             callbacks=[sched(), csv_log("mismatch.csv")])
model(5).fit(x, y, validation_split=0.25, epochs=2, batch_size=8, verbose=0,
             callbacks=[csv_log("mismatch.csv")])
# 2. verbose=1 on a tf.data dataset of unknown length, stdout and stderr on one terminal.
ds = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True).batch(8)
print("@MARK@", flush=True)
h = model(2).fit(ds, validation_data=ds, epochs=3, verbose=1,
                 callbacks=[MidEpochWarning(), sched()])
print("@MARK@", flush=True)
hist["pty"] = h.history
# 3. TensorBoard: a run folder (train/, validation/), then a second fit() into the same folder.
tb = out + "/tb"
h1 = model(3).fit(x, y, validation_split=0.25, epochs=3, batch_size=8, verbose=0,
                  callbacks=[sched(), keras.callbacks.TensorBoard(tb, write_steps_per_second=True)])
h2 = model(4, 0.03).fit(x, y, validation_split=0.25, epochs=2, batch_size=8, verbose=0,
                        callbacks=[keras.callbacks.TensorBoard(tb, write_steps_per_second=True)])
hist["tensorboard"] = [h1.history, h2.history]
with open(out + "/history.json", "w") as fh:
    json.dump(hist, fh)
'''.replace("@MARK@", MARK)


@dataclass(frozen=True)
class KerasRuns:
    """Real logs of real fits and the `History.history` of each fit that wrote them."""

    dir: Path
    csv: Path  # CSVLogger(append=True) over two fits: 3 epochs, then 2
    csv_history: list[dict[str, list[float]]]
    csv_mismatch: Path  # the same, but the second fit has no learning_rate column
    pty: Path  # verbose=1 on a tf.data input of unknown length, captured from a pty
    pty_history: dict[str, list[float]]
    tensorboard: Path  # TensorBoard(log_dir) of two fits: train/ and validation/
    tensorboard_history: list[dict[str, list[float]]]


def _run_on_pty(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """Run `argv` with stdin, stdout and stderr on one pseudo-terminal, as in a user's terminal."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: every writer of the terminal has gone
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    return proc.returncode, bytes(out)


# One interpreter imports TensorFlow once for every log above: SCRIPT with its stdout on a
# plain file (as `python train.py > log` would), then RUNS_SCRIPT with stdout and stderr on
# a pseudo-terminal.
SESSION = r'''
import os, sys
out = sys.argv[1]
fd = os.open(out + "/plain_stdout.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
saved = os.dup(1)
sys.stdout.flush()
os.dup2(fd, 1)
sys.argv = [sys.argv[0], out + "/training_log.csv"]
exec(compile(@SCRIPT@, "keras_logs.SCRIPT", "exec"), {"__name__": "plain"})
sys.stdout.flush()
os.dup2(saved, 1)
sys.argv = [sys.argv[0], out]
exec(compile(@RUNS@, "keras_logs.RUNS_SCRIPT", "exec"), {"__name__": "pty"})
'''.replace("@SCRIPT@", repr(SCRIPT)).replace("@RUNS@", repr(RUNS_SCRIPT))


@functools.cache
def _session() -> Path:
    d = Path(tempfile.mkdtemp(prefix="nexara-keras-logs-"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONUNBUFFERED": "1"}
    rc, out = _run_on_pty([sys.executable, "-c", SESSION, str(d)], env, timeout=300)
    if rc != 0:
        raise RuntimeError("keras fit failed:\n" + out.decode("utf-8", "replace")[-3000:])
    (d / "pty.log").write_bytes(out)
    return d


@functools.cache
def keras_runs() -> KerasRuns:
    import json

    d = _session()
    parts = (d / "pty.log").read_bytes().split(MARK.encode())
    assert len(parts) == 3, parts[-1][-2000:]
    pty_log = d / "console_pty.log"
    pty_log.write_bytes(parts[1].lstrip(b"\r\n"))
    hist = json.loads((d / "history.json").read_text())
    return KerasRuns(d, d / "appended.csv", hist["csv"], d / "mismatch.csv", pty_log,
                     hist["pty"], d / "tb", hist["tensorboard"])
