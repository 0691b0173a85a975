"""The training configuration: one TOML file, validated, defaults from the seed.

`nexara decide --write-config` writes it (with class weights and per-class
augmentation multipliers computed from measured counts); `nexara train` reads
it; `--set KEY=VALUE` overrides any key. Unknown or ill-typed keys are errors
naming the key, so a typo never silently trains with a default.
Importing this module does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import NexaraError
from core.schema import SchemaError, load, rule
from core.tomlfile import read_toml, tomllib

# The test-time views `core.training.augment.TTA_VIEWS` knows (named here so that
# checking a config never imports numpy; tests/test_training_inputs.py holds both equal).
TTA_VIEW_NAMES = ("original", "flip", "crop_center", "crop_top_left", "crop_bottom_right",
                  "shift_early", "shift_late", "bright", "dark")

_FRACTION = rule(ge=0, le=1)


@dataclass
class TrainConfig:
    """Every key, with the seed's optimal values as defaults (see the seed's CONFIG).

    The schema (`core.schema`): each key's type, and in `rule(...)` its range;
    every float must be finite, every int fit in 64 bits. The upper bounds on
    sizes (frames, units, batches, views) are far above any sane value: they turn
    a typo (`frame_size = 99999999999999999999`) into one line naming the key
    instead of a traceback (or an out-of-memory) from deep inside Keras.
    """

    # The seed's names and values.
    dropout_rate: float = field(default=0.32, metadata=rule(ge=0, lt=1))  # moderate: preserves patterns
    # views per training clip incl. the original (majority class)
    augmentation_multiplier: int = field(default=3, metadata=rule(ge=1, le=1000))
    focal_gamma: float = field(default=3.0, metadata=rule(ge=0))  # binary focal loss: hard-example mining
    batch_size: int = field(default=96, metadata=rule(ge=1, le=1 << 16))  # RTX 3090 sized; lower it on OOM
    epochs: int = field(default=150, metadata=rule(ge=1))
    early_stopping_patience: int = field(default=30, metadata=rule(ge=0))
    learning_rate: float = field(default=1e-3, metadata=rule(gt=0))  # Adam
    # Data.
    frames_per_clip: int = field(default=20, metadata=rule(ge=1, le=1024))  # sampled evenly across each clip
    frame_size: int = field(default=224, metadata=rule(ge=8, le=4096))  # square backbone input, pixels
    backbone: str = "MobileNetV2"  # a keras.applications model name
    backbone_weights: str = "imagenet"  # "imagenet", a path to a weights file, or "none"
    # width multiplier for MobileNet backbones (0.35 for tiny CPU runs)
    backbone_alpha: float = field(default=1.0, metadata=rule(gt=0))
    # frames per backbone batch (and per cache shard) in extraction
    extract_batch_frames: int = field(default=1024, metadata=rule(ge=1, le=1 << 20))
    positive_class: str = "violent"  # the class scored as 1 by the binary head
    # class -> weight; empty = all 1.0
    class_weights: dict[str, float] = field(default_factory=dict, metadata=rule(gt=0))
    # class -> augmentation views
    class_multipliers: dict[str, int] = field(default_factory=dict, metadata=rule(ge=1, le=1000))
    include_damaged: bool = True  # train on `damaged` clips too (they are usable)
    # Head.
    lstm_units: int = field(default=128, metadata=rule(ge=1, le=1 << 16))
    dense_units: int = field(default=64, metadata=rule(ge=1, le=1 << 16))
    # Evaluation / deployment gate (the seed's bar for 110 cameras).
    tta_views: list[str] = field(
        default_factory=lambda: ["original", "flip", "crop_center", "shift_early", "shift_late"],
        metadata=rule(choices=TTA_VIEW_NAMES, min_len=1))
    gate_overall: float = field(default=0.90, metadata=_FRACTION)
    gate_recall: dict[str, float] = field(default_factory=lambda: {"violent": 0.88, "nonviolent": 0.91},
                                          metadata=_FRACTION)
    gate_max_gap: float = field(default=0.08, metadata=_FRACTION)
    seed: int = field(default=1337, metadata=rule(ge=0))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {f.name: f for f in fields(TrainConfig)}
_DEFAULTS = TrainConfig()


def _expected_type(name: str) -> type:
    return type(getattr(_DEFAULTS, name))


def from_mapping(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """The config from parsed TOML; one line naming `source` and the key if anything does not fit."""
    try:
        return load(TrainConfig, data)
    except SchemaError as exc:
        if exc.unknown:
            raise NexaraError(f"{source}: unknown config key '{exc.key}'") from None
        raise NexaraError(f"{source}: config key '{exc.key}': {exc.problem}") from None


def load_config(path: Path | None) -> TrainConfig:
    """Defaults when path is None; else the file, validated."""
    if path is None:
        return TrainConfig()
    path = Path(path)
    data = read_toml(path, "training config") or {}
    # Allow either a flat file or a [train] table.
    if "train" in data and isinstance(data["train"], dict):
        data = {**{k: v for k, v in data.items() if k != "train"}, **data["train"]}
    return from_mapping(data, source=str(path))


# Named bundles of overrides for `--preset NAME`, applied after the config file and
# before `--set`. They change only the compute-bound keys, never the data-derived ones
# (class weights and multipliers from `nexara decide`, the gate), so a preset run still
# trains on what the decision said.
PRESETS: dict[str, dict[str, Any]] = {
    # The demo dataset on a laptop CPU in well under a minute of training. The tiny
    # conv backbone with seeded random weights needs no download, and 64 px x 10 frames
    # keep the demo's motion cue (fast chaotic vs. slow drift) while extraction runs at
    # hundreds of frames/s. The head is shrunk to match ~40 training clips; lr 3e-3
    # because the seed's 1e-3 (tuned for 10k clips x 150 epochs) needs several times
    # more epochs here to reach the same validation accuracy. The class weights and
    # multipliers from `decide` are kept.
    "demo": {
        "backbone": "tiny", "backbone_weights": "none", "frame_size": 64, "frames_per_clip": 10,
        "batch_size": 16, "lstm_units": 16, "dense_units": 16, "epochs": 40,
        "early_stopping_patience": 10, "learning_rate": 0.003, "extract_batch_frames": 256,
    },
}


def apply_preset(cfg: TrainConfig, name: str | None) -> TrainConfig:
    """`--preset NAME`: the preset's keys replace the config's (None: unchanged)."""
    if not name:
        return cfg
    if name not in PRESETS:
        raise NexaraError(f"--preset {name!r}: unknown preset (known: {', '.join(sorted(PRESETS))})")
    return from_mapping({**cfg.to_dict(), **PRESETS[name]}, source=f"preset {name}")


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """`--set KEY=VALUE` (VALUE in TOML syntax; bare words are strings)."""
    data = cfg.to_dict()
    for item in overrides:
        if "=" not in item:
            raise NexaraError(f"--set {item!r}: expected KEY=VALUE")
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        if "." in key:
            top, sub = key.split(".", 1)
            if top not in _FIELDS or _expected_type(top) is not dict:
                raise NexaraError(f"--set: unknown config key '{key}'")
            data[top] = {**data[top], sub: value}
        else:
            if key not in _FIELDS:
                raise NexaraError(f"--set: unknown config key '{key}'")
            data[key] = value
    return from_mapping(data, source="--set")
