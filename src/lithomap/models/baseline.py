"""Per-pixel baseline: gradient boosting on temporal thermal features plus SAR and NDVI.

Each labelled pixel becomes one row of features computed from its own LST time series:

| feature            | definition                                                               |
|--------------------|--------------------------------------------------------------------------|
| ``lst_mean``       | mean LST over valid dates                                                |
| ``lst_amplitude``  | half the range between the 95th and 5th percentiles of valid LST         |
| ``lst_std``        | standard deviation of valid LST                                          |
| ``day_night_diff`` | mean daytime LST − mean night-time LST                                   |
| ``ati_proxy``      | apparent thermal inertia without albedo, 1 / max(day_night_diff, 0.1 K)  |
| ``emissivity_mean``| mean emissivity over valid dates (only when emissivity is given)         |
| static channels    | one column each (e.g. ``vv``, ``vh``, ``ndvi``)                          |

Apparent thermal inertia is (1 − albedo) / ΔT (Price 1977); with no albedo band the
proxy keeps the 1 / ΔT part: high for clay (slow, damped), low for sand. Features of a
pixel without valid day or night dates are NaN, which gradient boosting handles natively.
The model sees no spatial context, so it tells how much of the score the deep models owe
to it; it is evaluated on the same test pixels as the networks. ``scene_features`` builds
the table of a whole region for the dates its dataset selected; ``PixelBaseline`` fits it
on a seeded sample of labelled pixels, on the columns that carry information.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from sklearn.ensemble import HistGradientBoostingClassifier

from lithomap.datasets.manifest import Manifest
from lithomap.errors import LithomapError

_MIN_DIURNAL_RANGE_K = 0.1


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    counts = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.where(mask, values, 0.0).sum(axis=0) / counts, np.nan)


def pixel_features(
    lst: np.ndarray,
    valid: np.ndarray,
    is_day: Sequence[bool] | np.ndarray,
    emissivity: np.ndarray | None = None,
    static: np.ndarray | None = None,
    static_names: Sequence[str] = (),
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-pixel temporal features of one patch or scene.

    Args:
        lst: (T, H, W) land surface temperature, kelvin; invalid dates may hold anything.
        valid: (T, H, W) boolean, true where the LST is usable.
        is_day: (T,) boolean, true for daytime acquisitions (local solar time).
        emissivity: (T, H, W) broadband emissivity, or None.
        static: (H, W, Cs) static channels (vv, vh, ndvi), or None.
        static_names: names of the static channels.

    Returns:
        A (H·W, F) float32 feature matrix (row-major pixel order) and the F feature names.

    Raises:
        LithomapError: inconsistent shapes.
    """
    lst = np.asarray(lst, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    day = np.asarray(is_day, dtype=bool)
    if lst.ndim != 3 or valid.shape != lst.shape or day.shape != (lst.shape[0],):
        raise LithomapError(
            f"pixel_features: lst {lst.shape}, valid {valid.shape} and is_day {day.shape} must be (T, H, W), "
            "(T, H, W) and (T,)"
        )
    valid = valid & np.isfinite(lst)
    masked = np.where(valid, lst, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(masked, [5, 95], axis=0)
        columns = {
            "lst_mean": _masked_mean(lst, valid),
            "lst_amplitude": (high - low) / 2,
            "lst_std": np.nanstd(masked, axis=0),
        }
    day_mean = _masked_mean(lst, valid & day[:, None, None])
    night_mean = _masked_mean(lst, valid & ~day[:, None, None])
    columns["day_night_diff"] = day_mean - night_mean
    columns["ati_proxy"] = 1.0 / np.maximum(columns["day_night_diff"], _MIN_DIURNAL_RANGE_K)
    if emissivity is not None:
        columns["emissivity_mean"] = _masked_mean(np.asarray(emissivity, dtype=np.float64), valid)
    names = list(columns)
    stacked = [columns[name].reshape(-1) for name in names]
    if static is not None:
        static = np.asarray(static, dtype=np.float64)
        if static.shape[:2] != lst.shape[1:] or static.shape[2] != len(static_names):
            raise LithomapError(
                f"pixel_features: static {static.shape} must be (H, W, Cs) with (H, W) = {lst.shape[1:]} "
                f"and Cs = {len(static_names)} names"
            )
        stacked.extend(static[..., index].reshape(-1) for index in range(static.shape[2]))
        names.extend(static_names)
    return np.stack(stacked, axis=1).astype(np.float32), tuple(names)


def fit_baseline(
    features: np.ndarray,
    labels: np.ndarray,
    ignore_index: int | None = 0,
    seed: int = 0,
    **hgb_params: Any,
) -> HistGradientBoostingClassifier:
    """Fit the gradient-boosting baseline on labelled pixels.

    Args:
        features: (N, F) feature matrix from ``pixel_features``.
        labels: (N,) class ids (a (H, W) label patch flattened in the same order).
        ignore_index: label whose pixels are dropped before fitting.
        seed: random state of the classifier.
        **hgb_params: passed to ``HistGradientBoostingClassifier`` (e.g. ``max_iter``,
            ``learning_rate``, ``class_weight="balanced"``).

    Returns:
        The fitted classifier.

    Raises:
        LithomapError: shapes disagree or no labelled pixel is left.
    """
    labels = np.asarray(labels).reshape(-1)
    if features.shape[0] != labels.size:
        raise LithomapError(f"fit_baseline: {features.shape[0]} feature rows but {labels.size} labels")
    keep = labels != ignore_index if ignore_index is not None else np.ones(labels.size, dtype=bool)
    if not keep.any():
        raise LithomapError("fit_baseline: no labelled pixel to train on (all are the ignored class)")
    classifier = HistGradientBoostingClassifier(random_state=seed, **hgb_params)
    return classifier.fit(features[keep], labels[keep])


def predict_baseline(
    classifier: HistGradientBoostingClassifier, features: np.ndarray, shape: Sequence[int]
) -> np.ndarray:
    """Predicted class map of shape ``shape`` (H, W) from a (H·W, F) feature matrix."""
    return classifier.predict(features).reshape(tuple(shape)).astype(np.int32)


def scene_features(cube: xr.Dataset, manifest: Manifest) -> np.ndarray:
    """(H·W, F) baseline features of a region cube, for the dates its experiment dataset selected."""
    chosen, _ = manifest.date_index(cube["time"].values)
    day = np.array([d.day for d in manifest.dates], dtype=bool)
    lst = cube["lst"].isel(time=chosen.tolist()).values
    emissivity = cube["emissivity"].isel(time=chosen.tolist()).values if "emissivity" in cube else None
    layers = list(manifest.selection.get("static", []))
    static = np.stack([cube[name].values for name in layers], axis=-1) if layers else None
    features, _ = pixel_features(lst, np.isfinite(lst), day, emissivity, static, layers)
    return features


class PixelBaseline:
    """The gradient-boosting baseline on the feature columns that carry information.

    A column without two distinct finite values in the training sample (the day–night
    difference of a day-only experiment, say) is left out: it cannot inform the model.

    Args:
        features: (N, F) feature rows.
        labels: (N,) class ids; 0 (unlabelled) rows are never sampled.
        seed: seed of the pixel sample and of the classifier.
        sample_pixels: labelled pixels sampled for fitting.
        max_iter: boosting iterations.
    """

    def __init__(self, features: np.ndarray, labels: np.ndarray, seed: int, sample_pixels: int, max_iter: int) -> None:
        candidates = np.flatnonzero(labels > 0)
        rng = np.random.default_rng(seed)
        sample = rng.choice(candidates, size=min(candidates.size, sample_pixels), replace=False)
        chosen = features[sample]
        self.columns = np.array([np.unique(column[np.isfinite(column)]).size > 1 for column in chosen.T])
        self.classifier = fit_baseline(chosen[:, self.columns], labels[sample], seed=seed, max_iter=max_iter)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Class id of every feature row."""
        return self.classifier.predict(features[:, self.columns])
