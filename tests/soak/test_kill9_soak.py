"""The long kill -9 soak as a test: `pytest -m soak tests/soak` (not in the default run)."""

from __future__ import annotations

import pytest

from tests.helpers_crash import kill9_seeds
from tests.soak.kill9_soak import soak, summary_line


@pytest.mark.soak
def test_kill9_soak(tmp_path, capsys):
    seeds = kill9_seeds(default_trials=230)
    results, seconds = soak(len(seeds), seeds[0], tmp_path)
    with capsys.disabled():
        print("\n" + summary_line(results, seconds))
    bad = [t.describe() for t in results if not t.ok()]
    assert not bad, "\n".join(bad)
