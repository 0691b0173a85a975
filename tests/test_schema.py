"""Every number and enum a user hands us is checked where it is read: one line naming the key.

The three config files (Nexara's, a decision policy, a training config) share one declarative
schema (core.schema); command-line numbers go through core.cli.number. NaN and infinities are
refused everywhere: NaN passes every `x <= 0` check written to refuse bad values.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
import time

import pytest

from core.cli import main
from core.config import HostTable
from core.decision import DecisionPolicy
from core.errors import NexaraError
from core.schema import SchemaError, load
from core.training.config import TTA_VIEW_NAMES, TrainConfig, from_mapping


def _one_line(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own refusal
        return int(exc.code or 0)


@pytest.mark.parametrize("argv,names", [
    (["scan", "{root}", "--timeout", "nan"], ("--timeout", "nan", "finite")),
    (["scan", "{root}", "--timeout", "inf"], ("--timeout", "inf", "finite")),
    (["scan", "{root}", "--timeout", "0"], ("--timeout", "> 0")),
    (["monitor", "x", "--max-gap", "-1"], ("--max-gap", "-1", ">= 0")),
    (["monitor", "x", "--max-gap", "nan"], ("--max-gap", "nan", "finite")),
    (["monitor", "x", "--poll", "nan"], ("--poll", "nan", "finite")),
    (["monitor", "x", "--poll", "-2"], ("--poll", "> 0")),
    (["job", "attach", "x", "--from", "-5"], ("--from", "-5", ">= 0")),
    (["train", "{root}", "--set", "learning_rate=inf"], ("learning_rate", "finite", "--set")),
    (["train", "{root}", "--set", "dropout_rate=nan"], ("dropout_rate", "finite")),
    (["train", "{root}", "--set", 'tta_views=["nope"]'], ("tta_views", "nope", "one of")),
    (["train", "{root}", "--set", "frame_size=99999999999999999999"], ("frame_size", "<= 4096")),
    (["train", "{root}", "--set", "class_weights.violent=-1"], ("class_weights.violent", "> 0")),
    (["train", "{root}", "--set", "seed=-3"], ("seed", ">= 0")),
])
def test_bad_numbers_and_enums_on_the_command_line(argv, names, tmp_path, capsys):
    argv = [a.format(root=tmp_path) for a in argv]
    assert _exit_code(argv) == 2
    line = _one_line(capsys)
    for name in names:
        assert name in line, (name, line)


@pytest.mark.parametrize("body,names", [
    ('tta_views = ["original", "nope"]\n', ("tta_views[1]", "nope")),
    ("frame_size = 99999999999999999999\n", ("frame_size", "99999999999999999999")),
    ("learning_rate = inf\n", ("learning_rate", "finite")),
    ("[train]\nepochs = 0\n", ("epochs", ">= 1")),
    ("seed = -1\n", ("seed", ">= 0")),
    ('include_damaged = "yes"\n', ("include_damaged", "expected bool")),
    ("gate_recall = { violent = 1.5 }\n", ("gate_recall.violent", "<= 1")),
])
def test_bad_training_config_file_is_one_line_naming_file_and_key(body, names, tmp_path, capsys):
    cfg = tmp_path / "train.toml"
    cfg.write_text(body)
    assert main(["train", str(tmp_path), "--config", str(cfg)]) == 2
    line = _one_line(capsys)
    assert str(cfg) in line
    for name in names:
        assert name in line, (name, line)


@pytest.mark.parametrize("body,names", [
    ("band_low = nan\n", ("band_low", "finite")),
    ("band_high = inf\n", ("band_high", "finite")),
    ('eval_splits = "val"\n', ("eval_splits", "expected a list")),
    ("good_target = 1e400\n", ("good_target", "expected int")),
])
def test_bad_policy_file(body, names, tmp_path, capsys):
    pol = tmp_path / "policy.toml"
    pol.write_text(body)
    assert main(["decide", str(tmp_path), "--policy", str(pol)]) == 2
    line = _one_line(capsys)
    assert str(pol) in line
    for name in names:
        assert name in line, (name, line)


def test_policy_from_a_device_or_a_huge_file_is_refused_at_once(tmp_path):
    """`decide --policy /dev/zero` used to read without end."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "core.cli", "decide", str(tmp_path), "--policy", "/dev/zero"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "/dev/zero" in r.stderr and "not a regular file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    big = tmp_path / "big.toml"
    big.write_bytes(b"# padding\n" * 200_000)  # 2 MB of comments: valid TOML, not a policy
    r = subprocess.run([sys.executable, "-m", "core.cli", "decide", str(tmp_path), "--policy", str(big)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "too large for policy file" in r.stderr
    assert time.monotonic() - t0 < 30


def _junk(rng: random.Random):
    return rng.choice([
        None, True, 0, -1, 1, 7, 2**70, -(2**70), 0.5, -0.5, 1e308, math.inf, -math.inf, math.nan,
        "", "x", "violent", "original", [], ["x"], ["original"], [1, 2], {}, {"a": 1}, {"a": "b"},
        {"a": {"b": 1}}, [{"a": 1}],
    ])


def test_any_value_either_fits_or_is_a_one_line_schema_error():
    """Seeded property over the three schemas: random junk in every key never gets further
    than the loader as anything but a NexaraError naming the key (no TypeError, no NaN inside)."""
    schemas = [(TrainConfig, TrainConfig().to_dict()), (DecisionPolicy, DecisionPolicy().to_dict()),
               (HostTable, {"remote_nexara": None, "env": {}})]
    for seed in range(300):
        rng = random.Random(seed)
        cls, defaults = rng.choice(schemas)
        data = {k: (_junk(rng) if rng.random() < 0.5 else v) for k, v in defaults.items()}
        if rng.random() < 0.1:
            data["no_such_key"] = 1
        try:
            obj = load(cls, data)
        except SchemaError as exc:
            assert exc.key and "\n" not in exc.message, f"seed {seed}"
            assert exc.unknown == (exc.key == "no_such_key"), f"seed {seed}: {exc.message}"
            continue
        except NexaraError as exc:  # a cross-field check (DecisionPolicy.__post_init__)
            assert "\n" not in exc.message, f"seed {seed}"
            continue
        for k in data:
            v = getattr(obj, k)
            for x in (v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]):
                assert not (isinstance(x, float) and not math.isfinite(x)), f"seed {seed}: {k}={v}"


def test_training_config_round_trips_and_knows_every_tta_view():
    from core.training.augment import TTA_VIEWS

    assert set(TTA_VIEW_NAMES) == set(TTA_VIEWS)
    cfg = TrainConfig()
    assert from_mapping(cfg.to_dict()) == cfg
    assert from_mapping({"learning_rate": 1}).learning_rate == 1.0  # an int where a float is wanted
    with pytest.raises(NexaraError, match="unknown config key 'dropout'"):
        from_mapping({"dropout": 0.1}, source="f.toml")
