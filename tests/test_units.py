"""Shared formatting and TOML reading: the one-line errors users see for their files."""

from __future__ import annotations

import pytest

from core.errors import NexaraError
from core.tomlfile import read_toml
from core.units import human_duration, human_size


def test_human_size_and_duration():
    assert human_size(0) == "0 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(5 * 1024**4) == "5.0 TiB"
    assert human_duration(None) == "?"
    assert human_duration(12.34) == "12.3s" and human_duration(12.34, 0) == "12s"
    assert human_duration(245) == "4m05s"
    assert human_duration(7380) == "2h03m"


def test_read_toml_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    assert read_toml(missing, "training config", missing_ok=True) is None
    with pytest.raises(NexaraError, match=r"nope\.toml: no such training config"):
        read_toml(missing, "training config")
    bad = tmp_path / "bad.toml"
    bad.write_text("dropout_rate = = 0.3\n")
    with pytest.raises(NexaraError, match=r"bad\.toml: invalid TOML in policy file"):
        read_toml(bad, "policy file")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"name = '\xe9'\n")
    with pytest.raises(NexaraError, match=r"latin\.toml: cannot read"):
        read_toml(latin, "training config")
    ok = tmp_path / "ok.toml"
    ok.write_text("[train]\nepochs = 3\n")
    assert read_toml(ok, "training config") == {"train": {"epochs": 3}}
