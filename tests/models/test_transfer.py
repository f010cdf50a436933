"""The transfer model's pieces: the blend of probabilities and the summary model it carries."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.errors import InputDataError
from lithomap.models.baseline import PixelBaseline
from lithomap.models.transfer import (
    SUMMARY_MODEL_FILE,
    SummaryModel,
    blend_name,
    blend_probabilities,
    load_summary_model,
    static_channels,
)


def _summary(weight: float = 0.5) -> SummaryModel:
    """A summary model that reads its second static channel: class 4 above 0, class 9 below."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, 3)).astype(np.float32)
    labels = np.where(rows[:, 1] > 0, 4, 9)
    return SummaryModel(PixelBaseline(rows, labels, seed=0, sample_pixels=None, max_iter=30), ["a", "b", "c"], weight)


def test_blend_is_the_weighted_mean_and_keeps_no_data():
    network = np.zeros((1, 2, 2, 14), np.float32)
    network[..., 1] = 1.0
    network[0, 0, 0] = np.nan  # no window reached this pixel
    summary = np.zeros_like(network)
    summary[..., 2] = 1.0
    blended = blend_probabilities(network, np.nan_to_num(summary), 0.25)
    assert np.isnan(blended[0, 0, 0]).all()
    np.testing.assert_allclose(blended[0, 1, 1, 1:3], [0.75, 0.25])
    np.testing.assert_array_equal(blend_probabilities(network, summary, 0.0)[0, 1], network[0, 1])
    with pytest.raises(ValueError, match="differ"):
        blend_probabilities(network, summary[..., :13], 0.5)
    with pytest.raises(ValueError, match="must be in"):
        blend_probabilities(network, summary, 1.5)
    assert blend_name("convlstm") == "convlstm+summary"


def test_summary_model_reads_the_static_channels_of_either_architecture():
    model = _summary()
    static = np.zeros((2, 4, 4, 3), np.float32)
    static[0, ..., 1], static[1, ..., 1] = 2.0, -2.0
    probabilities = model.probabilities(static)
    assert probabilities.shape == (2, 4, 4, 14)
    assert (probabilities[0].argmax(-1) == 4).all() and (probabilities[1].argmax(-1) == 9).all()

    sequence = np.zeros((2, 3, 4, 4, 5), np.float32)
    cnn = {"features": np.concatenate([np.full((2, 4, 4, 7), 99.0, np.float32), static], axis=-1)}
    np.testing.assert_array_equal(static_channels(cnn, 3), static)
    np.testing.assert_array_equal(static_channels({"sequence": sequence, "static": static}, 3), static)
    network = np.full((2, 4, 4, 14), 1 / 14, np.float32)
    np.testing.assert_allclose(model.blend(network, cnn), 0.5 * network + 0.5 * probabilities, atol=1e-6)

    with pytest.raises(InputDataError, match="2 static channels given, the summary model reads 3"):
        model.probabilities(static[..., :2])
    with pytest.raises(InputDataError, match="no static channels"):
        static_channels({"sequence": sequence}, 3)


def test_summary_model_round_trips_through_its_file(tmp_path):
    model = _summary(weight=0.3)
    assert load_summary_model(tmp_path) is None, "a model folder without one"
    model.save(tmp_path / SUMMARY_MODEL_FILE)
    assert sorted(p.name for p in tmp_path.iterdir()) == [SUMMARY_MODEL_FILE], "no temporary file is left"
    loaded = load_summary_model(tmp_path)
    assert loaded is not None and loaded.weight == 0.3 and loaded.static_names == ["a", "b", "c"]
    static = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.probabilities(static), model.probabilities(static))

    import joblib

    joblib.dump({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(InputDataError, match="holds a dict, not a summary model"):
        SummaryModel.load(tmp_path / "other.joblib")
