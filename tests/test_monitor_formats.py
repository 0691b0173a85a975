"""Logs a Keras user already has, read by `nexara monitor` and held against Keras' own `History`.

One real Keras session (tests/keras_logs.py `keras_runs`, under a pseudo-terminal)
writes a CSVLogger file appended over two `fit()` calls, a verbose=1 console run
on a `tf.data` input of unknown length with warnings landing in its progress
bar, and a TensorBoard log folder written by two fits. Every epoch the monitor
reports is compared with the `History` of the fit that wrote it.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.cli import main
from core.host.local import LocalHost
from core.monitor.alarms import Thresholds, evaluate
from core.monitor.follow import Follower, resolve
from core.monitor.parsers import ConsoleParser, parse_bytes, visible_text
from core.monitor.records import EpochRecord, from_metrics
from core.monitor.state import RunState
from core.monitor.tensorboard import RecordReader, TensorBoardLog, events_order
from tests.keras_logs import keras_runs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def runs():
    return keras_runs()


def json_rows(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def history_epochs(history: dict[str, list[float]]) -> list[dict[str, float]]:
    """History.history (metric -> per-epoch list) as one dict per epoch."""
    n = len(history["loss"])
    return [{k: v[i] for k, v in history.items()} for i in range(n)]


def assert_matches_history(row: dict, hist: dict[str, float], tol: float = 0.0) -> None:
    """A monitor `--json` epoch against the History entry of the same epoch."""
    def same(got, want, what):
        assert got == pytest.approx(want, abs=tol, rel=0), (what, got, want, row)

    same(row["loss"], hist["loss"], "loss")
    same(row["accuracy"], hist["accuracy"], "accuracy")
    same(row["val_loss"], hist["val_loss"], "val_loss")
    same(row["val_accuracy"], hist["val_accuracy"], "val_accuracy")
    same(row["recall"]["violent"], hist["val_recall_violent"], "val_recall_violent")
    same(row["recall"]["nonviolent"], hist["val_recall_nonviolent"], "val_recall_nonviolent")
    same(row["recall_violent"], hist["recall_violent"], "recall_violent")  # an extra column
    if "learning_rate" in hist:
        same(row["lr"], hist["learning_rate"], "learning_rate")


# -- 2. CSVLogger(append=True) over two fit() calls --------------------------------------------

def test_appended_csvlogger_gives_both_runs_exactly(runs, capsys):
    assert main(["monitor", str(runs.csv), "--once", "--json"]) == 0
    rows = json_rows(capsys)
    want = [(i + 1, e + 1) for i, h in enumerate(runs.csv_history) for e in range(len(h["loss"]))]
    assert [(r["run"], r["epoch"]) for r in rows] == want == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    for r in rows:
        # CSVLogger writes the very floats History holds: equal, not approximately.
        assert_matches_history(r, history_epochs(runs.csv_history[r["run"] - 1])[r["epoch"] - 1])


def test_appended_csvlogger_alarms_per_run_and_newest_first(runs, capsys):
    th = Thresholds(max_gap=0.02)
    state = RunState(thresholds=th)
    state.apply(parse_bytes(runs.csv.read_bytes(), source=str(runs.csv)))
    assert [len(r.records) for r in state.runs] == [3, 2]
    for run, hist in zip(state.runs, runs.csv_history, strict=True):
        # Each run's alarms are what that fit alone raises, as if it had its own log.
        alone = [from_metrics(i + 1, {k: v for k, v in e.items()})
                 for i, e in enumerate(history_epochs(hist))]
        expected = [(a.code, a.epoch) for a in evaluate(alone, None, th)]
        assert [(a.code, a.epoch) for a in run.alarms] == expected
        assert all(a.run == run.index for a in run.alarms)
    assert all(run.alarms for run in state.runs)  # both runs have one: the check above bites

    assert main(["monitor", str(runs.csv), "--once", "--max-gap", "0.02"]) == 0
    out = capsys.readouterr().out
    assert out.index("run 2 (epochs 1–2) (newest)") < out.index("run 1 (epochs 1–3)")
    assert "⚠ run 2 epoch 1: per-class gap" in out and "⚠ run 1 epoch 1: per-class gap" in out
    assert "run 2 of 2" in out.splitlines()[-1]


def test_appended_rows_of_another_width_are_named_not_misread(runs, capsys):
    """The second fit logs no learning_rate: its rows are a field short of the first fit's header."""
    assert main(["monitor", str(runs.csv_mismatch), "--once", "--json"]) == 0
    cap = capsys.readouterr()
    rows = [json.loads(line) for line in cap.out.splitlines()]
    assert [(r["run"], r["epoch"]) for r in rows] == [(1, 1), (1, 2)]
    (note,) = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert note.startswith(f"nexara monitor: {runs.csv_mismatch} line 4: 9 fields where the header has 10")


# -- 3. verbose=1 on a tf.data input of unknown length, warnings on the same terminal ----------

def test_pty_console_of_unknown_length_matches_history(runs):
    raw = runs.pty.read_bytes()
    assert b"\r\n" in raw and b"\x1b[" in raw and b"\x08" in raw  # a terminal's capture
    lines = [visible_text(x) for x in raw.decode("utf-8", "replace").split("\n")]
    # The trap is really there: a progress line of unknown length cut by a warning.
    cut = [ln for ln in lines if "/Unknown" in ln and "UserWarning" in ln]
    assert cut, lines[:20]
    recs = [r for r in parse_bytes(raw, source="pty.log") if isinstance(r, EpochRecord)]
    hist = history_epochs(runs.pty_history)
    assert [r.epoch for r in recs] == [1, 2, 3] == [i + 1 for i in range(len(hist))]
    for r, h in zip(recs, hist, strict=True):
        row = r.to_json()
        assert_matches_history(row, h, tol=5.1e-5)  # the console prints 4 decimals
        assert row["lr"] == pytest.approx(h["learning_rate"], abs=5.1e-5)


def test_pty_console_read_in_any_chunks_gives_the_same_epochs(runs):
    raw = runs.pty.read_bytes()
    whole = [r.to_json() for r in parse_bytes(raw, "console") if isinstance(r, EpochRecord)]
    for seed in range(20):
        rng = random.Random(seed)
        p, got, i = ConsoleParser(), [], 0
        while i < len(raw):
            n = rng.randint(1, 300)
            got += p.feed(raw[i:i + n])
            i += n
        got += p.finish()
        assert [r.to_json() for r in got if isinstance(r, EpochRecord)] == whole, f"seed {seed}"


# -- 1. TensorBoard ----------------------------------------------------------------------------

def test_tensorboard_folder_matches_history(runs, capsys):
    assert sorted(p.name for p in runs.tensorboard.iterdir()) == ["train", "validation"]
    assert main(["monitor", str(runs.tensorboard), "--once", "--json"]) == 0
    rows = json_rows(capsys)
    want = [(i + 1, e + 1) for i, h in enumerate(runs.tensorboard_history)
            for e in range(len(h["loss"]))]
    assert [(r["run"], r["epoch"]) for r in rows] == want == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    for r in rows:
        # float32 in the events file, float32 in History: the same numbers.
        assert_matches_history(r, history_epochs(runs.tensorboard_history[r["run"] - 1])[r["epoch"] - 1])
        assert r["steps_per_second"] > 0  # a tag the table has no column for: an extra one
        assert 0 < r["seconds"] < 60
    assert [r["lr"] for r in rows if r["run"] == 2] == pytest.approx([0.03, 0.03])


def test_tensorboard_human_table_and_single_files(runs, capsys):
    assert main(["monitor", str(runs.tensorboard), "--once"]) == 0
    out = capsys.readouterr().out
    assert f"{runs.tensorboard} (tensorboard)" in out
    assert out.index("run 2 (epochs 1–2) (newest)") < out.index("run 1 (epochs 1–3)")
    # One events file alone; validation/'s file alone still holds val_ figures.
    train_files = sorted((runs.tensorboard / "train").iterdir(), key=lambda p: events_order(p.name))
    val_files = sorted((runs.tensorboard / "validation").iterdir(), key=lambda p: events_order(p.name))
    assert len(train_files) == len(val_files) == 2  # one per fit
    assert main(["monitor", str(train_files[0]), "--once", "--json"]) == 0
    rows = json_rows(capsys)
    hist = history_epochs(runs.tensorboard_history[0])
    assert [r["loss"] for r in rows] == [h["loss"] for h in hist]
    assert all("val_loss" not in r for r in rows)
    assert main(["monitor", str(val_files[1]), "--once", "--json"]) == 0
    rows = json_rows(capsys)
    assert [r["val_loss"] for r in rows] == [h["val_loss"] for h in
                                             history_epochs(runs.tensorboard_history[1])]


def records_of(path: Path) -> list[bytes]:
    """An events file cut into its TFRecords, each with its framing, as a writer appends them."""
    data = path.read_bytes()
    out, pos = [], 0
    reader = RecordReader(str(path))
    for payload in reader.feed(data):
        n = 12 + len(payload) + 4
        out.append(data[pos:pos + n])
        pos += n
    assert pos == len(data)
    return out


def is_part(got: dict, want: dict) -> bool:
    """Every figure in `got` is the one in `want` (per-class recall counted class by class)."""
    for k, v in got.items():
        if k == "seconds":
            continue  # measured from the scalars at hand: not a figure of the run
        if isinstance(v, dict):
            if not all(want.get(k, {}).get(c) == x for c, x in v.items()):
                return False
        elif want.get(k) != v:
            return False
    return True


def test_tensorboard_epochs_given_out_are_never_wrong_however_the_writers_flush(runs):
    """The two writers flush on their own: any interleaving of their records gives out only
    figures that are right, and in the end every epoch, whole, once the log is complete."""
    files = []
    for group in ("train", "validation"):
        for p in sorted((runs.tensorboard / group).iterdir(), key=lambda p: events_order(p.name)):
            files.append((group, p, records_of(p)))
    final = TensorBoardLog("x")
    for group, p, recs in files:
        final.feed(str(p), group, b"".join(recs))
    truth = {(r.run, r.epoch): r.to_json() for r in final.flush(final=True)}
    assert len(truth) == 5
    for seed in range(40):
        rng = random.Random(seed)
        log, queues = TensorBoardLog("x"), {str(p): (g, list(recs)) for g, p, recs in files}
        given: dict = {}
        while any(q for _, q in queues.values()):
            # Within one group a writer's files come in order; across writers, any order.
            ready = []
            for group in ("train", "validation"):
                first = next((k for k, (g, q) in queues.items() if g == group and q), None)
                if first:
                    ready.append(first)
            path = rng.choice(ready)
            group, q = queues[path]
            take = rng.randint(1, 4)
            chunk = b"".join(q[:take])
            del q[:take]
            cut = rng.randint(0, len(chunk))  # a flush may end in the middle of a record
            log.feed(path, group, chunk[:cut])
            log.feed(path, group, chunk[cut:])
            for r in log.flush():
                got = r.to_json()
                want = truth[(r.run, r.epoch)]
                # Never a wrong figure: what is given out is the truth, or a part of it.
                assert is_part(got, want), f"seed {seed}: {got} vs {want}"
                given[(r.run, r.epoch)] = got
        for r in log.flush(final=True):
            given[(r.run, r.epoch)] = r.to_json()
        assert given == truth, f"seed {seed}"


def test_tensorboard_no_epoch_without_its_validation_when_the_writer_has_opened(runs):
    """Keras opens validation/'s writer before an epoch's training scalars are written: while
    validation/ holds only its header, no epoch is given out without its val_ figures."""
    train = sorted((runs.tensorboard / "train").iterdir(), key=lambda p: events_order(p.name))[0]
    val = sorted((runs.tensorboard / "validation").iterdir(), key=lambda p: events_order(p.name))[0]
    t_recs, v_recs = records_of(train), records_of(val)
    log = TensorBoardLog("x")
    log.feed(str(val), "validation", b"")  # created, nothing flushed yet
    log.feed(str(train), "train", b"".join(t_recs[:4]))
    assert log.flush() == []
    log = TensorBoardLog("x")
    log.feed(str(val), "validation", v_recs[0])  # file_version only
    log.feed(str(train), "train", b"".join(t_recs))
    assert log.flush() == []
    log.feed(str(val), "validation", b"".join(v_recs[1:]))
    got = log.flush()
    assert [(r.run, r.epoch) for r in got] == [(1, 1), (1, 2), (1, 3)]
    assert all(r.val_loss is not None for r in got)


def test_follow_a_tensorboard_folder_as_events_are_appended(runs, tmp_path):
    """Live: the monitor follows a folder whose event files grow, record by record."""
    live = tmp_path / "live"
    plan = []  # (destination, records) in the order a trainer writes them: fit 1, then fit 2
    for i in range(2):
        for group in ("validation", "train"):
            src = sorted((runs.tensorboard / group).iterdir(), key=lambda p: events_order(p.name))[i]
            plan.append((live / group / src.name, records_of(src)))
    (live / "train").mkdir(parents=True)
    (live / "validation").mkdir()
    host = LocalHost()
    stop = threading.Event()
    state = RunState()
    got = threading.Condition()
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            for up in Follower(host, resolve(host, str(live)), poll=0.02, stop=stop).updates():
                with got:
                    state.apply(up.items)
                    got.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    def wait_for(pred, what: str) -> None:
        with got:
            assert got.wait_for(lambda: pred() or errors, timeout=30), what
        assert not errors, errors

    (live / "validation").joinpath(plan[0][0].name).write_bytes(b"")
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    try:
        for n, (dest, recs) in enumerate(plan):
            with dest.open("ab") as fh:
                for rec in recs:  # appended one record at a time, each flushed
                    fh.write(rec)
                    fh.flush()
            if n == 1:
                wait_for(lambda: [len(r.records) for r in state.runs] == [3], "fit 1's epochs")
        wait_for(lambda: [len(r.records) for r in state.runs] == [3, 2], "fit 2's epochs")
    finally:
        stop.set()
        t.join(10)
    for run, hist in zip(state.runs, runs.tensorboard_history, strict=True):
        for r, h in zip(run.records, history_epochs(hist), strict=True):
            assert_matches_history(r.to_json(), h)


# -- unknown formats: one line, exit 2 ----------------------------------------------------------

def test_what_is_not_a_training_log_says_so_in_one_line(tmp_path, runs, capsys):
    binary = tmp_path / "model.keras"
    binary.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(256)) * 4)
    text = tmp_path / "notes.txt"
    text.write_text("nothing here is a training log\n")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    parent = tmp_path / "logs" / "fit"
    shutil.copytree(runs.tensorboard, parent / "20240101-120000")
    shutil.copytree(runs.tensorboard, parent / "20240102-120000")
    cases = {
        binary: "not a training log in a known format",
        text: "not a training log in a known format",
        empty_dir: "a folder without epochs.jsonl or TensorBoard events files",
        parent: "a folder of TensorBoard log folders (20240101-120000, 20240102-120000) — give one",
    }
    for path, message in cases.items():
        assert main(["monitor", str(path), "--once"]) == 2, path
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"nexara: {path}: {message}"), lines


def test_monitor_on_a_csv_imports_neither_tensorboard_nor_numpy(runs):
    def loaded_by_monitor(path: Path) -> list[str]:
        probe = ("import sys; from core.cli import main; rc = main(['monitor', sys.argv[1], '--once', "
                 "'--json']); print(sorted(m for m in ('tensorboard', 'numpy', 'tensorflow', 'keras') "
                 "if m in sys.modules)); sys.exit(rc)")
        p = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True,
                           cwd=REPO, timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1].replace("'", '"'))

    assert loaded_by_monitor(runs.csv) == []
    # A TensorBoard log needs tensorboard's protos (and numpy), never TensorFlow.
    assert loaded_by_monitor(runs.tensorboard) == ["numpy", "tensorboard"]


def test_following_a_csv_that_a_second_fit_appends_to(runs, tmp_path):
    """`nexara monitor FILE` (human table, following): the second fit gets a heading of its own."""
    import os

    lines = runs.csv.read_text().splitlines(keepends=True)
    path = tmp_path / "training_log.csv"
    path.write_text("".join(lines[:4]))  # the header and the first fit's three epochs
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "monitor", str(path), "--poll", "0.1"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in range(4)]  # header + 3 rows
        assert seen[0].split()[:2] == ["epoch", "loss"]
        assert [ln.split()[0] for ln in seen[1:]] == ["1", "2", "3"]
        with path.open("a") as fh:
            fh.write("".join(lines[4:]))
        heading = proc.stdout.readline()
        assert heading.strip() == "— run 2: a new fit in the same log —"
        rest = [proc.stdout.readline() for _ in range(3)]
        assert rest[0].split()[:2] == ["epoch", "loss"]
        first = history_epochs(runs.csv_history[1])[0]
        assert rest[1].split()[:2] == ["1", f"{first['loss']:.4f}"] or \
            rest[1].split()[:3] == ["1", "★", f"{first['loss']:.4f}"]
    finally:
        proc.terminate()
        proc.wait(10)
