"""The real dvc.yaml on tiny params: repro, no-op repro, targeted rerun, push/pull round trip."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway git+DVC project holding the real pipeline, code and tiny params."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["generate"].update(size_px=32, thermal_acquisitions=4, sentinel1_dates=1, sentinel2_dates=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".gitignore").write_text("/reports/quicklook/\n")
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.email", "ci@lithomap.test"], root)
    run(["git", "config", "user.name", "ci"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "project"], root)
    return root


def test_repro_then_nothing_to_do_then_only_the_changed_region(project: Path):
    first = run(["dvc", "repro"], project)
    for region in ("puertollano", "santa_olalla", "villoslada"):
        assert f"Running stage 'generate@{region}'" in first
        assert (project / "data" / "raw" / region / "scene.json").is_file()
        assert (project / "reports" / "quicklook" / f"{region}.png").is_file()

    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second
    assert "up to date" in run(["dvc", "status"], project)

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["regions"]["santa_olalla"]["synthetic"]["seed"] += 1
    params["regions"]["villoslada"]["crs"] = "EPSG:25830"  # an ingest param: generate must not care
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status"], project)
    assert "generate@santa_olalla" in status
    assert "generate@puertollano" not in status and "generate@villoslada" not in status


def test_push_and_pull_round_trip(project: Path):
    run(["dvc", "repro", "generate@puertollano"], project)
    raw = project / "data" / "raw" / "puertollano"
    before = tree_digest(raw)
    run(["dvc", "push"], project)
    shutil.rmtree(raw)
    shutil.rmtree(project / ".dvc" / "cache")
    run(["dvc", "pull", "generate@puertollano"], project)
    assert tree_digest(raw) == before
