"""Registry round trip on a real SQLite store: register, gate, promote, load the champion."""

from __future__ import annotations

import socket

import keras
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from lithomap.errors import ConfigError, LithomapError, TrackingError
from lithomap.models.metrics import scores_from_confusion
from lithomap.models.normalisation import ChannelStats
from lithomap.models.unet import build_unet
from lithomap.registry.promotion import gate_decision, promote
from lithomap.registry.provenance import blocks_fingerprint
from lithomap.registry.pyfunc import log_pyfunc_model
from lithomap.registry.registry import alias_version, champion_uri, load_champion, model_name, register
from lithomap.registry.tracking import configure_tracking, log_evaluation, log_history, training_run

REGION = "villoslada"
CHANNELS = ("lst_t00", "lst_t01", "ndvi")
STATS = {"features": ChannelStats(CHANNELS, (300.0, 290.0, 0.4), (8.0, 6.0, 0.2))}
BLOCKS = blocks_fingerprint([3, 7, 11])


def _confusion(correct: tuple[int, int, int]) -> np.ndarray:
    """Three classes (1–3) of 100 test pixels each with the given numbers right."""
    cm = np.zeros((14, 14), dtype=np.int64)
    for class_id, right in zip((1, 2, 3), correct, strict=True):
        cm[class_id, class_id] = right
        cm[class_id, class_id % 3 + 1] = 100 - right
    return cm


def _log_version(
    model: keras.Model,
    correct: tuple[int, int, int],
    tmp_path,
    *,
    region: str = REGION,
    baseline_macro_f1: float | None = None,
) -> str:
    cm = _confusion(correct)
    history = {"loss": [1.0, 0.8], "val_loss": [1.1, 0.9], "macro_f1": [0.3, 0.4], "val_macro_f1": [0.2, 0.3]}
    with training_run(
        region,
        "cnn",
        "thermal",
        {"model": {"depth": 2, "base_filters": 4}, "train": {"lr": 1e-3}},
        test_blocks=BLOCKS,
        repo_dir=tmp_path,
        artifact_root=tmp_path / "mlartifacts",
    ):
        log_history(history)
        log_evaluation(scores_from_confusion(cm), cm, history=history, stats=STATS)
        if baseline_macro_f1 is not None:
            mlflow.log_metrics({"baseline_raw_macro_f1": baseline_macro_f1, "baseline_macro_f1": 0.95})
        example = {"features": np.full((1, 16, 16, 3), 300.0, dtype=np.float32)}
        info = log_pyfunc_model(model, STATS, example, arch="cnn")
    return register(info.model_uri, region, "cnn").version


def test_round_trip_register_gate_promote_and_load(tracking_store):
    keras.utils.set_random_seed(0)
    model = build_unet((16, 16, 3), base_filters=4, depth=2)
    client = MlflowClient()
    name = model_name(REGION, "cnn")

    first = _log_version(model, (70, 70, 70), tracking_store)
    assert client.get_model_version_by_alias(name, "challenger").version == first
    decision = promote(REGION, "cnn", margin=0.01, max_class_drop=0.05)
    assert decision["promoted"] and decision["reason"].startswith("first version")
    assert client.get_model_version_by_alias(name, "champion").version == first

    worse = _log_version(model, (60, 72, 72), tracking_store)
    assert client.get_model_version_by_alias(name, "challenger").version == worse
    decision = promote(REGION, "cnn", margin=0.01, max_class_drop=0.05)
    assert not decision["promoted"]
    assert client.get_model_version_by_alias(name, "champion").version == first
    tags = client.get_model_version(name, worse).tags
    assert tags["promotion.decision"] == "refused"
    assert tags["promotion.champion_version"] == str(first)
    assert float(tags["promotion.candidate_macro_f1"]) < float(tags["promotion.champion_macro_f1"])

    better = _log_version(model, (90, 88, 85), tracking_store)
    decision = promote(REGION, "cnn", margin=0.01, max_class_drop=0.05)
    assert decision["promoted"] and decision["gain"] > 0.01 and decision["champion_version"] == str(first)
    assert client.get_model_version_by_alias(name, "champion").version == better
    assert client.get_model_version(name, first).tags["promotion.replaced_by"] == str(better)
    assert client.get_model_version(name, better).tags["lithomap.test_blocks"] == BLOCKS

    champion = load_champion(REGION, "cnn")
    assert champion.metadata.metadata["input_channels"] == {"features": list(CHANNELS)}
    raw = np.random.default_rng(0).normal((300.0, 290.0, 0.4), (8.0, 6.0, 0.2), size=(2, 16, 16, 3))
    raw = raw.astype(np.float32)
    probabilities = champion.predict({"features": raw})
    expected = keras.ops.convert_to_numpy(model({"features": STATS["features"].apply(raw)}, training=False))
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    unnormalised = keras.ops.convert_to_numpy(model({"features": raw}, training=False))
    assert not np.allclose(probabilities, unnormalised, atol=1e-3)
    labels = champion.predict({"features": raw}, params={"output": "labels"})
    np.testing.assert_array_equal(labels, expected.argmax(axis=-1))


def _scores(macro_f1: float, per_class: dict[str, float], blocks: str = BLOCKS) -> dict:
    return {"macro_f1": macro_f1, "per_class_f1": per_class, "test_blocks": blocks}


CHAMPION_SCORES = _scores(0.70, {"sand": 0.7, "clay": 0.7, "chalk": 0.7})


@pytest.mark.parametrize(
    ("candidate", "passed", "reason"),
    [
        (_scores(0.80, {"sand": 0.85, "clay": 0.85, "chalk": 0.69}), True, "gain"),
        (_scores(0.705, {"sand": 0.71, "clay": 0.71, "chalk": 0.695}), False, "does not exceed the margin"),
        (_scores(0.77, {"sand": 0.76, "clay": 0.99, "chalk": 0.57}), False, "F1 of class chalk falls by"),
        (_scores(0.90, {"sand": 0.95, "clay": 0.95, "chalk": 0.8}, blocks="other"), False, "test blocks differ"),
    ],
)
def test_gate_decision(candidate, passed, reason):
    result, why, numbers = gate_decision(candidate, CHAMPION_SCORES, margin=0.01, max_class_drop=0.05)
    assert result is passed
    assert reason in why
    assert numbers["gain"] == pytest.approx(candidate["macro_f1"] - 0.70)
    assert numbers["worst_class"] == "chalk"


def test_names_and_missing_champion():
    assert model_name("santa_olalla", "convlstm") == "lithomap-santa_olalla-convlstm"
    assert champion_uri("puertollano", "cnn") == "models:/lithomap-puertollano-cnn@champion"
    with pytest.raises(ConfigError):
        model_name("puertollano", "rnn")
    with pytest.raises(ConfigError):
        model_name("Puertollano Sur", "cnn")


def test_loading_a_missing_champion_says_what_to_do(tracking_store):
    with pytest.raises(LithomapError, match="train and promote"):
        load_champion(REGION, "convlstm")


def test_nothing_becomes_champion_without_beating_the_baseline(tracking_store):
    """A first version scoring below the per-pixel baseline on the same pixels is refused, and says so."""
    keras.utils.set_random_seed(0)
    model = build_unet((16, 16, 3), base_filters=4, depth=2)
    client = MlflowClient()
    name = model_name("teruel", "cnn")

    weak = _log_version(model, (40, 40, 40), tracking_store, region="teruel", baseline_macro_f1=0.55)
    decision = promote("teruel", "cnn")
    assert not decision["promoted"] and decision["champion_version"] is None
    assert decision["reason"].startswith("test macro-F1 0.4000 does not beat the per-pixel baseline's (raw) 0.5500")
    assert decision["baseline_macro_f1"] == pytest.approx(0.55)
    assert alias_version(client, name, "champion") is None
    assert client.get_model_version(name, weak).tags["promotion.baseline_macro_f1"] == "0.550000"

    assert promote("teruel", "cnn", beat_baseline=False)["promoted"], "the check can be switched off"
    client.delete_registered_model_alias(name, "champion")

    strong = _log_version(model, (80, 80, 80), tracking_store, region="teruel", baseline_macro_f1=0.55)
    fair = promote("teruel", "cnn", baseline="fair")
    assert not fair["promoted"] and "baseline's (fair) 0.9500" in fair["reason"], "the fair floor is higher here"
    decision = promote("teruel", "cnn")
    assert decision["promoted"] and decision["candidate_version"] == str(strong)
    assert "beats the raw per-pixel baseline (0.8000 > 0.5500)" in decision["reason"]


def test_an_unreachable_tracking_server_is_not_taken_for_no_champion(tracking_store):
    assert alias_version(MlflowClient(), model_name("teruel", "convlstm"), "champion") is None, "absent: None"
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    configure_tracking(uri)
    try:
        with pytest.raises(TrackingError, match=rf"MLflow tracking store {uri}: .*Fix: check that the tracking server"):
            alias_version(MlflowClient(), model_name(REGION, "cnn"), "champion")
        with pytest.raises(TrackingError, match="tracking server"):
            promote(REGION, "cnn")
    finally:
        configure_tracking(f"sqlite:///{tracking_store / 'mlflow.db'}")
