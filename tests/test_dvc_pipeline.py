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
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}",
    }
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


REGIONS = ["puertollano", "villoslada"]
EXPERIMENTS = ["thermal", "all"]


def narrowed_pipeline() -> dict:
    """The repository's dvc.yaml with the region × model stages cut down to one cell for speed.

    Regions and experiments need no narrowing: the stages iterate over params.yaml's
    ``regions`` and ``experiments``, which the tiny params below cut down.
    """
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    for name, stage in pipeline["stages"].items():
        if name == "report":
            stage["foreach"] = {REGIONS[0]: {}}  # maps exist for the first region only
        elif "matrix" in stage and "model" in stage["matrix"]:
            stage["matrix"] = {"region": REGIONS[:1], "model": ["cnn"]}
        if name == "validate_processed":
            stage["do"]["deps"] = [d for d in stage["do"]["deps"] if not d.startswith("data/processed")] + [
                f"data/processed/${{key}}/{experiment}" for experiment in EXPERIMENTS
            ]
    return pipeline


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway git+DVC project holding the real pipeline, code and tiny params."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "dvc.yaml").write_text(yaml.safe_dump(narrowed_pipeline(), sort_keys=False))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["generate"].update(
        size_px=48, thermal_acquisitions=8, cloudy_fraction=0.0, sentinel1_dates=1, sentinel2_dates=1
    )
    params["preprocess"].update(patch_size=16, block_size=16, sequence_length=4)
    params["train"]["presets"]["demo"].update(epochs=1, batch_size=4)
    params["model"]["cnn"].update(base_filters=4, depth=2)
    params["evaluate"].update(n_boot=20, baseline_pixels=500, baseline_max_iter=10)
    params["promote"]["beat_baseline"] = False  # a 1-epoch toy net need not beat the baseline
    params["experiments"] = {name: params["experiments"][name] for name in EXPERIMENTS}
    params["regions"] = {name: params["regions"][name] for name in REGIONS}
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


@pytest.mark.slow  # the whole pipeline on tiny params: ~4 min alone on 2 cores
def test_repro_then_nothing_to_do_then_only_what_a_change_touches(project: Path):
    first = run(["dvc", "repro"], project)
    for region in REGIONS:
        for stage in ("generate", "validate_raw", "ingest", "split", "validate_processed"):
            assert f"Running stage '{stage}@{region}'" in first
        assert (project / "data" / "raw" / region / "scene.json").is_file()
        assert (project / "data" / "interim" / region / "cube.zarr").is_dir()
        assert (project / "reports" / "quicklook" / f"{region}.png").is_file()
        assert (project / "reports" / "datasets" / region / "split.png").is_file()
        for experiment in EXPERIMENTS:
            assert (project / "data" / "processed" / region / experiment / "manifest.json").is_file()
    for stage in ("train", "evaluate", "promote", "map"):
        assert f"Running stage '{stage}@puertollano-cnn'" in first
    assert "Running stage 'report@puertollano'" in first
    assert (project / "maps" / "puertollano" / "cnn-thermal" / "classes.tif").is_file()
    assert (project / "reports" / "puertollano" / "index.html").is_file()
    assert (project / "models" / "puertollano" / "cnn-thermal" / "model.keras").is_file()
    assert (project / "reports" / "evaluation" / "puertollano" / "cnn-thermal" / "metrics.json").is_file()
    decision = yaml.safe_load((project / "reports" / "promotion" / "puertollano-cnn.json").read_text())
    assert decision["promoted"] is True

    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second
    assert "up to date" in run(["dvc", "status"], project)

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["presets"]["thesis"]["epochs"] = 7  # the preset training does not use
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert "up to date" in run(["dvc", "status"], project), "editing an unused preset must retrain nothing"

    params["regions"]["teruel"] = {**params["regions"]["villoslada"], "raw_dir": "data/raw/teruel"}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # `dvc repro --dry` stops at the first stage whose input does not exist yet; status lists them all
    pending = run(["dvc", "status"], project)
    for stage in ("generate", "validate_raw", "ingest", "split", "validate_processed"):
        assert f"{stage}@teruel:" in pending, f"a region added to params.yaml has no {stage} stage"
    for stage in ("generate", "ingest"):
        assert f"{stage}@villoslada:" not in pending, "adding a region must not rerun the others"
    del params["regions"]["teruel"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["regions"]["villoslada"]["synthetic"]["seed"] += 1
    params["experiments"]["all"]["static"] = ["vv", "vh"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status"], project)
    assert "generate@villoslada" in status and "generate@puertollano" not in status
    # every preprocess stage reads all experiments (preprocess.equal_dates counts them); the
    # others rebuild identical datasets, so nothing downstream of them reruns
    assert "preprocess@puertollano-all" in status
    assert "ingest@puertollano" not in status and "split@puertollano" not in status
    assert "train@puertollano-cnn" not in status, "the thermal experiment's inputs did not change"


def test_push_and_pull_round_trip(project: Path):
    run(["dvc", "repro", "generate@puertollano"], project)
    raw = project / "data" / "raw" / "puertollano"
    before = tree_digest(raw)
    run(["dvc", "push"], project)
    shutil.rmtree(raw)
    shutil.rmtree(project / ".dvc" / "cache")
    run(["dvc", "pull", "generate@puertollano"], project)
    assert tree_digest(raw) == before


def test_the_map_stage_maps_a_challenger_the_gate_refused():
    """`make demo` finishes when a model fails the gate: the map stage takes its challenger, marked not promoted."""
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["map"]
    assert stage["cmd"].startswith("lithomap map ") and stage["cmd"].endswith(" --if-no-champion challenger")
