"""A tiny real pipeline run, shared by the dashboard tests of a session.

The `lithomap` verbs run in-process on a 96-px synthetic region: generate → validate raw →
ingest → split and preprocess (thermal, night) → validate processed → train, evaluate and
promote a CNN on each experiment → experiment matrix. Everything, the MLflow store
included, lives in one temporary folder; the dashboard is then pointed at it by
``$LITHOMAP_PARAMS``, ``$MLFLOW_TRACKING_URI`` and the working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import yaml
from filelock import FileLock
from typer.testing import CliRunner

from tests.conftest import tiny_params_dict

REGION = "tiny"
EXPERIMENTS = ("thermal", "night")
DONE = "pipeline-done"


@dataclass(frozen=True)
class PipelineRun:
    """Where the tiny run left its outputs."""

    root: Path
    params_file: Path
    tracking_uri: str


def _pipeline_params(root: Path) -> dict:
    params = tiny_params_dict(root, size_px=64, acquisitions=6)
    params["experiments"] = {name: params["experiments"][name] for name in EXPERIMENTS}
    params["train"]["presets"]["tiny"]["epochs"] = 1
    params["evaluate"].update(n_boot=20, baseline_pixels=500, baseline_max_iter=10)
    params["matrix"] = {
        "reports_dir": str(root / "reports" / "matrix"),
        "regions": [REGION],
        "models": ["cnn"],
        "experiments": list(EXPERIMENTS),
    }
    return params


def _invoke(runner: CliRunner, *arguments: str) -> None:
    from lithomap.cli import app

    result = runner.invoke(app, list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, f"lithomap {' '.join(arguments)} failed:\n{result.output}"


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, worker_id) -> PipelineRun:
    """Run the tiny pipeline once per test session and return its folder.

    With pytest-xdist the workers share one run: the first builds it under a file lock in
    the session's common temporary folder, the others wait and reuse it.
    """
    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "dashboard-pipeline"
    with FileLock(f"{root}.lock"):
        if not (root / DONE).is_file():
            _build(root)
            (root / DONE).write_text("ok", encoding="utf-8")
    return PipelineRun(root=root, params_file=root / "params.yaml", tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def _build(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump(_pipeline_params(root)), encoding="utf-8")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    monkey = pytest.MonkeyPatch()
    monkey.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkey.delenv("MLFLOW_REGISTRY_URI", raising=False)
    runner = CliRunner()
    p = ("--params", str(params_file))
    try:
        _invoke(runner, "generate", "-r", REGION, "--no-quicklook", "--quiet", *p)
        _invoke(runner, "validate", "--stage", "raw", "-r", REGION, *p)
        _invoke(runner, "ingest", "-r", REGION, "--quiet", *p)
        _invoke(runner, "split", "-r", REGION, *p)
        _invoke(runner, "preprocess", "-r", REGION, *p)
        _invoke(runner, "validate", "--stage", "processed", "-r", REGION, *p)
        for experiment in EXPERIMENTS:
            _invoke(runner, "train", "-r", REGION, "-m", "cnn", "-e", experiment, "--quiet", *p)
            _invoke(runner, "evaluate", "-r", REGION, "-m", "cnn", "-e", experiment, *p)
            _invoke(runner, "promote", "-r", REGION, "-m", "cnn", *p)
        _invoke(runner, "matrix", *p)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        monkey.undo()


@pytest.fixture
def dashboard_env(pipeline_run, monkeypatch) -> PipelineRun:
    """Point the dashboard at the tiny run: params, MLflow store and working directory."""
    monkeypatch.chdir(pipeline_run.root)
    monkeypatch.setenv("LITHOMAP_PARAMS", str(pipeline_run.params_file))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", pipeline_run.tracking_uri)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    return pipeline_run


@pytest.fixture
def own_outputs(dashboard_env, tmp_path, monkeypatch) -> Path:
    """The tiny run's params with maps and reports of its own under tmp_path (the shared run stays as it is)."""
    params = yaml.safe_load(dashboard_env.params_file.read_text())
    params["map"] = {"maps_dir": str(tmp_path / "maps")}
    params["report"] = {"reports_dir": str(tmp_path / "reports")}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.setenv("LITHOMAP_PARAMS", str(path))
    return path
