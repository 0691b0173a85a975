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
from core.tomlfile import read_toml, tomllib


@dataclass
class TrainConfig:
    """Every key, with the seed's optimal values as defaults (see the seed's CONFIG)."""

    # The seed's names and values.
    dropout_rate: float = 0.32  # moderate: preserves patterns
    augmentation_multiplier: int = 3  # views per training clip incl. the original (majority class)
    focal_gamma: float = 3.0  # binary focal loss: hard-example mining
    batch_size: int = 96  # RTX 3090 sized; lower it on out-of-memory
    epochs: int = 150
    early_stopping_patience: int = 30
    learning_rate: float = 1e-3  # Adam
    # Data.
    frames_per_clip: int = 20  # frames sampled evenly across each usable clip
    frame_size: int = 224  # square input to the backbone, pixels
    backbone: str = "MobileNetV2"  # a keras.applications model name
    backbone_weights: str = "imagenet"  # "imagenet", a path to a weights file, or "none"
    backbone_alpha: float = 1.0  # width multiplier for MobileNet backbones (0.35 for tiny CPU runs)
    extract_batch_frames: int = 1024  # frames per backbone batch (and per cache shard) in extraction
    positive_class: str = "violent"  # the class scored as 1 by the binary head
    class_weights: dict[str, float] = field(default_factory=dict)  # class -> weight; empty = all 1.0
    class_multipliers: dict[str, int] = field(default_factory=dict)  # class -> augmentation views
    include_damaged: bool = True  # train on `damaged` clips too (they are usable)
    # Head.
    lstm_units: int = 128
    dense_units: int = 64
    # Evaluation / deployment gate (the seed's bar for 110 cameras).
    tta_views: list[str] = field(default_factory=lambda: ["original", "flip", "crop_center", "shift_early", "shift_late"])
    gate_overall: float = 0.90
    gate_recall: dict[str, float] = field(default_factory=lambda: {"violent": 0.88, "nonviolent": 0.91})
    gate_max_gap: float = 0.08
    seed: int = 1337

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {f.name: f for f in fields(TrainConfig)}
_DEFAULTS = TrainConfig()


def _expected_type(name: str) -> type:
    return type(getattr(_DEFAULTS, name))


def _coerce(name: str, value: Any) -> Any:
    """Check (and gently coerce int->float) one value; raise naming the key."""
    want = _expected_type(name)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is dict:
        if not isinstance(value, dict):
            raise NexaraError(f"config key '{name}': expected a table, got {type(value).__name__}")
        inner = int if name == "class_multipliers" else float
        out = {}
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise NexaraError(f"config key '{name}.{k}': expected a number, got {type(v).__name__}")
            if inner is int and float(v) != int(v):
                raise NexaraError(f"config key '{name}.{k}': expected an integer, got {v}")
            out[str(k)] = inner(v)
        return out
    if want is list:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise NexaraError(f"config key '{name}': expected a list of strings")
        return list(value)
    if isinstance(value, bool) != (want is bool) or not isinstance(value, want):
        raise NexaraError(f"config key '{name}': expected {want.__name__}, got {type(value).__name__} ({value!r})")
    return value


def _validate(cfg: TrainConfig) -> TrainConfig:
    checks = [
        ("dropout_rate", 0.0 <= cfg.dropout_rate < 1.0, "must be in [0, 1)"),
        ("augmentation_multiplier", cfg.augmentation_multiplier >= 1, "must be >= 1"),
        ("focal_gamma", cfg.focal_gamma >= 0, "must be >= 0"),
        ("batch_size", cfg.batch_size >= 1, "must be >= 1"),
        ("epochs", cfg.epochs >= 1, "must be >= 1"),
        ("early_stopping_patience", cfg.early_stopping_patience >= 0, "must be >= 0"),
        ("frames_per_clip", cfg.frames_per_clip >= 1, "must be >= 1"),
        ("frame_size", cfg.frame_size >= 8, "must be >= 8"),
        ("learning_rate", cfg.learning_rate > 0, "must be > 0"),
        ("backbone_alpha", cfg.backbone_alpha > 0, "must be > 0"),
        ("extract_batch_frames", cfg.extract_batch_frames >= 1, "must be >= 1"),
    ]
    for key, ok, why in checks:
        if not ok:
            raise NexaraError(f"config key '{key}': {why} (got {getattr(cfg, key)!r})")
    for k, m in cfg.class_multipliers.items():
        if m < 1:
            raise NexaraError(f"config key 'class_multipliers.{k}': must be >= 1 (got {m})")
    for k, w in cfg.class_weights.items():
        if w <= 0:
            raise NexaraError(f"config key 'class_weights.{k}': must be > 0 (got {w})")
    return cfg


def from_mapping(data: dict[str, Any], source: str = "config") -> TrainConfig:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELDS:
            raise NexaraError(f"{source}: unknown config key '{key}'")
        values[key] = _coerce(key, value)
    return _validate(TrainConfig(**values))


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
