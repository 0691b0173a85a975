"""Per-class augmentation multipliers that never make balance worse.

The seed's rule of thumb for Option B — the minority class gets more augmented
views (violent 5×), the majority fewer (non-violent 2×) — is right for a badly
imbalanced set (31 % / 69 %) and wrong near balance: rounding the minority's
multiplier *up* against a majority cut to `base − 1` turned a 49 % / 51 %
dataset into 59 % / 41 %. So the rule here is stated as properties, and the
arithmetic is chosen to meet them:

1. Near balance (every class within `tolerance` of an even share — for two
   classes, the minority holding at least 45 %), every class keeps the config's
   base multiplier: there is nothing to correct.
2. Otherwise the seed's convention is tried first (majority `base − 1`, each
   other class the fewest views that reach the majority's effective count), and
   kept when it lands within `tolerance` of even: that reproduces the seed's
   5× / 2× for 4,038 vs 8,971.
3. When it does not, the multipliers closest to even that the range allows
   (majority `base − 1` or `base`, others 1 … `max_multiplier`) are chosen — an
   exact search, small because it is per class, not per clip.
4. Never worse than before: if no choice in the range improves on the raw
   counts' balance, every class keeps the base multiplier (balance unchanged).

"Balance" is the ratio of the largest to the smallest effective count (valid ×
multiplier); for two classes, a ratio of r is a minority share of 1 / (1 + r),
and `tolerance` = 0.05 (shares within 50 % ± 5 points) is a ratio of 0.55/0.45.
Pure and O(classes × max_multiplier); no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Which of the two levers carries the rebalancing (see DecisionPolicy.rebalance).
MULTIPLIERS, WEIGHTS, BOTH = "multipliers", "weights", "both"
REBALANCE_MODES = (MULTIPLIERS, WEIGHTS, BOTH)


def tolerance_ratio(tolerance: float) -> float:
    """The largest/smallest effective-count ratio that `tolerance` (share points) allows."""
    return (0.5 + tolerance) / (0.5 - tolerance)


def imbalance(counts: dict[str, int] | dict[str, float]) -> float:
    """Largest / smallest of the (positive) counts; 1.0 for fewer than two classes."""
    vals = [v for v in counts.values() if v > 0]
    if len(vals) < 2:
        return 1.0
    return max(vals) / min(vals)


@dataclass(frozen=True)
class MultiplierPlan:
    multipliers: dict[str, int]
    uncapped: dict[str, int]  # what the seed's convention would have asked for, before the cap
    rule: str  # "near_balance" | "seed" | "closest" | "unchanged" | "single_class"
    before: float  # imbalance of the valid counts
    after: float  # imbalance of the effective counts
    capped: bool  # the cap kept the seed's convention from reaching the majority


def plan_multipliers(valid: dict[str, int], base: int, max_multiplier: int,
                     tolerance: float) -> MultiplierPlan:
    """Multipliers for the classes with valid clips (classes with 0 are left out)."""
    present = {c: v for c, v in valid.items() if v > 0}
    base = max(1, base)
    cap = max(max_multiplier, base)
    before = imbalance(present)
    if len(present) < 2:
        mults = {c: base for c in present}
        return MultiplierPlan(mults, dict(mults), "single_class", before, before, False)
    limit = tolerance_ratio(tolerance)
    if before <= limit * (1 + 1e-12):
        mults = {c: base for c in present}
        return MultiplierPlan(mults, dict(mults), "near_balance", before, before, False)

    majority = max(sorted(present), key=lambda c: present[c])
    m = present[majority]
    low = max(1, base - 1)
    # The seed's convention; integer ceil(low × m / v) so exact ratios do not round up.
    uncapped = {c: low if c == majority else -(-low * m // v) for c, v in present.items()}
    seed = {c: min(k, cap) for c, k in uncapped.items()}
    capped = seed != uncapped
    seed_after = _effective_imbalance(present, seed)
    if seed_after <= limit * (1 + 1e-12) and seed_after <= before:
        return MultiplierPlan(seed, uncapped, "seed", before, seed_after, capped)

    best: dict[str, int] | None = None
    best_after = math.inf
    for j in sorted({low, base}):
        choice, after = _closest(present, majority, j, cap)
        if after < best_after - 1e-12:
            best, best_after = choice, after
    # The seed's plan, when it is at least as good (it may be capped), is the one users expect.
    if seed_after <= best_after + 1e-12:
        best, best_after = seed, seed_after
    if best is None or best_after > before:
        mults = {c: base for c in present}
        return MultiplierPlan(mults, uncapped, "unchanged", before, before, capped)
    return MultiplierPlan(best, uncapped, "closest", before, best_after, capped)


def _effective_imbalance(valid: dict[str, int], mults: dict[str, int]) -> float:
    return imbalance({c: v * mults[c] for c, v in valid.items()})


def _closest(valid: dict[str, int], majority: str, j: int, cap: int) -> tuple[dict[str, int], float]:
    """With the majority at j views, the multipliers (1..cap) whose effective counts span the
    smallest ratio: one candidate per (class, multiplier), the narrowest window in log space
    that holds one candidate of every class (the classic smallest-range-covering-k-lists).
    """
    cands: list[tuple[float, str, int]] = []
    for c, v in valid.items():
        ks = [j] if c == majority else range(1, cap + 1)
        cands.extend((math.log(v * k), c, k) for k in ks)
    cands.sort()
    need = len(valid)
    have: dict[str, int] = {}
    best: tuple[float, int, int] | None = None  # (width, lo index, hi index)
    lo = 0
    for hi, (_, c, _) in enumerate(cands):
        have[c] = have.get(c, 0) + 1
        while len(have) == need:
            width = cands[hi][0] - cands[lo][0]
            if best is None or width < best[0] - 1e-12:
                best = (width, lo, hi)
            lc = cands[lo][1]
            have[lc] -= 1
            if not have[lc]:
                del have[lc]
            lo += 1
    assert best is not None  # every class has at least one candidate
    _, lo_i, hi_i = best
    choice: dict[str, int] = {}
    # Inside the window, each class takes its candidate nearest the majority's count.
    target = math.log(valid[majority] * j)
    for logv, c, k in cands[lo_i:hi_i + 1]:
        if c not in choice or abs(logv - target) < abs(math.log(valid[c] * choice[c]) - target):
            choice[c] = k
    return choice, _effective_imbalance(valid, choice)
