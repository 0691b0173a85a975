"""The hybrid temporal head, its focal loss and the class weights.

The backbone runs once per frame during extraction; training only fits this
head on cached per-frame features: LayerNorm → BiLSTM (order and motion across
frames) → attention pooling (the few frames where something happens count more
than an average would let them) → dropout → dense → sigmoid. Only built-in
layers, so `model.keras` loads without custom objects.

Loss: binary focal cross-entropy with the config's gamma (Keras 3's
`BinaryFocalCrossentropy` takes gamma and per-sample weights); class weights
reach it as per-sample weights mapped through `positive_class`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import NexaraError
from core.training.config import TrainConfig


def check_class_keys(cfg: TrainConfig, classes: list[str]) -> None:
    """class_weights / class_multipliers must name classes of this dataset (not 0/1)."""
    for key in ("class_weights", "class_multipliers"):
        for name in getattr(cfg, key):
            if name not in classes:
                raise NexaraError(
                    f"config key '{key}.{name}': no class '{name}' in this dataset "
                    f"(classes: {', '.join(classes)})"
                )


def label_weights(cfg: TrainConfig, classes: list[str]) -> np.ndarray:
    """[weight of label 0, weight of label 1] from class_weights (by class name; default 1.0)."""
    check_class_keys(cfg, classes)
    return np.asarray([cfg.class_weights.get(c, 1.0) for c in classes], dtype=np.float32)


def sample_weights(y: np.ndarray, cfg: TrainConfig, classes: list[str]) -> np.ndarray:
    return label_weights(cfg, classes)[np.asarray(y, dtype=int)]


def make_loss(cfg: TrainConfig) -> Any:
    import keras

    return keras.losses.BinaryFocalCrossentropy(gamma=cfg.focal_gamma, apply_class_balancing=False)


def build_head(frames: int, dim: int, cfg: TrainConfig) -> Any:
    """(frames, dim) features → P(positive class)."""
    import keras
    from keras import layers

    x_in = keras.Input((frames, dim), name="features")
    x = layers.LayerNormalization(name="norm")(x_in)
    h = layers.Bidirectional(layers.LSTM(cfg.lstm_units, return_sequences=True), name="bilstm")(x)
    scores = layers.Dense(1, name="attention_score")(h)  # (frames, 1)
    weights = layers.Softmax(axis=1, name="attention")(scores)
    pooled = layers.Dot(axes=1, name="attention_pool")([weights, h])  # (1, 2*units)
    pooled = layers.Flatten(name="pooled")(pooled)
    x = layers.Dropout(cfg.dropout_rate, name="dropout1")(pooled)
    x = layers.Dense(cfg.dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(cfg.dropout_rate, name="dropout2")(x)
    out = layers.Dense(1, activation="sigmoid", name="p_positive")(x)
    return keras.Model(x_in, out, name="nexara_hybrid")


def compile_head(model: Any, cfg: TrainConfig) -> Any:
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate),
        loss=make_loss(cfg),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    return model


def strategy() -> Any:
    """MirroredStrategy across all GPUs when there is more than one; the default otherwise."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
