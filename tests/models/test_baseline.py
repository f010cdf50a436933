"""Per-pixel gradient-boosting baseline: features and a fit that learns thermal inertia."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.errors import LithomapError
from lithomap.models.baseline import PixelBaseline, fit_baseline, pixel_features, predict_baseline
from lithomap.models.metrics import confusion_matrix, scores_from_confusion


def _scene(seed: int, size: int = 12, steps: int = 8):
    """Clay (2) swings little between day and night, sand (1) a lot; background 0 on one row."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 3, (size, size))
    labels[0] = 0
    is_day = np.arange(steps) % 2 == 0
    swing = np.where(labels == 1, 12.0, 5.0)
    lst = 295 + np.where(is_day[:, None, None], swing, -swing) / 2 + rng.normal(0, 1.0, (steps, size, size))
    valid = rng.random(lst.shape) > 0.2
    lst[~valid] = np.nan
    static = rng.normal(size=(size, size, 3))
    return lst, valid, is_day, static, labels


def test_features_have_the_documented_columns():
    lst, valid, is_day, static, _ = _scene(0)
    features, names = pixel_features(
        lst, valid, is_day, emissivity=np.full_like(lst, 0.95), static=static, static_names=("vv", "vh", "ndvi")
    )
    assert names == (
        "lst_mean",
        "lst_amplitude",
        "lst_std",
        "day_night_diff",
        "ati_proxy",
        "emissivity_mean",
        "vv",
        "vh",
        "ndvi",
    )
    assert features.shape == (144, 9)
    column = dict(zip(names, features.T, strict=True))
    np.testing.assert_allclose(column["ati_proxy"], 1 / np.maximum(column["day_night_diff"], 0.1), rtol=1e-5)


def test_pixel_without_night_dates_gets_nan_day_night_difference():
    lst, valid, is_day, _, _ = _scene(0)
    valid[~is_day, 3, 3] = False
    features, names = pixel_features(lst, valid, is_day)
    assert np.isnan(features[3 * 12 + 3, names.index("day_night_diff")])


def test_baseline_learns_the_diurnal_contrast_and_scores_on_held_out_pixels():
    train_features, _ = pixel_features(*_scene(1)[:3])
    train_labels = _scene(1)[4]
    lst, valid, is_day, _, test_labels = _scene(2)
    test_features, _ = pixel_features(lst, valid, is_day)
    classifier = fit_baseline(train_features, train_labels, max_iter=30)
    assert set(classifier.classes_) == {1, 2}  # background dropped
    predicted = predict_baseline(classifier, test_features, test_labels.shape)
    assert scores_from_confusion(confusion_matrix(test_labels, predicted))["oa"] > 0.85


def test_bad_shapes_raise():
    lst, valid, is_day, _, labels = _scene(0)
    with pytest.raises(LithomapError):
        pixel_features(lst, valid[:-1], is_day)
    with pytest.raises(LithomapError):
        fit_baseline(np.zeros((3, 2)), labels)
    with pytest.raises(LithomapError):
        fit_baseline(np.zeros((4, 2)), np.zeros(4))


def test_pixel_baseline_drops_uninformative_columns_and_still_predicts():
    rng = np.random.default_rng(0)
    labels = rng.integers(1, 4, 500)
    informative = labels[:, None] + rng.normal(0, 0.1, (500, 1))
    night_only = np.full((500, 1), np.nan)  # e.g. the day–night difference of a day-only experiment
    features = np.hstack([informative, night_only, np.ones((500, 1))])
    baseline = PixelBaseline(features, labels, seed=0, sample_pixels=400, max_iter=20)
    assert baseline.columns.tolist() == [True, False, False]
    assert (baseline.predict(features) == labels).mean() > 0.95
