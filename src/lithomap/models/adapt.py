"""Unsupervised adaptation to a region a model did not train on: batch-normalisation statistics.

A batch-normalisation layer normalises its input by the mean and variance it saw in
training. On another region those moments differ: the inputs are already standardised by
the region's own statistics (``datasets.target_normalisation``), but deeper activations —
texture, contrasts between classes in other proportions — are not. ``adapt_batch_norm``
replaces every layer's moving mean and variance by the moments of its input over the new
region's windows (AdaBN: Li et al. 2016, "Revisiting batch normalization for practical
domain adaptation"). It goes layer by layer in graph order, each layer measured with the
layers before it already adapted, so the moments are those the adapted model sees. No
labels are used and no weight is trained; the model object is changed in place (load a
fresh copy to undo).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from lithomap.datasets.patches import patch_origins
from lithomap.mapping.inference import PREDICT_BATCH, WindowInputs


def adapt_batch_norm(
    model: keras.Model,
    inputs: WindowInputs,
    patch: int,
    *,
    max_windows: int = 128,
    seed: int = 0,
    batch_size: int = PREDICT_BATCH,
) -> int:
    """Set each BatchNormalization layer's moving moments to those of ``inputs``' windows.

    Args:
        model: a functional Keras model (changed in place).
        inputs: the region's window inputs, normalised as the model will be fed when predicting.
        patch: window side in pixels.
        max_windows: at most this many non-overlapping windows (a seeded sample of the grid)
            are read once and kept in memory for every layer's pass.
        seed: the sample's seed.
        batch_size: windows per forward pass.

    Returns:
        The number of layers adapted (0: the model has no batch normalisation).
    """
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    grid = patch_origins(inputs.shape, patch, 0.0, Path("<scene>"))
    if len(grid) > max_windows:
        grid = grid[np.sort(np.random.default_rng(seed).choice(len(grid), max_windows, replace=False))]
    batches = [inputs(grid[start : start + batch_size], patch) for start in range(0, len(grid), batch_size)]
    for layer in layers:
        probe = keras.Model(model.input, layer.input)
        channels = int(layer.input.shape[layer.axis])
        total, total_sq, count = np.zeros(channels), np.zeros(channels), 0
        for batch in batches:
            values = keras.ops.convert_to_numpy(probe(batch, training=False)).astype(np.float64)
            flat = np.moveaxis(values, layer.axis, -1).reshape(-1, channels)
            total += flat.sum(axis=0)
            total_sq += np.square(flat).sum(axis=0)
            count += len(flat)
        mean = total / count
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(total_sq / count - mean**2, 0.0).astype(np.float32))
    return len(layers)
