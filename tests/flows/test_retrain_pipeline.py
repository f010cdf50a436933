"""`lithomap retrain` on the real dvc.yaml and tiny params: the whole pipeline through Prefect."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

from tests.test_dvc_pipeline import REGIONS, project, run  # noqa: F401  (project is a fixture)

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_retrain_runs_the_real_pipeline_registers_champions_and_leaves_dvc_clean(project: Path, tmp_path, monkeypatch):  # noqa: F811
    shutil.copytree(REPO / "flows", project / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))  # ephemeral API, its own database
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    first = run([str(BIN / "lithomap"), "retrain", "--project", str(project)], project)
    for region in REGIONS:
        assert f"{region}: ran" in first, first
    assert "cnn: challenger" in first and "(no champion yet), promoted the challenger" in first
    assert "up to date" in run(["dvc", "status"], project), "retrain leaves the workspace as dvc repro would"
    decision = yaml.safe_load((project / "reports" / "promotion" / "puertollano-cnn.json").read_text())
    assert decision["promoted"] is True
    assert (project / "maps" / "puertollano" / "cnn-thermal" / "classes.tif").is_file()

    store = f"sqlite:///{project / 'mlflow.db'}"  # both URIs: mlflow's global registry may name another store
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    champion = client.get_model_version_by_alias("lithomap-puertollano-cnn", "champion")
    tags = client.get_run(champion.run_id).data.tags
    assert len(tags["lithomap.flow_run_id"]) == 36, "the MLflow run carries the Prefect flow run's id"

    second = run([str(BIN / "lithomap"), "retrain", "--project", str(project)], project)
    assert "retrain: nothing changed, no stage ran" in second, second
    assert "up to date" in run(["dvc", "status"], project)
