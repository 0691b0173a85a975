"""The kill -9 harness, bounded for CI: random kill points over quarantine and restore.

Every trial is seeded (the seed is printed on failure, with the line that reruns it);
`NEXARA_KILL9_SEED` / `NEXARA_KILL9_TRIALS` replay or widen a run. The long version is
`tests/soak/kill9_soak.py` (not in the default run), which prints
trials / lost / duplicated / identical.
"""

from __future__ import annotations

from tests.helpers_crash import kill9_seeds, kill9_trial


def test_kill_9_at_random_points_loses_nothing_and_one_restore_gives_the_tree_back(tmp_path):
    trials = [kill9_trial(seed, tmp_path) for seed in kill9_seeds(default_trials=24)]
    bad = [t.describe() for t in trials if not t.ok()]
    assert not bad, "\n".join(bad)
    assert sum(t.killed for t in trials) >= len(trials) // 2, [t.steps for t in trials]
