"""Augmentation multipliers never make balance worse (issue 12), as properties over random counts.

Each property is checked over seeded random count sets (2 and 3 classes, tiny to
100k clips, ratios from 1:1 to 1:300) plus the cases the issue names; a failure
prints the seed and the counts. The "within tolerance when the range allows it"
property is checked against an independent brute force over every multiplier
combination the range holds.
"""

from __future__ import annotations

import itertools
import random

import pytest

from core.balance import imbalance, plan_multipliers, tolerance_ratio
from core.decision import DecisionPolicy, decide
from core.summary import Counts, Summary

TOL = DecisionPolicy().balance_tolerance
LIMIT = tolerance_ratio(TOL)
EPS = 1e-9


def _random_counts(rng: random.Random) -> dict[str, int]:
    k = rng.choice((2, 2, 2, 3))
    big = rng.choice((1, 5, 40, 1_000, 22_000, 100_000))
    counts = {}
    for i in range(k):
        ratio = rng.choice((1.0, 1.05, rng.uniform(1, 1.3), rng.uniform(1, 2), 2.0,
                            rng.uniform(2, 12), 10.0, rng.uniform(10, 300)))
        counts[f"c{i}"] = max(1, round(big / ratio))
    return counts


def _named_cases() -> list[dict[str, int]]:
    return [
        {"a": 1, "b": 1}, {"a": 100, "b": 105}, {"a": 20, "b": 19}, {"a": 100, "b": 200},
        {"a": 100, "b": 1_000}, {"a": 4_038, "b": 8_971}, {"a": 1, "b": 2}, {"a": 1, "b": 3},
        {"a": 2, "b": 3}, {"a": 1, "b": 10}, {"a": 45, "b": 55}, {"a": 44, "b": 56},
        {"a": 10, "b": 10, "c": 30}, {"a": 7, "b": 1, "c": 50},
    ]


def _cases(n: int = 400) -> list[tuple[int, dict[str, int], int, int]]:
    out = []
    for seed in range(n):
        rng = random.Random(seed)
        counts = _named_cases()[seed] if seed < len(_named_cases()) else _random_counts(rng)
        base = rng.choice((1, 2, 3, 3, 3, 4, 5))
        cap = rng.choice((base, 4, 8, 8, 12))
        out.append((seed, counts, base, cap))
    return out


def _brute_best(counts: dict[str, int], base: int, cap: int) -> float:
    """The most even effective balance any multipliers in the range reach (the oracle)."""
    majority = max(sorted(counts), key=lambda c: counts[c])
    cap = max(cap, base)
    best = float("inf")
    for j in sorted({max(1, base - 1), base}):
        others = [c for c in counts if c != majority]
        for ks in itertools.product(range(1, cap + 1), repeat=len(others)):
            eff = {majority: counts[majority] * j, **{c: counts[c] * k for c, k in zip(others, ks, strict=True)}}
            best = min(best, imbalance(eff))
    return best


@pytest.mark.parametrize("seed,counts,base,cap", _cases())
def test_multipliers_never_worsen_balance(seed, counts, base, cap):
    p = plan_multipliers(counts, base, cap, TOL)
    ctx = f"seed={seed} counts={counts} base={base} cap={cap} -> {p}"
    eff = {c: v * p.multipliers[c] for c, v in counts.items()}
    assert p.after == pytest.approx(imbalance(eff)), ctx
    # Never worse than before.
    assert p.after <= imbalance(counts) * (1 + EPS), ctx
    assert all(1 <= k <= max(cap, base) for k in p.multipliers.values()), ctx
    # Near balance, every class keeps the base multiplier.
    if imbalance(counts) <= LIMIT * (1 + EPS):
        assert set(p.multipliers.values()) == {max(1, base)}, ctx
    # Within tolerance whenever some choice in the range gets there.
    if _brute_best(counts, base, cap) <= LIMIT * (1 + EPS):
        assert p.after <= LIMIT * (1 + EPS), ctx


def _train(**valid: int) -> Summary:
    s = Summary()
    s.groups.update({("train", c): Counts(ok=v) for c, v in valid.items()})
    return s


@pytest.mark.parametrize("seed", range(60))
def test_weighted_loss_mass_never_worse_and_one_lever_by_default(seed):
    """Weights and multipliers together never double-correct unless the policy asks ("both")."""
    rng = random.Random(1000 + seed)
    counts = _random_counts(rng)
    d = decide(_train(**counts))
    rows = {r.cls: r for r in d.plan_rows()}
    mass = {c: rows[c].effective * d.class_weights[c] for c in counts}
    ctx = f"seed={1000 + seed} counts={counts} weights={d.class_weights} mults={d.class_multipliers}"
    assert imbalance(mass) <= imbalance(counts) * (1 + EPS), ctx
    # The multipliers carry it: a weight other than 1.0 only for a residual the cap left.
    eff = {c: rows[c].effective for c in counts}
    if imbalance(eff) <= LIMIT * (1 + EPS):
        assert set(d.class_weights.values()) == {1.0}, ctx
    # "weights": the multipliers are all the base, the weights majority/count.
    w = decide(_train(**counts), DecisionPolicy(rebalance="weights"))
    assert set(w.class_multipliers.values()) == {3}, ctx
    m = max(counts.values())
    assert w.class_weights == {c: round(m / v, 4) for c, v in counts.items()}, ctx


def test_seed_case_keeps_five_two_and_its_weights():
    d = decide(_train(violent=4_038, nonviolent=8_971))
    assert d.class_multipliers == {"violent": 5, "nonviolent": 2}
    rows = {r.cls: r for r in d.plan_rows()}
    assert (round(rows["violent"].weight, 2), rows["nonviolent"].weight) == (2.22, 1.0)
    # The default lets the multipliers carry the rebalancing: the weights stay neutral.
    assert d.class_weights == {"violent": 1.0, "nonviolent": 1.0}
    # The seed's Option B exactly as written, when asked for.
    both = decide(_train(violent=4_038, nonviolent=8_971), DecisionPolicy(rebalance="both"))
    assert both.class_multipliers == {"violent": 5, "nonviolent": 2}
    assert both.class_weights == {"violent": 2.2216, "nonviolent": 1.0}
    assert "weights_and_multipliers" in [f.code for f in both.findings]
    assert "weights_and_multipliers" not in [f.code for f in d.findings]


def test_demo_numbers_stay_balanced():
    """The demo after cleaning: 19 nonviolent vs 20 violent (49 % / 51 %) keeps 3× / 3×."""
    d = decide(_train(nonviolent=19, violent=20))
    assert d.class_multipliers == {"nonviolent": 3, "violent": 3}
    assert d.class_weights == {"nonviolent": 1.0, "violent": 1.0}
    rows = {r.cls: r for r in d.plan_rows()}
    assert (rows["nonviolent"].effective, rows["violent"].effective) == (57, 60)
    line = next(f.message for f in d.findings if f.code == "balance_plan")
    assert "nonviolent 19 (48.7 %) vs violent 20 (51.3 %) valid" in line
    assert "nonviolent 57 (48.7 %) vs violent 60 (51.3 %) effective" in line
    assert "within 50 % ± 5 points, so every class keeps 3× augmentation" in line
    assert line.endswith("and weight 1.0.")
