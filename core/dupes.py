"""Same footage twice: grouping clips by their fingerprints, and what the groups mean.

Input: one `Print` per usable clip (its frames' pHashes and times and its byte
hash, from the scan store; see `core.fingerprint`). Output: groups of clips
that are the same footage, each `exact` (the same bytes) or `near` (the same
pictures), and findings: groups that cross splits (leakage: test accuracy
measured on footage the model trained on), groups whose copies carry different
classes (label conflict), and redundant copies per class.

The rule for "the same footage" (`MatchRule`, measured in the README):
- two frames match when their 64-bit pHashes differ in at most `threshold` bits;
- two clips match when at least `min_frames` frames of each (fewer only when a
  clip has fewer informative frames) match frames of the other at ONE time
  offset, within `tolerance_s`: a re-encode, a remux or a copy with its head cut
  off shows the same pictures in the same order, shifted by a constant; two
  different clips that happen to share a look (the same generator or camera,
  another take) may match a frame here and there, but not a run of frames at a
  consistent offset. Offsets are free, so a trimmed copy or a compilation
  excerpt matches; order is enforced only through that one offset, so a few
  frames of jitter (another GOP, another frame rate) are tolerated.
- clips with the same byte hash and size are exact copies, whatever their frames.

Scale: no all-pairs loop. Candidates come from locality-sensitive hashing over
the frame hashes (bit sampling: `tables` hash tables, each keyed by `bits`
randomly chosen bit positions, so two frames within a few bits of each other
share a key in some table with high probability, and unrelated frames almost
never do). Only clip pairs that share keys on at least two frame pairs (one,
for a clip with a single informative frame) are verified with the exact rule
above. Key width grows with the number of frames (log2 n + 3), keeping random
collisions at a constant rate per frame; `benchmarks/dupes.py` measures it
against brute force. Everything here is pure (no I/O) except `load_prints`.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from core.dataset import KNOWN_SPLITS

if TYPE_CHECKING:
    import numpy as np

    from core.store import ScanStore

EXACT, NEAR = "exact", "near"
DEFAULT_THRESHOLD = 6  # bits of 64 (README "Duplicates": measured on real copies vs look-alikes)
# Which split keeps footage that leaks: the held-out splits are small and measure the
# deployment gate; train loses one copy of thousands. First listed wins.
KEEP_SPLIT_ORDER = ("test", "val", "train")
_LSH_SEED = 0x15D0


@dataclass(frozen=True)
class MatchRule:
    threshold: int = DEFAULT_THRESHOLD  # max differing bits for two frames to match
    min_frames: int = 3  # frames that must match at one offset (fewer only for short prints)
    tolerance_s: float = 0.5  # how far matched frames may stray from the common offset
    tables: int = 12  # LSH tables
    max_bucket: int = 64  # a key shared by more frames than this is not distinctive: ignored

    def need(self, na: int, nb: int) -> int:
        return max(1, min(self.min_frames, na, nb))


@dataclass
class Print:
    """One clip as the grouping sees it."""

    rel: str
    split: str
    cls: str
    size: int
    content: str
    times: Any  # np.ndarray float32, seconds
    hashes: Any  # np.ndarray uint64
    verdict: str = "ok"
    width: int = 0
    height: int = 0
    duration: float = 0.0
    incoming: bool = False  # ingest: a clip not yet in the dataset

    @property
    def quality(self) -> tuple[Any, ...]:
        """Higher is better: resolution, then a clean verdict, then bytes (bitrate), then length."""
        rank = {"ok": 3, "warning": 2, "damaged": 1}.get(self.verdict, 0)
        return (self.width * self.height, rank, self.size, self.duration)


@dataclass
class Group:
    files: list[Print]
    kind: str  # EXACT | NEAR
    keep: str = ""  # rel of the copy to keep
    keep_split: str = ""

    @property
    def splits(self) -> list[str]:
        return sorted({p.split for p in self.files}, key=_split_key)

    @property
    def classes(self) -> list[str]:
        return sorted({p.cls for p in self.files})

    @property
    def leaks(self) -> bool:
        return len(self.splits) > 1

    @property
    def conflicts(self) -> bool:
        return len(self.classes) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [p.rel for p in self.files], "kind": self.kind, "splits": self.splits,
            "classes": self.classes, "keep": self.keep, "keep_split": self.keep_split,
            "members": [{"path": p.rel, "split": p.split, "class": p.cls, "size": p.size,
                         "verdict": p.verdict, "width": p.width, "height": p.height}
                        for p in self.files],
        }


@dataclass
class Finding:
    severity: str  # "critical" | "warning" | "info"
    code: str  # "leakage" | "label_conflict" | "redundant_copies"
    message: str


@dataclass
class Report:
    groups: list[Group] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    clips: int = 0  # usable clips with a fingerprint
    redundant: dict[str, int] = field(default_factory=dict)  # class → copies beyond the first
    distinct: dict[tuple[str, str], int] = field(default_factory=dict)  # (split, class) → footage
    redundant_in: dict[tuple[str, str], int] = field(default_factory=dict)  # (split, class) → copies
    rule: MatchRule = field(default_factory=MatchRule)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [g.to_dict() for g in self.groups],
            "findings": [asdict(f) for f in self.findings],
            "clips": self.clips,
            "redundant": self.redundant,
            "distinct": [{"split": s, "class": c, "distinct": n}
                         for (s, c), n in sorted(self.distinct.items(), key=lambda kv: (_split_key(kv[0][0]), kv[0][1]))],
            "rule": asdict(self.rule),
            "seconds": round(self.seconds, 3),
        }


def _split_key(s: str) -> tuple[int, str]:
    return (KNOWN_SPLITS.index(s) if s in KNOWN_SPLITS else len(KNOWN_SPLITS), s)


# -- loading -------------------------------------------------------------------------------------


def load_prints(store: ScanStore, location: str = "dataset") -> list[Print]:
    """Every usable clip of the store's dataset that has a current fingerprint."""
    import numpy as np

    from core.fingerprint import Fingerprint

    out = []
    for rel, split, cls, verdict, size, result, content, blob in store.fingerprint_rows(location):
        times, hashes = Fingerprint.frames_from_blob(blob)
        r = json.loads(result)
        out.append(Print(
            rel=rel, split=split, cls=cls, size=int(size), content=content,
            times=np.asarray(times, np.float32), hashes=np.asarray(hashes, np.uint64),
            verdict=verdict, width=int(r.get("width") or 0), height=int(r.get("height") or 0),
            duration=float(r.get("duration_s") or 0.0),
        ))
    return out


def print_of(rel: str, split: str, cls: str, result: Any, incoming: bool = False) -> Print | None:
    """A Print from a fresh FileResult that carries its fingerprint (ingest), or None."""
    import numpy as np

    fp = getattr(result, "fingerprint", None)
    if fp is None:
        return None
    return Print(rel=rel, split=split, cls=cls, size=result.size, content=fp.content,
                 times=np.asarray(fp.times, np.float32), hashes=np.asarray(fp.hashes, np.uint64),
                 verdict=result.verdict.value, width=result.width or 0, height=result.height or 0,
                 duration=result.duration_s or 0.0, incoming=incoming)


# -- matching two clips ------------------------------------------------------------------------


def match(a: Print, b: Print, rule: MatchRule) -> int:
    """Frames matched at the best common offset (0: not the same footage by `rule`)."""
    return match_frames(a.hashes, a.times, b.hashes, b.times, rule)


def match_frames(ha: np.ndarray, ta: np.ndarray, hb: np.ndarray, tb: np.ndarray,
                 rule: MatchRule) -> int:
    import numpy as np

    from core.fingerprint import hamming

    na, nb = len(ha), len(hb)
    if not na or not nb:
        return 0
    need = rule.need(na, nb)
    ii, jj = np.nonzero(hamming(ha[:, None], hb[None, :]) <= rule.threshold)
    if len(np.unique(ii)) < need or len(np.unique(jj)) < need:
        return 0
    off = tb[jj].astype(np.float64) - ta[ii].astype(np.float64)
    order = np.argsort(off, kind="stable")
    off, ii, jj = off[order], ii[order], jj[order]
    best = 0
    ends = np.searchsorted(off, off + 2 * rule.tolerance_s, side="right")
    for s in range(len(off)):
        e = int(ends[s])
        if e - s <= best:
            continue
        # one-to-one: a frame of either clip counts once
        score = min(len(set(ii[s:e].tolist())), len(set(jj[s:e].tolist())))
        best = max(best, score)
    return best if best >= need else 0


# -- candidates at scale ---------------------------------------------------------------------------


@dataclass
class FrameIndex:
    """Every frame hash of every clip, concatenated, with its clip number."""

    hashes: Any  # uint64 (n_frames,)
    clip: Any  # int64 (n_frames,)
    starts: Any  # int64 (n_clips + 1,): frames of clip i are [starts[i], starts[i + 1])

    @classmethod
    def build(cls, prints: Sequence[Print]) -> FrameIndex:
        import numpy as np

        counts = np.fromiter((len(p.hashes) for p in prints), np.int64, len(prints))
        starts = np.zeros(len(prints) + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
        hashes = (np.concatenate([p.hashes for p in prints]).astype(np.uint64)
                  if prints else np.zeros(0, np.uint64))
        clip = np.repeat(np.arange(len(prints), dtype=np.int64), counts)
        return cls(hashes, clip, starts)


def key_bits(n_frames: int) -> int:
    """Bits per LSH key: random collisions stay ~1/8 per frame per table at any size."""
    return int(min(30, max(10, math.ceil(math.log2(max(n_frames, 2))) + 3)))


def candidate_pairs(index: FrameIndex, rule: MatchRule) -> Any:
    """Clip pairs (i < j) sharing LSH keys on two distinct frame pairs (one where either clip
    has a single frame): an (m, 2) int64 array."""
    import numpy as np

    h = index.hashes
    n = len(h)
    if n < 2:
        return np.zeros((0, 2), np.int64)
    k = key_bits(n)
    idx_bits = max(1, int(n - 1).bit_length())
    if k + idx_bits > 64:
        k = 64 - idx_bits
    rng = np.random.default_rng(_LSH_SEED)
    by_byte = h.view(np.uint8).reshape(n, 8)  # little-endian: column b holds bits 8b..8b+7
    found: list[Any] = []
    for _ in range(rule.tables):
        bits = rng.choice(64, size=k, replace=False)
        key = np.zeros(n, np.uint64)
        for b, lut in enumerate(_byte_luts(bits)):
            if lut is not None:
                key |= lut[by_byte[:, b]]
        # sort (key, frame) packed in one word: a plain sort, no indirection
        packed = np.sort((key << np.uint64(idx_bits)) | np.arange(n, dtype=np.uint64))
        ks = packed >> np.uint64(idx_bits)
        order = (packed & np.uint64((1 << idx_bits) - 1)).astype(np.int64)
        # runs of equal keys; runs longer than max_bucket are not distinctive
        boundary = np.flatnonzero(ks[1:] != ks[:-1]) + 1
        run_start = np.concatenate(([0], boundary))
        run_len = np.diff(np.concatenate((run_start, [n])))
        long_run = np.repeat(run_len > rule.max_bucket, run_len)
        for o in range(1, min(int(run_len.max()), rule.max_bucket)):
            same = (ks[o:] == ks[:-o]) & ~long_run[o:]
            if not same.any():
                break
            a, b = order[:-o][same], order[o:][same]
            found.append(np.minimum(a, b) * n + np.maximum(a, b))
    if not found:
        return np.zeros((0, 2), np.int64)
    fp = np.unique(np.concatenate(found))  # distinct frame pairs, as a * n + b
    ca, cb = index.clip[fp // n], index.clip[fp % n]
    keep = ca != cb
    ca, cb = np.minimum(ca[keep], cb[keep]), np.maximum(ca[keep], cb[keep])
    m = len(index.starts) - 1
    keys, shared = np.unique(ca * m + cb, return_counts=True)
    pairs = np.stack([keys // m, keys % m], axis=1)
    sizes = np.diff(index.starts)
    need = np.where(np.minimum(sizes[pairs[:, 0]], sizes[pairs[:, 1]]) <= 1, 1, 2)
    return pairs[shared >= need]


def _byte_luts(bits: Any) -> list[Any]:
    """For each byte of a hash, a 256-entry table giving that byte's part of the LSH key.

    The key's bit j is the hash's bit `bits[j]`; gathering it per byte is 8 table
    lookups per table instead of a shift-and-mask per sampled bit.
    """
    import numpy as np

    values = np.arange(256, dtype=np.uint64)
    luts: list[Any] = [None] * 8
    for j, bit in enumerate(int(b) for b in bits):
        byte, pos = divmod(bit, 8)
        part = ((values >> np.uint64(pos)) & np.uint64(1)) << np.uint64(j)
        luts[byte] = part if luts[byte] is None else luts[byte] | part
    return luts


# -- grouping ------------------------------------------------------------------------------------


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def matched_pairs(prints: Sequence[Print], rule: MatchRule) -> list[tuple[int, int, str]]:
    """Every verified pair (i, j, kind) of the same footage."""
    index = FrameIndex.build(prints)
    out: list[tuple[int, int, str]] = []
    seen: set[tuple[int, int]] = set()
    by_bytes: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, p in enumerate(prints):
        if p.content:
            by_bytes[(p.content, p.size)].append(i)
    for members in by_bytes.values():
        for j in members[1:]:
            out.append((members[0], j, EXACT))
            seen.add((members[0], j))
    for i, j in candidate_pairs(index, rule).tolist():
        if (i, j) in seen:
            continue
        if match(prints[i], prints[j], rule):
            out.append((i, j, NEAR))
    return out


def group(prints: Sequence[Print], rule: MatchRule | None = None) -> list[Group]:
    """Groups of two or more clips that are the same footage (connected components)."""
    rule = rule or MatchRule()
    uf = _UnionFind(len(prints))
    for i, j, _ in matched_pairs(prints, rule):
        uf.union(i, j)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(prints)):
        members[uf.find(i)].append(i)
    groups = []
    for idx in members.values():
        if len(idx) < 2:
            continue
        files = sorted((prints[i] for i in idx), key=lambda p: p.rel)
        exact = len({(p.content, p.size) for p in files}) == 1 and bool(files[0].content)
        g = Group(files=files, kind=EXACT if exact else NEAR)
        g.keep_split, g.keep = choose_keep(g)
        groups.append(g)
    groups.sort(key=lambda g: (not g.leaks and not g.conflicts, g.files[0].rel))
    return groups


def choose_keep(g: Group) -> tuple[str, str]:
    """(split, rel) of the copy to keep: in the split that does not leak, the best quality there."""
    splits = g.splits
    keep_split = next((s for s in KEEP_SPLIT_ORDER if s in splits), splits[0])
    there = sorted((p for p in g.files if p.split == keep_split), key=lambda p: p.rel)
    best = max(there, key=lambda p: (p.quality, -len(p.rel)))  # ties: the shorter (original) name
    return keep_split, best.rel


# -- the report ------------------------------------------------------------------------------------


def analyse(prints: Sequence[Print], rule: MatchRule | None = None) -> Report:
    """Groups, leakage / label-conflict findings, redundant copies and distinct footage per class."""
    import time

    t0 = time.perf_counter()
    rule = rule or MatchRule()
    groups = group(prints, rule)
    rep = Report(groups=groups, clips=len(prints), rule=rule)
    # distinct footage per split × class: every group counts once per split/class it appears in
    per: Counter[tuple[str, str]] = Counter((p.split, p.cls) for p in prints)
    redundant: Counter[str] = Counter()
    for g in groups:
        for key, n in Counter((p.split, p.cls) for p in g.files).items():
            per[key] -= n - 1
            rep.redundant_in[key] = rep.redundant_in.get(key, 0) + n - 1
        for cls, n in Counter(p.cls for p in g.files).items():
            redundant[cls] += n - 1
    rep.distinct = dict(per)
    rep.redundant = dict(sorted(redundant.items()))
    rep.findings = findings(groups, rep.redundant, per)
    rep.seconds = time.perf_counter() - t0
    return rep


def findings(groups: Iterable[Group], redundant: dict[str, int],
             distinct: dict[tuple[str, str], int] | None = None) -> list[Finding]:
    groups = list(groups)
    out: list[Finding] = []
    leaks = [g for g in groups if g.leaks]
    conflicts = [g for g in groups if g.conflicts]
    for g in leaks:
        where = ", ".join(f"{p.split}/{p.cls}/{p.rel.rsplit('/', 1)[-1]}" for p in g.files[:4])
        more = f" and {len(g.files) - 4} more" if len(g.files) > 4 else ""
        drop = [s for s in g.splits if s != g.keep_split]
        out.append(Finding(
            "critical", "leakage",
            f"Leakage: the same footage ({g.kind} copies) is in {' and '.join(g.splits)}: {where}{more}. "
            f"Keep it in {g.keep_split} ({g.keep}) and quarantine the copies in {', '.join(drop)}; "
            "otherwise the held-out accuracy is measured on footage the model trained on.",
        ))
    for g in conflicts:
        where = ", ".join(f"{p.rel} ({p.cls})" for p in g.files[:4])
        out.append(Finding(
            "critical", "label_conflict",
            f"Label conflict: copies of the same footage carry different classes "
            f"({', '.join(g.classes)}): {where}. One label is wrong; check the clip and keep one copy.",
        ))
    total = sum(redundant.values())
    if total:
        per = ", ".join(f"{c} {n:,}" for c, n in sorted(redundant.items()))
        out.append(Finding(
            "warning" if leaks or conflicts else "info", "redundant_copies",
            f"{total:,} redundant cop{'y' if total == 1 else 'ies'} of footage already in the "
            f"dataset ({per}) in {len(groups):,} group(s): each class's distinct footage is that "
            "much smaller than its clip count.",
        ))
    return out


def footage_for_decision(rep: Report, limit: int = 3) -> Any:
    """The `core.decision.Footage` of a report: redundant copies and the findings, capped.

    A dataset with thousands of leaking groups gets `limit` examples and one
    line with the count, not thousands of lines in the decision matrix.
    """
    from core.decision import Footage

    out: list[tuple[str, str, str]] = []
    for code, what in (("leakage", "cross splits"), ("label_conflict", "carry different classes")):
        fs = [f for f in rep.findings if f.code == code]
        out.extend((f.severity, f.code, f.message) for f in fs[:limit])
        if len(fs) > limit:
            out.append(("critical", code, f"… {len(fs) - limit:,} more group(s) of copies that {what}"
                        f" ({len(fs):,} in all): `nexara dupes ROOT --report dupes.json` lists them."))
    out.extend((f.severity, f.code, f.message) for f in rep.findings if f.code == "redundant_copies")
    return Footage(redundant=dict(rep.redundant_in), redundant_all=dict(rep.redundant), findings=out)
