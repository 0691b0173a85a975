"""The decision matrix: the seed's own numbers, exact band edges, empty classes, TOML round trip."""

from __future__ import annotations

import json
import math

import pytest

from core.decision import (
    CLEAN,
    REBUILD,
    SALVAGE,
    Decision,
    DecisionPolicy,
    band_for,
    decide,
    interval,
    wilson,
)
from core.errors import NexaraError
from core.summary import Counts, Summary
from core.training.config import load_config
from core.training.config_writer import render_config, toml_string, write_config


def summary_of(groups: dict[tuple[str, str], Counts]) -> Summary:
    s = Summary()
    s.groups.update(groups)
    return s


def seed_summary(**extra: Counts) -> Summary:
    """The seed's train split: 10,995 / 10,850 expected, 4,038 / 8,971 valid."""
    g = {
        ("train", "violent"): Counts(ok=4_038, corrupt=6_957),
        ("train", "nonviolent"): Counts(ok=8_971, corrupt=1_879),
    }
    for k, c in extra.items():
        split, cls = k.split("__")
        g[(split, cls)] = c
    return summary_of(g)


def codes(d: Decision) -> list[str]:
    return [f.code for f in d.findings]


def test_seed_numbers_come_out():
    d = decide(seed_summary())
    rows = {r.cls: r for r in d.plan_rows()}
    v, nv = rows["violent"], rows["nonviolent"]
    assert d.basis == "train"
    assert (v.total, v.valid, v.lost) == (10_995, 4_038, 6_957)
    assert (nv.total, nv.valid, nv.lost) == (10_850, 8_971, 1_879)
    assert f"{v.rate * 100:.1f}" == "63.3" and f"{nv.rate * 100:.1f}" == "17.3"
    assert round(v.weight, 2) == 2.22 and nv.weight == 1.0
    # The multipliers carry the rebalancing by default; the weights stay neutral (issue 12).
    assert d.class_weights == {"violent": 1.0, "nonviolent": 1.0}
    assert d.rebalance == "multipliers"
    assert (v.multiplier, nv.multiplier) == (5, 2)
    assert d.class_multipliers == {"violent": 5, "nonviolent": 2}
    assert (v.effective, nv.effective) == (20_190, 17_942)
    # sklearn "balanced": n_samples / (n_classes * count)
    assert v.weight_balanced == pytest.approx(13_009 / (2 * 4_038))
    assert nv.weight_balanced == pytest.approx(13_009 / (2 * 8_971))
    # Class balance after cleaning: 31 % vs 69 %.
    assert round(v.share * 100) == 31 and round(nv.share * 100) == 69
    # Option A: back to 10,000 per class.
    assert (v.redownload, nv.redownload) == (5_962, 1_029)
    assert v.minimum == "below" and nv.minimum == "good"
    # 8,836 of 21,845 lost = 40.4 %: above 40 % by the numbers (the seed rounded it to 40).
    assert (d.lost, d.total) == (8_836, 21_845)
    assert d.band == REBUILD
    assert "near_band_edge" in codes(d)
    alarm = next(f for f in d.findings if f.code == "class_alarm")
    assert "train/violent" in alarm.message and "63.3 %" in alarm.message
    assert "CATASTROPHIC" in alarm.message
    imb = next(f for f in d.findings if f.code == "imbalance")
    assert "31 % violent" in imb.message and "69 % nonviolent" in imb.message
    assert any(f.code == "below_research_minimum" and "violent" in f.message for f in d.findings)
    # No val/test: nothing held out to measure the 90 % target.
    assert codes(d).count("eval_split_missing") == 2


def test_salvage_band_writes_the_seed_options():
    # With a modest val/test the overall rate falls into 20-40 %: the seed's "current situation".
    s = seed_summary(val__violent=Counts(ok=1_300, corrupt=100),
                     val__nonviolent=Counts(ok=1_300, corrupt=100),
                     test__violent=Counts(ok=1_300, corrupt=100),
                     test__nonviolent=Counts(ok=1_300, corrupt=100))
    d = decide(s)
    assert d.band == SALVAGE
    assert [b.key for b in d.bands if b.active] == [SALVAGE]
    assert [o.key for o in d.options] == ["A", "B"]
    a, b = d.options
    assert a.recommended and not b.recommended
    assert "10,000+" in a.steps[0] and "violent needs 5,962 more (has 4,038)" in a.steps[0]
    assert "Clean data always beats corrupted data" in a.why
    text_b = " ".join(b.steps)
    assert "4,038 violent + 8,971 nonviolent" in text_b
    assert "violent 5×" in text_b and "nonviolent 2×" in text_b and "violent=2.22" in text_b
    assert "Class weights: violent=1.00, nonviolent=1.00 — the multipliers carry" in text_b
    assert "90 %" in b.risk
    # The weights are still from the TRAIN split, not train+val+test.
    assert round(next(r for r in d.plan_rows() if r.cls == "violent").weight, 4) == 2.2216
    # 2,600 test clips measure 90 % to about ±1.2 points: no "too small" finding.
    assert "eval_too_small" not in codes(d)


@pytest.mark.parametrize(
    ("lost", "band"),
    [(199, CLEAN), (200, SALVAGE), (400, SALVAGE), (401, REBUILD)],
)
def test_band_edges_are_exact(lost: int, band: str):
    assert band_for(lost, 1_000, DecisionPolicy()) == band
    half = lost // 2
    s = summary_of({("train", "a"): Counts(ok=500 - half, corrupt=half),
                    ("train", "b"): Counts(ok=500 - (lost - half), corrupt=lost - half)})
    d = decide(s)
    assert d.band == band
    assert sum(b.active for b in d.bands) == 1


def test_band_edges_follow_configured_thresholds():
    p = DecisionPolicy(band_low=0.10, band_high=0.25)
    assert band_for(99, 1_000, p) == CLEAN
    assert band_for(100, 1_000, p) == SALVAGE
    assert band_for(250, 1_000, p) == SALVAGE
    assert band_for(251, 1_000, p) == REBUILD
    d = decide(summary_of({("train", "a"): Counts(ok=80, corrupt=20)}), p)
    assert d.bands[1].label == "10–25 %" and d.bands[1].active


def test_class_with_zero_valid_clips_gets_no_invented_weight():
    s = summary_of({("train", "violent"): Counts(corrupt=300),
                    ("train", "nonviolent"): Counts(ok=900, corrupt=10),
                    ("val", "violent"): Counts(ok=20)})
    d = decide(s)
    rows = {r.cls: r for r in d.plan_rows()}
    assert rows["violent"].valid == 0
    assert rows["violent"].weight is None and rows["violent"].multiplier is None
    assert rows["violent"].effective == 0 and rows["violent"].redownload == 10_000
    assert d.class_weights == {"nonviolent": 1.0}
    # One class left: nothing to balance against, so it keeps the base multiplier.
    assert d.class_multipliers == {"nonviolent": 3}
    empty = next(f for f in d.findings if f.code == "class_empty")
    assert "train/violent: 0 valid clips of 300" in empty.message
    assert "no class weight" in empty.message.lower()
    json.dumps(d.to_dict(), allow_nan=False)


def test_class_missing_from_train_and_everything_lost():
    d = decide(summary_of({("train", "a"): Counts(ok=10), ("val", "b"): Counts(ok=5)}))
    assert "class_missing" in codes(d)
    assert d.class_weights == {"a": 1.0}
    dead = decide(summary_of({("train", "a"): Counts(corrupt=3), ("train", "b"): Counts(corrupt=4)}))
    assert dead.majority is None and dead.class_weights == {} and dead.class_multipliers == {}
    assert dead.band == REBUILD and "No class has a valid clip left" in dead.headline
    nothing = decide(Summary())
    assert nothing.total == 0 and "no_clips" in codes(nothing)


def test_class_alarm_even_when_overall_is_low():
    s = summary_of({("train", "violent"): Counts(ok=50, corrupt=51),
                    ("train", "nonviolent"): Counts(ok=2_000, corrupt=10)})
    d = decide(s)
    assert d.band == CLEAN
    alarm = next(f for f in d.findings if f.code == "class_alarm")
    assert "even though the overall rate is low" in alarm.message
    assert [o.key for o in d.options] == ["clean", "A"]
    assert d.options[1].recommended and not d.options[0].recommended
    assert "re-download" in d.headline


def test_damaged_counts_as_kept_unless_asked():
    s = summary_of({("train", "a"): Counts(ok=70, damaged=20, corrupt=10),
                    ("train", "b"): Counts(ok=50)})
    kept = decide(s)
    lost = decide(s, DecisionPolicy(damaged_is_lost=True))
    assert kept.lost == 10 and kept.band == CLEAN
    assert lost.lost == 30 and lost.band == SALVAGE and lost.damaged_is_lost
    assert {r.cls: r.valid for r in lost.plan_rows()} == {"a": 70, "b": 50}


def test_multiplier_cap():
    s = summary_of({("train", "rare"): Counts(ok=100), ("train", "common"): Counts(ok=10_000)})
    d = decide(s, DecisionPolicy(max_multiplier=8))
    rare = next(r for r in d.plan_rows() if r.cls == "rare")
    assert rare.multiplier_uncapped == 200 and rare.multiplier == 8 and rare.effective == 800
    assert "multiplier_capped" in codes(d)
    # augmentation_multiplier 1 → the majority still keeps 1 view ("at least 1").
    d1 = decide(s, DecisionPolicy(augmentation_multiplier=1, max_multiplier=500))
    assert {r.cls: r.multiplier for r in d1.plan_rows()} == {"common": 1, "rare": 100}


def test_multiplier_exact_ratio_does_not_round_up():
    s = summary_of({("train", "a"): Counts(ok=500), ("train", "b"): Counts(ok=1_000)})
    assert decide(s).class_multipliers == {"a": 4, "b": 2}


def test_wilson_interval_and_eval_findings():
    lo, hi = wilson(0.9, 100)
    # Known Wilson 95 % interval for 90/100: 0.8256 - 0.9448.
    assert lo == pytest.approx(0.8256, abs=5e-4) and hi == pytest.approx(0.9448, abs=5e-4)
    iv = interval("test", None, 10_000, 0.9)
    assert iv.half_width == pytest.approx(1.96 * math.sqrt(0.09 / 10_000), rel=0.01)
    assert interval("test", None, 0, 0.9).half_width is None
    small = seed_summary(val__violent=Counts(ok=1_000), val__nonviolent=Counts(ok=1_000),
                         test__violent=Counts(ok=60), test__nonviolent=Counts(ok=40))
    d = decide(small)
    too_small = [f for f in d.findings if f.code == "eval_too_small"]
    assert len(too_small) == 1 and too_small[0].message.startswith("test: 100 valid clips")
    assert "±6.0 points" in too_small[0].message and "385" in too_small[0].message
    test_iv = next(i for i in d.intervals if i.split == "test" and i.cls is None)
    assert test_iv.method == "wilson" and test_iv.n == 100
    empty = decide(seed_summary(test__violent=Counts(corrupt=5)))
    assert "eval_empty" in codes(empty)


def test_decision_round_trips_through_json():
    d = decide(seed_summary(val__violent=Counts(ok=30)))
    back = Decision.from_dict(json.loads(json.dumps(d.to_dict(), allow_nan=False)))
    assert back.to_dict() == d.to_dict()


def test_policy_from_dict_names_bad_keys():
    with pytest.raises(NexaraError, match="unknown key 'band_lo'"):
        DecisionPolicy.from_dict({"band_lo": 0.2})
    with pytest.raises(NexaraError, match="'research_minimum': expected int"):
        DecisionPolicy.from_dict({"research_minimum": "5000"})
    with pytest.raises(NexaraError, match="'band_high'"):
        DecisionPolicy.from_dict({"band_low": 0.5, "band_high": 0.3})
    with pytest.raises(NexaraError, match="'band_low'"):
        DecisionPolicy.from_dict({"band_low": 0, "band_high": 0.3})
    assert DecisionPolicy.from_dict({"target_accuracy": 1 - 0.05}).target_accuracy == 0.95


def test_written_toml_round_trips_into_the_loader(tmp_path):
    d = decide(seed_summary())
    path = write_config(tmp_path / "train.toml", d, root="/data/organized_dataset")
    cfg = load_config(path)
    assert cfg.class_weights == {"violent": 1.0, "nonviolent": 1.0}
    assert cfg.class_multipliers == {"violent": 5, "nonviolent": 2}
    assert (cfg.dropout_rate, cfg.augmentation_multiplier, cfg.focal_gamma) == (0.32, 3, 3.0)
    assert (cfg.batch_size, cfg.epochs, cfg.early_stopping_patience) == (96, 150, 30)
    assert cfg.positive_class == "violent" and cfg.include_damaged is True
    text = path.read_text()
    assert "dropout_rate = 0.32  # seed optimal config" in text
    assert "violent = 1.0  # neutral; majority/count would be 2.2216" in text
    both = write_config(tmp_path / "both.toml", decide(seed_summary(), DecisionPolicy(rebalance="both")))
    assert load_config(both).class_weights == {"violent": 2.2216, "nonviolent": 1.0}
    assert "violent = 2.2216  # 8,971 / 4,038 = 2.2216" in both.read_text()
    assert "violent = 5  # 4,038 valid -> 20,190 effective" in text
    # A hand-edited file is never replaced silently.
    with pytest.raises(NexaraError, match="already exists"):
        write_config(path, d)
    write_config(path, decide(seed_summary()), force=True)


def test_toml_escaping_of_odd_class_names(tmp_path):
    odd = 'fi"ght\\ ünï\tcode'
    d = decide(summary_of({("train", odd): Counts(ok=10), ("train", "calm"): Counts(ok=30)}))
    path = write_config(tmp_path / "t.toml", d, root='/data/with "quotes"\nand newline')
    cfg = load_config(path)
    assert cfg.class_weights == {odd: 1.0, "calm": 1.0}
    assert cfg.class_multipliers == {odd: 6, "calm": 2}
    assert cfg.positive_class == odd  # 'violent' is not a class here: the minority is
    assert toml_string("a\u0001") == '"a\\u0001"'


def test_render_config_with_no_valid_class_still_loads(tmp_path):
    d = decide(summary_of({("train", "a"): Counts(corrupt=3)}))
    text = render_config(d)
    assert "no weight invented" in text
    p = tmp_path / "x.toml"
    p.write_text(text)
    assert load_config(p).class_weights == {}
