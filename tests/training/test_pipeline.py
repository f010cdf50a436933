"""Train → evaluate (with the baseline) → register → promote → load the champion, on a tiny region."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import pandas as pd
import pytest

from lithomap.datasets.features import raw_inputs
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.errors import LithomapError
from lithomap.registry.promotion import promote_model
from lithomap.registry.registry import model_name
from lithomap.training.evaluate import evaluate_model
from lithomap.training.fit import HISTORY_FILE, SUMMARY_FILE, train_model
from lithomap.training.matrix import collect, write_table


@pytest.fixture(scope="module")
def tracked(tiny_region, tmp_path_factory):
    """The tiny region preprocessed, with a fresh MLflow SQLite store for this module."""
    params, _ = tiny_region
    store = tmp_path_factory.mktemp("mlflow")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    preprocess_experiment("tiny", region, params.ingest, params.preprocess, "thermal", params.experiment("thermal"))
    yield params
    monkey.undo()


@pytest.fixture(scope="module")
def cnn_run(tracked):
    result = train_model("tiny", "cnn", "thermal", tracked, verbose=0)
    evaluation = evaluate_model("tiny", "cnn", "thermal", tracked)
    return tracked, result, evaluation


def test_training_writes_a_model_whose_loss_falls(cnn_run):
    _, result, _ = cnn_run
    history = pd.read_csv(result.model_dir / HISTORY_FILE)
    assert len(history) == result.epochs_run == 3
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    record = json.loads((result.model_dir / SUMMARY_FILE).read_text())
    assert record["epochs_run"] == 3 and record["settings"]["train"]["batch_size"] == 4
    assert len(record["settings"]["loss"]["weights"]) == 14
    assert not any(p.name.startswith(".") for p in result.model_dir.parent.iterdir()), "no work folder is left"


def test_evaluation_reports_scores_baseline_and_registers_a_challenger(cnn_run):
    _, _, evaluation = cnn_run
    metrics = json.loads((evaluation.report_dir / "metrics.json").read_text())
    for key in ("oa", "macro_f1", "weighted_f1", "kappa", "balanced_accuracy", "macro_f1_ci", "baseline"):
        assert key in metrics
    assert set(metrics["baseline_raw"]) == set(metrics["baseline"]), "the raw-feature baseline is reported beside"
    assert 0 <= metrics["macro_f1"] <= 1 and metrics["macro_f1_ci"][0] <= metrics["macro_f1_ci"][1]
    assert set(pd.read_csv(evaluation.report_dir / "per_class.csv").columns) >= {
        "class",
        "f1",
        "iou",
        "baseline_f1",
        "baseline_raw_f1",
    }
    for picture in ("confusion_matrix.png", "curves.png", "sample_prediction.png"):
        assert (evaluation.report_dir / picture).stat().st_size > 5_000
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(model_name("tiny", "cnn"), "challenger")
    assert str(version.version) == evaluation.model_version
    run = client.get_run(version.run_id)
    assert run.data.tags["lithomap.experiment"] == "thermal"
    assert "test_macro_f1" in run.data.metrics and "baseline_macro_f1" in run.data.metrics
    assert run.data.metrics["baseline_macro_f1"] == pytest.approx(metrics["baseline"]["macro_f1"], abs=1e-6)
    assert run.data.metrics["baseline_raw_macro_f1"] == pytest.approx(metrics["baseline_raw"]["macro_f1"], abs=1e-6)
    assert "val_macro_f1" in run.data.metrics
    assert run.data.params["train.batch_size"] == "4", "the run logs the batch size training used"


def test_gate_promotes_the_first_refuses_an_equal_and_the_champion_predicts_raw_patches(cnn_run):
    params, _, _ = cnn_run
    first = promote_model("tiny", "cnn", params.promote)
    assert first["promoted"]
    assert first["baseline_macro_f1"] == pytest.approx(
        json.loads((params.evaluate.reports_dir / "tiny" / "cnn-thermal" / "metrics.json").read_text())["baseline_raw"][
            "macro_f1"
        ],
        abs=1e-6,
    ), "the gate reads the (raw, by default) baseline score evaluate logged on the same pixels"
    evaluate_model("tiny", "cnn", "thermal", params)  # the same model again: no gain over the champion
    second = promote_model("tiny", "cnn", params.promote)
    assert not second["promoted"] and second["gain"] == pytest.approx(0.0, abs=1e-9)
    report = json.loads((params.promote.reports_dir / "tiny-cnn.json").read_text())
    assert report["promoted"] is False and "margin" in report["reason"]
    champion = mlflow.MlflowClient().get_model_version_by_alias(model_name("tiny", "cnn"), "champion")
    assert str(champion.version) == str(first["candidate_version"])

    manifest = load_manifest(params.preprocess.processed_dir / "tiny" / "thermal")
    shard = np.load(sorted((params.preprocess.processed_dir / "tiny" / "thermal").glob("test-*.npz"))[0])
    raw = raw_inputs(
        shard["sequence"][:2].astype(np.float32),
        shard["static"][:2].astype(np.float32),
        manifest.times(),
        manifest.static_channels,
        "cnn",
    )
    model = mlflow.pyfunc.load_model(f"models:/{model_name('tiny', 'cnn')}@champion")
    labels = model.predict(raw, params={"output": "labels"})
    patch = manifest.patch_size
    assert labels.shape == (2, patch, patch) and labels.min() >= 0 and labels.max() <= 13


def test_convlstm_trains_and_evaluates_on_the_same_blocks(tracked):
    result = train_model("tiny", "convlstm", "thermal", tracked, verbose=0)
    evaluation = evaluate_model("tiny", "convlstm", "thermal", tracked, track=False)
    assert result.epochs_run == 3 and evaluation.model_version is None
    cnn_metrics = json.loads((tracked.evaluate.reports_dir / "tiny" / "cnn-thermal" / "metrics.json").read_text())
    assert evaluation.baseline["macro_f1"] == pytest.approx(cnn_metrics["baseline"]["macro_f1"])


def test_matrix_table_in_thesis_layout(cnn_run):
    params, _, _ = cnn_run
    frame = collect(params)
    assert {"tiny"} == set(frame["region"]) and "thermal" in set(frame["experiment"])
    markdown, csv, png = write_table(frame, params)
    text = markdown.read_text()
    assert "| region, model | thermal |" in text and "| tiny cnn | " in text
    assert png.stat().st_size > 5_000 and csv.is_file()


def test_gate_rescores_a_champion_that_was_scored_on_other_data(cnn_run):
    from lithomap.training.evaluate import score_registered_model

    params, _, _ = cnn_run
    client = mlflow.MlflowClient()

    def rescore(uri: str, experiment: str) -> dict:
        return score_registered_model("tiny", "cnn", experiment, params, uri)

    first = promote_model("tiny", "cnn", params.promote, rescore)  # make sure a champion exists (idempotent)
    champion = client.get_model_version_by_alias("lithomap-tiny-cnn", "champion")
    evaluation = evaluate_model("tiny", "cnn", "thermal", params)  # the same model: a new challenger
    fair = client.get_run(client.get_model_version("lithomap-tiny-cnn", evaluation.model_version).run_id)
    # The champion's stored score was on older data: another data version and a low number.
    client.set_tag(champion.run_id, "lithomap.data_version", "older-data")
    client.log_metric(champion.run_id, "test_macro_f1", 0.01, step=1_000_000)

    decision = promote_model("tiny", "cnn", params.promote, rescore)
    assert first["champion_rescored"] is False
    assert decision["champion_rescored"] is True and decision["champion_stored_macro_f1"] == pytest.approx(0.01)
    assert decision["champion_macro_f1"] == pytest.approx(fair.data.metrics["test_macro_f1"], abs=1e-6)
    assert not decision["promoted"], "against the stored 0.01 it would have passed; re-scored, the gain is zero"
    tags = client.get_model_version("lithomap-tiny-cnn", champion.version).tags
    assert float(tags["lithomap.rescored_test_macro_f1"]) == pytest.approx(decision["champion_macro_f1"], abs=1e-6)
    assert tags["lithomap.rescored_for_version"] == evaluation.model_version


@pytest.mark.slow  # 30 s on 2 cores; the default suite stays under 10 min
def test_paired_gate_pairs_the_logged_blocks_with_a_rescored_champion(cnn_run):
    """Rule paired on the real pipeline: evaluate logs each test block's confusion matrix; a champion
    scored on other data is re-scored with its blocks (the pyfunc path); the same model is not shown better."""
    from lithomap.registry.registry import version_block_confusions
    from lithomap.training.evaluate import score_registered_model

    params, _, _ = cnn_run
    client = mlflow.MlflowClient()
    name = model_name("tiny", "cnn")

    def rescore(uri: str, experiment: str) -> dict:
        return score_registered_model("tiny", "cnn", experiment, params, uri)

    promote_model("tiny", "cnn", params.promote, rescore)  # make sure a champion exists (idempotent)
    champion = client.get_model_version_by_alias(name, "champion")
    evaluation = evaluate_model("tiny", "cnn", "thermal", params)  # the same model: a new challenger
    run_id = client.get_model_version(name, evaluation.model_version).run_id
    blocks = version_block_confusions(name, evaluation.model_version, client)
    assert blocks is not None and len(blocks) >= 2
    confusion = mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation/scores.json")["confusion"]
    np.testing.assert_array_equal(sum(blocks.values()), confusion)
    client.set_tag(champion.run_id, "lithomap.data_version", "older-data")

    settings = params.promote.model_copy(update={"rule": "paired"})
    decision = promote_model("tiny", "cnn", settings, rescore, n_boot=200)
    assert decision["champion_rescored"] and decision["paired_blocks"] == len(blocks)
    low, high = decision["paired_interval"]
    assert decision["paired_difference"] == pytest.approx(0.0, abs=1e-6) and low <= 0 <= high
    assert not decision["promoted"] and decision["reason"].startswith("not shown better: ")

    # A champion on the same data whose run has no per-block matrices (logged by an older lithomap).
    artifacts = Path(urlparse(client.get_run(champion.run_id).info.artifact_uri).path)
    (artifacts / "evaluation" / "block_confusions.json").unlink()
    data_version = client.get_run(run_id).data.tags["lithomap.data_version"]
    client.set_tag(champion.run_id, "lithomap.data_version", data_version)
    assert version_block_confusions(name, champion.version, client) is None
    with pytest.raises(LithomapError, match="no per-block test confusions"):
        promote_model("tiny", "cnn", settings, None, n_boot=200)
    decision = promote_model("tiny", "cnn", settings, rescore, n_boot=200)
    assert decision["champion_rescored"] and decision["paired_difference"] == pytest.approx(0.0, abs=1e-6)
