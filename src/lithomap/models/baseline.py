"""Per-pixel baselines: gradient boosting on each pixel's own inputs, with no spatial context.

Two feature sets, both evaluated on the same test pixels as the networks:

- **fair** (``network_features``, the gate's baseline, metrics ``baseline_*``): exactly the
  per-pixel channels the networks get, read by the same ``CubeChannels`` path — per
  sequence step the LST anomaly and the emissivity (``t00_lst_anomaly``, ``t00_emissivity``,
  …, and ``t00_vv_step``, ``t00_vh_step`` with ``sar_series``; padded steps are empty and
  dropped), then the static channels of the dataset (the
  all-date thermal summaries when the experiment uses them, then VV, VH, NDVI). The
  per-step clock and valid mask are the same for every pixel or implied by NaN, so they
  add nothing per pixel. It tells how much of the networks' score needs spatial context.
- **summary** (``summary_features``, the transfer model's per-pixel member): only the
  networks' static channels — the all-date thermal summaries (mean emissivity, mean LST
  anomaly of day and of night dates, the anomaly's spread; with ``standardised`` inputs
  their climate-invariant forms) and the static layers — with none of the per-step
  columns. Step k is a different date and hour in every region, so a model of per-step
  columns does not carry over to a region it never saw; time-of-day summaries do not
  depend on which dates a region got (README 10b: 0.56 / 0.51 / 0.46 held out, against
  0.44 / 0.41 / 0.43 for ``fair``). Defined for experiments with the summaries.
- **raw** (``scene_features``, metrics ``baseline_raw_*``): summaries of the raw LST series:

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
proxy keeps the 1 / ΔT part: high for clay (slow, damped), low for sand. Missing values
are NaN, which gradient boosting handles natively.

``PixelBaseline`` fits either set with the networks' class weights (``loss.class_weights``,
as per-pixel sample weights) on all labelled training pixels or on a class-stratified
sample of them (``evaluate.baseline_pixels``; README "Per-pixel baseline" measures how
large a sample is enough), on the columns that carry information.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr
from sklearn.ensemble import HistGradientBoostingClassifier

from lithomap.classes import N_CLASSES
from lithomap.datasets.manifest import Manifest
from lithomap.datasets.scene import CubeChannels
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
    sample_weight: np.ndarray | None = None,
    **hgb_params: Any,
) -> HistGradientBoostingClassifier:
    """Fit the gradient-boosting baseline on labelled pixels.

    Args:
        features: (N, F) feature matrix from ``pixel_features``.
        labels: (N,) class ids (a (H, W) label patch flattened in the same order).
        ignore_index: label whose pixels are dropped before fitting.
        seed: random state of the classifier.
        sample_weight: (N,) weight of each row (e.g. its class's loss weight), or None.
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
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)[keep]
    return classifier.fit(features[keep], labels[keep], sample_weight=weights)


def predict_baseline(
    classifier: HistGradientBoostingClassifier, features: np.ndarray, shape: Sequence[int]
) -> np.ndarray:
    """Predicted class map of shape ``shape`` (H, W) from a (H·W, F) feature matrix."""
    return classifier.predict(features).reshape(tuple(shape)).astype(np.int32)


def scene_features(cube: xr.Dataset, manifest: Manifest) -> np.ndarray:
    """(H·W, F) raw baseline features of a region cube, for the dates its experiment dataset selected."""
    chosen, _ = manifest.date_index(cube["time"].values)
    day = np.array([d.day for d in manifest.dates], dtype=bool)
    lst = cube["lst"].isel(time=chosen.tolist()).values
    emissivity = cube["emissivity"].isel(time=chosen.tolist()).values if "emissivity" in cube else None
    layers = list(manifest.selection.get("static", []))
    static = np.stack([cube[name].values for name in layers], axis=-1) if layers else None
    features, _ = pixel_features(lst, np.isfinite(lst), day, emissivity, static, layers)
    return features


def channel_features(
    sequence: np.ndarray, static: np.ndarray, step_names: Sequence[str], static_names: Sequence[str]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-pixel feature rows from the networks' stored channels.

    Args:
        sequence: (T, H, W, C) physical step channels (NaN = missing or padded step).
        static: (H, W, Cs) physical static channels.
        step_names: the C step channel names.
        static_names: the Cs static channel names.

    Returns:
        A (H·W, T·C + Cs) float32 matrix (row-major pixel order; step by step, then static)
        and its column names (``t03_lst_anomaly``, …, then the static names).

    Raises:
        LithomapError: shapes and names disagree.
    """
    steps, rows, cols, channels = sequence.shape
    if channels != len(step_names) or static.shape != (rows, cols, len(static_names)):
        raise LithomapError(
            f"channel_features: sequence {sequence.shape} and static {static.shape} do not match "
            f"{len(step_names)} step and {len(static_names)} static channel names"
        )
    per_step = np.moveaxis(sequence, 0, 2).reshape(rows * cols, steps * channels)
    names = [f"t{t:02d}_{name}" for t in range(steps) for name in step_names] + list(static_names)
    matrix = np.concatenate([per_step, static.reshape(rows * cols, -1)], axis=1)
    return matrix.astype(np.float32), tuple(names)


def network_features(cube: xr.Dataset, manifest: Manifest) -> np.ndarray:
    """(H·W, F) fair baseline features: the networks' per-pixel channels of the whole region."""
    channels = CubeChannels.from_manifest(cube, manifest)
    sequence, static = channels.read(0, 0, channels.shape)
    features, _ = channel_features(sequence, static, manifest.step_channels, channels.static_names)
    return features


def summary_features(cube: xr.Dataset, manifest: Manifest) -> np.ndarray:
    """(H·W, F) summary features: the networks' static channels of the whole region (module docstring).

    Raises:
        LithomapError: the experiment has no thermal summaries (``summaries: false``).
    """
    channels = CubeChannels.from_manifest(cube, manifest)
    if not channels.summaries:
        raise LithomapError(
            f"{manifest.region}/{manifest.experiment}: the summary model needs the all-date thermal summaries, "
            "which the experiment leaves out (summaries: false)"
        )
    _, static = replace(channels, steps=channels.steps[:0]).read(0, 0, channels.shape)
    return static.reshape(-1, static.shape[-1])


def has_summaries(manifest: Manifest) -> bool:
    """Whether an experiment's dataset carries the all-date thermal summaries (``summary_features`` needs them)."""
    return bool(manifest.selection.get("summaries", True))


SUMMARY = "summary"
"""The summary feature set's name (``BASELINE_FEATURES``): the transfer model's per-pixel member."""

BASELINE_FEATURES: Mapping[str, Callable[[xr.Dataset, Manifest], np.ndarray]] = {
    "fair": network_features,
    "raw": scene_features,
    SUMMARY: summary_features,
}


def stratified_sample(labels: np.ndarray, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of labelled (> 0) entries: all of them, or ``size`` drawn per class in proportion.

    Each class keeps its share of the labelled pixels (rounded, at least one pixel), so
    class frequencies, and with them the class-weighted loss, are those of the whole set.
    """
    candidates = np.flatnonzero(labels > 0)
    if size is None or size >= candidates.size:
        return candidates
    classes, counts = np.unique(labels[candidates], return_counts=True)
    quotas = np.minimum(counts, np.maximum(1, np.round(size * counts / counts.sum()).astype(int)))
    picks = [
        rng.choice(candidates[labels[candidates] == cls], size=quota, replace=False)
        for cls, quota in zip(classes, quotas, strict=True)
    ]
    return np.sort(np.concatenate(picks))


class PixelBaseline:
    """The gradient-boosting baseline on the feature columns that carry information.

    A column without two distinct finite values in the training sample (the day–night
    difference of a day-only experiment, a padded step) is left out: it cannot inform the model.

    Args:
        features: (N, F) feature rows.
        labels: (N,) class ids; 0 (unlabelled) rows are never sampled.
        seed: seed of the pixel sample and of the classifier.
        sample_pixels: labelled pixels in the class-stratified fitting sample; None = all.
        max_iter: boosting iterations.
        class_weights: per-class weight (indexed by class id) applied to each pixel, as the
            networks' loss weights its pixels; None = unweighted.
    """

    def __init__(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        seed: int,
        sample_pixels: int | None,
        max_iter: int,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        labels = np.asarray(labels).reshape(-1)
        sample = stratified_sample(labels, sample_pixels, np.random.default_rng(seed))
        chosen, chosen_labels = features[sample], labels[sample]
        weights = None if class_weights is None else np.asarray(class_weights, dtype=np.float64)[chosen_labels]
        self.columns = np.array([np.unique(column[np.isfinite(column)]).size > 1 for column in chosen.T])
        self.classifier = fit_baseline(
            chosen[:, self.columns], chosen_labels, seed=seed, sample_weight=weights, max_iter=max_iter
        )

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Class id of every feature row."""
        return self.classifier.predict(features[:, self.columns])

    def predict_proba(self, features: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
        """(N, n_classes) float32 class probabilities of every feature row (0 for classes it never saw)."""
        probabilities = np.zeros((len(features), n_classes), np.float32)
        probabilities[:, self.classifier.classes_] = self.classifier.predict_proba(features[:, self.columns])
        return probabilities
