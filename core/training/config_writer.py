"""Writing the training config as commented TOML, so every value says where it came from.

`nexara decide --write-config` turns a decision into the file `nexara train`
reads. `tomli_w` cannot write comments, and the point of this file is that a
user can defend each number (seed default, measured count, or computed from
those), so it is written by hand. The config is flat apart from three small
tables, which keeps hand-writing safe: strings and keys are escaped as TOML
basic strings, and the result is always re-parsed through
`core.training.config.from_mapping` before it touches the disk.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from core.decision import Decision, pct
from core.errors import NexaraError
from core.fsops import write_text_atomic
from core.tomlfile import tomllib
from core.training.config import TrainConfig, from_mapping

# Where each default comes from, for the comment next to it.
_SOURCES: dict[str, str] = {
    "dropout_rate": "seed optimal config: moderate (preserves patterns)",
    "augmentation_multiplier": "seed optimal config: balanced (33 % clean signal); majority class",
    "focal_gamma": "seed optimal config: enhanced hard mining",
    "batch_size": "seed optimal config: RTX 3090 sized; lower it on out-of-memory",
    "epochs": "seed optimal config",
    "early_stopping_patience": "seed optimal config",
    "learning_rate": "Nexara default (Adam)",
    "frames_per_clip": "Nexara default: frames sampled evenly across each clip",
    "frame_size": "Nexara default: square backbone input, pixels",
    "backbone": "Nexara default: a keras.applications model name",
    "backbone_weights": "Nexara default: 'imagenet', a weights file, or 'none'",
    "include_damaged": "decide: damaged clips still decode; counted as kept",
    "lstm_units": "Nexara default",
    "dense_units": "Nexara default",
    "tta_views": "Nexara default: test-time augmentation views",
    "gate_overall": "seed: 90-92 % TTA target for the 110-camera deployment",
    "gate_max_gap": "seed: per-class gap < 8 % (healthy)",
    "seed": "Nexara default: fixed for reproducible splits and augmentation",
}

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_string(s: str) -> str:
    """A TOML basic string. Escapes quotes, backslashes and every control or non-ASCII char."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif 0xD800 <= o <= 0xDFFF:  # lone surrogate (undecodable file name byte)
            out.append("\\uFFFD")
        elif o < 0x20 or o == 0x7F or o > 0x7E:
            out.append(f"\\u{o:04X}" if o <= 0xFFFF else f"\\U{o:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(k: str) -> str:
    return k if _BARE_KEY.match(k) else toml_string(k)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise NexaraError(f"cannot write a non-finite number ({v}) to the training config")
        r = repr(v)
        return r if any(c in r for c in ".en") else r + ".0"
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise NexaraError(f"cannot write a {type(v).__name__} to the training config")


def _comment(text: str) -> str:
    """One-line comment: newlines would end the comment and break the file."""
    return " ".join(text.split())


# What each table means under each `rebalance` policy (core.decision.DecisionPolicy).
_WEIGHTS_HEAD = {
    "multipliers": "the multipliers carry the rebalancing, so every weight is 1.0 except a residual "
                   "a capped multiplier could not reach (rebalance = \"multipliers\")",
    "weights": "the weights carry the rebalancing: majority class 1.0, each other class = majority "
               "count / its count (rebalance = \"weights\")",
    "both": "seed Option B: majority class 1.0, each other class = majority count / its count, on top "
            "of the multipliers (rebalance = \"both\": double-corrects)",
}
_MULTIPLIERS_HEAD = {
    "multipliers": "augmentation views per clip, chosen so the effective counts are within the "
                   "balance tolerance of even (near balance: augmentation_multiplier for all)",
    "weights": "augmentation views per clip: augmentation_multiplier for every class (the weights "
               "rebalance)",
    "both": "augmentation views per clip, chosen so the effective counts are within the balance "
            "tolerance of even (near balance: augmentation_multiplier for all)",
}


def config_from_decision(decision: Decision, root: str | None = None) -> tuple[TrainConfig, dict[str, str]]:
    """The TrainConfig a decision implies, and a comment per key saying why."""
    cfg = TrainConfig()
    notes = dict(_SOURCES)
    policy = decision.policy
    cfg.augmentation_multiplier = int(policy.get("augmentation_multiplier", cfg.augmentation_multiplier))
    if cfg.augmentation_multiplier != TrainConfig().augmentation_multiplier:
        notes["augmentation_multiplier"] = "decide --augmentation-multiplier (seed optimal: 3)"
    cfg.include_damaged = not decision.damaged_is_lost
    if decision.damaged_is_lost:
        notes["include_damaged"] = "decide --count-damaged-as-lost: damaged clips are excluded"
    cfg.class_weights = dict(decision.class_weights)
    cfg.class_multipliers = dict(decision.class_multipliers)
    classes = sorted({r.cls for r in decision.plan_rows()})
    positive = str(policy.get("positive_class", cfg.positive_class))
    if positive in classes or not classes:
        cfg.positive_class = positive
        notes["positive_class"] = "decide policy: the class scored as 1 by the binary head"
    else:
        minority = min((r for r in decision.plan_rows()), key=lambda r: r.valid).cls
        cfg.positive_class = minority
        notes["positive_class"] = (f"'{positive}' is not a class here ({', '.join(classes)}); "
                                   "the minority class is the one to detect — change if wrong")
    target = float(policy.get("target_accuracy", cfg.gate_overall))
    cfg.gate_overall = target
    defaults = TrainConfig().gate_recall
    if classes:
        cfg.gate_recall = {c: defaults.get(c, target) for c in classes}
    notes["gate_overall"] = f"decide target accuracy ({pct(target, 0)}; seed: 90-92 % TTA)"
    return cfg, notes


def render_config(decision: Decision, root: str | None = None) -> str:
    """The commented TOML text. Re-parsed before returning, so it always loads."""
    cfg, notes = config_from_decision(decision, root)
    values = cfg.to_dict()
    plan = {r.cls: r for r in decision.plan_rows()}
    majority = decision.majority
    lines = [
        "# Nexara training config, written by `nexara decide --write-config`.",
        f"# Written {time.strftime('%Y-%m-%d %H:%M:%S')}" + (f" for {_comment(root)}" if root else "") + ".",
        f"# Scan: {decision.total:,} clips, {decision.lost:,} lost ({pct(decision.rate)}); "
        f"band: {decision.band}.",
        f"# Class weights and multipliers are computed from the {decision.basis} split's valid counts.",
        "# Every key is checked when `nexara train --config` loads this file; --set KEY=VALUE overrides.",
        "",
    ]
    tables: list[str] = []
    for f in fields(TrainConfig):
        v = values[f.name]
        if isinstance(v, dict):
            continue
        note = notes.get(f.name, "Nexara default")
        lines.append(f"{toml_key(f.name)} = {toml_value(v)}  # {_comment(note)}")

    # Tables after every plain key (TOML requires it).
    tables.append("")
    mode = decision.rebalance
    tables.append("[class_weights]  # " + _comment(_WEIGHTS_HEAD.get(mode, "")))
    if not cfg.class_weights:
        tables.append("# (none: no class has a valid clip; training would use 1.0 for every class)")
    for cls, w in cfg.class_weights.items():
        r = plan[cls]
        ratio = ("majority class" if cls == majority
                 else f"{plan[majority].valid:,} / {r.valid:,} = {r.weight:.4f}" if majority and r.weight
                 else "")
        src = ratio if mode != "multipliers" else (
            f"residual the capped multipliers left (majority/count would be {r.weight:.4f})"
            if w != 1.0 and r.weight else
            f"neutral; majority/count would be {r.weight:.4f}" if r.weight and cls != majority
            else "majority class")
        bal = f"; sklearn 'balanced' would be {r.weight_balanced:.3f}" if r.weight_balanced else ""
        tables.append(f"{toml_key(cls)} = {toml_value(float(w))}  # {_comment(src + bal)}")
    for cls in plan:
        if cls not in cfg.class_weights:
            tables.append(f"# {_comment(cls)}: 0 valid clips, no weight invented")
    tables.append("")
    tables.append("[class_multipliers]  # " + _comment(_MULTIPLIERS_HEAD.get(mode, "")))
    for cls, m in cfg.class_multipliers.items():
        r = plan[cls]
        cap = (f", capped from {r.multiplier_uncapped}" if mode != "weights" and r.multiplier_uncapped
               and r.multiplier_uncapped > m else "")
        tables.append(f"{toml_key(cls)} = {m}  # {r.valid:,} valid -> {r.effective:,} effective{cap}")
    tables.append("")
    tables.append("[gate_recall]  # per-class recall the deployment gate requires (seed: violent 88-90 %, "
                  "non-violent 91-93 %)")
    for cls, g in cfg.gate_recall.items():
        tables.append(f"{toml_key(cls)} = {toml_value(float(g))}")
    text = "\n".join(lines + tables) + "\n"
    # Never write a file the loader would refuse.
    from_mapping(tomllib.loads(text), source="generated config")
    return text


def write_config(path: Path, decision: Decision, root: str | None = None, force: bool = False) -> Path:
    """Write atomically; refuse to replace an existing file unless force (it may be hand-edited)."""
    path = Path(path).expanduser()
    if path.exists() and not force:
        raise NexaraError(f"{path}: already exists (pass --force to replace it)")
    if path.exists() and path.is_dir():
        raise NexaraError(f"{path}: is a directory")
    if not path.parent.is_dir():
        raise NexaraError(f"{path.parent}: no such directory for the config file")
    text = render_config(decision, root)
    write_text_atomic(path, text)
    return path
