"""`nexara decide` on a really scanned demo dataset: same counts as the scan, config round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.training.config import load_config


def run_json(capsys, argv: list[str]) -> tuple[int, list[dict]]:
    rc = main(argv)
    out = capsys.readouterr().out
    return rc, [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def scanned(demo_dataset, capsys) -> tuple[Path, dict]:
    """The demo dataset after a real `nexara scan`; returns (root, the scan's summary)."""
    rc, evs = run_json(capsys, ["scan", str(demo_dataset.root), "--json", "--workers", "2"])
    assert rc == 0
    summary = next(e["summary"] for e in evs if e["type"] == "summary")
    return demo_dataset.root, summary


def test_decide_matches_the_scan(scanned, capsys):
    root, scan_summary = scanned
    rc, evs = run_json(capsys, ["decide", str(root), "--json"])
    assert rc == 0
    (ev,) = [e for e in evs if e["type"] == "decision"]
    assert ev["summary"]["groups"] == scan_summary["groups"]
    d = ev["decision"]
    assert d["total"] == scan_summary["overall"]["total"]
    assert d["lost"] == scan_summary["overall"]["corrupt"]  # damaged kept by default
    for g in scan_summary["groups"]:
        row = next(r for r in d["rows"] if r["split"] == g["split"] and r["class"] == g["class"])
        assert row["total"] == g["total"] and row["lost"] == g["corrupt"]
        assert row["valid"] == g["total"] - g["corrupt"]
    assert sum(b["active"] for b in d["bands"]) == 1
    # Damaged counted as lost moves exactly the damaged clips.
    rc, evs = run_json(capsys, ["decide", str(root), "--json", "--count-damaged-as-lost"])
    d2 = evs[-1]["decision"]
    assert d2["lost"] == scan_summary["overall"]["corrupt"] + scan_summary["overall"]["damaged"]


def test_human_output_and_written_config(scanned, capsys, tmp_path):
    root, _ = scanned
    out_toml = tmp_path / "train.toml"
    rc = main(["decide", str(root), "--write-config", str(out_toml)])
    cap = capsys.readouterr()
    assert rc == 0
    assert "Decision matrix" in cap.out and "▶" in cap.out and "train/violent" in cap.out
    assert "Findings" in cap.out
    assert f"wrote training config {out_toml}" in cap.err
    cfg = load_config(out_toml)
    rc, evs = run_json(capsys, ["decide", str(root), "--json"])
    d = evs[-1]["decision"]
    assert cfg.class_weights == d["class_weights"] and cfg.class_multipliers == d["class_multipliers"]
    assert cfg.class_weights and cfg.dropout_rate == 0.32 and cfg.batch_size == 96
    # Existing file: refused without --force, replaced with it.
    assert main(["decide", str(root), "--write-config", str(out_toml)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["decide", str(root), "--write-config", str(out_toml), "--force",
                 "--augmentation-multiplier", "4"]) == 0
    assert load_config(out_toml).augmentation_multiplier == 4


def test_no_scan_yet_exits_2(tmp_path, capsys):
    rc = main(["decide", str(tmp_path)])
    assert rc == 2
    assert f"no scan yet for {tmp_path} — run `nexara scan {tmp_path}` first" in capsys.readouterr().err
    rc, evs = run_json(capsys, ["decide", str(tmp_path), "--json"])
    assert rc == 2 and evs[-1]["type"] == "error" and "no scan yet" in evs[-1]["message"]


def test_thresholds_from_flags_and_policy_file(scanned, capsys, tmp_path):
    root, _ = scanned
    rc, evs = run_json(capsys, ["decide", str(root), "--json", "--band-low", "1", "--band-high", "2",
                                "--redownload-target", "50"])
    d = evs[-1]["decision"]
    assert d["band"] == "rebuild" and d["policy"]["band_low"] == 0.01
    assert all(r["redownload"] == max(0, 50 - r["valid"]) for r in d["rows"] if r["split"] == "train")
    pol = tmp_path / "policy.toml"
    pol.write_text("[decision]\nband_low = 0.95\nband_high = 0.99\n")
    rc, evs = run_json(capsys, ["decide", str(root), "--json", "--policy", str(pol)])
    assert evs[-1]["decision"]["band"] == "clean"
    pol.write_text("band_lwo = 0.2\n")
    assert main(["decide", str(root), "--policy", str(pol)]) == 2
    assert "unknown key 'band_lwo'" in capsys.readouterr().err
    pol.write_text('research_minimum = "lots"\n')
    assert main(["decide", str(root), "--policy", str(pol)]) == 2
    assert "'research_minimum': expected int" in capsys.readouterr().err
    assert main(["decide", str(root), "--band-low", "120"]) == 2
    assert "--band-low: expected a percentage" in capsys.readouterr().err
