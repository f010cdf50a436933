"""Where a run's code and data came from: git commit, DVC data version, test-block fingerprint."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml

UNKNOWN = "unknown"


def git_commit(repo_dir: str | Path = ".") -> str:
    """``git rev-parse HEAD`` of ``repo_dir``, with ``-dirty`` when tracked files changed.

    Returns:
        The commit hash, or ``"unknown"`` outside a git repository, without git or before
        the first commit.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo_dir,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return f"{commit}-dirty" if status else commit or UNKNOWN


def _md5_of_file(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _out_md5(outs: object, wanted: str) -> str | None:
    if not isinstance(outs, list):
        return None
    for out in outs:
        if isinstance(out, dict) and Path(str(out.get("path", ""))).as_posix().rstrip("/") == wanted:
            md5 = out.get("md5")
            return str(md5) if md5 else None
    return None


def data_version(data_path: str | Path | None = None, repo_dir: str | Path = ".") -> str:
    """DVC version of the data a run used.

    With ``data_path``: the md5 DVC recorded for it — from ``<data_path>.dvc`` if that file
    exists, else from the ``outs`` of a stage in ``dvc.lock`` whose path matches (relative to
    ``repo_dir``). Without it, or when neither names the path: the md5 of ``dvc.lock`` itself.

    Returns:
        An md5 hex string, or ``"unknown"`` when there is no DVC metadata to read.
    """
    root = Path(repo_dir)
    lock_path = root / "dvc.lock"
    if data_path is not None:
        path = Path(data_path)
        if path.is_absolute() and path.resolve().is_relative_to(root.resolve()):
            path = path.resolve().relative_to(root.resolve())
        relative = path
        wanted = relative.as_posix().rstrip("/")
        pointer = root / f"{wanted}.dvc"
        try:
            if pointer.is_file():
                found = _out_md5(yaml.safe_load(pointer.read_text(encoding="utf-8")).get("outs"), Path(wanted).name)
                if found:
                    return found
            if lock_path.is_file():
                stages = (yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}).get("stages", {})
                for stage in stages.values():
                    found = _out_md5(stage.get("outs"), wanted) if isinstance(stage, dict) else None
                    if found:
                        return found
        except (OSError, yaml.YAMLError, AttributeError):
            return UNKNOWN
    try:
        return _md5_of_file(lock_path) if lock_path.is_file() else UNKNOWN
    except OSError:
        return UNKNOWN


def blocks_fingerprint(block_ids: Iterable[object]) -> str:
    """Short stable fingerprint of a set of test-block ids (order does not matter).

    Two models are compared by the promotion gate only when their fingerprints match.
    """
    canonical = "\n".join(sorted({str(block) for block in block_ids}))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
