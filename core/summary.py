"""Counting verdicts per split and class: the numbers every face shows.

Computed in one pass over results (O(n)), from the store or from a live stream.
`corrupt` is the only verdict counted as lost; whether `damaged` is kept is the
caller's choice (`damaged_is_lost`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.dataset import KNOWN_SPLITS
from core.records import FileResult, Verdict


@dataclass
class Counts:
    ok: int = 0
    warning: int = 0
    damaged: int = 0
    corrupt: int = 0

    @property
    def total(self) -> int:
        return self.ok + self.warning + self.damaged + self.corrupt

    def lost(self, damaged_is_lost: bool = False) -> int:
        return self.corrupt + (self.damaged if damaged_is_lost else 0)

    def valid(self, damaged_is_lost: bool = False) -> int:
        return self.total - self.lost(damaged_is_lost)

    def rate(self, damaged_is_lost: bool = False) -> float:
        """Share lost, 0.0 for an empty group (no division by zero)."""
        return self.lost(damaged_is_lost) / self.total if self.total else 0.0

    def add(self, verdict: Verdict, n: int = 1) -> None:
        setattr(self, verdict.value, getattr(self, verdict.value) + n)

    def merge(self, other: Counts) -> None:
        for v in Verdict:
            self.add(v, getattr(other, v.value))

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "ok": self.ok, "warning": self.warning,
                "damaged": self.damaged, "corrupt": self.corrupt}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counts:
        return cls(**{v.value: int(d.get(v.value, 0)) for v in Verdict})


@dataclass
class Summary:
    groups: dict[tuple[str, str], Counts] = field(default_factory=dict)  # (split, class) -> counts
    reasons: Counter[str] = field(default_factory=Counter)  # reason code -> files carrying it
    # (split, class) -> clips that were unusable (corrupt) and are usable again as repaired copies
    recovered: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, r: FileResult) -> None:
        self.groups.setdefault((r.split, r.cls), Counts()).add(r.verdict)
        for code in set(r.reasons):
            self.reasons[code] += 1
        if r.repair and r.repair.get("from_verdict") == Verdict.CORRUPT.value and r.usable:
            self.recovered[(r.split, r.cls)] += 1

    def recovered_by_class(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, cls), n in self.recovered.items():
            out[cls] = out.get(cls, 0) + n
        return dict(sorted(out.items()))

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
