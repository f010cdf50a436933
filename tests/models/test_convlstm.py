"""ConvLSTM builder: shapes, softmax outputs, the optional static input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lithomap.errors import ConfigError
from lithomap.models.convlstm import build_convlstm


def _inputs(batch: int, steps: int, size: int, static_channels: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    inputs = {"sequence": rng.normal(size=(batch, steps, size, size, 3)).astype("float32")}
    if static_channels:
        inputs["static"] = rng.normal(size=(batch, size, size, static_channels)).astype("float32")
    return inputs


@pytest.mark.parametrize("static_channels", [3, 0])
def test_output_shape_and_softmax(static_channels):
    keras.utils.set_random_seed(0)
    model = build_convlstm((4, 16, 16, 3), static_channels, base_filters=4, depth=2, lstm_filters=4)
    probabilities = keras.ops.convert_to_numpy(model(_inputs(2, 4, 16, static_channels), training=False))
    assert probabilities.shape == (2, 16, 16, 14)
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_static_input_exists_only_when_there_are_static_channels():
    with_static = build_convlstm((4, 16, 16, 3), 3, base_filters=4, depth=2, lstm_filters=4)
    thermal_only = build_convlstm((4, 16, 16, 3), 0, base_filters=4, depth=2, lstm_filters=4)
    assert sorted(tensor.name for tensor in with_static.inputs) == ["sequence", "static"]
    assert [tensor.name for tensor in thermal_only.inputs] == ["sequence"]
    assert "fusion" in {layer.name for layer in with_static.layers}
    assert "fusion" not in {layer.name for layer in thermal_only.layers}


def test_uses_a_convlstm_layer():
    model = build_convlstm((4, 16, 16, 3), 2, base_filters=4, depth=2, lstm_filters=6)
    layer = model.get_layer("temporal_convlstm")
    assert type(layer).__name__ == "ConvLSTM2D"
    assert layer.output.shape[1:] == (16, 16, 6)


@pytest.mark.parametrize(("shape", "static"), [((4, 12, 16, 3), 2), ((4, 16, 16), 2), ((4, 16, 16, 3), -1)])
def test_bad_configurations_raise_config_error(shape, static):
    with pytest.raises(ConfigError):
        build_convlstm(shape, static, depth=3)
