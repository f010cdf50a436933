"""Blending weights and the streaming accumulator."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.errors import LithomapError
from lithomap.mapping.blending import EDGE_WEIGHT, Blender, window


def test_weights_are_positive_symmetric_and_peak_in_the_middle():
    weights = window(16)
    assert weights.min() >= EDGE_WEIGHT and weights.min() < 0.05
    np.testing.assert_allclose(weights, weights.T)
    np.testing.assert_allclose(weights, weights[::-1, ::-1])
    assert weights[7:9, 7:9].min() == pytest.approx(weights.max())
    assert np.abs(np.diff(weights, axis=0)).max() < 0.25, "the weights change smoothly"


def test_blended_probabilities_are_normalised_by_the_weights():
    blender = Blender((4, 4), 4, 2)
    first = np.zeros((1, 4, 4, 2), np.float32)
    first[..., 0] = 1.0
    second = np.zeros((1, 4, 4, 2), np.float32)
    second[..., 1] = 1.0
    blender.add(first, np.array([[0, 0]]))
    blender.add(second, np.array([[0, 0]]))
    np.testing.assert_allclose(blender.flush(4), 0.5, rtol=1e-6)


def test_flush_hands_out_rows_once_and_refuses_windows_above_them():
    blender = Blender((6, 4), 4, 1)
    blender.add(np.ones((1, 4, 4, 1), np.float32), np.array([[0, 0]]))
    top = blender.flush(2)
    blender.add(np.ones((1, 4, 4, 1), np.float32), np.array([[2, 0]]))
    rest = blender.flush(6)
    assert top.shape == (2, 4, 1) and rest.shape == (4, 4, 1) and blender.top == 6
    assert np.isfinite(top).all() and np.isfinite(rest).all()
    with pytest.raises(LithomapError, match="already flushed"):
        blender.add(np.ones((1, 4, 4, 1), np.float32), np.array([[0, 0]]))
