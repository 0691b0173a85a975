"""Resume after a kill: a killed extraction keeps its finished shards; a killed training
restarts at the epoch after the last one it finished. Real subprocesses, real SIGKILL."""

from __future__ import annotations

import json
import os
import signal

from core.training.data import usable_clips
from core.training.features import FeatureCache, extract_split
from core.training.train import train
from tests.training_fixtures import make_dataset, nexara, scan_into_store, tiny_config, write_config


def _read_until(proc, pred, limit=400):
    """JSON events from the subprocess until `pred(event)` holds; returns them all."""
    seen = []
    for _ in range(limit):
        line = proc.stdout.readline()
        if not line:
            break
        ev = json.loads(line)
        seen.append(ev)
        if pred(ev):
            return seen
    raise AssertionError(f"subprocess ended before the condition: {seen[-3:]}")


def _kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_killed_extraction_resumes_without_redoing_finished_shards(tmp_path):
    root = make_dataset(tmp_path / "data", clips_per_class=6)
    scan_into_store(root)
    # 6 frames per view, 12 frames per shard: a shard holds 2 views, so train (24 views) is 12 shards.
    extra = ("extract_batch_frames=12",)
    conf = write_config(tmp_path / "c.toml", *extra)
    cache = tmp_path / "cache"
    proc = nexara("extract", str(root), "--config", str(conf), "--cache", str(cache), "--split", "train",
                  "--json")
    _read_until(proc, lambda e: e["type"] == "progress" and e["done"] >= 4)
    _kill(proc)

    cfg = tiny_config(*extra)
    clips = usable_clips(root, cfg).split("train")
    cache_obj = FeatureCache.for_split(cache, "train", cfg, "train")
    shards_before = {p.name: p.stat().st_mtime_ns for p in cache_obj.dir.glob("shard-*.npy")}
    done_before = len(cache_obj.entries(clips))
    assert 0 < done_before < 2 * len(clips), done_before

    ev = list(extract_split(root, clips, "train", cfg, "train", cache))[-1]
    assert ev["type"] == "features"
    assert ev["reused"] == done_before
    assert ev["extracted"] == ev["views"] - done_before  # only what was missing
    # The shards written before the kill were not rewritten.
    assert {p.name: p.stat().st_mtime_ns for p in cache_obj.dir.glob("shard-*.npy")
            if p.name in shards_before} == shards_before
    assert len(cache_obj.load(clips, cfg, "train")) == 2 * len(clips)

    # Run again: nothing left to do.
    again = list(extract_split(root, clips, "train", cfg, "train", cache))[-1]
    assert again["extracted"] == 0 and again["reused"] == again["views"]

    # Another config (frame size) is a different cache: all of it is extracted, nothing reused.
    other = tiny_config(*extra, "frame_size=40")
    ev2 = list(extract_split(root, clips, "train", other, "train", cache))[-1]
    assert ev2["reused"] == 0 and ev2["extracted"] == ev2["views"]
    assert ev2["dir"] != ev["dir"]


def test_cache_with_foreign_fingerprint_is_rebuilt(tmp_path):
    cfg = tiny_config()
    cache = FeatureCache.for_split(tmp_path, "val", cfg, "plain").open()
    (cache.dir / "shard-000000.json").write_text(json.dumps([
        {"rel": "val/violent/a.mp4", "size": 1, "mtime_ns": 1, "view": 0, "name": "original", "row": None}
    ]))
    fp = json.loads((cache.dir / "fingerprint.json").read_text())
    fp["frame_size"] = 999  # as if written by another config
    (cache.dir / "fingerprint.json").write_text(json.dumps(fp))

    reopened = FeatureCache.for_split(tmp_path, "val", cfg, "plain").open()
    assert reopened.rebuilt
    assert not list(reopened.dir.glob("shard-*"))
    assert json.loads((reopened.dir / "fingerprint.json").read_text())["frame_size"] == cfg.frame_size


def test_killed_training_resumes_at_the_next_epoch(tmp_path):
    root = make_dataset(tmp_path / "data", clips_per_class=5)
    scan_into_store(root)
    extra = ("epochs=5", "augmentation_multiplier=1")
    conf = write_config(tmp_path / "c.toml", *extra)
    cache, run = tmp_path / "cache", tmp_path / "run"
    proc = nexara("train", str(root), "--config", str(conf), "--cache", str(cache), "--out", str(run),
                  "--foreground", "--json")
    seen = _read_until(proc, lambda e: e["type"] == "epoch" and e["epoch"] == 2)
    _kill(proc)
    assert [e["epoch"] for e in seen if e["type"] == "epoch"] == [1, 2]
    assert (run / "backup").is_dir() and not (run / "train_end.json").exists()

    events = list(train(root, tiny_config(*extra), run, cache))
    epochs = [e["epoch"] for e in events if e["type"] == "epoch"]
    assert epochs == [3, 4, 5]  # resumed at the right epoch, nothing redone
    assert all(e["extracted"] == 0 for e in events if e["type"] == "features")
    on_disk = [json.loads(x)["epoch"] for x in (run / "epochs.jsonl").read_text().splitlines()]
    assert on_disk == [1, 2, 3, 4, 5]
    # Best-so-far carried over the kill: consistent with all five records.
    recs = [json.loads(x) for x in (run / "epochs.jsonl").read_text().splitlines()]
    best = max(recs, key=lambda r: (r["val_accuracy"], -r["epoch"]))
    assert recs[-1]["best_epoch"] == best["epoch"]
    assert events[-1]["type"] == "train_end" and (run / "model.keras").is_file()
    assert not (run / "backup").exists()  # a finished run drops its backup
