"""Vegetation index computed on the region grid from reflectances (never from raw DN)."""

from __future__ import annotations

import numpy as np


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """NDVI = (ρ_NIR − ρ_red) / (ρ_NIR + ρ_red).

    Args:
        red: red reflectance (float, NaN = no data).
        nir: near-infrared reflectance.

    Returns:
        float32 NDVI clipped to [−1, 1]; NaN where either input is missing or the sum is not positive.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        total = nir + red
        out = (nir - red) / total
    out[~(total > 0)] = np.nan
    return np.clip(out, -1.0, 1.0).astype(np.float32)
