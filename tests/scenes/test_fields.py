"""Smooth random fields: the configured correlation, unit point variance, a crop not re-standardised."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.scenes.fields import smooth_field


def lag_correlation(fields: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(fields[:, :, :-lag].ravel(), fields[:, :, lag:].ravel())[0, 1])


@pytest.mark.parametrize("length_px", [3.0, 12.0])
def test_smooth_field_has_unit_point_variance_and_a_gaussian_correlation(length_px):
    rng = np.random.default_rng(0)
    fields = np.stack([smooth_field((120, 120), length_px, rng) for _ in range(40)])
    assert fields.var() == pytest.approx(1.0, rel=0.1)
    for lag in (length_px, 2 * length_px):
        assert lag_correlation(fields, int(lag)) == pytest.approx(
            np.exp(-(int(lag) ** 2) / (2 * length_px**2)), abs=0.05
        )


def test_a_scene_smaller_than_the_length_sees_a_patch_of_the_field_not_a_whole_one():
    rng = np.random.default_rng(1)
    fields = np.stack([smooth_field((30, 30), 100.0, rng) for _ in range(100)])
    assert fields.mean(axis=(1, 2)).std() == pytest.approx(1.0, rel=0.2)
    assert fields.std(axis=(1, 2)).mean() < 0.2


def test_the_same_seed_draws_the_same_field():
    first = smooth_field((50, 70), 20.0, np.random.default_rng(5))
    assert first.shape == (50, 70)
    np.testing.assert_array_equal(first, smooth_field((50, 70), 20.0, np.random.default_rng(5)))
