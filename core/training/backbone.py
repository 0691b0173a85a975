"""The per-frame CNN backbone: a Keras application (or a tiny test network) to a feature vector.

Weights come from `backbone_weights`: `imagenet` (Keras downloads them, so the
box needs internet once), a local weights file, or `none` (random but seeded:
every run of the same config builds the same network, which a resumed
extraction relies on). A weights file that does not fit is reported naming the
file and the network it was expected to fit, instead of Keras' shape dump.
The backbone includes its own input preprocessing and takes uint8 RGB frames.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.training.config import TrainConfig

# name -> keras.applications module holding its preprocess_input (None: the model rescales itself).
APPLICATIONS: dict[str, str | None] = {
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": None,
    "MobileNetV3Large": None,
    **{f"EfficientNetB{i}": None for i in range(8)},
    **{f"EfficientNetV2B{i}": None for i in range(4)},
    "ResNet50": "resnet50",
    "ResNet50V2": "resnet_v2",
    "DenseNet121": "densenet",
    "InceptionV3": "inception_v3",
}
TINY = "tiny"  # a three-layer conv net: for tests and CPU smoke runs, not for accuracy
ALPHA_BACKBONES = {"MobileNetV2", "MobileNetV3Small", "MobileNetV3Large"}


@dataclass
class Backbone:
    model: Any  # keras.Model: (B, S, S, 3) uint8 -> (B, dim) float32
    dim: int
    description: str  # e.g. "MobileNetV2(alpha=0.35) at 64x64, weights none"


def configure_tf() -> None:
    """Let TensorFlow grow GPU memory instead of grabbing all of it (the box may be shared)."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError):  # already initialised
            tf.config.experimental.set_memory_growth(gpu, True)


def describe(cfg: TrainConfig) -> str:
    alpha = f"(alpha={cfg.backbone_alpha:g})" if cfg.backbone in ALPHA_BACKBONES and cfg.backbone_alpha != 1.0 else ""
    return f"{cfg.backbone}{alpha} at {cfg.frame_size}x{cfg.frame_size}, weights {cfg.backbone_weights}"


def check_name(name: str) -> None:
    if name != TINY and name not in APPLICATIONS:
        raise NexaraError(
            f"config key 'backbone': unknown backbone '{name}' (known: {TINY}, {', '.join(APPLICATIONS)})"
        )


def _tiny(size: int, seed: int) -> Any:
    import keras

    init = keras.initializers.HeNormal
    x_in = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(x_in)
    for i, filters in enumerate((16, 32, 64)):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                                kernel_initializer=init(seed=seed + i))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(x_in, x, name="tiny")


def _application(cfg: TrainConfig, weights: str | None) -> Any:
    import keras

    ctor = getattr(keras.applications, cfg.backbone)
    kwargs: dict[str, Any] = dict(
        include_top=False, weights=weights, input_shape=(cfg.frame_size, cfg.frame_size, 3), pooling="avg"
    )
    if cfg.backbone in ALPHA_BACKBONES:
        kwargs["alpha"] = cfg.backbone_alpha
    return ctor(**kwargs)


def build_backbone(cfg: TrainConfig) -> Backbone:
    """The backbone for this config, with its weights loaded; NexaraError on anything that does not fit."""
    import keras

    check_name(cfg.backbone)
    configure_tf()
    keras.utils.set_random_seed(cfg.seed)  # weights "none": the same network every run
    desc = describe(cfg)
    source = cfg.backbone_weights
    try:
        if cfg.backbone == TINY:
            if source == "imagenet":
                raise NexaraError("config key 'backbone_weights': the 'tiny' backbone has no imagenet weights")
            net = _tiny(cfg.frame_size, cfg.seed)
        elif source == "imagenet":
            try:
                net = _application(cfg, "imagenet")
            except NexaraError:
                raise
            except Exception as exc:
                raise NexaraError(
                    f"could not get imagenet weights for {desc}: {_one_line(exc)} — without internet, "
                    f"copy the weights file to this machine and set backbone_weights = \"/path/to/file.h5\""
                ) from None
        else:
            net = _application(cfg, None)
    except ValueError as exc:  # e.g. an input size the application does not accept
        raise NexaraError(f"cannot build backbone {desc}: {_one_line(exc)}") from None
    if source not in ("imagenet", "none"):
        _load_weights_file(net, Path(source).expanduser(), desc)
    net.trainable = False
    frames = keras.Input((cfg.frame_size, cfg.frame_size, 3), dtype="uint8", name="frames")
    x = keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32"), name="to_float")(frames)
    module = APPLICATIONS.get(cfg.backbone)
    if module is not None:
        pre = getattr(keras.applications, module).preprocess_input
        x = keras.layers.Lambda(pre, name="preprocess")(x)
    out = net(x, training=False)
    model = keras.Model(frames, out, name=f"backbone_{cfg.backbone}")
    return Backbone(model, int(out.shape[-1]), desc)


def _load_weights_file(net: Any, path: Path, desc: str) -> None:
    if not path.is_file():
        raise NexaraError(f"{path}: no such weights file (config key 'backbone_weights')")
    expected = (f"expected a no-top weights file for {desc.split(' at ')[0]} "
                f"({net.name}, input {tuple(net.input_shape[1:])}, {len(net.weights)} weight tensors)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            net.load_weights(str(path))
        except Exception as exc:
            raise NexaraError(f"{path}: weights do not fit the backbone — {expected}: {_one_line(exc)}") from None
    # Keras loads what matches and only warns about the rest: a partial load is a mismatch too.
    partial = [w for w in caught if any(s in str(w.message) for s in ("Skipping", "could not", "freshly-initialized"))]
    if partial:
        raise NexaraError(
            f"{path}: weights do not fit the backbone — {expected}: {_one_line(partial[0].message)}"
        )


def _one_line(exc: BaseException | Warning | str) -> str:
    text = " ".join(str(exc).split())
    return text[:240] + ("…" if len(text) > 240 else "")
