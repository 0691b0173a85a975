"""Duplicates: how fast the grouping is, and where the threshold sits.

Two parts (both by default):

`index` — grouping 10,000 and 100,000 synthetic fingerprints (12 frames per
clip, as a standard scan of an 8 s clip keeps; 2 % of clips get a near copy
with a few bits flipped per frame, some trimmed) with `core.dupes.group` (LSH
candidates + verification), against a brute-force numpy baseline in the same
run: every frame against every frame, in blocks. At 10k the baseline runs in
full and the two must find the same pairs (recall 100 % and nothing extra is
printed); at 100k the baseline is timed on a random sample of query clips and
extrapolated (the full run would take hours — that is the point).

`threshold` — real clips from the demo generator (N seeds per class, 4 s) and
real copies of some (re-encoded at crf 40, downscaled to half, head cut by one
GOP, remuxed to Matroska, a logo box burnt in): for every copy and every pair
of distinct clips, the smallest frame threshold at which the pair counts as the
same footage under the clip rule (`MatchRule`: min_frames frames at one
offset). The default threshold must sit above every copy and below every
distinct pair. `--level` picks the scan level whose fingerprints are compared
(a `full` check offers the fingerprint the pictures of the `standard` windows,
so both must give the same table).

`cost` — what the fingerprint adds to a scan, in CPU time: user-like clips
(640x360, 30 fps, 8 s, a keyframe every 2 s, AAC; as `scan_throughput.py`)
checked in this process at `standard` and at `full`, each round twice — with
the fingerprint, and with its hooks replaced by no-ops (the baseline, same
run) — alternating the order; the best of `--rounds` rounds each (load only
adds time), per clip, the two variants back to back. Also where its time goes: thumbnails (FFmpeg's scaler), the hash
of the kept frames (numpy) and the byte hash.

    python benchmarks/dupes.py [--part index|threshold|cost|all] [--seeds N] [--level L]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.dupes import DEFAULT_THRESHOLD, FrameIndex, MatchRule, Print, group, match  # noqa: E402
from core.fingerprint import hamming  # noqa: E402

FRAMES = 12


def synthetic(n: int, seed: int = 1) -> tuple[list[Print], set[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    prints, truth = [], set()
    for i in range(n):
        h = rng.integers(0, 2**63, size=FRAMES, dtype=np.int64).astype(np.uint64) * np.uint64(2) + \
            rng.integers(0, 2, size=FRAMES).astype(np.uint64)
        t = np.arange(FRAMES, dtype=np.float32) * 0.7
        prints.append(Print(f"c{i:06d}.mp4", "train", "a", 1000 + i, f"b2f:{i}", t, h))
    n_copies = n // 50
    for k in range(n_copies):
        src = int(rng.integers(0, n))
        o = prints[src]
        flips = np.zeros(FRAMES, np.uint64)
        for f in range(FRAMES):
            for b in rng.choice(64, size=int(rng.integers(0, 7)), replace=False):
                flips[f] |= np.uint64(1) << np.uint64(int(b))
        cut = int(rng.integers(0, 4))
        h = (o.hashes ^ flips)[cut:]
        t = o.times[cut:] - o.times[cut] + np.float32(rng.uniform(-0.1, 0.1))
        prints.append(Print(f"copy{k:06d}.mp4", "test", "a", 5000 + k, f"b2f:c{k}", t, h))
        truth.add((src, len(prints) - 1))
    return prints, truth


def brute_pairs(prints: list[Print], rule: MatchRule, queries: np.ndarray | None = None) -> set[tuple[int, int]]:
    """Every clip pair that verifies, found by comparing every frame with every frame."""
    index = FrameIndex.build(prints)
    h, clip = index.hashes, index.clip
    qclips = np.arange(len(prints)) if queries is None else queries
    found: set[tuple[int, int]] = set()
    block = max(1, 16_000_000 // max(len(h), 1))  # ~16 M frame pairs (≈150 MB) per step
    qframes = np.concatenate([np.arange(index.starts[c], index.starts[c + 1]) for c in qclips])
    for s in range(0, len(qframes), block):
        q = qframes[s:s + block]
        close = hamming(h[q][:, None], h[None, :]) <= rule.threshold
        qi, fj = np.nonzero(close)
        ca, cb = clip[q][qi], clip[fj]
        for a, b in set(zip(ca.tolist(), cb.tolist(), strict=True)):
            if a == b:
                continue
            pair = (min(a, b), max(a, b))
            if pair not in found and match(prints[pair[0]], prints[pair[1]], rule):
                found.add(pair)
    return found


def grouped_pairs(prints: list[Print], rule: MatchRule) -> set[tuple[int, int]]:
    pos = {p.rel: i for i, p in enumerate(prints)}
    out = set()
    for g in group(prints, rule):
        idx = sorted(pos[p.rel] for p in g.files)
        out.update(itertools.combinations(idx, 2))
    return out


def part_index() -> None:
    rule = MatchRule()
    for n in (10_000, 100_000):
        prints, truth = synthetic(n)
        t0 = time.perf_counter()
        got = grouped_pairs(prints, rule)
        t_index = time.perf_counter() - t0
        recall = len(truth & got) / len(truth)
        if n <= 10_000:
            t0 = time.perf_counter()
            brute = brute_pairs(prints, rule)
            t_brute = time.perf_counter() - t0
            note = f"brute force {t_brute:.1f} s (full)"
            missing = brute - got
            print(f"  brute-force pairs {len(brute)}, found by the index {len(brute & got)}, "
                  f"missed {len(missing)}")
        else:
            sample = np.random.default_rng(2).choice(len(prints), size=200, replace=False)
            t0 = time.perf_counter()
            brute_pairs(prints, rule, sample)
            t_sample = time.perf_counter() - t0
            t_brute = t_sample * len(prints) / len(sample) / 2  # each pair is found from both sides
            note = f"brute force ≈{t_brute:.0f} s (extrapolated from {len(sample)} query clips, {t_sample:.1f} s)"
        print(f"{n:>7,} clips ({len(prints) * FRAMES / 1e6:.2f} M frames): index {t_index:.2f} s, "
              f"{note}: ratio {t_brute / t_index:.0f}×; planted copies found {recall * 100:.1f} %")


def part_threshold(seeds: int, level: str = "standard") -> None:
    from core.demo import reencode, remux, write_clip
    from core.dupes import print_of
    from core.integrity import check_path

    def smallest_threshold(a: Print, b: Print) -> int:
        for t in range(0, 65):
            if match(a, b, MatchRule(threshold=t)):
                return t
        return 65

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        prints: dict[tuple[str, int], Print] = {}
        for label in ("violent", "nonviolent"):
            for s in range(seeds):
                p = write_clip(d / f"{label}_{s}.mp4", label, seconds=4.0, seed=1000 + s)
                prints[(label, s)] = print_of(p.name, "", "", check_path(p, level))
        copy_t: dict[str, list[int]] = {}
        kinds = {
            "crf40": lambda s, o: reencode(s, o, crf=40),
            "half-size": lambda s, o: reencode(s, o, crf=28, scale=0.5),
            "head-cut-1s": lambda s, o: reencode(s, o, crf=28, trim_head_s=1.0),
            "remux-mkv": lambda s, o: remux(s, o.with_suffix(".mkv")),
            "logo-box": lambda s, o: reencode(s, o, crf=28, box=True),
        }
        for label in ("violent", "nonviolent"):
            for s in range(0, seeds, max(1, seeds // 6)):
                src = d / f"{label}_{s}.mp4"
                for k, fn in kinds.items():
                    out = fn(src, d / f"{label}_{s}_{k}.mp4")
                    c = print_of(out.name, "", "", check_path(out, level))
                    copy_t.setdefault(k, []).append(smallest_threshold(prints[(label, s)], c))
        distinct: list[tuple[int, str]] = []
        for label in ("violent", "nonviolent"):
            for a, b in itertools.combinations(range(seeds), 2):
                distinct.append((smallest_threshold(prints[(label, a)], prints[(label, b)]),
                                 f"{label} {a}/{b}"))
        distinct.sort()
        worst_copy = max(max(v) for v in copy_t.values())
        for k, v in copy_t.items():
            print(f"  copies {k:<12} need threshold ≤ {max(v):2d} (all: {sorted(v)})")
        print(f"  distinct pairs ({len(distinct)}): the closest match only from threshold "
              f"{distinct[0][0]} ({distinct[0][1]}); 5 closest: {[t for t, _ in distinct[:5]]}")
        print(f"threshold: every copy matches from {worst_copy}, no distinct pair below "
              f"{distinct[0][0]}; default {DEFAULT_THRESHOLD} "
              f"({'inside' if worst_copy <= DEFAULT_THRESHOLD < distinct[0][0] else 'OUTSIDE'} the gap)")


class _NoPrint:
    """The fingerprint hooks as no-ops: the baseline of `cost`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def mark(self, ts: object) -> None:
        pass

    def add(self, frame: object, t: float) -> None:
        pass


def part_cost(clips: int, rounds: int) -> None:
    import core.fingerprint as fpm
    import core.integrity as integ
    from benchmarks.scan_throughput import USER_CLIP
    from core.dataset import VideoFile
    from core.demo import write_clip

    spent: dict[str, float] = {"thumbnails": 0.0, "hash of frames": 0.0, "byte hash": 0.0}
    calls: dict[str, int] = dict.fromkeys(spent, 0)

    def timed(name: str, fn):  # noqa: ANN001, ANN202 - a benchmark's wrapper
        def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.process_time() - t
                calls[name] += 1
        return wrapper

    # what the wrapper itself costs per call (subtracted below: `add` runs on every decoded frame)
    probe = timed("byte hash", lambda: None)
    t0 = time.process_time()
    for _ in range(20_000):
        probe()
    overhead = (time.process_time() - t0) / 20_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = []
        for i in range(clips):
            p = write_clip(root / f"clip_{i}.mp4", "violent" if i % 2 else "nonviolent", seed=500 + i,
                           **USER_CLIP)
            st = p.stat()
            videos.append(VideoFile(p.name, "", "", st.st_size, st.st_mtime_ns))
        real = (integ.FrameCollector, integ.fingerprint_of)

        def one(v: VideoFile, level: str, with_print: bool) -> float:
            integ.FrameCollector, integ.fingerprint_of = real if with_print else (_NoPrint, lambda *a: None)
            try:
                t0 = time.process_time()
                r = integ.check_file(root, v, level)
                t = time.process_time() - t0
                assert r.usable and (r.fingerprint is not None) == with_print, r
                return t
            finally:
                integ.FrameCollector, integ.fingerprint_of = real

        def run(level: str, with_print: bool) -> float:
            return sum(one(v, level, with_print) for v in videos)

        for level in ("standard", "full"):
            run(level, True)  # warm: imports, the scaler, the page cache
            # per clip, both variants back to back (order alternating), best of the rounds: a load
            # that comes and goes lands on both alike, and only ever adds time
            best = {(i, w): float("inf") for i in range(len(videos)) for w in (True, False)}
            for k in range(rounds):
                for i, v in enumerate(videos):
                    for with_print in ((True, False) if (k + i) % 2 == 0 else (False, True)):
                        best[(i, with_print)] = min(best[(i, with_print)], one(v, level, with_print))
            best_total = {w: sum(best[(i, w)] for i in range(len(videos))) for w in (True, False)}
            kept = [len(integ.check_file(root, v, level).fingerprint.hashes) for v in videos]
            base, fp = best_total[False] / clips * 1000, best_total[True] / clips * 1000
            print(f"  {level:<8} {base:6.1f} ms CPU per clip without the fingerprint, {fp:6.1f} ms with it: "
                  f"+{fp - base:.2f} ms = +{(fp - base) / base * 100:.1f} % ({sum(kept) / clips:.0f} frames "
                  "kept per clip)")
            # where it goes: the parts timed, best of the rounds, less the wrapper's own cost
            orig = (fpm.FrameCollector.add, fpm.FrameCollector.finish, fpm.content_hash)
            fpm.FrameCollector.add = timed("thumbnails", orig[0])  # type: ignore[method-assign]
            fpm.FrameCollector.finish = timed("hash of frames", orig[1])  # type: ignore[method-assign]
            fpm.content_hash = timed("byte hash", orig[2])
            parts = dict.fromkeys(spent, float("inf"))
            try:
                for _ in range(rounds):
                    for name in spent:
                        spent[name], calls[name] = 0.0, 0
                    run(level, True)
                    for name in spent:
                        parts[name] = min(parts[name], spent[name] - calls[name] * overhead)
            finally:
                fpm.FrameCollector.add, fpm.FrameCollector.finish, fpm.content_hash = orig  # type: ignore[method-assign]
            print("           of which " + ", ".join(f"{k} {v / clips * 1000:.2f} ms" for k, v in parts.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("index", "threshold", "cost", "all"), default="all")
    ap.add_argument("--seeds", type=int, default=30, help="distinct clips per class (threshold part)")
    ap.add_argument("--level", choices=("quick", "standard", "full"), default="standard",
                    help="scan level of the fingerprints compared (threshold part)")
    ap.add_argument("--clips", type=int, default=12, help="user-like clips (cost part)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, best of (cost part)")
    args = ap.parse_args()
    if args.part in ("cost", "all"):
        print("cost of the fingerprint in a scan (CPU time, this process):")
        part_cost(args.clips, args.rounds)
    if args.part in ("threshold", "all"):
        print(f"threshold (real copies vs distinct clips of the demo generator, fingerprints at {args.level}):")
        part_threshold(args.seeds, args.level)
    if args.part in ("index", "all"):
        print("grouping (LSH index vs brute force):")
        part_index()
    return 0


if __name__ == "__main__":
    sys.exit(main())
