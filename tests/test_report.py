"""Reports: the seed's text shape, the JSON schema and the CSV, with awkward names."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from core.records import FileResult, Verdict
from core.report import CSV_FIELDS, REPORT_FIELDS, report_text, write_csv, write_report_json
from core.summary import summarize

NEWLINE_NAME = "train/violent/fight\nclip ünï.mp4"


def _results() -> list[FileResult]:
    rows = []
    # train/violent: 5 files, 2 corrupt, 1 damaged, 1 warning
    spec = [
        ("train", "violent", Verdict.OK, []), ("train", "violent", Verdict.WARNING, ["audio_errors"]),
        ("train", "violent", Verdict.DAMAGED, ["decode_errors"]),
        ("train", "violent", Verdict.CORRUPT, ["moov_missing"]),
        ("train", "violent", Verdict.CORRUPT, ["not_a_video"]),
        ("train", "nonviolent", Verdict.OK, []), ("train", "nonviolent", Verdict.OK, []),
        ("train", "nonviolent", Verdict.CORRUPT, ["truncated", "decode_errors"]),
        ("val", "violent", Verdict.OK, []),
    ]
    for i, (split, cls, verdict, reasons) in enumerate(spec):
        path = NEWLINE_NAME if i == 3 else f"{split}/{cls}/clip{i}.mp4"
        rows.append(FileResult(
            path=path, split=split, cls=cls, verdict=verdict, reasons=reasons,
            messages=[f"[h264 @ 0x1] msg {i}"] if reasons else [], frames_decoded=240 - i,
            frames_corrupt=i, duration_s=8.0, size=1000 + i, seconds=0.01 * i,
        ))
    return rows


def test_text_report_has_seed_shape_and_numbers() -> None:
    text = report_text(summarize(_results()))
    lines = [ln.rstrip() for ln in text.splitlines()]
    i = lines.index("⚠  train/violent:")
    assert lines[i + 1:i + 4] == ["   Total: 5", "   Valid: 3", "   Corrupted: 2 (40.0%)"]
    assert "(valid includes 1 warning, 1 damaged)" in lines[i + 4]
    j = lines.index("⚠  train/nonviolent:")
    assert lines[j + 1:j + 4] == ["   Total: 3", "   Valid: 2", "   Corrupted: 1 (33.3%)"]
    k = lines.index("✓  val/violent:")
    assert lines[k + 3] == "   Corrupted: 0 (0.0%)"
    assert max(i, j) < k  # train before val, as in the seed
    assert "OVERALL: 3/9 corrupted (33.3%)" in lines
    assert "SCAN RESULTS" in lines
    # verdict counts and top reasons
    assert any(ln.split() == ["corrupt", "│", "3", "│", "33.3%"] for ln in lines)
    assert any(ln.startswith("decode_errors") and "2" in ln for ln in lines)


def test_json_report_schema_and_awkward_names(tmp_path: Path) -> None:
    results = _results()
    out = write_report_json(tmp_path / "sub" / "report.json", "/data/ds", "standard",
                            summarize(results), results)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {"root", "level", "summary", "files"}
    assert data["root"] == "/data/ds" and data["level"] == "standard"
    assert data["summary"]["overall"] == {"total": 9, "ok": 4, "warning": 1, "damaged": 1, "corrupt": 3,
                                          "not_checked": 0}
    assert len(data["files"]) == 9
    for f in data["files"]:
        assert set(REPORT_FIELDS) <= set(f)
        assert isinstance(f["reasons"], list) and isinstance(f["messages"], list)
    assert data["files"][3]["path"] == NEWLINE_NAME  # newline and non-ASCII survive intact
    assert data["files"][3]["class"] == "violent"
    assert data["files"][7]["reasons"] == ["truncated", "decode_errors"]
    assert not list(tmp_path.glob("sub/.report.json.*"))  # no temp file left behind


def test_json_report_with_no_files(tmp_path: Path) -> None:
    out = write_report_json(tmp_path / "r.json", "/x", "quick", summarize([]), [])
    data = json.loads(out.read_text())
    assert data["files"] == [] and data["summary"]["overall"]["total"] == 0


def test_csv_roundtrip(tmp_path: Path) -> None:
    results = _results()
    out = write_csv(tmp_path / "r.csv", results)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CSV_FIELDS)
    assert len(rows) == 9
    assert rows[3]["path"] == NEWLINE_NAME
    assert rows[7]["reasons"] == "truncated;decode_errors"
    assert rows[7]["verdict"] == "corrupt" and rows[7]["frames_corrupt"] == "7"
    assert rows[0]["duration_s"] == "8.0"


def test_non_utf8_name_survives_csv_and_json(tmp_path: Path) -> None:
    # os.fsdecode of the bytes b"bad\xff.mp4" gives a lone surrogate.
    r = FileResult(path="train/x/bad\udcff.mp4", split="train", cls="x", verdict=Verdict.OK)
    write_csv(tmp_path / "r.csv", [r])
    assert b"bad\xff.mp4" in (tmp_path / "r.csv").read_bytes()
    write_report_json(tmp_path / "r.json", "/x", "full", summarize([r]), [r])
    assert json.loads((tmp_path / "r.json").read_text())["files"][0]["path"] == "train/x/bad\udcff.mp4"
