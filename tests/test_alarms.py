"""Alarm rules on crafted epoch sequences: each fires when it should, once per episode, and not otherwise."""

from __future__ import annotations

from core.monitor.alarms import (
    Thresholds,
    collapse_alarms,
    evaluate,
    gap_alarms,
    job_alarms,
    nan_alarms,
    overfit_alarms,
)
from core.monitor.records import EpochRecord, RunInfo
from core.monitor.state import RunState


def rec(epoch, loss=0.5, val_loss=0.5, v=None, nv=None, **kw):
    recall = {} if v is None else {"violent": v, "nonviolent": nv}
    return EpochRecord(epoch=epoch, loss=loss, val_loss=val_loss, recall=recall, **kw)


def healthy(n=10):
    """The seed's healthy run: losses fall together, recalls close (gap under 8 %)."""
    return [rec(i, loss=1.0 / i, val_loss=1.1 / i, v=0.70 + i * 0.01, nv=0.74 + i * 0.01)
            for i in range(1, n + 1)]


def test_a_healthy_run_raises_nothing():
    assert evaluate(healthy(), RunInfo(ended=True, rc=0, status="finished")) == []


def test_gap_fires_once_per_streak_and_respects_threshold():
    seq = [rec(1, v=0.80, nv=0.85), rec(2, v=0.70, nv=0.85), rec(3, v=0.70, nv=0.86),
           rec(4, v=0.82, nv=0.86), rec(5, v=0.60, nv=0.90)]
    alarms = gap_alarms(seq)
    assert [(a.code, a.epoch) for a in alarms] == [("gap", 2), ("gap", 5)]
    assert "15.0 %" in alarms[0].message and "violent 70.0 %" in alarms[0].message
    assert gap_alarms(seq, Thresholds(max_gap=0.35)) == []
    # Exactly at the threshold is not above it.
    assert gap_alarms([rec(1, v=0.80, nv=0.88)]) == []


def test_collapse_always_predicts_one_class():
    # The user's failed model: violent recall collapsing while non-violent nears 1.
    seq = [rec(1, v=0.40, nv=0.70), rec(2, v=0.09, nv=0.95), rec(3, v=0.05, nv=0.98),
           rec(4, v=0.50, nv=0.60), rec(5, v=0.95, nv=0.02)]
    alarms = collapse_alarms(seq)
    assert [(a.epoch, a.severity) for a in alarms] == [(2, "error"), (5, "error")]
    assert alarms[0].message.startswith("always predicts nonviolent")
    assert alarms[1].message.startswith("always predicts violent")
    # Low recall without the other near 1 is a gap problem, not a collapse.
    assert collapse_alarms([rec(1, v=0.05, nv=0.80)]) == []


def test_overfitting_after_k_epochs_of_divergence():
    losses = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    vals = [1.0, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.3]  # rising from epoch 3 on
    seq = [rec(i + 1, loss=lo, val_loss=va) for i, (lo, va) in enumerate(zip(losses, vals, strict=True))]
    alarms = overfit_alarms(seq)
    assert [(a.code, a.epoch) for a in alarms] == [("overfit", 7)]  # epochs 3..7 = 5 in a row
    assert "since epoch 3" in alarms[0].message
    assert overfit_alarms(seq[:6]) == []  # only 4 so far
    assert [a.epoch for a in overfit_alarms(seq, Thresholds(overfit_epochs=2))] == [4]
    # Both losses rising is not overfitting (it is a bad learning rate).
    up = [rec(i, loss=0.5 + i * 0.1, val_loss=0.5 + i * 0.1) for i in range(1, 10)]
    assert overfit_alarms(up) == []


def test_nan_loss():
    seq = [rec(1), rec(2, loss=float("nan")), rec(3, loss=float("nan")), rec(4),
           rec(5, val_loss=float("inf"))]
    alarms = nan_alarms(seq)
    assert [(a.epoch, a.severity) for a in alarms] == [(2, "error"), (5, "error")]
    assert "loss is nan" in alarms[0].message
    assert nan_alarms(healthy()) == []


def test_job_died_carries_its_stderr():
    run = RunInfo(ended=True, rc=1, status="failed",
                  stderr_tail=["Traceback (most recent call last):", "ResourceExhaustedError: OOM"])
    (alarm,) = job_alarms(run, healthy(3))
    assert alarm.code == "job_died" and alarm.epoch == 3
    assert "exit code 1" in alarm.message and "ResourceExhaustedError: OOM" in alarm.message
    lost = RunInfo(ended=True, status="lost")
    assert "lost" in job_alarms(lost, [])[0].message
    assert job_alarms(RunInfo(ended=True, rc=0, status="finished"), healthy(3)) == []
    assert job_alarms(RunInfo(ended=False), healthy(3)) == []


def test_a_collapse_is_not_also_reported_as_a_gap():
    seq = [rec(1, v=0.75, nv=0.78), rec(2, v=0.05, nv=0.97)]
    assert [a.code for a in evaluate(seq)] == ["collapse"]
    assert [a.code for a in gap_alarms(seq)] == ["gap"]  # the rule alone still sees it


def test_run_state_reports_each_alarm_once_as_epochs_arrive():
    state = RunState()
    seq = [rec(1, v=0.5, nv=0.55), rec(2, v=0.3, nv=0.6), rec(3, v=0.3, nv=0.61)]
    new = []
    for r in seq:
        new += state.apply([r]).new_alarms
    assert [(a.code, a.epoch) for a in new] == [("gap", 2)]
    assert state.apply([]).new_alarms == []
