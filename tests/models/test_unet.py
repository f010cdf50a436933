"""U-Net builder: shapes, softmax outputs, names and bad configurations."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lithomap.errors import ConfigError
from lithomap.models.unet import build_unet


def test_output_shape_and_softmax():
    keras.utils.set_random_seed(0)
    model = build_unet((16, 16, 5), base_filters=4, depth=2)
    batch = np.random.default_rng(0).normal(size=(2, 16, 16, 5)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model({"features": batch}, training=False))
    assert probabilities.shape == (2, 16, 16, 14)
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_input_and_output_names():
    model = build_unet((16, 16, 3), base_filters=4, depth=2)
    assert [tensor.name for tensor in model.inputs] == ["features"]
    assert model.output_names == ["probabilities"] or model.outputs[0].name.startswith("probabilities")


def test_regularisation_dropout_and_batch_norm_are_configurable():
    model = build_unet((16, 16, 3), base_filters=4, depth=2, l2=0.05, dropout=0.2, batch_norm=True)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"Dropout", "BatchNormalization"} <= kinds
    assert model.losses, "L2 regularisation adds losses"
    bare = build_unet((16, 16, 3), base_filters=4, depth=2, l2=0.0, dropout=0.0, batch_norm=False)
    bare_kinds = {type(layer).__name__ for layer in bare.layers}
    assert not {"Dropout", "BatchNormalization"} & bare_kinds
    assert not bare.losses


def test_base_filters_and_depth_set_the_widths():
    model = build_unet((32, 32, 3), base_filters=8, depth=3)
    assert model.get_layer("enc1_conv1").filters == 8
    assert model.get_layer("bottleneck_conv1").filters == 64
    assert model.get_layer("bottleneck_conv1").output.shape[1:3] == (4, 4)


@pytest.mark.parametrize("shape", [(18, 16, 3), (16, 16, 0)])
def test_bad_shapes_raise_config_error(shape):
    with pytest.raises(ConfigError):
        build_unet(shape, depth=2)
