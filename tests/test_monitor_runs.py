"""RunState with several runs in one log, and the CLI's best-so-far marks: properties over
many seeded random logs (the seed is in every failure message)."""

from __future__ import annotations

import random

from core.commands.monitor import _best_so_far
from core.monitor.records import EpochRecord, best_epoch
from core.monitor.state import RunState


def rec(epoch: int, rng: random.Random, run: int | None = None) -> EpochRecord:
    acc = rng.choice([None, round(rng.random(), 2), float("nan")])
    return EpochRecord(epoch=epoch, loss=rng.random(), val_loss=rng.choice([None, rng.random()]),
                       val_accuracy=acc, run=run)


def test_best_so_far_in_one_pass_is_best_epoch_of_each_prefix():
    for seed in range(300):
        rng = random.Random(seed)
        recs = [rec(i, rng) for i in range(1, rng.randint(1, 30))]
        once = _best_so_far(recs)
        assert [once[r.epoch] for r in recs] == [best_epoch(recs[:i + 1]) for i in range(len(recs))], \
            f"seed {seed}"


def test_fits_appended_to_one_log_become_runs_and_resumes_do_not():
    """A log of fits one after the other, some resumed from a checkpoint part-way: each fit
    is one run holding its epochs, whatever batches the log arrives in."""
    for seed in range(300):
        rng = random.Random(seed)
        fits = []
        for _ in range(rng.randint(1, 4)):
            start = rng.choice([1, 1, 1, rng.randint(2, 5)])  # a fit may begin at initial_epoch
            n = rng.randint(1, 8)
            fits.append(list(range(start, start + n)))
        log: list[int] = []
        for epochs in fits:
            log += epochs
            if len(epochs) > 2 and rng.random() < 0.3:  # killed and resumed from a checkpoint
                back = rng.randint(epochs[1], epochs[-1])
                log += list(range(back, epochs[-1] + 1))
        items = [rec(e, rng) for e in log]
        state = RunState()
        i = 0
        while i < len(items):
            n = rng.randint(1, 5)
            state.apply(items[i:i + n])
            i += n
        # A fit starting at or before the first epoch of the one before it is a new run; a fit
        # continuing from initial_epoch after it joins it (as its CSVLogger rows read).
        want: list[list[int]] = []
        for epochs in fits:
            if want and epochs[0] > want[-1][-1]:
                want[-1] += epochs
            elif want and epochs[0] > want[-1][0]:
                want[-1] = [e for e in want[-1] if e < epochs[0]] + epochs
            else:
                want.append(list(epochs))
        assert [[r.epoch for r in run.records] for run in state.runs] == want, f"seed {seed}: {log}"
        assert all(r.run == run.index for run in state.runs for r in run.records), f"seed {seed}"


def test_a_source_that_numbers_its_runs_revises_epochs_in_place():
    state = RunState()
    first = state.apply([EpochRecord(1, loss=0.9, run=1), EpochRecord(2, loss=0.8, run=1)])
    assert [r.epoch for r in first.new_records] == [1, 2] and not first.revised
    again = state.apply([EpochRecord(1, loss=0.9, val_loss=0.95, run=1),
                         EpochRecord(1, loss=0.7, run=2)])
    assert [(r.run, r.epoch, r.val_loss) for r in again.revised] == [(1, 1, 0.95)]
    assert [(r.run, r.epoch) for r in again.new_records] == [(2, 1)] and again.new_run
    assert [[r.val_loss for r in run.records] for run in state.runs] == [[0.95, None], [None]]
