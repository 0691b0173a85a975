"""The SQLite results store: what counts as unchanged, pruning, quarantine rows."""

from __future__ import annotations

from pathlib import Path

import pytest

import core
from core.dataset import VideoFile
from core.records import FileResult, Verdict
from core.store import QUARANTINE, ScanStore


def _r(rel: str, size: int = 10, mtime: int = 1, level: str = "standard",
       verdict: Verdict = Verdict.OK) -> FileResult:
    return FileResult(path=rel, split="train", cls="violent", verdict=verdict, size=size,
                      mtime_ns=mtime, level=level, reasons=[] if verdict is Verdict.OK else ["truncated"])


def _v(rel: str, size: int = 10, mtime: int = 1) -> VideoFile:
    return VideoFile(rel, "train", "violent", size, mtime)


@pytest.fixture
def store(tmp_path: Path) -> ScanStore:
    s = ScanStore.for_root(tmp_path)
    yield s
    s.close()


def test_cached_only_when_size_mtime_level_and_engine_match(store: ScanStore, monkeypatch) -> None:
    store.put_many([_r("a.mp4"), _r("b.mp4", level="quick"), _r("c.mp4", level="full")])
    videos = [_v("a.mp4"), _v("b.mp4"), _v("c.mp4"), _v("new.mp4")]
    assert set(store.cached(videos, "standard")) == {"a.mp4", "c.mp4"}  # full serves standard
    assert set(store.cached(videos, "quick")) == {"a.mp4", "b.mp4", "c.mp4"}
    assert set(store.cached(videos, "full")) == {"c.mp4"}
    assert store.cached([_v("a.mp4", size=11)], "standard") == {}
    assert store.cached([_v("a.mp4", mtime=2)], "standard") == {}
    monkeypatch.setattr(core, "ENGINE_VERSION", "999")
    import core.store as store_mod

    monkeypatch.setattr(store_mod, "ENGINE_VERSION", "999")
    assert store.cached(videos, "quick") == {}  # a new engine re-checks everything


def test_upsert_roundtrip_and_prune(store: ScanStore) -> None:
    store.put_many([_r("a.mp4"), _r("b\nc.mp4")])
    store.put_many([_r("a.mp4", verdict=Verdict.CORRUPT)])
    assert store.count() == 2
    got, location = store.get("a.mp4")
    assert got.verdict is Verdict.CORRUPT and got.reasons == ["truncated"] and location == "dataset"
    assert [r.path for r in store.results()] == ["a.mp4", "b\nc.mp4"]
    store.set_location(["a.mp4"], QUARANTINE)
    assert store.prune(present=set()) == 1  # b\nc.mp4 is gone; the quarantined row stays
    assert store.count() == 0 and store.count(QUARANTINE) == 1
    assert store.has_results()


def test_meta_and_persistence(tmp_path: Path) -> None:
    with ScanStore.for_root(tmp_path) as s:
        s.set_meta("last_scan", {"level": "full", "complete": True})
        s.put_many([_r("x.mp4")])
    assert ScanStore.exists_for(tmp_path)
    with ScanStore.for_root(tmp_path) as s:
        assert s.get_meta("last_scan") == {"level": "full", "complete": True}
        assert s.get_meta("root") == str(tmp_path.resolve())
        assert s.count() == 1
    assert not ScanStore.exists_for(tmp_path / "other")


def test_names_that_are_not_utf8(store: ScanStore) -> None:
    # Linux allows any bytes in a name; os.fsdecode turns b"\xff" into a lone surrogate.
    odd = "train/v\udcffx/clip\udcfe.mp4"
    r = FileResult(path=odd, split="train", cls="v\udcffx", verdict=Verdict.OK, size=10, mtime_ns=1)
    store.put_many([r, _r("plain.mp4")])
    assert set(store.cached([VideoFile(odd, "train", "v\udcffx", 10, 1)], "standard")) == {odd}
    assert store.get(odd)[0].path == odd
    assert store.locations() == {odd: "dataset", "plain.mp4": "dataset"}
    store.set_location([odd], QUARANTINE)
    assert store.get(odd)[1] == QUARANTINE
    store.set_location([odd], "dataset")
    assert store.prune({"plain.mp4"}) == 1 and store.get(odd) is None


def test_timeout_and_crash_are_stored_but_retried(store: ScanStore) -> None:
    """A check that never finished says more about the machine then (load, memory)
    than about the file: it is kept for the report, but a rescan tries again.
    Other corrupt verdicts are facts about the bytes and are reused."""
    results = [_r("hang.mp4", verdict=Verdict.CORRUPT), _r("segv.mp4", verdict=Verdict.CORRUPT),
               _r("cut.mp4", verdict=Verdict.CORRUPT), _r("fine.mp4")]
    results[0].reasons, results[1].reasons = ["timeout"], ["crash"]
    store.put_many(results)
    videos = [_v(r.path) for r in results]
    assert set(store.cached(videos, "standard")) == {"cut.mp4", "fine.mp4"}
    assert store.count() == 4 and store.get("hang.mp4")[0].reasons == ["timeout"]
    # The raw form served to rescans is exactly what to_dict() would give.
    assert store.cached_dicts(videos, "standard")["cut.mp4"] == results[2].to_dict()


def test_check_failed_is_retried_like_timeout_and_crash(store: ScanStore) -> None:
    """Issue 11.9: a checker that raised says nothing about the bytes; the next scan tries again."""
    bug = _r("bug.mp4", verdict=Verdict.CORRUPT)
    bug.reasons = ["check_failed"]
    store.put_many([bug, _r("fine.mp4")])
    assert set(store.cached([_v("bug.mp4"), _v("fine.mp4")], "standard")) == {"fine.mp4"}


@pytest.mark.parametrize("garbage", [b"this is not a database\n" * 10, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_store_that_is_not_sqlite_is_moved_aside_and_rebuilt(tmp_path: Path, garbage: bytes) -> None:
    """Issue 11.11: `results`, `scan` and `quarantine` crashed with a traceback on such a store."""
    from core.paths import store_path_for
    from tests.helpers_crash import make_dataset, run_nexara

    root = tmp_path / "ds"
    make_dataset(root, n=2, real_videos=2)
    path = store_path_for(root)
    for argv in (["results", str(root)], ["quarantine", str(root), "--yes"], ["scan", str(root)]):
        path.write_bytes(garbage)
        for leftover in path.parent.glob(path.name + ".not-sqlite-*"):
            leftover.unlink()
        r = run_nexara(*argv)
        assert "Traceback" not in r.stderr, (argv, r.stderr)
        assert r.returncode in (0, 1, 2), (argv, r.returncode)
        notice = [ln for ln in r.stderr.splitlines() if "not a SQLite database" in ln]
        assert notice and "moved it aside" in notice[0] and str(path) in notice[0], (argv, r.stderr)
        aside = list(path.parent.glob(path.name + ".not-sqlite-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == garbage, argv
        if argv[0] != "scan":
            assert r.returncode == 2 and "scan" in r.stderr.splitlines()[-1], (argv, r.stderr)
    # The rebuilt store is a real one: the scan filled it.
    with ScanStore(path) as s:
        assert s.count() == 2
