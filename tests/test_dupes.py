"""Duplicates: real copies of real clips are grouped with their originals, look-alikes are not.

Originals come from the demo generator; copies are made the ways footage is
copied (re-encoded at another quality, downscaled, head cut, remuxed to
another container, a box burnt into a corner, the same bytes); look-alikes
are clips of the same generator with other seeds. Everything is scanned by the
real scan, whose fingerprints the grouping reads from the store.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core import dupes
from core.cli import main
from core.demo import write_clip
from core.dupes import MatchRule, Print, analyse, load_prints
from core.fingerprint import FP_VERSION, hamming
from core.paths import store_path_for
from core.scan import scan
from core.store import ScanStore
from tests.dupes_fixtures import mean_abs_diff, reencode, remux

SECONDS = 4.0
# (original rel, seed, label) — look-alikes of each other: same generator, other seeds
ORIGINALS = [
    ("train/violent/v_a.mp4", 101, "violent"),
    ("train/violent/v_b.mp4", 102, "violent"),
    ("train/violent/v_c.mp4", 103, "violent"),
    ("val/violent/v_d.mp4", 104, "violent"),
    ("train/nonviolent/n_a.mp4", 201, "nonviolent"),
    ("train/nonviolent/n_b.mp4", 202, "nonviolent"),
    ("test/nonviolent/n_c.mp4", 203, "nonviolent"),
    ("train/nonviolent/n_d.mp4", 204, "nonviolent"),
]
# copy rel → (original rel, how it was made)
COPIES = {
    "test/violent/v_a_reupload_crf40.mp4": ("train/violent/v_a.mp4", "crf40"),  # leakage
    "train/violent/v_b_small.mp4": ("train/violent/v_b.mp4", "half"),
    "train/violent/v_c_cut_head.mp4": ("train/violent/v_c.mp4", "head"),
    "train/nonviolent/v_d_as_nonviolent.mkv": ("val/violent/v_d.mp4", "remux"),  # conflict + leak
    "train/nonviolent/n_a_logo.mp4": ("train/nonviolent/n_a.mp4", "box"),
    "train/nonviolent/n_b_cut_head.mp4": ("train/nonviolent/n_b.mp4", "head_any"),
    "test/nonviolent/n_c (1).mp4": ("test/nonviolent/n_c.mp4", "bytes"),
}


def _make_copy(src: Path, dst: Path, how: str) -> None:
    if how == "crf40":
        reencode(src, dst, crf=40)
    elif how == "half":
        reencode(src, dst, crf=28, scale=0.5)
    elif how == "head":  # a cut at a keyframe (one GOP): the frames the scan sees line up
        reencode(src, dst, crf=28, trim_head_s=1.0)
    elif how == "head_any":  # smooth footage: any cut
        reencode(src, dst, crf=28, trim_head_s=0.72)
    elif how == "remux":
        remux(src, dst)
    elif how == "box":
        reencode(src, dst, crf=28, box=True)
    elif how == "bytes":
        shutil.copyfile(src, dst)


@pytest.fixture(scope="module")
def copies_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dupes") / "ds"
    for rel, seed, label in ORIGINALS:
        write_clip(root / rel, label, seconds=SECONDS, seed=seed)
    for rel, (orig, how) in COPIES.items():
        _make_copy(root / orig, root / rel, how)
    return root


@pytest.fixture
def scanned(copies_dataset, _state_dir):
    events = list(scan(copies_dataset, workers=2))
    assert events[-1]["type"] == "summary"
    with ScanStore.for_root(copies_dataset) as store:
        prints = load_prints(store)
    return copies_dataset, prints


def _groups_by_file(groups):
    return {p.rel: i for i, g in enumerate(groups) for p in g.files}


def test_every_copy_is_grouped_with_its_original_and_no_look_alikes_are(scanned):
    root, prints = scanned
    assert len(prints) == len(ORIGINALS) + len(COPIES)  # every clip has a fingerprint
    for rel, (orig, how) in COPIES.items():
        if how != "bytes":
            assert mean_abs_diff(root / orig, root / rel) >= 0  # decodable, really another file
    report = analyse(prints)
    where = _groups_by_file(report.groups)
    for rel, (orig, how) in COPIES.items():
        assert rel in where and orig in where and where[rel] == where[orig], (rel, how)
    originals = [rel for rel, _, _ in ORIGINALS]
    assert len({where.get(o, o) for o in originals}) == len(originals), "distinct clips were grouped"
    assert "train/nonviolent/n_d.mp4" not in where  # no copy: in no group
    assert len(report.groups) == len(COPIES)
    kinds = {report.groups[where[rel]].kind for rel in COPIES}
    assert report.groups[where["test/nonviolent/n_c (1).mp4"]].kind == "exact"
    assert kinds == {"exact", "near"}


def test_cross_split_and_cross_class_groups_are_flagged(scanned):
    _root, prints = scanned
    report = analyse(prints)
    where = _groups_by_file(report.groups)
    leak = report.groups[where["test/violent/v_a_reupload_crf40.mp4"]]
    assert leak.splits == ["train", "test"] and leak.leaks
    assert leak.keep_split == "test" and leak.keep == "test/violent/v_a_reupload_crf40.mp4"
    conflict = report.groups[where["val/violent/v_d.mp4"]]
    assert conflict.classes == ["nonviolent", "violent"] and conflict.conflicts
    codes = [f.code for f in report.findings]
    assert codes.count("leakage") == 2 and codes.count("label_conflict") == 1
    leak_msgs = [f.message for f in report.findings if f.code == "leakage"]
    assert any("Keep it in test" in m for m in leak_msgs)
    assert all(f.severity == "critical" for f in report.findings if f.code != "redundant_copies")
    # redundant copies per class, and distinct footage per split/class
    assert report.redundant == {"nonviolent": 3, "violent": 3}  # a copy under another class is no redundant copy of its class
    assert report.distinct[("train", "violent")] == 3  # v_a, v_b (+small), v_c (+cut)
    assert report.distinct[("train", "nonviolent")] == 4  # n_a(+logo), n_b(+cut), n_d, v_d copy


def test_best_copy_in_the_non_leaking_split_is_kept(scanned):
    _root, prints = scanned
    report = analyse(prints)
    where = _groups_by_file(report.groups)
    small = report.groups[where["train/violent/v_b_small.mp4"]]
    assert small.keep == "train/violent/v_b.mp4"  # full size beats half size
    exact = report.groups[where["test/nonviolent/n_c.mp4"]]
    assert exact.keep == "test/nonviolent/n_c.mp4"  # same bytes: the original name


def test_cli_report_has_the_issue_shape_with_paths_relative_to_root(scanned, tmp_path, capsys):
    root, _ = scanned
    out = tmp_path / "dupes.json"
    assert main(["dupes", str(root), "--report", str(out), "--json"]) == 0
    data = json.loads(out.read_text())
    assert len(data["groups"]) == len(COPIES)
    files = {f for g in data["groups"] for f in g["files"]}
    assert files >= set(COPIES) and all(not f.startswith("/") for f in files)
    for g in data["groups"]:
        assert set(g) >= {"files", "kind", "splits", "classes"} and g["kind"] in ("exact", "near")
    assert any(g["splits"] == ["train", "test"] for g in data["groups"])
    assert any(f["code"] == "label_conflict" for f in data["findings"])
    capsys.readouterr()
    assert main(["dupes", str(root)]) == 0
    human = capsys.readouterr().out
    assert "LEAKAGE train+test" in human and "LABEL CONFLICT" in human
    assert main(["dupes", str(root), "--threshold", "99"]) == 2
    assert "--threshold 99" in capsys.readouterr().err


def test_dupes_before_any_scan_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["dupes", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no scan yet" in err and len(err.strip().splitlines()) == 1


def test_decide_counts_distinct_footage_and_raises_the_findings(scanned, capsys):
    root, _ = scanned
    assert main(["decide", str(root), "--json"]) == 0
    ev = [json.loads(x) for x in capsys.readouterr().out.splitlines()][-1]
    rows = {(r["split"], r["class"]): r for r in ev["decision"]["rows"]}
    assert rows[("train", "violent")]["valid"] == 5 and rows[("train", "violent")]["distinct"] == 3
    assert rows[("train", "nonviolent")]["distinct"] == 4
    # the plan is on distinct footage: re-download target and effective counts
    policy = ev["decision"]["policy"]
    assert rows[("train", "violent")]["redownload"] == policy["redownload_target"] - 3
    assert rows[("train", "violent")]["effective"] == 3 * rows[("train", "violent")]["multiplier"]
    codes = [f["code"] for f in ev["decision"]["findings"]]
    assert "leakage" in codes and "label_conflict" in codes
    assert main(["decide", str(root)]) == 0
    out = capsys.readouterr().out
    assert "5/3" in out and "Leakage" in out


def test_a_fingerprint_of_another_version_is_computed_again(scanned):
    root, prints = scanned
    db = sqlite3.connect(store_path_for(root))
    db.execute("UPDATE fingerprints SET version = ?", (FP_VERSION + 1,))
    db.commit()
    db.close()
    with ScanStore.for_root(root) as store:
        assert load_prints(store) == []
    summary = [e for e in scan(root, workers=2) if e["type"] == "summary"][0]
    assert summary["checked"] == len(prints)
    with ScanStore.for_root(root) as store:
        assert len(load_prints(store)) == len(prints)
    summary = [e for e in scan(root, workers=2) if e["type"] == "summary"][0]
    assert summary["checked"] == 0  # and then it is reused


# -- the same fingerprint whichever level decoded the pictures -------------------------------------


@pytest.mark.parametrize("variant", range(8))
def test_an_intact_clip_has_the_same_fingerprint_at_standard_and_at_full(tmp_path, variant):
    """Every container/codec of the demo: `full` offers the fingerprint the standard windows'
    pictures, so both levels hash the same pictures at the same times (quick: keyframes only)."""
    from core.demo import CLEAN_VARIANTS
    from core.integrity import check_path

    v = CLEAN_VARIANTS[variant]
    p = write_clip(tmp_path / f"clip.{v['container']}", "violent", seconds=3, seed=300 + variant,
                   **{k: v[k] for k in ("container", "codec", "audio", "faststart", "size", "fps") if k in v})
    std, full = check_path(p, "standard"), check_path(p, "full")
    assert std.usable and full.usable and std.fingerprint.hashes, (v, std.reasons)
    assert (std.fingerprint.times, std.fingerprint.hashes) == (full.fingerprint.times, full.fingerprint.hashes), v
    quick = check_path(p, "quick").fingerprint
    assert dupes.match(_as_print(quick, "q"), _as_print(std.fingerprint, "s"), MatchRule()), v


def _as_print(fp, name):
    return Print(name, "train", "a", 1, "", np.asarray(fp.times, np.float32), np.asarray(fp.hashes, np.uint64))


@pytest.mark.parametrize("kind", ["truncated_tail", "bitflip_packet", "ts_packet_loss", "audio_damage"])
@pytest.mark.parametrize("seed", range(3))
def test_a_damaged_usable_clip_keeps_its_fingerprint_and_matches_its_intact_self(tmp_path, kind, seed):
    """Standard measures a damaged file fully (escalation): the fingerprint is still that of the
    standard windows, less what the decoder concealed, and the clip matches its undamaged bytes."""
    import random

    from core.demo.damage import _base_spec, apply_damage, write_base
    from core.integrity import check_path

    spec = {"size": (160, 120), "fps": 25.0, "seconds": 3.0, **_base_spec(kind)}
    ext = spec.get("container", "mp4")
    clean, bad = tmp_path / f"clean.{ext}", tmp_path / f"bad.{ext}"
    for p in (clean, bad):
        write_base(p, kind, "violent", seed, spec)
    apply_damage(bad, kind, random.Random(seed))
    std, full, intact = check_path(bad, "standard"), check_path(bad, "full"), check_path(clean, "standard")
    assert std.usable, (kind, seed, std.verdict, std.reasons)
    assert (std.fingerprint.times, std.fingerprint.hashes) == (full.fingerprint.times, full.fingerprint.hashes)
    assert dupes.match(_as_print(intact.fingerprint, "clean"), _as_print(std.fingerprint, "bad"), MatchRule()), \
        f"{kind} seed {seed}: the damaged copy no longer matches"


# -- the rule and the index, as properties over seeded random fingerprints ----------------------


def _random_print(rng, name, n=12, step=0.7):
    h = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    return Print(name, "train", "a", 1, "", np.arange(n, dtype=np.float32) * step, h)


def _flip(rng, h, max_bits):
    out = h.copy()
    for i in range(len(out)):
        for b in rng.choice(64, size=int(rng.integers(0, max_bits + 1)), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(b))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_copies_match_and_random_clips_do_not(seed):
    rng = np.random.default_rng(seed)
    rule = MatchRule()
    a = _random_print(rng, "a")
    cut = int(rng.integers(0, 6))
    b = Print("b", "test", "a", 1, "", a.times[cut:] - a.times[cut] + np.float32(0.05),
              _flip(rng, a.hashes, rule.threshold)[cut:])
    assert dupes.match(a, b, rule) >= rule.min_frames, f"seed {seed}: copy cut by {cut} not matched"
    c = _random_print(rng, "c")
    assert dupes.match(a, c, rule) == 0, f"seed {seed}: random clips matched"
    # shuffled frames (same pictures, another order) are not one consistent offset
    perm = rng.permutation(len(a.hashes))
    d = Print("d", "test", "a", 1, "", a.times.copy(), a.hashes[perm])
    if not np.array_equal(perm, np.arange(len(perm))):
        assert dupes.match(a, d, rule) < len(a.hashes), f"seed {seed}"


@pytest.mark.parametrize("seed", range(5))
def test_lsh_grouping_finds_what_brute_force_finds(seed):
    rng = np.random.default_rng(1000 + seed)
    rule = MatchRule()
    prints = [_random_print(rng, f"c{i}") for i in range(400)]
    truth = set()
    for k in range(20):
        src = int(rng.integers(0, 400))
        o = prints[src]
        prints.append(Print(f"copy{k}", "test", "a", 1, "", o.times.copy(), _flip(rng, o.hashes, 5)))
        truth.add((src, len(prints) - 1))
    brute = set()
    for i in range(len(prints)):
        for j in range(i + 1, len(prints)):
            d = hamming(prints[i].hashes[:, None], prints[j].hashes[None, :])
            if (d <= rule.threshold).any() and dupes.match(prints[i], prints[j], rule):
                brute.add((i, j))
    assert truth <= brute, f"seed {seed}"
    got = {(i, j) for i, j, _ in dupes.matched_pairs(prints, rule)}
    assert got == brute, f"seed {seed}: index missed {brute - got}, extra {got - brute}"


def test_the_demo_plants_copies_and_dupes_finds_them_with_the_leak(tmp_path, capsys):
    from core.demo import GROUND_TRUTH_NAME, PLANT_MIN_CLIPS, make_demo

    root = tmp_path / "demo"
    make_demo(root, clips_per_class=PLANT_MIN_CLIPS, seed=5)
    planted = json.loads((root / GROUND_TRUTH_NAME).read_text())["duplicates"]
    assert len(planted) == 3
    assert any(c.startswith("test/") and o.startswith("train/") for c, o in planted.items())
    list(scan(root, workers=2))
    with ScanStore.for_root(root) as store:
        report = analyse(load_prints(store))
    where = _groups_by_file(report.groups)
    assert len(report.groups) == 3
    for copy, orig in planted.items():
        assert where[copy] == where[orig], copy
    assert [f.code for f in report.findings].count("leakage") == 1
    assert main(["decide", str(root)]) == 0
    assert "CRITICAL Leakage" in " ".join(capsys.readouterr().out.split())
    # a restricted demo (the training tests' clean datasets) has none
    make_demo(tmp_path / "clean", clips_per_class=PLANT_MIN_CLIPS, seed=5, kinds=[])
    assert "duplicates" not in json.loads((tmp_path / "clean" / GROUND_TRUTH_NAME).read_text())
