"""Confidence against NDVI: binned curve and block-bootstrap rank correlation."""

from __future__ import annotations

import numpy as np

from lithomap.analysis.vegetation import CURVE_COLUMNS, binned_curve, rank_correlation


def _field(seed: int, slope: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ndvi = np.kron(rng.uniform(0.1, 0.8, size=(16, 16)), np.ones((8, 8))) + rng.normal(0, 0.02, (128, 128))
    confidence = np.clip(0.8 + slope * ndvi + rng.normal(0, 0.1, ndvi.shape), 0, 1)
    ndvi[:4] = np.nan  # no NDVI there
    return ndvi, confidence


def test_curve_counts_pixels_per_bin_and_drops_sparse_bins():
    ndvi, confidence = _field(0, -0.4)
    curve = binned_curve(ndvi, confidence, width=0.1, min_count=1)
    assert list(curve.columns) == CURVE_COLUMNS
    assert curve["n"].sum() == np.isfinite(ndvi).sum()
    assert curve["confidence_mean"].iloc[0] > curve["confidence_mean"].iloc[-1]
    sparse = binned_curve(ndvi, confidence, width=0.1, min_count=10**6)
    assert sparse.empty


def test_rank_correlation_finds_the_sign_and_its_interval_holds_rho():
    ndvi, confidence = _field(1, -0.4)
    falling = rank_correlation(ndvi, confidence, block_px=16, n_boot=50, alpha=0.05)
    assert falling.rho < -0.3 and falling.low <= falling.rho <= falling.high < 0
    ndvi, confidence = _field(2, 0.0)
    flat = rank_correlation(ndvi, confidence, block_px=16, n_boot=50, alpha=0.05)
    assert flat.low < 0 < flat.high
    assert flat.pixels == np.isfinite(ndvi).sum()
