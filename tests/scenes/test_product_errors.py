"""Correlated retrieval errors and the clouds a mask misses."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.scenes.fields import gaussian_random_field
from lithomap.scenes.product_errors import cloud_contamination, correlated_residual


def lag_correlation(field: np.ndarray, lag: int) -> float:
    a, b = field[:, :-lag].ravel(), field[:, lag:].ravel()
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("length_px", [4.0, 8.0])
def test_correlated_residual_has_the_configured_std_and_correlation_length(length_px):
    field = correlated_residual((400, 400), length_px, 1.3, np.random.default_rng(0))
    assert field.std() == pytest.approx(1.3, rel=0.05)
    # Gaussian correlation exp(-r²/(2L²)): 0.61 at one length, ~0.01 at three
    assert lag_correlation(field, int(length_px)) == pytest.approx(np.exp(-0.5), abs=0.08)
    assert lag_correlation(field, int(3 * length_px)) < 0.1


def test_the_mask_misses_thin_edges_around_flagged_clouds_and_their_shadows():
    field = gaussian_random_field((200, 200), 12.0, np.random.default_rng(1))
    flagged = field > np.quantile(field, 0.8)
    sun = (0.3, -0.4, float(np.sqrt(1 - 0.25)))  # sun to the south-east
    missed = cloud_contamination(field, 0.2, 0.1, sun, 70.0)
    edges = missed.edge_fraction > 0
    assert not (edges & flagged).any()
    assert (edges.sum() / (edges.sum() + flagged.sum())) == pytest.approx(0.1, abs=0.01)
    assert missed.edge_fraction.max() <= 1.0
    assert missed.shadow.any() and not (missed.shadow & (flagged | edges)).any()
    rows, cols = np.nonzero(missed.shadow)
    cloud_rows, cloud_cols = np.nonzero(flagged | edges)
    assert rows.mean() < cloud_rows.mean() + 5 and cols.mean() < cloud_cols.mean() + 5


def test_no_clouds_or_no_omission_leave_nothing_unflagged():
    field = gaussian_random_field((50, 50), 5.0, np.random.default_rng(2))
    assert not cloud_contamination(None, 0.2, 0.1, (0, 0, 1), 70.0).edge_fraction.any()
    assert not cloud_contamination(field, 0.2, 0.0, (0, 0, 1), 70.0).edge_fraction.any()
