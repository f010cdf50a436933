"""Batch-normalisation adaptation (AdaBN) to a region's own inputs."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from lithomap.models.adapt import adapt_batch_norm
from lithomap.models.unet import build_unet

PATCH = 8


@dataclass
class ArrayWindows:
    """Windows of one (H, W, C) array as the ``features`` input."""

    scene: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.scene.shape[:2]

    def __call__(self, origins: np.ndarray, patch: int) -> dict[str, np.ndarray]:
        return {"features": np.stack([self.scene[r : r + patch, c : c + patch] for r, c in origins])}


def _two_bn_model() -> keras.Model:
    """features → BN → conv → BN → conv → softmax: the second BN's moments depend on the first's."""
    keras.utils.set_random_seed(0)
    features = keras.Input((PATCH, PATCH, 2), name="features")
    x = keras.layers.BatchNormalization(name="bn_in")(features)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.BatchNormalization(name="bn_mid")(x)
    out = keras.layers.Conv2D(3, 1, activation="softmax")(x)
    return keras.Model({"features": features}, out)


def _predict(model: keras.Model, windows: ArrayWindows) -> np.ndarray:
    origins = np.array([(r, c) for r in range(0, 32, PATCH) for c in range(0, 32, PATCH)])
    return model.predict(windows(origins, PATCH), verbose=0)


def test_adapted_model_sees_an_affinely_shifted_region_as_the_original():
    scene = np.random.default_rng(0).normal(size=(32, 32, 2)).astype(np.float32)
    scene[..., 1] += np.linspace(0, 3, 32, dtype=np.float32)  # structure for the second layer to see
    original, shifted = ArrayWindows(scene), ArrayWindows(scene * np.float32(3.0) + np.float32(5.0))

    model = _two_bn_model()
    assert adapt_batch_norm(model, original, PATCH) == 2
    reference = _predict(model, original)
    mid_moments = model.get_layer("bn_mid").moving_mean.numpy().copy()

    unadapted = _predict(model, shifted)
    assert np.abs(unadapted - reference).max() > 0.1  # the shift matters before adaptation

    assert adapt_batch_norm(model, shifted, PATCH) == 2
    np.testing.assert_allclose(model.get_layer("bn_in").moving_mean.numpy(), scene.mean(axis=(0, 1)) * 3 + 5, rtol=1e-4)
    # measured layer by layer: the first layer adapted, the second sees what it saw on the original region
    np.testing.assert_allclose(model.get_layer("bn_mid").moving_mean.numpy(), mid_moments, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(_predict(model, shifted), reference, atol=1e-3)


def test_a_window_sample_and_a_model_without_batch_norm():
    scene = np.random.default_rng(1).normal(size=(32, 32, 2)).astype(np.float32)
    model = _two_bn_model()
    adapt_batch_norm(model, ArrayWindows(scene), PATCH, max_windows=3, seed=0)
    first = model.get_layer("bn_in").moving_mean.numpy().copy()
    adapt_batch_norm(model, ArrayWindows(scene), PATCH, max_windows=3, seed=0)
    np.testing.assert_array_equal(model.get_layer("bn_in").moving_mean.numpy(), first)  # seeded sample
    assert not np.allclose(first, scene.mean(axis=(0, 1)), atol=1e-3)  # 3 of 16 windows, not all

    plain = build_unet((PATCH, PATCH, 2), base_filters=2, depth=1, batch_norm=False)
    assert adapt_batch_norm(plain, ArrayWindows(scene), PATCH) == 0
