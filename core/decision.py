"""The decision matrix: from a scan's counts to what to do next, with the reasoning.

The user's write-up decides by hand after the scan: overall corruption below
20 % → clean and proceed; 20–40 % → Option A (re-download the starved class) or
Option B (train on what is left with per-class augmentation and class weights);
above 40 % → rebuild. It then hand-computes class weights and augmentation
multipliers. This module does the same arithmetic from measured counts so the
numbers are reproducible and flow straight into the training config.

Everything here is pure and O(groups): it reads a `core.summary.Summary` (a few
split × class counters), never the store or the disk, so it is instant at any
dataset size and trivially testable.

Conventions (stated once, used everywhere):
- `corrupt` is lost; `damaged` is kept unless `damaged_is_lost` (it still
  decodes, with some concealed frames).
- The band uses the overall rate over every split, as the seed's scan prints
  `OVERALL`. Band edges are exact (rational arithmetic, no float surprises):
  rate < low → clean; low ≤ rate ≤ high → salvage; rate > high → rebuild.
- Class weights, multipliers, effective counts and re-download needs are
  computed from the TRAIN split (the data the model learns from); when there is
  no `train` split, from all clips together.
- The accuracy interval for val/test is the 95 % Wilson score interval at the
  target accuracy: it stays inside [0, 1] and is honest at small n, where the
  normal approximation is not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any

from core.balance import (
    BOTH,
    MULTIPLIERS,
    REBALANCE_MODES,
    WEIGHTS,
    plan_multipliers,
    tolerance_ratio,
)
from core.dataset import KNOWN_SPLITS
from core.errors import NexaraError
from core.summary import Counts, Summary

CLEAN, SALVAGE, REBUILD = "clean", "salvage", "rebuild"
BANDS = (CLEAN, SALVAGE, REBUILD)
Z95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass
class DecisionPolicy:
    """Every threshold the matrix uses; defaults are the seed's."""

    band_low: float = 0.20  # overall corruption below this → clean and proceed
    band_high: float = 0.40  # above this → rebuild; in between → Option A / Option B
    class_alarm: float = 0.40  # any class losing more than this is catastrophic
    minority_share_alarm: float = 0.40  # a class under this share of valid clips is a severe imbalance
    research_minimum: int = 5_000  # "research standard: 5,000+ per class"
    good_minimum: int = 8_000  # "minimum 8,000-10,000 for good learning" (lower end)
    good_target: int = 10_000  # upper end of that range
    redownload_target: int = 10_000  # Option A: "get violent videos back to 10,000+"
    augmentation_multiplier: int = 3  # the seed's optimal config (views per clip, every class)
    max_multiplier: int = 8  # cap on a minority class's multiplier
    # Effective shares within 50 % ± this are balanced: near balance, every class keeps
    # augmentation_multiplier; the plan must land within it where the multipliers allow.
    balance_tolerance: float = 0.05
    # Which lever carries the rebalancing: "multipliers" (default: the class weights stay
    # 1.0 unless the cap leaves a residual), "weights" (every class gets
    # augmentation_multiplier; weights majority/count), or "both" (the seed's Option B as
    # written, which double-corrects; a finding says by how much).
    rebalance: str = "multipliers"
    damaged_is_lost: bool = False
    target_accuracy: float = 0.90  # the seed's deployment target
    max_ci_half_width: float = 0.03  # wider than ±3 points cannot tell 90 % from 87 %
    positive_class: str = "violent"
    train_split: str = "train"
    eval_splits: tuple[str, ...] = ("val", "test")

    def __post_init__(self) -> None:
        checks = [
            ("band_low", 0.0 < self.band_low < 1.0, "must be between 0 and 1"),
            ("band_high", self.band_low <= self.band_high < 1.0, "must be between band_low and 1"),
            ("class_alarm", 0.0 < self.class_alarm <= 1.0, "must be between 0 and 1"),
            ("minority_share_alarm", 0.0 < self.minority_share_alarm <= 0.5, "must be in (0, 0.5]"),
            ("research_minimum", self.research_minimum >= 0, "must be >= 0"),
            ("good_minimum", self.good_minimum >= self.research_minimum, "must be >= research_minimum"),
            ("good_target", self.good_target >= self.good_minimum, "must be >= good_minimum"),
            ("redownload_target", self.redownload_target >= 0, "must be >= 0"),
            ("augmentation_multiplier", self.augmentation_multiplier >= 1, "must be >= 1"),
            ("max_multiplier", self.max_multiplier >= 1, "must be >= 1"),
            ("balance_tolerance", 0.0 <= self.balance_tolerance < 0.5, "must be in [0, 0.5)"),
            ("rebalance", self.rebalance in REBALANCE_MODES,
             f"must be one of {', '.join(REBALANCE_MODES)}"),
            ("target_accuracy", 0.0 < self.target_accuracy < 1.0, "must be between 0 and 1"),
            ("max_ci_half_width", 0.0 < self.max_ci_half_width < 1.0, "must be between 0 and 1"),
        ]
        for key, ok, why in checks:
            if not ok:
                raise NexaraError(f"decision policy '{key}': {why} (got {getattr(self, key)!r})")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["eval_splits"] = list(self.eval_splits)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecisionPolicy:
        """The policy from a table (a policy file, flags): the fields' types are its schema (core.schema)."""
        from core.schema import SchemaError, load

        try:
            return load(cls, d)
        except SchemaError as exc:
            if exc.unknown:
                raise NexaraError(f"decision policy: unknown key '{exc.key}'") from None
            raise NexaraError(f"decision policy '{exc.key}': {exc.problem}") from None


_DEFAULT_POLICY = DecisionPolicy()


@dataclass
class Row:
    """One split × class line of the matrix. Plan fields are set on the basis split only."""

    split: str
    cls: str
    total: int
    valid: int
    lost: int
    rate: float  # lost / total (0.0 when empty)
    damaged: int
    share: float | None  # share of the split's valid clips
    minimum: str  # "good" (>= good_minimum) | "research" (>= research_minimum) | "below" | "none"
    weight: float | None = None  # seed convention: majority 1.0, others majority/count
    weight_balanced: float | None = None  # sklearn "balanced": n / (n_classes * count)
    weight_applied: float | None = None  # what the training config gets (see DecisionPolicy.rebalance)
    multiplier: int | None = None  # augmentation views per clip, as the training config gets it
    multiplier_uncapped: int | None = None  # the seed's convention before max_multiplier
    effective: int | None = None  # valid × multiplier
    redownload: int | None = None  # Option A: target − valid, never below 0
    # Distinct footage among the valid clips (copies of one footage in this split/class count
    # once; core.dupes). None: no fingerprints; the plan then uses `valid`.
    distinct: int | None = None

    @property
    def footage(self) -> int:
        """What the plan counts: distinct footage where known, else valid clips."""
        return self.valid if self.distinct is None else self.distinct


@dataclass
class Interval:
    """The 95 % interval on accuracy that n clips allow at the target (Wilson score)."""

    split: str
    cls: str | None  # None: the whole split
    n: int
    target: float
    low: float | None
    high: float | None
    half_width: float | None  # None when n == 0
    method: str = "wilson"


@dataclass
class Finding:
    severity: str  # "critical" | "warning" | "info"
    code: str
    message: str


@dataclass
class Option:
    key: str  # "A" | "B" | "clean" | "rebuild"
    title: str
    steps: list[str]
    why: str
    risk: str
    recommended: bool = False


@dataclass
class Band:
    key: str
    label: str  # "< 20 %"
    title: str
    active: bool


@dataclass
class Decision:
    policy: dict[str, Any]
    damaged_is_lost: bool
    basis: str  # the split the plan is computed from ("train", or "all splits")
    total: int
    lost: int
    valid: int
    rate: float
    band: str
    bands: list[Band]
    headline: str
    options: list[Option]
    rows: list[Row]
    splits: dict[str, dict[str, Any]]  # split -> {total, valid, lost, rate}
    classes: dict[str, dict[str, Any]]  # class -> {total, valid, lost, rate} over every split
    majority: str | None
    class_weights: dict[str, float]  # for the training config (Row.weight_applied)
    class_multipliers: dict[str, int]  # for the training config (Row.multiplier)
    intervals: list[Interval]
    findings: list[Finding] = field(default_factory=list)
    rebalance: str = MULTIPLIERS  # which lever carries the rebalancing (DecisionPolicy.rebalance)
    balance: dict[str, Any] = field(default_factory=dict)  # before/after shares; see _balance_finding
    # class -> {lost, with_source, redownloaded, back}: plan A's progress, from the store
    # (core.commands.decide.add_plan_a); empty from the pure decide().
    plan_a: dict[str, dict[str, int]] = field(default_factory=dict)

    def plan_rows(self) -> list[Row]:
        return [r for r in self.rows if r.split == self.basis]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; rows and intervals say "class" (as Summary.to_dict does), not "cls"."""
        d = asdict(self)
        for key in ("rows", "intervals"):
            d[key] = [{("class" if k == "cls" else k): v for k, v in x.items()} for x in d[key]]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        def unclass(x: dict[str, Any]) -> dict[str, Any]:
            return {("cls" if k == "class" else k): v for k, v in x.items()}

        d = dict(d)
        d["bands"] = [Band(**b) for b in d["bands"]]
        d["options"] = [Option(**o) for o in d["options"]]
        d["rows"] = [Row(**unclass(r)) for r in d["rows"]]
        d["intervals"] = [Interval(**unclass(i)) for i in d["intervals"]]
        d["findings"] = [Finding(**f) for f in d.get("findings", [])]
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# -- arithmetic ---------------------------------------------------------------


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f} %"


def band_for(lost: int, total: int, policy: DecisionPolicy) -> str:
    """The band, compared exactly: 20 % of 1,000 is salvage, 19.9 % is clean, 40.1 % rebuild."""
    if total <= 0:
        return CLEAN
    rate = Fraction(lost, total)
    if rate < Fraction(str(policy.band_low)):
        return CLEAN
    if rate <= Fraction(str(policy.band_high)):
        return SALVAGE
    return REBUILD


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion p observed on n trials."""
    if n <= 0:
        raise ValueError("n must be positive")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def interval(split: str, cls: str | None, n: int, target: float) -> Interval:
    if n <= 0:
        return Interval(split, cls, 0, target, None, None, None)
    lo, hi = wilson(target, n)
    return Interval(split, cls, n, target, lo, hi, (hi - lo) / 2)


def clips_for_half_width(target: float, half_width: float, z: float = Z95) -> int:
    """Clips needed for a normal-approximation half-width (a planning figure)."""
    return math.ceil(z * z * target * (1 - target) / (half_width * half_width))


def minimum_level(valid: int, policy: DecisionPolicy) -> str:
    if valid >= policy.good_minimum:
        return "good"
    if valid >= policy.research_minimum:
        return "research"
    return "below" if valid > 0 else "none"


def _split_key(s: str) -> tuple[int, str]:
    return (KNOWN_SPLITS.index(s) if s in KNOWN_SPLITS else len(KNOWN_SPLITS), s)


def _agg(c: Counts, dl: bool) -> dict[str, Any]:
    return {"total": c.total, "valid": c.valid(dl), "lost": c.lost(dl), "rate": c.rate(dl),
            "not_checked": c.not_checked}


# -- the matrix -----------------------------------------------------------------


def decide(summary: Summary, policy: DecisionPolicy | None = None,
           footage: Footage | None = None) -> Decision:
    """The whole matrix from split × class counts. Pure; O(number of groups).

    `footage` (from `core.dupes`): redundant copies per split × class and the
    duplicates findings; the plan then counts distinct footage (see Row.footage).
    """
    policy = policy or DecisionPolicy()
    dl = policy.damaged_is_lost
    overall = summary.overall
    splits = sorted({s for s, _ in summary.groups}, key=_split_key)
    classes = sorted({c for _, c in summary.groups})
    findings: list[Finding] = []

    if policy.train_split in splits:
        basis = policy.train_split
        basis_counts = summary.by_class(basis)
    else:
        basis = "all splits"
        basis_counts = summary.by_class(None)
        if splits:
            findings.append(Finding(
                "warning", "no_train_split",
                f"No '{policy.train_split}' split found (splits: {', '.join(splits)}); weights, "
                "multipliers and re-download needs are computed from all clips together.",
            ))

    # Per split × class rows.
    rows: list[Row] = []
    for s in splits:
        by_cls = summary.by_class(s)
        split_valid = sum(c.valid(dl) for c in by_cls.values())
        for cls in classes:
            c = by_cls.get(cls, Counts())
            if c.total == 0 and cls not in by_cls:
                continue
            rows.append(_row(s, cls, c, split_valid, policy))
    if basis == "all splits":
        split_valid = sum(c.valid(dl) for c in basis_counts.values())
        rows.extend(_row(basis, cls, basis_counts.get(cls, Counts()), split_valid, policy)
                    for cls in classes)
    # The plan rows: every class known anywhere appears on the basis split, even with 0 clips.
    plan = {r.cls: r for r in rows if r.split == basis}
    for cls in classes:
        if cls not in plan:
            r = _row(basis, cls, Counts(), 0, policy)
            rows.append(r)
            plan[cls] = r
    if footage is not None:
        _apply_footage(rows, basis, footage)
    weights, multipliers, majority, rule = _plan(plan, policy, findings)

    total, lost = overall.total, overall.lost(dl)
    rate = overall.rate(dl)
    band = band_for(lost, total, policy)
    bands = [
        Band(CLEAN, f"< {policy.band_low * 100:g} %", "Clean and proceed", band == CLEAN),
        Band(SALVAGE, f"{policy.band_low * 100:g}–{policy.band_high * 100:g} %",
             "Option A: re-download · Option B: augmentation + class weights", band == SALVAGE),
        Band(REBUILD, f"> {policy.band_high * 100:g} %", "Rebuild the dataset", band == REBUILD),
    ]

    if footage is not None:  # leakage and label conflicts first: they void the held-out numbers
        findings[:0] = [Finding(*f) for f in footage.findings]
    if total == 0:
        findings.insert(0, Finding("critical", "no_clips",
                                   "The scan counted no clips: there is nothing to decide on."))
    _edge_findings(rate, total, policy, findings)
    _class_findings(summary, plan, basis, classes, policy, findings)
    intervals = _eval_checks(summary, splits, classes, policy, findings)
    if weights and multipliers and policy.rebalance == BOTH:
        _double_count_finding(plan, majority, findings)
    balance = _balance_summary(plan, policy, rule)
    if balance:
        # Right after the "after cleaning" shares, which it answers.
        at = next((i + 1 for i, f in enumerate(findings) if f.code in ("balance", "imbalance")),
                  len(findings))
        findings.insert(at, _balance_finding(balance, basis))

    headline, options = _recommend(band, rate, lost, total, plan, majority, policy, findings)
    return Decision(
        policy=policy.to_dict(), damaged_is_lost=dl, basis=basis,
        total=total, lost=lost, valid=total - lost, rate=rate,
        band=band, bands=bands, headline=headline, options=options,
        rows=rows,
        splits={s: _agg(c, dl) for s, c in sorted(summary.by_split().items(), key=lambda kv: _split_key(kv[0]))},
        classes={c: _agg(cnt, dl) for c, cnt in sorted(summary.by_class(None).items())},
        majority=majority, class_weights=weights, class_multipliers=multipliers,
        intervals=intervals, findings=findings, rebalance=policy.rebalance, balance=balance,
    )


@dataclass
class Footage:
    """What the duplicates analysis adds to the matrix (built by core.dupes.footage_for_decision)."""

    redundant: dict[tuple[str, str], int]  # (split, class) → copies beyond the first there
    redundant_all: dict[str, int]  # class → copies beyond the first over every split
    findings: list[tuple[str, str, str]]  # (severity, code, message)


def _apply_footage(rows: list[Row], basis: str, footage: Footage) -> None:
    """Distinct footage per row: valid clips less the redundant copies there (never below 0)."""
    for r in rows:
        extra = (footage.redundant_all.get(r.cls, 0) if r.split == "all splits"
                 else footage.redundant.get((r.split, r.cls), 0))
        r.distinct = max(0, r.valid - extra)


def _row(split: str, cls: str, c: Counts, split_valid: int, policy: DecisionPolicy) -> Row:
    dl = policy.damaged_is_lost
    valid = c.valid(dl)
    return Row(
        split=split, cls=cls, total=c.total, valid=valid, lost=c.lost(dl), rate=c.rate(dl),
        damaged=c.damaged, share=(valid / split_valid) if split_valid else None,
        minimum=minimum_level(valid, policy),
    )


def _plan(plan: dict[str, Row], policy: DecisionPolicy,
          findings: list[Finding]) -> tuple[dict[str, float], dict[str, int], str | None, str]:
    """Weights, multipliers, effective counts, re-download needs, and the multiplier rule used.

    One lever carries the rebalancing (`policy.rebalance`), so the two never
    double-correct by default: with "multipliers" the augmentation evens out the
    effective counts — every batch then sees the classes in about equal numbers,
    which suits batch statistics and the focal loss better than a minority weighted
    2× — and the weights stay 1.0, except for what a capped multiplier could not
    reach (the residual). With "weights" every class keeps the base multiplier and
    the weights are majority/count. "both" is the seed's Option B as written.
    """
    for r in plan.values():
        r.redownload = max(0, policy.redownload_target - r.footage)
    present = {cls: r for cls, r in plan.items() if r.footage > 0}
    if not present:
        for r in plan.values():
            r.effective = 0
        return {}, {}, None, ""
    # Majority: most valid clips; ties broken by name so the result is stable.
    majority = max(sorted(present), key=lambda c: present[c].footage)
    m = present[majority].footage
    n_samples = sum(r.footage for r in present.values())
    n_classes = len(present)
    base = policy.augmentation_multiplier
    mp = plan_multipliers({c: r.footage for c, r in present.items()}, base,
                          policy.max_multiplier, policy.balance_tolerance)
    use_plan = policy.rebalance in (MULTIPLIERS, BOTH)
    for cls, r in plan.items():
        if r.footage == 0:
            r.effective = 0
            continue
        r.weight = m / r.footage
        r.weight_balanced = n_samples / (n_classes * r.footage)
        r.multiplier_uncapped = mp.uncapped[cls]
        r.multiplier = mp.multipliers[cls] if use_plan else base
        r.effective = r.footage * r.multiplier
    top = max(r.effective or 0 for r in present.values())
    residual = use_plan and mp.after > tolerance_ratio(policy.balance_tolerance) * (1 + 1e-12)
    for r in present.values():
        if policy.rebalance == MULTIPLIERS:
            r.weight_applied = round(top / r.effective, 4) if residual and r.effective else 1.0
        else:  # WEIGHTS or BOTH: the seed convention
            r.weight_applied = round(r.weight or 1.0, 4)
    weights = {cls: r.weight_applied for cls, r in plan.items() if r.weight_applied is not None}
    multipliers = {cls: r.multiplier for cls, r in plan.items() if r.multiplier is not None}
    if use_plan and mp.capped:
        for cls, r in present.items():
            if r.multiplier is not None and r.multiplier < mp.uncapped[cls]:
                findings.append(Finding(
                    "warning", "multiplier_capped",
                    f"{r.split}/{cls}: matching {majority} would take {mp.uncapped[cls]}× "
                    f"augmentation; capped at {r.multiplier}× (max_multiplier), so {cls} stays "
                    f"at {r.effective:,} effective clips vs {present[majority].effective:,} for "
                    f"{majority}; "
                    + ("the class weight carries the rest "
                       f"({r.weight_applied:.2f})." if policy.rebalance == MULTIPLIERS and residual
                       else "the class weight has to carry the rest."),
                ))
    return weights, multipliers, majority, mp.rule if use_plan else "base"


def _balance_summary(plan: dict[str, Row], policy: DecisionPolicy, rule: str) -> dict[str, Any]:
    """Shares of the valid and the effective counts (and of the weighted mass), per class."""
    present = [r for r in plan.values() if r.footage > 0 and r.effective]
    if len(present) < 2:
        return {}
    n_valid = sum(r.footage for r in present)
    n_eff = sum(r.effective or 0 for r in present)
    mass = {r.cls: (r.effective or 0) * (r.weight_applied or 1.0) for r in present}
    n_mass = sum(mass.values())
    return {
        "rebalance": policy.rebalance,
        "rule": rule,
        "tolerance": policy.balance_tolerance,
        "classes": {
            r.cls: {
                "valid": r.footage, "share_before": r.footage / n_valid,
                "multiplier": r.multiplier, "effective": r.effective,
                "share_after": (r.effective or 0) / n_eff,
                "weight": r.weight_applied, "share_weighted": mass[r.cls] / n_mass,
            }
            for r in sorted(present, key=lambda r: r.cls)
        },
    }


def _balance_finding(balance: dict[str, Any], basis: str) -> Finding:
    """The plan's effect in one sentence: the counts before and after, so a user can check it."""
    cls = balance["classes"]
    before = " vs ".join(f"{c} {v['valid']:,} ({pct(v['share_before'])})" for c, v in cls.items())
    after = " vs ".join(f"{c} {v['effective']:,} ({pct(v['share_after'])})" for c, v in cls.items())
    mults = " / ".join(f"{v['multiplier']}×" for v in cls.values())
    weights = " / ".join(f"{v['weight']:.2f}" for v in cls.values())
    mode = balance["rebalance"]
    if balance["rule"] == "near_balance":
        tol = balance["tolerance"] * 100
        return Finding(
            "info", "balance_plan",
            f"Balance ({basis}): {before} valid is within 50 % ± {tol:g} points, so every class "
            f"keeps {next(iter(cls.values()))['multiplier']}× augmentation ({after} effective)"
            + (" and weight 1.0." if all(v["weight"] == 1.0 for v in cls.values())
               else f"; class weights {weights} ({mode})."),
        )
    if mode == MULTIPLIERS:
        lever = ("the multipliers carry the rebalancing; class weights "
                 + (f"{weights} (only the residual the capped multipliers could not reach)"
                    if any(v["weight"] != 1.0 for v in cls.values()) else "stay 1.0")
                 + ' (set rebalance = "weights" or "both" in --policy to change)')
    elif mode == WEIGHTS:
        lever = (f"the class weights {weights} carry the rebalancing; every class keeps "
                 f"{mults.split(' / ')[0]} augmentation")
    else:
        lever = f"both levers: multipliers {mults} and class weights {weights}"
    weighted = ""
    if any(v["weight"] != 1.0 for v in cls.values()):
        weighted = "; weighted loss mass " + " vs ".join(
            f"{c} {pct(v['share_weighted'])}" for c, v in cls.items())
    return Finding(
        "info", "balance_plan",
        f"Balance ({basis}): {before} valid; after {mults} augmentation: {after} effective"
        f"{weighted} — {lever}.",
    )


def _edge_findings(rate: float, total: int, policy: DecisionPolicy, findings: list[Finding]) -> None:
    if total == 0:
        return
    for edge in (policy.band_low, policy.band_high):
        if abs(rate - edge) <= 0.01:
            side = "above" if rate > edge else "below" if rate < edge else "exactly at"
            findings.append(Finding(
                "info", "near_band_edge",
                f"Overall loss {pct(rate)} is {abs(rate - edge) * 100:.1f} points {side} the "
                f"{edge * 100:g} % edge: a few hundred clips either way change the band, so read "
                "both neighbouring recommendations.",
            ))


def _class_findings(summary: Summary, plan: dict[str, Row], basis: str, classes: list[str],
                    policy: DecisionPolicy, findings: list[Finding]) -> None:
    dl = policy.damaged_is_lost
    overall_rate = summary.overall.rate(dl)
    # Class alarm: per split × class, so a starved training class is named where it hurts.
    for (s, cls) in summary.ordered_keys():
        c = summary.groups[(s, cls)]
        if c.checked and Fraction(c.lost(dl), c.checked) > Fraction(str(policy.class_alarm)):
            low = " even though the overall rate is low" if overall_rate < policy.band_low else ""
            findings.append(Finding(
                "critical", "class_alarm",
                f"{s}/{cls}: {c.lost(dl):,} of {c.checked:,} clips lost ({pct(c.rate(dl))}) — "
                f"CATASTROPHIC{low}: more than {policy.class_alarm * 100:g} % of this class is gone.",
            ))
    for cls in classes:
        r = plan[cls]
        if r.total > 0 and r.valid == 0:
            findings.append(Finding(
                "critical", "class_empty",
                f"{basis}/{cls}: 0 valid clips of {r.total:,} — every clip is lost. No class weight "
                f"or multiplier can be computed for it; only re-downloading "
                f"({policy.redownload_target:,} clips) brings it back.",
            ))
        elif r.total == 0:
            findings.append(Finding(
                "critical", "class_missing",
                f"{basis}/{cls}: no clips at all (the class exists in other splits). The model "
                "cannot learn a class it never sees; no weight or multiplier is invented for it.",
            ))
    # Balance after cleaning.
    present = [r for r in plan.values() if r.valid > 0]
    if len(present) >= 2:
        shares = ", ".join(f"{pct(r.share, 0)} {r.cls}" for r in sorted(present, key=lambda r: r.valid))
        minority = min(present, key=lambda r: r.valid)
        if minority.share is not None and minority.share < policy.minority_share_alarm:
            findings.append(Finding(
                "critical", "imbalance",
                f"{basis} after cleaning: {shares} (severe imbalance). A model trained on this "
                f"learns \"always predict the majority\"; {minority.cls} detection suffers first.",
            ))
        else:
            findings.append(Finding("info", "balance", f"{basis} after cleaning: {shares}."))
    # Minimums (training data: what the model learns from).
    for r in sorted(plan.values(), key=lambda r: r.cls):
        if r.valid == 0:
            continue
        if r.minimum == "below":
            short = policy.research_minimum - r.valid
            findings.append(Finding(
                "warning", "below_research_minimum",
                f"{basis}/{r.cls}: {r.valid:,} valid clips, {short:,} short of the research standard "
                f"({policy.research_minimum:,}+ per class) and {policy.good_minimum - r.valid:,} short "
                f"of good learning ({policy.good_minimum:,}–{policy.good_target:,}).",
            ))
        elif r.minimum == "research":
            findings.append(Finding(
                "info", "below_good_minimum",
                f"{basis}/{r.cls}: {r.valid:,} valid clips meet the research standard "
                f"({policy.research_minimum:,}+) but not good learning "
                f"({policy.good_minimum:,}–{policy.good_target:,}).",
            ))


def _eval_checks(summary: Summary, splits: list[str], classes: list[str],
                 policy: DecisionPolicy, findings: list[Finding]) -> list[Interval]:
    """Can val/test measure the target? The interval their size allows, per split and class."""
    dl = policy.damaged_is_lost
    target, hw_max = policy.target_accuracy, policy.max_ci_half_width
    need = clips_for_half_width(target, hw_max)
    out: list[Interval] = []
    for s in policy.eval_splits:
        if s not in splits:
            if policy.train_split in splits:
                findings.append(Finding(
                    "warning", "eval_split_missing",
                    f"No '{s}' split: there is nothing held out to measure the "
                    f"{pct(target, 0)} target on.",
                ))
            continue
        by_cls = summary.by_class(s)
        n = sum(c.valid(dl) for c in by_cls.values())
        iv = interval(s, None, n, target)
        out.append(iv)
        wide_classes = []
        for cls in classes:
            civ = interval(s, cls, by_cls.get(cls, Counts()).valid(dl), target)
            out.append(civ)
            if civ.half_width is None or civ.half_width > hw_max:
                wide_classes.append(civ)
        if iv.half_width is None:
            findings.append(Finding("critical", "eval_empty",
                                    f"{s}: no valid clips — the {pct(target, 0)} target cannot be measured."))
        elif iv.half_width > hw_max:
            findings.append(Finding(
                "warning", "eval_too_small",
                f"{s}: {n:,} valid clips measure {pct(target, 0)} accuracy only to ±"
                f"{iv.half_width * 100:.1f} points (95 % Wilson interval "
                f"{pct(iv.low)}–{pct(iv.high)}); ±{hw_max * 100:g} points needs about {need:,} clips.",
            ))
        if wide_classes and iv.half_width is not None:
            parts = ", ".join(
                f"±{c.half_width * 100:.1f} points for {c.cls} ({c.n:,} clips)" if c.half_width is not None
                else f"nothing for {c.cls} (0 clips)" for c in wide_classes)
            findings.append(Finding(
                "info", "eval_class_interval",
                f"{s}: per-class recall at {pct(target, 0)} is measured only to {parts}; "
                f"±{hw_max * 100:g} needs about {need:,} clips per class.",
            ))
    return out


def _double_count_finding(plan: dict[str, Row], majority: str | None, findings: list[Finding]) -> None:
    """Multipliers and weights both correct imbalance; together they over-correct. Say by how much."""
    if majority is None:
        return
    maj = plan[majority]
    if not maj.effective or maj.weight is None:
        return
    parts = []
    for r in plan.values():
        if r.cls == majority or not r.effective or r.weight is None:
            continue
        mass = r.effective * r.weight / (maj.effective * maj.weight)
        if mass > 1.25:
            parts.append(f"{r.cls} {mass:.2f}× {majority}")
    if parts:
        findings.append(Finding(
            "info", "weights_and_multipliers",
            "Using both the class weights and the per-class multipliers (as the seed's Option B "
            f"does) makes the loss weigh {', '.join(parts)}; the multipliers alone already bring "
            "effective counts close. Keep both only if the minority's recall lags in validation.",
        ))


def _recommend(band: str, rate: float, lost: int, total: int, plan: dict[str, Row],
               majority: str | None, policy: DecisionPolicy,
               findings: list[Finding]) -> tuple[str, list[Option]]:
    """The seed's recommendation text for the band, filled in with measured numbers."""
    present = sorted((r for r in plan.values() if r.valid > 0), key=lambda r: r.valid)
    starved = sorted((r for r in plan.values() if r.redownload), key=lambda r: -(r.redownload or 0))
    alarms = [f for f in findings if f.code in ("class_alarm", "class_empty", "class_missing")]
    clean_steps = [
        "Run `nexara quarantine ROOT`: moves the corrupt clips to ROOT/corrupted_videos/ "
        "(journaled, undo with `nexara restore ROOT`).",
        "Restart feature extraction on the clean dataset, then train with the optimal config.",
    ]
    need_txt = ", ".join(f"{r.cls} needs {r.redownload:,} more (has {r.footage:,}"
                         f"{' distinct' if r.distinct is not None else ''})" for r in starved) \
        or "every class already has its target"
    option_a = Option(
        "A", "Re-download corrupted videos",
        [
            f"Target: every class back to {policy.redownload_target:,}+ valid training clips — {need_txt}.",
            "Use your scraping scripts for the short classes; organize the new clips into the dataset.",
            "Verify no corruption (`nexara scan ROOT` on the new clips), then extract and train "
            "with the optimal config.",
            "Time: 2–4 days to collect and organize.",
        ],
        "Clean data always beats corrupted data + tricks: the optimal config was tuned on a "
        "balanced, clean dataset.",
        "Time spent collecting; new sources can bring their own corruption (scan them).",
    )
    if present:
        train_txt = " + ".join(f"{r.valid:,} {r.cls}" for r in present)
        aug_txt = ", ".join(f"{r.cls} {r.multiplier}×" for r in present)
        w_txt = ", ".join(f"{r.cls}={r.weight_applied:.2f}" for r in present)
        same_aug = len({r.multiplier for r in present}) == 1
        b_steps = [
            f"Train with {train_txt} (after quarantining the corrupt clips).",
            f"Augmentation: {present[0].multiplier}× for every class." if same_aug else
            f"Per-class augmentation: {aug_txt} (instead of {policy.augmentation_multiplier}× for all).",
            f"Class weights: {w_txt}." if policy.rebalance != MULTIPLIERS else
            f"Class weights: {w_txt} — the multipliers carry the rebalancing; the seed's "
            f"majority/count weights ({', '.join(f'{r.cls}={r.weight:.2f}' for r in present)}) "
            "on top would correct twice (`--rebalance both` applies them anyway).",
            "Write these into the training config: `nexara decide ROOT --write-config train.toml`.",
        ]
    else:
        b_steps = ["Nothing valid is left to train on."]
    option_b = Option(
        "B", "Use existing clean data + aggressive augmentation",
        b_steps,
        "Starts training now, on what survived the scan.",
        f"May not reach the {pct(policy.target_accuracy, 0)}+ target; augmentation repeats the "
        "same few clips, so the minority class's variety does not grow; wasted GPU time if the "
        "accuracy is insufficient.",
    )
    if band == CLEAN:
        opt = Option(
            "clean", "Clean the dataset and proceed", clean_steps,
            f"{pct(rate)} lost ({lost:,} of {total:,}) is below {policy.band_low * 100:g} %: what "
            "is left is enough, and training on corrupt clips only feeds the model broken frames.",
            "Low" + ("" if not alarms else
                     " overall — but a class alarm is raised: one class lost far more than the "
                     "rest, so re-download it (Option A) before trusting the balance."),
            recommended=not alarms,
        )
        options = [opt] + ([option_a] if alarms else [])
        if alarms:
            option_a.recommended = True
        headline = f"Overall corruption {pct(rate)}: clean and proceed" + (
            ", but re-download the class that raised an alarm." if alarms else ".")
    elif band == SALVAGE:
        option_a.recommended = True
        options = [option_a, option_b]
        headline = (f"Overall corruption {pct(rate)} ({lost:,} of {total:,}): "
                    f"{policy.band_low * 100:g}–{policy.band_high * 100:g} %. "
                    "Recommended: Option A (re-download); Option B is the risky alternative.")
    else:
        rebuild = Option(
            "rebuild", "Rebuild the dataset — CRITICAL: dataset quality too low",
            [
                "Re-download the majority of the dataset — " + need_txt + ".",
                "Alternative: find a new data source.",
                "Time: 1–2 weeks to rebuild the dataset.",
            ],
            f"{pct(rate)} lost ({lost:,} of {total:,}) is above {policy.band_high * 100:g} %: "
            "cleaning leaves too little real signal, and no augmentation recreates the variety "
            "that was lost.",
            "Training on what is left now (Option B numbers below) would likely miss the "
            f"{pct(policy.target_accuracy, 0)} target and waste GPU time.",
            recommended=True,
        )
        options = [rebuild, option_b]
        headline = (f"Overall corruption {pct(rate)} ({lost:,} of {total:,}) is above "
                    f"{policy.band_high * 100:g} %: rebuild the dataset.")
    if majority is None and total:
        headline += " No class has a valid clip left."
    return headline, options
