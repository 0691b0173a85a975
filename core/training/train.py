"""`train`: usable clips → cached features → the hybrid head, resumable, as a stream of events.

Everything a run needs to be judged or resumed lives in its run directory:
`config.toml` (the exact config, overrides included), `model.keras` (best
validation accuracy so far, via ModelCheckpoint), `epochs.jsonl` (one record
per epoch), `backup/` (BackupAndRestore: a killed or preempted run restarted
with the same `--out` continues at the epoch after the last one finished) and
`run.json` (classes, counts, where the features came from).

Keras' `fit` runs in a worker thread so its callback can hand epoch records to
this generator, which yields them like every other engine command (printed as
JSON lines by `--json`, i.e. into the job's event log when run as a job).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.events import event
from core.training.config import TrainConfig, from_mapping

_DONE = object()


def write_run_config(run_dir: Path, cfg: TrainConfig) -> None:
    """config.toml: the exact config; a resumed run must use the same one."""
    import tomli_w

    path = run_dir / "config.toml"
    text = "# The exact config of this run (written by nexara train).\n" + tomli_w.dumps(cfg.to_dict())
    if path.exists():
        from core.training.config import load_config

        old = load_config(path)
        if old.to_dict() != cfg.to_dict():
            diff = [k for k, v in cfg.to_dict().items() if old.to_dict().get(k) != v]
            raise NexaraError(
                f"{path}: this run was started with a different config ({', '.join(diff)} differ) — "
                f"resume with the same config or use a new --out"
            )
        return
    path.write_text(text, encoding="utf-8")


def run_config(run_dir: Path) -> TrainConfig:
    from core.training.config import load_config

    return load_config(Path(run_dir) / "config.toml")


def train(
    root: Path, cfg: TrainConfig, run_dir: Path, cache_base: Path | None = None,
    tensorboard: Path | None = None,
) -> Iterator[dict[str, Any]]:
    from core.training.data import require_both_classes, usable_clips
    from core.training.features import default_cache_base, extract_all, load_split
    from core.training.model import check_class_keys

    clipset = usable_clips(root, cfg)
    for split in ("train", "val"):
        require_both_classes(clipset, split)
    check_class_keys(cfg, clipset.classes)
    run_dir = Path(run_dir).expanduser().resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / "train_end.json").exists():
        raise NexaraError(f"{run_dir}: this run already finished (model.keras) — use a new --out")
    write_run_config(run_dir, cfg)
    base = Path(cache_base) if cache_base else default_cache_base(clipset.root)
    counts = clipset.counts()
    (run_dir / "run.json").write_text(json.dumps({
        "root": str(clipset.root), "classes": clipset.classes, "positive_class": cfg.positive_class,
        "counts": counts, "features": str(base),
    }, indent=1), encoding="utf-8")
    extra = {"tensorboard": str(tensorboard)} if tensorboard is not None else {}
    yield event("train_start", epochs=cfg.epochs, config=cfg.to_dict(), run_dir=str(run_dir),
                classes=clipset.classes, counts=counts, **extra)
    yield from extract_all(clipset, cfg, base, splits=["train", "val"])
    train_fs = load_split(clipset, "train", cfg, "train", base)
    val_fs = load_split(clipset, "val", cfg, "plain", base)
    for name, fs in (("train", train_fs), ("val", val_fs)):
        if len(fs) == 0:
            raise NexaraError(f"{clipset.root}: no {name} clip gave decodable frames — nothing to train on")
    yield event("log", message=f"training on {len(train_fs)} views of {len(set(train_fs.rels))} clips, "
                               f"validating on {len(val_fs)} clips")
    q: queue.Queue[Any] = queue.Queue()
    state: dict[str, Any] = {}
    stop = threading.Event()
    worker = threading.Thread(
        target=_fit_thread,
        args=(train_fs, val_fs, clipset.classes, cfg, run_dir, q, state, stop, tensorboard),
        name="nexara-fit", daemon=True,
    )
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            yield item
    finally:
        stop.set()  # the consumer went away (Ctrl-C, closed pipe): stop after this batch
        worker.join()
    if "error" in state:
        raise state["error"]
    end = event("train_end", best_epoch=state["best_epoch"], model_path=str(run_dir / "model.keras"),
                stopped_early=state["stopped_early"])
    (run_dir / "train_end.json").write_text(json.dumps(end), encoding="utf-8")
    yield end


def _fit_thread(train_fs: Any, val_fs: Any, classes: list[str], cfg: TrainConfig, run_dir: Path,
                q: queue.Queue, state: dict[str, Any], stop: threading.Event,
                tensorboard: Path | None = None) -> None:
    try:
        state.update(fit(train_fs, val_fs, classes, cfg, run_dir, q.put, stop, tensorboard))
    except BaseException as exc:  # handed to the generator, raised there
        state["error"] = exc
    finally:
        q.put(_DONE)


def fit(train_fs: Any, val_fs: Any, classes: list[str], cfg: TrainConfig, run_dir: Path,
        sink: Any, stop: threading.Event | None = None,
        tensorboard: Path | None = None) -> dict[str, Any]:
    """Fit the head with every callback; returns best_epoch and stopped_early.

    `tensorboard`: a log folder for `keras.callbacks.TensorBoard`, so the user's usual
    viewer (and `nexara monitor DIR`) sees the run; a resumed run appends to it, its
    epochs continuing where the kill left them.
    """
    import keras
    import tensorflow as tf

    from core.training.metrics import epoch_recorder, finite_metric, read_epochs
    from core.training.model import build_head, compile_head, sample_weights, strategy

    keras.utils.set_random_seed(cfg.seed)
    with strategy().scope():
        model = compile_head(build_head(train_fs.x.shape[1], train_fs.x.shape[2], cfg), cfg)
    model_path = run_dir / "model.keras"
    prior = [finite_metric(r.get("val_accuracy")) for r in read_epochs(run_dir / "epochs.jsonl")]
    best_prior = max((a for a in prior if a is not None), default=None)
    early = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=cfg.early_stopping_patience, restore_best_weights=True
    )
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            str(model_path), monitor="val_accuracy", mode="max", save_best_only=True,
            # On resume, only a better epoch than any before the kill may replace the model.
            initial_value_threshold=best_prior if model_path.exists() else None,
        ),
        early,
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), double_checkpoint=True),
        epoch_recorder(val_x=val_fs.x, val_y=val_fs.y, classes=classes, epochs=cfg.epochs,
                       patience=cfg.early_stopping_patience, run_dir=run_dir, sink=sink,
                       batch_size=cfg.batch_size),
    ]
    if tensorboard is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard)))
    if stop is not None:
        callbacks.append(_StopOnEvent(stop))
    t0 = time.perf_counter()
    try:
        model.fit(
            train_fs.x, train_fs.y, sample_weight=sample_weights(train_fs.y, cfg, classes),
            validation_data=(val_fs.x, val_fs.y), batch_size=cfg.batch_size, epochs=cfg.epochs,
            shuffle=True, callbacks=callbacks, verbose=0,
        )
    except tf.errors.ResourceExhaustedError:
        raise NexaraError(
            f"out of memory training with batch_size {cfg.batch_size} — try a smaller batch, "
            f"e.g. --set batch_size={max(1, cfg.batch_size // 2)}"
        ) from None
    if not model_path.exists():  # no epoch had a val_accuracy (cannot happen with val data)
        model.save(model_path)
    records = read_epochs(run_dir / "epochs.jsonl")
    def rank(r: dict[str, Any]) -> tuple[float, int]:  # best val_accuracy, earliest epoch on ties
        acc = finite_metric(r.get("val_accuracy"))
        return (acc if acc is not None else -1.0, -r["epoch"])

    best = max(records, key=rank, default=None)
    return {
        "best_epoch": best["epoch"] if best else 0,
        "stopped_early": bool(early.stopped_epoch) or (bool(records) and records[-1]["epoch"] < cfg.epochs),
        "seconds": time.perf_counter() - t0,
    }


def _StopOnEvent(flag: threading.Event) -> Any:  # noqa: N802 - a class factory
    import keras

    class StopOnEvent(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if flag.is_set():
                self.model.stop_training = True

    return StopOnEvent()


def config_from_event(ev: dict[str, Any]) -> TrainConfig:
    """The TrainConfig carried by a train_start event (for readers of a job log)."""
    return from_mapping(ev.get("config", {}), source="train_start event")
