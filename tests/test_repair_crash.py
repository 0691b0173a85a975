"""kill -9 during repair, at every step: each original stays in exactly one known place, the
dataset never holds half a clip, the next run finishes the job, and restore undoes all of it.

Real crashes, as for quarantine: the real CLI in a subprocess SIGKILLs itself at a named point
(NEXARA_CRASH_AT, read by core.quarantine for the journaled moves and by core.repair.engine for
`repair_mid_write` / `repair_before_apply`).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from core.dataset import QUARANTINE_DIR
from core.journal import Journal
from tests.helpers_crash import run_nexara
from tests.helpers_repair import add_references, assert_decodes_end_to_end, damaged, scan, sha, tree

KILLED = -signal.SIGKILL
KINDS = ("audio_damage", "chapter_ref_missing", "truncated_moov_end", "truncated_tail")


def _dataset(root: Path) -> tuple[dict[str, str], list[str]]:
    add_references(root)
    rels = []
    for i, kind in enumerate(KINDS):
        rel = f"train/violent/{i}_{kind}.mp4"
        damaged(root, rel, kind, seed=60 + i)
        rels.append(rel)
    damaged(root, "train/violent/page.mp4", "html_page")
    scan(root)
    return tree(root), rels


def _invariants(root: Path, before: dict[str, str], recovered: bool = False) -> dict[str, str]:
    """Each original in exactly one place, byte-identical; a dataset path whose original is in the
    quarantine is empty or holds a complete clip; a partial copy only ever inside the quarantine
    (until recovery, which removes it). Returns rel → where the original is."""
    now = tree(root)
    where = {}
    for rel, h in before.items():
        at_path, in_q = now.get(rel) == h, now.get("Q:" + rel) == h
        assert at_path != in_q, f"{rel}: original {'in both places' if at_path else 'in neither place'}"
        where[rel] = "dataset" if at_path else "quarantine"
        if in_q and rel in now:
            assert_decodes_end_to_end(root / rel)  # a repaired copy, whole, never half-written
    extra = {k for k in now if k not in before and not (k.startswith("Q:") and k[2:] in before)}
    extra -= {rel for rel, w in where.items() if w == "quarantine"}  # repaired copies
    if not recovered:  # a copy into the quarantine cut short: recovery's to remove
        extra = {k for k in extra if not (k.startswith("Q:") and k.endswith(".nexara-partial"))}
    assert not extra, f"unexpected files: {extra}"
    assert not [p for p in root.rglob("*.nexara-partial")
                if p.relative_to(root).parts[0] != QUARANTINE_DIR], "a partial copy in the dataset"
    return where


def _repair(root: Path, **kw) -> tuple[int, list[dict]]:
    r = run_nexara("repair", str(root), "--yes", "--json", "--min-seconds", "1", timeout=240, **kw)
    return r.returncode, [json.loads(x) for x in r.stdout.splitlines() if x.strip()]


@pytest.mark.parametrize("point", [
    "repair_mid_write:2", "repair_before_apply:1",
    "after_intent:1", "after_intent:2", "after_move:1", "after_move:2", "after_move:5", "torn_done:1",
])
def test_kill_9_during_repair(tmp_path, point):
    root = tmp_path / "ds"
    before, rels = _dataset(root)
    rc, _ = _repair(root, crash_at=point)
    assert rc == KILLED, rc
    where = _invariants(root, before)
    if point.startswith("repair_"):
        assert set(where.values()) == {"dataset"}  # nothing was journaled yet: untouched
    # The next run recovers, finishes what was interrupted, and repairs the rest.
    rc, evs = _repair(root)
    assert rc == 0, evs[-3:]
    if point in ("after_intent:2", "after_move:1"):  # original moved, its repaired copy not yet put:
        # recovery (first thing of any command) finishes that put — the staged copy is the one the
        # intent recorded and its original is in the quarantine — instead of leaving the path empty.
        puts = {e["rel"]: e["action"] for e in evs if e["type"] == "recovered" and e["op"] == "put"}
        assert puts == {rels[0]: "finished", **{r: "rolled_back" for r in rels[1:]}}, puts
    where = _invariants(root, before, recovered=True)
    assert {r for r, w in where.items() if w == "quarantine"} == set(rels)
    for rel in rels:
        assert_decodes_end_to_end(root / rel)
    view = Journal(root).read()
    assert not view.pending() and view.torn_bytes == 0 and not view.bad_lines
    assert not (root / ".nexara-repair").exists(), "generated leftovers not cleaned"  # half-written too
    # The store knows every repaired copy, including one whose put recovery finished.
    r = run_nexara("results", str(root), "--repaired", "--json")
    marked = {e["result"]["path"] for e in map(json.loads, r.stdout.splitlines()) if e["type"] == "file"}
    assert marked == set(rels), marked
    # Undo everything.
    r = run_nexara("restore", str(root), "--all", "--json")
    assert r.returncode == 0, r.stderr
    assert tree(root) == before


@pytest.mark.parametrize("point", ["mid_copy:2", "before_unlink_src:2"])
def test_kill_9_during_a_cross_device_put(tmp_path, point):
    """With the copy path forced (as across file systems): a kill mid-copy of a repaired clip into
    the dataset, or after its verified copy is in place but before the staged one is unlinked."""
    root = tmp_path / "ds"
    before, rels = _dataset(root)
    rc, _ = _repair(root, crash_at=point, force_copy=True)
    assert rc == KILLED
    if point.startswith("before_unlink_src"):
        # The verified copy is in the quarantine and the source not yet unlinked: the same bytes at
        # both paths, which recovery (first thing of the next run) resolves by removing the source.
        now = tree(root)
        assert now[rels[1]] == now["Q:" + rels[1]] == before[rels[1]]
    else:
        _invariants(root, before)
    rc, evs = _repair(root, force_copy=True)
    assert rc == 0, evs[-3:]
    where = _invariants(root, before, recovered=True)
    assert {r for r, w in where.items() if w == "quarantine"} == set(rels)
    for rel in rels:
        assert_decodes_end_to_end(root / rel)
    r = run_nexara("restore", str(root), "--all", "--json", force_copy=True)
    assert r.returncode == 0, r.stderr
    assert tree(root) == before
    assert sha(root / rels[0]) == before[rels[0]]


@pytest.mark.parametrize("point", [
    "repair_mid_write:2", "after_intent:2", "after_move:1", "after_move:2", "after_move:5", "torn_done:1",
])
def test_one_restore_all_after_a_killed_repair_gives_the_tree_back(tmp_path, point):
    """The quarantine's guarantee holds for repair: after a kill at any step, the very next command
    may be a plain `restore --all` (no repair run in between) and it gives back the byte-identical
    tree. Repaired copies it meets are set aside (journaled, not orphans), and the staging folder
    a killed run left is cleaned under the journal's lock."""
    root = tmp_path / "ds"
    before, _rels = _dataset(root)
    rc, _ = _repair(root, crash_at=point)
    assert rc == KILLED, rc
    _invariants(root, before)
    r = run_nexara("restore", str(root), "--all", "--json")
    assert r.returncode == 0, r.stderr
    evs = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert tree(root) == before
    assert not [e for e in evs if e["type"] in ("orphan", "skipped")], evs
    assert not (root / ".nexara-repair").exists(), "a killed run's candidates left in ROOT"
    lst = run_nexara("quarantine", str(root), "--list", "--json")
    summary = [json.loads(x) for x in lst.stdout.splitlines() if '"type":"quarantine"' in x]
    assert summary and summary[-1]["files"] == 0 and summary[-1].get("orphans", 0) == 0, lst.stdout[-800:]
    view = Journal(root).read()
    assert not view.pending() and not view.in_quarantine()
