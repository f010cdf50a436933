"""The domain-shift score: about 0 for the training distribution itself, growing with an injected offset."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.errors import InputDataError
from lithomap.models.shift import ShiftReference, load_reference, save_reference

NAMES = ("emissivity_mean", "lst_anomaly_day", "lst_anomaly_night", "lst_anomaly_std")


def _pixels(seed: int, n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = np.array([[0.01, 0, 0, 0], [0, 3.0, 0.5, 0], [0, 1.0, 1.5, 0], [0, 0.4, 0, 0.8]])
    return rng.normal(size=(n, 4)) @ mixing + np.array([0.95, 0.0, 0.0, 4.0])


def test_a_region_against_itself_scores_about_zero():
    training = _pixels(0)
    reference = ShiftReference.fit(training, NAMES)
    assert abs(reference.shift(reference.distance(training, NAMES))) < 1e-5
    same_climate = reference.distance(_pixels(1).reshape(50, 80, 4), NAMES)
    assert same_climate.shape == (50, 80)
    assert abs(reference.shift(same_climate)) < 0.1


def test_shift_grows_with_an_injected_offset():
    reference = ShiftReference.fit(_pixels(0), NAMES)
    scores = []
    for offset_k in (0.0, 2.0, 6.0, 12.0):
        moved = _pixels(1) + np.array([0.0, offset_k, offset_k / 2, 0.0])
        scores.append(reference.shift(reference.distance(moved, NAMES)))
    assert scores == sorted(scores) and scores[-1] > 2.0 and scores[1] - scores[0] > 0.1


def test_missing_summaries_give_nan_and_constant_channels_are_left_out(tmp_path):
    training = _pixels(0)
    training[:, 2] = np.nan  # a day-only experiment: no night anomaly
    reference = ShiftReference.fit(training, NAMES)
    assert reference.channels == ("emissivity_mean", "lst_anomaly_day", "lst_anomaly_std")
    pixels = _pixels(1, n=10)
    pixels[0, 1] = np.nan
    distances = reference.distance(pixels, NAMES)
    assert np.isnan(distances[0]) and np.isfinite(distances[1:]).all()
    assert load_reference(save_reference(reference, tmp_path / "shift.json")) == reference
    assert load_reference(tmp_path / "absent.json") is None
    with pytest.raises(InputDataError, match="lack"):
        reference.distance(pixels[:, :2], NAMES[:2])
