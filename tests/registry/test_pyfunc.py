"""The logged ConvLSTM model takes raw named inputs and normalises them itself."""

from __future__ import annotations

import keras
import mlflow
import numpy as np
import pytest

from lithomap.errors import InputDataError
from lithomap.models.baseline import PixelBaseline
from lithomap.models.convlstm import build_convlstm
from lithomap.models.normalisation import ChannelStats
from lithomap.models.transfer import SummaryModel
from lithomap.registry.pyfunc import log_pyfunc_model, normalise_inputs
from lithomap.registry.tracking import ensure_experiment

STATS = {
    "sequence": ChannelStats(("lst", "emissivity", "valid"), (300.0, 0.95, 0.0), (6.0, 0.01, 1.0)),
    "static": ChannelStats(("vv", "vh", "ndvi"), (0.1, 0.02, 0.4), (0.05, 0.01, 0.2)),
}


def _raw(rng: np.random.Generator) -> dict[str, np.ndarray]:
    sequence = np.stack(
        [rng.normal(300, 6, (1, 3, 16, 16)), rng.normal(0.95, 0.01, (1, 3, 16, 16)), np.ones((1, 3, 16, 16))], axis=-1
    ).astype(np.float32)
    static = rng.normal((0.1, 0.02, 0.4), (0.05, 0.01, 0.2), (1, 16, 16, 3)).astype(np.float32)
    return {"sequence": sequence, "static": static}


def test_convlstm_model_round_trip_with_two_inputs(tracking_store):
    keras.utils.set_random_seed(0)
    model = build_convlstm((3, 16, 16, 3), 3, base_filters=4, depth=2, lstm_filters=4)
    raw = _raw(np.random.default_rng(0))
    experiment_id = ensure_experiment("lithomap-pyfunc-test", artifact_root=tracking_store / "mlartifacts")
    with mlflow.start_run(experiment_id=experiment_id):
        info = log_pyfunc_model(model, STATS, raw, arch="convlstm")
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert loaded.metadata.metadata["input_channels"]["static"] == ["vv", "vh", "ndvi"]
    assert loaded.metadata.get_input_schema().input_names() == ["sequence", "static"]
    expected = keras.ops.convert_to_numpy(model(normalise_inputs(raw, STATS), training=False))
    np.testing.assert_allclose(loaded.predict(raw), expected, atol=1e-5)


def test_a_model_carrying_a_summary_model_blends_it_only_where_it_normalises_by_the_target(tracking_store):
    keras.utils.set_random_seed(0)
    model = build_convlstm((3, 16, 16, 3), 3, base_filters=4, depth=2, lstm_filters=4)
    raw = _raw(np.random.default_rng(0))
    rows = raw["static"].reshape(-1, 3)
    labels = np.where(rows[:, 2] > 0.4, 3, 7)  # the summary model reads NDVI: class 3 above 0.4, else 7
    summary = SummaryModel(
        PixelBaseline(rows, labels, seed=0, sample_pixels=None, max_iter=20), ["vv", "vh", "ndvi"], 0.5
    )
    experiment_id = ensure_experiment("lithomap-pyfunc-test", artifact_root=tracking_store / "mlartifacts")
    with mlflow.start_run(experiment_id=experiment_id):
        info = log_pyfunc_model(model, STATS, raw, arch="convlstm", summary_model=summary)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert loaded.metadata.metadata["summary_blend"] == 0.5
    network = keras.ops.convert_to_numpy(model(normalise_inputs(raw, STATS), training=False))
    np.testing.assert_allclose(loaded.predict(raw), network, atol=1e-5)  # its own region: the network alone

    target = {
        "sequence": STATS["sequence"],
        "static": ChannelStats(("vv", "vh", "ndvi"), (0.2, 0.03, 0.5), (0.1, 0.02, 0.3)),
    }
    python_model = loaded.unwrap_python_model()
    shifted = python_model.network_probabilities(raw, target)
    blended = python_model.predict_with_stats(raw, target)
    alone = summary.probabilities(raw["static"])
    np.testing.assert_allclose(blended, 0.5 * shifted + 0.5 * alone, atol=1e-5)
    assert np.allclose(blended.sum(-1), 1, atol=1e-4) and (alone.argmax(-1) == labels.reshape(1, 16, 16)).mean() > 0.95
    assert (blended.argmax(-1) != shifted.argmax(-1)).any(), "the summary model changes the map"


def test_statistics_must_cover_the_model_inputs():
    model = build_convlstm((3, 16, 16, 3), 0, base_filters=4, depth=2, lstm_filters=4)
    with pytest.raises(InputDataError, match="statistics for"):
        log_pyfunc_model(model, STATS, {}, arch="convlstm")


def test_normalise_inputs_checks_names_and_channels():
    raw = _raw(np.random.default_rng(1))
    with pytest.raises(InputDataError, match="do not match"):
        normalise_inputs({"sequence": raw["sequence"]}, STATS)
    with pytest.raises(InputDataError, match="channels"):
        normalise_inputs({**raw, "static": raw["static"][..., :2]}, STATS)
    only = {"features": STATS["static"]}
    np.testing.assert_allclose(normalise_inputs(raw["static"], only)["features"], STATS["static"].apply(raw["static"]))
