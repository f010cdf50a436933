"""Tracking setup and what one training run records in a real SQLite store."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from lithomap.models.metrics import block_bootstrap, confusion_matrix, scores_from_confusion
from lithomap.models.normalisation import ChannelStats
from lithomap.registry.tracking import (
    DEFAULT_TRACKING_URI,
    configure_tracking,
    flatten_params,
    flatten_test_scores,
    log_evaluation,
    log_history,
    training_run,
)


def test_configure_tracking_precedence(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    assert configure_tracking() == DEFAULT_TRACKING_URI
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    assert configure_tracking() == "sqlite:///elsewhere.db"
    assert configure_tracking("sqlite:///explicit.db") == "sqlite:///explicit.db"
    assert mlflow.get_registry_uri() == "sqlite:///explicit.db"  # conftest's autouse fixture clears them after


def test_importing_the_registry_sets_no_tracking_uri():
    code = (
        "import os, lithomap.registry.tracking, lithomap.registry.registry, lithomap.registry.pyfunc\n"
        "from mlflow.tracking._tracking_service import utils\n"
        "assert utils._tracking_uri is None and 'MLFLOW_TRACKING_URI' not in os.environ"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, timeout=120)


def test_flatten_params():
    flat = flatten_params({"model": {"depth": 3, "l2": 0.05}, "loss": {"class_weights": [1.0, 2.5]}, "seed": None})
    assert flat == {"model.depth": "3", "model.l2": "0.05", "loss.class_weights": "[1.0, 2.5]", "seed": "None"}


def _scores():
    rng = np.random.default_rng(0)
    reference = rng.choice([0, 1, 2], size=(4, 8, 8))
    predicted = np.where(rng.random(reference.shape) < 0.7, reference, 1)
    cms = np.stack([confusion_matrix(r, p) for r, p in zip(reference, predicted, strict=True)])
    cm = cms.sum(axis=0)
    return scores_from_confusion(cm), cm, block_bootstrap(cms, n_boot=20)


def test_flatten_test_scores_names_classes_and_skips_absent_ones():
    scores, _, intervals = _scores()
    metrics = flatten_test_scores(scores, intervals)
    assert {
        "test_oa",
        "test_macro_f1",
        "test_kappa",
        "test_f1_sand",
        "test_iou_clay",
        "test_support_sand",
        "test_macro_f1_ci_low",
        "test_oa_ci_high",
    } <= set(metrics)
    assert "test_f1_water" not in metrics and "test_f1_background" not in metrics


def test_training_run_records_tags_params_metrics_and_artifacts(tracking_store):
    scores, cm, intervals = _scores()
    history = {"loss": [1.0, 0.7, 0.5], "val_macro_f1": [0.2, 0.3, 0.35]}
    stats = {"features": ChannelStats(("lst_t00",), (300.0,), (5.0,))}
    with training_run(
        "puertollano",
        "cnn",
        "day",
        {"train": {"lr": 1e-5, "batch_size": 4}},
        test_blocks="b1",
        repo_dir=tracking_store,
        artifact_root=tracking_store / "mlartifacts",
    ) as run:
        log_history(history)
        logged = log_evaluation(
            scores,
            cm,
            intervals=intervals,
            history=history,
            stats=stats,
            sample=(np.zeros((8, 8)), np.ones((8, 8), int), np.ones((8, 8), int)),
        )
    client = MlflowClient()
    recorded = client.get_run(run.info.run_id)
    assert recorded.info.run_name == "cnn-day"
    assert client.get_experiment(recorded.info.experiment_id).name == "lithomap-puertollano"
    assert recorded.data.tags["lithomap.region"] == "puertollano"
    assert recorded.data.tags["lithomap.git_commit"] == "unknown"
    assert recorded.data.tags["lithomap.data_version"] == "unknown"
    assert recorded.data.tags["lithomap.test_blocks"] == "b1"
    assert recorded.data.params == {"train.lr": "1e-05", "train.batch_size": "4"}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.7, 0.5]
    assert recorded.data.metrics["test_macro_f1"] == logged["test_macro_f1"] == scores["macro_f1"]
    artifacts = {
        a.path
        for folder in ("evaluation", "figures", "normalisation")
        for a in client.list_artifacts(run.info.run_id, folder)
    }
    assert artifacts == {
        "evaluation/scores.json",
        "figures/confusion_matrix.png",
        "figures/curves.png",
        "figures/sample_prediction.png",
        "normalisation/normalisation.json",
    }
    assert (tracking_store / "mlartifacts" / "lithomap-puertollano").is_dir()


def test_a_run_started_by_a_flow_carries_the_flow_run_id(tracking_store, monkeypatch):
    monkeypatch.setenv("LITHOMAP_FLOW_RUN_ID", "0b5e8c1e-flow-run")
    with training_run("villoslada", "cnn", "thermal", {}, repo_dir=tracking_store) as run:
        pass
    assert MlflowClient().get_run(run.info.run_id).data.tags["lithomap.flow_run_id"] == "0b5e8c1e-flow-run"
    monkeypatch.delenv("LITHOMAP_FLOW_RUN_ID")
    with training_run("villoslada", "cnn", "thermal", {}, repo_dir=tracking_store) as run:
        pass
    assert "lithomap.flow_run_id" not in MlflowClient().get_run(run.info.run_id).data.tags
