"""core.fsops: atomic writes leave the old file or the new one, never a torn one or a temp."""

from __future__ import annotations

import os

import pytest

from core.fsops import atomic_write, makedirs_durable, rename_noreplace, write_text_atomic


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "meta.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["meta.json"]  # no temporary file left behind
    with atomic_write(target, "wb", durable=True) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["meta.json"]


def test_rename_noreplace_never_overwrites(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b")
    with pytest.raises(FileExistsError):
        rename_noreplace(a, b)
    assert a.read_text() == "a" and b.read_text() == "b"
    rename_noreplace(a, tmp_path / "c")
    assert not a.exists() and (tmp_path / "c").read_text() == "a"


def test_makedirs_durable_creates_every_level(tmp_path):
    d = tmp_path / "x" / "y" / "z"
    makedirs_durable(d)
    assert d.is_dir()
    makedirs_durable(d)  # idempotent


def test_the_sampled_hashes_are_those_already_on_disk(tmp_path):
    """Journals and scan stores written before `fsops.sampled_digest` hold these values: the
    journal's identity hash and the exact-copy hash must come out the same, byte for byte."""
    from core.fingerprint import content_hash
    from core.journal import fast_hash

    golden = {1000: ("b2f:6cb232c2829e9ddec3870979772bcaeb", "b2s:6cb232c2829e9ddec3870979772bcaeb"),
              700_000: ("b2f:fd84b7acff43a69df2b6f0c8ca8cdb3a", "b2s:486344132a93ec278c63a03b121c5c2d")}
    for n, (journal, copy) in golden.items():
        p = tmp_path / f"f{n}"
        p.write_bytes((bytes(range(256)) * (n // 256 + 1))[:n])
        assert (fast_hash(p), content_hash(p)) == (journal, copy), n
