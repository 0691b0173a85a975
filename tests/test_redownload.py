"""Plan A, closed loop (issue 19): provenance → batch file → real yt-dlp run → back in place.

No internet: a local HTTP server on 127.0.0.1 serves demo clips as direct media
URLs, which yt-dlp's generic extractor downloads. The lost clips point at them
through each provenance source: a yt-dlp `.info.json` sidecar, a `path,url`
manifest, and a YouTube-style `[id]` in the name (`--id-url` maps ids to the
local server). One source is missing on the server (404), one serves damaged
bytes, one lost clip has no known source at all.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.cli import main
from core.demo import make_damaged, write_clip
from core.provenance import id_from_name, read_manifest
from core.store import ScanStore

pytestmark = pytest.mark.timeout(300)


class _Quiet(SimpleHTTPRequestHandler):
    """A static file handler that says nothing, also when a client hangs up mid-file
    (yt-dlp's generic extractor reads the head of a response to sniff it, then closes)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass

    def copyfile(self, source, outputfile) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().copyfile(source, outputfile)


@pytest.fixture
def server(tmp_path):
    """A static file server on 127.0.0.1; yields (base URL, served folder)."""
    served = tmp_path / "www"
    served.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(timeout=10)


YT_ID = "vidAAAAAAAA"  # 11 URL-safe chars, last one of the 16 a 64-bit id ends in


def _dataset(root: Path, base: str, served: Path) -> dict[str, str]:
    """A dataset whose lost clips carry sources; returns rel → the URL it should be fetched from."""
    tv, tn, xv = root / "train" / "violent", root / "train" / "nonviolent", root / "test" / "violent"
    for i in range(3):
        write_clip(tv / f"ok_{i}.mp4", "violent", seed=10 + i)
        write_clip(tn / f"ok_{i}.mp4", "nonviolent", seed=20 + i)
        write_clip(xv / f"ok_{i}.mp4", "violent", seed=30 + i)
    expected: dict[str, str] = {}
    # 1. a sidecar .info.json (yt-dlp --write-info-json)
    make_damaged(tv / "side.mp4", "truncated_moov_end", seed=1)
    (tv / "side.info.json").write_text(json.dumps({
        "id": "side", "extractor": "generic", "webpage_url": f"{base}/side.mp4", "duration": 2.0}))
    write_clip(served / "side.mp4", "violent", seed=101)
    expected["train/violent/side.mp4"] = f"{base}/side.mp4"
    # 2. a YouTube-style [id] in the name, mapped to the local server by --id-url
    make_damaged(tv / f"Street fight [{YT_ID}].mp4", "html_page", seed=2)
    write_clip(served / f"{YT_ID}.mp4", "violent", seed=102)
    expected[f"train/violent/Street fight [{YT_ID}].mp4"] = f"{base}/{YT_ID}.mp4"
    # 3. a manifest row
    make_damaged(tn / "listed.mp4", "zero_byte", seed=3)
    write_clip(served / "listed.mp4", "nonviolent", seed=103)
    expected["train/nonviolent/listed.mp4"] = f"{base}/listed.mp4"
    # 4. a source that is gone (404)
    make_damaged(tv / "gone.mp4", "random_bytes", seed=4)
    (tv / "gone.info.json").write_text(json.dumps({"id": "gone", "webpage_url": f"{base}/gone.mp4"}))
    expected["train/violent/gone.mp4"] = f"{base}/gone.mp4"
    # 5. a source that serves damaged bytes (the download succeeds; the scan must reject it)
    make_damaged(xv / "bad.mp4", "truncated_moov_end", seed=5)
    (xv / "bad.info.json").write_text(json.dumps({"id": "badsrc", "webpage_url": f"{base}/badsrc.mp4"}))
    make_damaged(served / "badsrc.mp4", "truncated_moov_end", seed=105)
    expected["test/violent/bad.mp4"] = f"{base}/badsrc.mp4"
    # 6. a test-split clip refilled from its own source
    make_damaged(xv / "held.mp4", "zero_byte", seed=6)
    (xv / "held.info.json").write_text(json.dumps({"id": "held", "webpage_url": f"{base}/held.mp4"}))
    write_clip(served / "held.mp4", "violent", seed=106)
    expected["test/violent/held.mp4"] = f"{base}/held.mp4"
    # 7. lost, no source anywhere
    make_damaged(tn / "orphan.mp4", "zero_byte", seed=7)
    return expected


def test_id_patterns_and_manifest_errors(tmp_path):
    assert id_from_name(f"Big fight [{YT_ID}].mp4") == YT_ID
    assert id_from_name(f"Big fight [{YT_ID}].f137.mp4") == YT_ID
    # Not ids: a tag, no space before the bracket, a last char a 64-bit id cannot end in.
    for name in ("clip [part2].mp4", f"x[{YT_ID}].mp4", "x [vidAAAAAAAB].mp4", "x [720p].mp4"):
        assert id_from_name(name) is None, name
    bad = tmp_path / "m.csv"
    bad.write_text("path,url\ntrain/a.mp4,ftp://nope\n")
    with pytest.raises(Exception, match=r"m.csv:2: not an http\(s\) URL"):
        read_manifest(bad, tmp_path)


def test_plan_a_batch_file_download_rerun(tmp_path, server, capsys):
    base, served = server
    root = tmp_path / "organized_dataset"
    expected = _dataset(root, base, served)
    manifest = tmp_path / "sources.csv"
    manifest.write_text(f"path,url\ntrain/nonviolent/listed.mp4,{base}/listed.mp4\n")
    id_url = f"{base}/{{id}}.mp4"

    assert main(["scan", str(root), "--sources", str(manifest)]) == 0
    # Provenance is in the store, and `results` shows it.
    capsys.readouterr()
    assert main(["results", str(root), "--verdict", "corrupt", "--json", "--id-url", id_url]) == 0
    files = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    shown = {e["result"]["path"]: (e.get("source") or {}).get("url") for e in files if e["type"] == "file"}
    assert shown == {**expected, "train/nonviolent/orphan.mp4": None}

    # Without --run: the batch file lists exactly the lost clips' sources, once each.
    out = tmp_path / "lost.txt"
    assert main(["redownload", str(root), "--out", str(out), "--id-url", id_url]) == 0
    urls = [line for line in out.read_text().splitlines() if line and not line.startswith("#")]
    assert sorted(urls) == sorted(expected.values()) and len(urls) == len(set(urls))
    unknown = (tmp_path / "lost.unknown.txt").read_text().splitlines()[1:]
    assert unknown == ["train/nonviolent/orphan.mp4\ttrain/nonviolent"]
    # --class narrows it.
    assert main(["redownload", str(root), "--out", str(out), "--id-url", id_url,
                 "--class", "nonviolent"]) == 0
    assert [u for u in out.read_text().splitlines() if u.startswith("http")] == [f"{base}/listed.mp4"]

    # --run (in this process: the job wrapper runs exactly this): real yt-dlp downloads.
    inc = tmp_path / "incoming"
    capsys.readouterr()
    rc = main(["redownload", str(root), "--run", "--foreground", "--into", str(inc),
               "--id-url", id_url, "--sleep", "0", "--json"])
    assert rc == 1  # one URL failed (404); the run went on
    evs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_url = {e["url"]: e for e in evs if e["type"] == "download"}
    assert set(by_url) == set(expected.values())
    assert by_url[f"{base}/gone.mp4"]["status"] == "error"
    assert "404" in by_url[f"{base}/gone.mp4"]["error"]
    for rel, url in expected.items():
        if url.endswith("gone.mp4"):
            continue
        e = by_url[url]
        split, cls = rel.split("/")[:2]
        assert e["status"] == "ok", e
        # In the split and class the lost original held, with the source id in the name.
        got = inc / split / cls / e["file"]
        assert got.is_file() and got.stat().st_size == (served / url.rsplit("/", 1)[1]).stat().st_size
        assert f"[{url.rsplit('/', 1)[1].removesuffix('.mp4')}]" in e["file"]
    before = {p: p.stat().st_mtime_ns for p in inc.rglob("*.mp4")}

    # A rerun downloads nothing twice (yt-dlp's archive), and still reports the 404.
    capsys.readouterr()
    rc = main(["redownload", str(root), "--run", "--foreground", "--into", str(inc),
               "--id-url", id_url, "--sleep", "0", "--json"])
    again = {e["url"]: e["status"] for e in (json.loads(x) for x in capsys.readouterr().out.splitlines())
             if e["type"] == "download"}
    assert rc == 1 and again.pop(f"{base}/gone.mp4") == "error"
    assert set(again.values()) == {"already"}
    assert {p: p.stat().st_mtime_ns for p in inc.rglob("*.mp4")} == before

    # The Decide screen's figures (the decision event carries them; the TUI draws this).
    capsys.readouterr()
    assert main(["decide", str(root), "--json"]) == 0
    decision = next(json.loads(x) for x in capsys.readouterr().out.splitlines()
                    if json.loads(x)["type"] == "decision")["decision"]
    assert decision["plan_a"] == {
        "nonviolent": {"lost": 2, "with_source": 1, "redownloaded": 1, "back": 0},
        "violent": {"lost": 5, "with_source": 5, "redownloaded": 4, "back": 0},
    }
    assert any(f["code"] == "plan_a" and "violent: 5 lost, 5 with a known source, 4 re-downloaded"
               in f["message"] for f in decision["findings"])

    # The downloads are clips a scan can judge: the damaged source is caught.
    assert main(["scan", str(inc)]) == 0
    with ScanStore.for_root(inc) as st:
        verdicts = {r.path: r.verdict.value for r in st.results()}
    bad = next(p for p in verdicts if "[badsrc]" in p)
    assert verdicts[bad] == "corrupt"
    assert all(v != "corrupt" for p, v in verdicts.items() if p != bad)

    # Back into the dataset: `nexara ingest INCOMING ROOT` takes split/class from the layout the
    # download wrote. A distinct clip (of another source) already holds one download's name, so
    # that one is renamed.
    side = next(e["file"] for e in by_url.values() if "[side]" in (e["file"] or ""))
    write_clip(root / "train" / "violent" / side, "violent", seed=201)
    (root / "train" / "violent" / side.replace(".mp4", ".info.json")).write_text(json.dumps(
        {"id": "other", "webpage_url": f"{base}/other.mp4"}))
    inc_before = _tree(inc)
    capsys.readouterr()
    assert main(["ingest", str(inc), str(root), "--yes", "--json"]) == 0
    evs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    items = {e["src"]: e for e in evs if e["type"] == "ingest_item"}
    assert items[bad]["status"] == "corrupt" and items[bad]["reasons"], items[bad]  # rejected, with why
    assert items[bad]["reason"].startswith("unusable (corrupt: ")
    added = {src: e for src, e in items.items() if e["status"] == "add"}
    assert len(added) == 4 and set(items) == set(added) | {bad}
    for src, e in added.items():  # into the split and class the lost original held
        assert e["dest"].rsplit("/", 1)[0] == src.rsplit("/", 1)[0], e
        assert (root / e["dest"]).read_bytes() == inc_before[src]
        # the yt-dlp sidecar came along, under the clip's (new) name: exact provenance
        assert e["sidecar"] == src.rsplit(".", 1)[0] + ".info.json"
        assert (root / (e["dest"].rsplit(".", 1)[0] + ".info.json")).read_bytes() == inc_before[e["sidecar"]]
    renamed = added[f"train/violent/{side}"]["dest"]
    assert renamed == f"train/violent/{side.replace(' [side]', ' (2) [side]')}"
    assert (root / renamed.replace(".mp4", ".info.json")).read_bytes() == \
        inc_before[f"train/violent/{side.replace('.mp4', '.info.json')}"]
    summary = evs[-1]
    assert (summary["type"], summary["added"], summary["rejected_corrupt"], summary["sidecars"]) == \
        ("ingest_summary", 4, 1, 4)
    assert (inc / bad).exists()  # the rejected download stays where it was

    # The decision counts them back — the renamed one too, by the source its sidecar records.
    capsys.readouterr()
    assert main(["decide", str(root), "--json"]) == 0
    decision = next(json.loads(x) for x in capsys.readouterr().out.splitlines()
                    if json.loads(x)["type"] == "decision")["decision"]
    assert decision["plan_a"] == {
        "nonviolent": {"lost": 2, "with_source": 1, "redownloaded": 1, "back": 1},
        "violent": {"lost": 5, "with_source": 5, "redownloaded": 4, "back": 3},
    }

    # Undo: the clips and their sidecars go back to INCOMING byte for byte.
    capsys.readouterr()
    assert main(["restore", str(root), "--batch", "last", "--json"]) == 0
    undo = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert next(e for e in undo if e["type"] == "batch")["op"] == "uningest"
    assert _tree(inc) == inc_before
    assert not any((root / e["dest"]).exists() for e in added.values())
    assert main(["decide", str(root), "--json"]) == 0
    decision = next(json.loads(x) for x in capsys.readouterr().out.splitlines()
                    if json.loads(x)["type"] == "decision")["decision"]
    assert {c: s["back"] for c, s in decision["plan_a"].items()} == {"nonviolent": 0, "violent": 0}
    shutil.rmtree(inc / ".nexara")


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_into_inside_the_dataset_is_refused(tmp_path, server, capsys):
    base, served = server
    root = tmp_path / "ds"
    _dataset(root, base, served)
    assert main(["scan", str(root)]) == 0
    capsys.readouterr()
    assert main(["redownload", str(root), "--run", "--foreground", "--into", str(root / "incoming")]) == 2
    err = capsys.readouterr().err
    assert "inside the dataset" in err and len(err.strip().splitlines()) == 1
