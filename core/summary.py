"""Counting verdicts per split and class: the numbers every face shows.

Computed in one pass over results (O(n)), from the store or from a live stream.
`corrupt` is the only verdict counted as lost; whether `damaged` is kept is the
caller's choice (`damaged_is_lost`).

"Not checked" is a category of its own: a file whose check never finished (the
worker hit its hard timeout, the decoder process died, or our checker raised:
reason `timeout`, `crash` or `check_failed`) carries the verdict `corrupt` in its
record, but nothing is known about its bytes. It is neither usable nor lost: it is
counted in `total`, never in `lost` or `valid`, and rates are over the files that
were checked. The quarantine never moves such a file by default and a rescan
checks it again (`core.store`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.dataset import KNOWN_SPLITS
from core.records import FileResult, Verdict

# Reasons that say the check did not finish, not that the file is bad.
NOT_CHECKED_REASONS = frozenset({"timeout", "crash", "check_failed"})


def is_not_checked(r: FileResult) -> bool:
    """The check of this file never finished (see module doc): its verdict says nothing."""
    return r.verdict is Verdict.CORRUPT and not NOT_CHECKED_REASONS.isdisjoint(r.reasons)


@dataclass
class Counts:
    ok: int = 0
    warning: int = 0
    damaged: int = 0
    corrupt: int = 0
    not_checked: int = 0  # the check never finished: neither usable nor lost

    @property
    def total(self) -> int:
        return self.ok + self.warning + self.damaged + self.corrupt + self.not_checked

    @property
    def checked(self) -> int:
        return self.total - self.not_checked

    def lost(self, damaged_is_lost: bool = False) -> int:
        return self.corrupt + (self.damaged if damaged_is_lost else 0)

    def valid(self, damaged_is_lost: bool = False) -> int:
        return self.checked - self.lost(damaged_is_lost)

    def rate(self, damaged_is_lost: bool = False) -> float:
        """Share lost of the files that were checked, 0.0 when none was (no division by zero)."""
        return self.lost(damaged_is_lost) / self.checked if self.checked else 0.0

    def add(self, verdict: Verdict, n: int = 1) -> None:
        setattr(self, verdict.value, getattr(self, verdict.value) + n)

    def add_result(self, r: FileResult) -> None:
        if is_not_checked(r):
            self.not_checked += 1
        else:
            self.add(r.verdict)

    def merge(self, other: Counts) -> None:
        for v in Verdict:
            self.add(v, getattr(other, v.value))
        self.not_checked += other.not_checked

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "ok": self.ok, "warning": self.warning,
                "damaged": self.damaged, "corrupt": self.corrupt, "not_checked": self.not_checked}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counts:
        return cls(**{v.value: int(d.get(v.value, 0)) for v in Verdict},
                   not_checked=int(d.get("not_checked", 0)))


@dataclass
class Summary:
    groups: dict[tuple[str, str], Counts] = field(default_factory=dict)  # (split, class) -> counts
    reasons: Counter[str] = field(default_factory=Counter)  # reason code -> files carrying it
    # (split, class) -> clips that were unusable (corrupt) and are usable again as repaired copies
    recovered: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, r: FileResult) -> None:
        self.groups.setdefault((r.split, r.cls), Counts()).add_result(r)
        for code in set(r.reasons):
            self.reasons[code] += 1
        if r.repair and r.repair.get("from_verdict") == Verdict.CORRUPT.value and r.usable:
            self.recovered[(r.split, r.cls)] += 1

    def recovered_by_class(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, cls), n in self.recovered.items():
            out[cls] = out.get(cls, 0) + n
        return dict(sorted(out.items()))

    def add_stored(self, d: dict[str, Any]) -> None:
        """`add` for a result in its stored form (`FileResult.to_dict()`), without building one:
        an unchanged rescan of 20,000 clips spent a third of its time making FileResults only
        to count them. Counts exactly what `add` counts (tests/test_summary.py holds them equal)."""
        verdict = Verdict(d["verdict"])
        reasons = d.get("reasons") or ()
        c = self.groups.setdefault((d["split"], d["class"]), Counts())
        if verdict is Verdict.CORRUPT and not NOT_CHECKED_REASONS.isdisjoint(reasons):
            c.not_checked += 1
        else:
            c.add(verdict)
        for code in set(reasons):
            self.reasons[code] += 1
        repair = d.get("repair")
        if repair and repair.get("from_verdict") == Verdict.CORRUPT.value and verdict.usable:
            self.recovered[(d["split"], d["class"])] += 1

    @property
    def overall(self) -> Counts:
        c = Counts()
        for g in self.groups.values():
            c.merge(g)
        return c

    def by_class(self, split: str | None = None) -> dict[str, Counts]:
        out: dict[str, Counts] = {}
        for (s, cls), c in self.groups.items():
            if split is None or s == split:
                out.setdefault(cls, Counts()).merge(c)
        return out

    def by_split(self) -> dict[str, Counts]:
        out: dict[str, Counts] = {}
        for (s, _), c in self.groups.items():
            out.setdefault(s, Counts()).merge(c)
        return out

    def ordered_keys(self) -> list[tuple[str, str]]:
        def key(k: tuple[str, str]) -> tuple[int, str, str]:
            s, c = k
            return (KNOWN_SPLITS.index(s) if s in KNOWN_SPLITS else 99, s, c)

        return sorted(self.groups, key=key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [
                {"split": s, "class": c, **self.groups[(s, c)].to_dict()} for s, c in self.ordered_keys()
            ],
            "overall": self.overall.to_dict(),
            "reasons": dict(self.reasons.most_common()),
            "recovered_by_repair": {"total": sum(self.recovered.values()),
                                    "by_class": self.recovered_by_class(),
                                    "groups": [{"split": sp, "class": c, "count": n}
                                               for (sp, c), n in sorted(self.recovered.items())]},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Summary:
        s = cls()
        for g in d.get("groups", []):
            s.groups[(g["split"], g["class"])] = Counts.from_dict(g)
        s.reasons = Counter(d.get("reasons", {}))
        for g in (d.get("recovered_by_repair") or {}).get("groups", []):
            s.recovered[(g["split"], g["class"])] = int(g["count"])
        return s


def summarize(results: Iterable[FileResult]) -> Summary:
    s = Summary()
    for r in results:
        s.add(r)
    return s

