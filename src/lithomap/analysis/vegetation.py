"""Confidence against vegetation: does a greener pixel get a less certain class?

The thesis found that vegetation lowers the models' confidence. Per map, the top-1
probability (``confidence.tif``) is set against the region's NDVI: a binned curve (mean,
quartiles and pixel count per NDVI bin) and Spearman's rank correlation with a confidence
interval from a bootstrap over spatial blocks (neighbouring pixels are not independent,
so resampling pixels would give far too narrow an interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

CURVE_COLUMNS = ["ndvi_bin", "confidence_mean", "confidence_q25", "confidence_q75", "n"]
MAX_PIXELS = 200_000


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rho with its block-bootstrap interval and the pixels it used."""

    rho: float
    low: float
    high: float
    pixels: int


def binned_curve(ndvi: np.ndarray, confidence: np.ndarray, width: float, min_count: int) -> pd.DataFrame:
    """Confidence per NDVI bin (bin centre) where both are finite; sparse bins left out."""
    both = np.isfinite(ndvi) & np.isfinite(confidence)
    frame = pd.DataFrame({"ndvi": ndvi[both], "confidence": confidence[both]})
    frame["ndvi_bin"] = (np.floor(frame["ndvi"] / width) + 0.5) * width
    grouped = frame.groupby("ndvi_bin")["confidence"]
    curve = pd.DataFrame(
        {
            "confidence_mean": grouped.mean(),
            "confidence_q25": grouped.quantile(0.25),
            "confidence_q75": grouped.quantile(0.75),
            "n": grouped.size(),
        }
    ).reset_index()
    curve["ndvi_bin"] = curve["ndvi_bin"].round(6)
    return curve[curve["n"] >= min_count][CURVE_COLUMNS].reset_index(drop=True)


def rank_correlation(
    ndvi: np.ndarray, confidence: np.ndarray, block_px: int, n_boot: int, alpha: float, seed: int = 0
) -> RankCorrelation:
    """Spearman's rho of NDVI and confidence, interval from resampling ``block_px`` blocks.

    At most ``MAX_PIXELS`` pixels (a seeded sample) enter, which keeps the bootstrap fast
    on large regions without changing rho beyond its interval.
    """
    rows, cols = np.nonzero(np.isfinite(ndvi) & np.isfinite(confidence))
    rng = np.random.default_rng(seed)
    if rows.size > MAX_PIXELS:
        keep = rng.choice(rows.size, size=MAX_PIXELS, replace=False)
        rows, cols = rows[keep], cols[keep]
    if rows.size < 3:
        return RankCorrelation(float("nan"), float("nan"), float("nan"), int(rows.size))
    x, y = ndvi[rows, cols], confidence[rows, cols]
    rho = float(spearmanr(x, y).statistic)
    blocks = (rows // block_px) * 100_000 + cols // block_px
    unique, members = np.unique(blocks, return_inverse=True)
    order = np.argsort(members, kind="stable")
    starts = np.searchsorted(members[order], np.arange(unique.size))
    ends = np.append(starts[1:], order.size)
    estimates = []
    for _ in range(n_boot):
        chosen = rng.integers(0, unique.size, size=unique.size)
        picked = np.concatenate([order[starts[b] : ends[b]] for b in chosen])
        if np.unique(x[picked]).size > 1 and np.unique(y[picked]).size > 1:
            estimates.append(spearmanr(x[picked], y[picked]).statistic)
    if not estimates:
        return RankCorrelation(rho, float("nan"), float("nan"), int(rows.size))
    low, high = np.quantile(estimates, [alpha / 2, 1 - alpha / 2])
    return RankCorrelation(rho, float(low), float(high), int(rows.size))
