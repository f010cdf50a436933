"""Git commit, DVC data version and test-block fingerprints, degrading to "unknown"."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from lithomap.registry.provenance import blocks_fingerprint, data_version, git_commit


def _git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def test_git_commit_inside_and_outside_a_repository(tmp_path):
    assert git_commit(tmp_path) == "unknown"
    _git(tmp_path, "init", "-q")
    assert git_commit(tmp_path) == "unknown"  # no commit yet
    (tmp_path / "a.txt").write_text("a")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "first")
    commit = git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "a.txt").write_text("b")
    assert git_commit(tmp_path) == f"{commit}-dirty"


def test_data_version_from_a_dvc_pointer_file(tmp_path):
    (tmp_path / "data").mkdir()
    pointer = {"outs": [{"md5": "abc123.dir", "path": "processed"}]}
    (tmp_path / "data" / "processed.dvc").write_text(yaml.safe_dump(pointer))
    assert data_version("data/processed", tmp_path) == "abc123.dir"
    assert data_version(tmp_path / "data" / "processed", tmp_path) == "abc123.dir"


def test_data_version_from_dvc_lock(tmp_path):
    lock = {
        "schema": "2.0",
        "stages": {
            "split": {"cmd": "lithomap split", "outs": [{"path": "data/processed/villoslada", "md5": "feed.dir"}]}
        },
    }
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert data_version("data/processed/villoslada/", tmp_path) == "feed.dir"
    whole = data_version(None, tmp_path)
    assert len(whole) == 32 and whole != "feed.dir"  # md5 of dvc.lock itself
    assert data_version("data/elsewhere", tmp_path) == whole


def test_data_version_without_dvc_is_unknown(tmp_path):
    assert data_version(None, tmp_path) == "unknown"
    assert data_version("data/processed", tmp_path) == "unknown"


def test_blocks_fingerprint_ignores_order_and_repeats():
    assert blocks_fingerprint([3, 1, 2]) == blocks_fingerprint([1, 2, 3, 3])
    assert blocks_fingerprint([1, 2]) != blocks_fingerprint([1, 2, 3])


@pytest.mark.parametrize("blocks", [[], ["a"]])
def test_blocks_fingerprint_is_short_hex(blocks):
    fingerprint = blocks_fingerprint(blocks)
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
