"""Class-weighted cross-entropy + focal loss: hand-computed values and its invariants."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from lithomap.errors import ConfigError
from lithomap.models.losses import THESIS_CLASS_WEIGHTS, WeightedFocalLoss, class_weights_auto, make_loss

WEIGHTS = (5.0, 2.0, 0.5)
LABELS = np.array([[[1, 2, 0]]], dtype="int32")  # (batch 1, H 1, W 3); the last pixel is background
PROBABILITIES = np.array([[[[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]]], dtype="float32")


def _value(loss, labels=LABELS, probabilities=PROBABILITIES) -> float:
    return float(keras.ops.convert_to_numpy(loss(labels, probabilities)))


def test_hand_computed_value():
    expected = (2.0 * (1 - 0.5) ** 2 * -math.log(0.5) + 0.5 * (1 - 0.8) ** 2 * -math.log(0.8)) / 2
    assert _value(make_loss(WEIGHTS, gamma=2.0)) == pytest.approx(expected, rel=1e-5)


def test_weights_scale_the_focal_term_rather_than_replace_it():
    one_pixel_labels = np.array([[[1]]], dtype="int32")
    one_pixel = np.array([[[[0.2, 0.5, 0.3]]]], dtype="float32")
    weighted = _value(make_loss(WEIGHTS, gamma=2.0), one_pixel_labels, one_pixel)
    unweighted = _value(make_loss((1.0, 1.0, 1.0), gamma=2.0), one_pixel_labels, one_pixel)
    cross_entropy = -math.log(0.5)
    assert unweighted == pytest.approx((1 - 0.5) ** 2 * cross_entropy, rel=1e-5)
    assert weighted == pytest.approx(WEIGHTS[1] * unweighted, rel=1e-5)
    # the public bug: the weight takes the place of the modulating factor, giving w · CE
    assert weighted != pytest.approx(WEIGHTS[1] * cross_entropy, rel=1e-2)


def test_doubling_every_weight_doubles_the_loss():
    base = _value(make_loss(WEIGHTS))
    assert _value(make_loss(tuple(2 * w for w in WEIGHTS))) == pytest.approx(2 * base, rel=1e-5)


def test_ignored_pixels_contribute_nothing():
    loss = make_loss(WEIGHTS, gamma=2.0)
    changed = PROBABILITIES.copy()
    changed[0, 0, 2] = [0.01, 0.01, 0.98]
    assert _value(loss, probabilities=changed) == pytest.approx(_value(loss))
    all_background = np.zeros_like(LABELS)
    assert _value(loss, labels=all_background) == 0.0


@pytest.mark.parametrize("focal_weight", [1.0, 0.3])
def test_gamma_zero_is_weighted_cross_entropy(focal_weight):
    expected = (2.0 * -math.log(0.5) + 0.5 * -math.log(0.8)) / 2
    assert _value(make_loss(WEIGHTS, gamma=0.0, focal_weight=focal_weight)) == pytest.approx(expected, rel=1e-5)


def test_focal_weight_mixes_cross_entropy_and_focal():
    cross_entropy = _value(make_loss(WEIGHTS, gamma=2.0, focal_weight=0.0))
    focal = _value(make_loss(WEIGHTS, gamma=2.0, focal_weight=1.0))
    mixed = _value(make_loss(WEIGHTS, gamma=2.0, focal_weight=0.25))
    assert cross_entropy == pytest.approx(_value(make_loss(WEIGHTS, gamma=0.0)), rel=1e-5)
    assert mixed == pytest.approx(0.75 * cross_entropy + 0.25 * focal, rel=1e-5)


def test_labels_with_a_trailing_axis_are_accepted():
    assert _value(make_loss(WEIGHTS), labels=LABELS[..., None]) == pytest.approx(_value(make_loss(WEIGHTS)))


def test_config_round_trip():
    loss = make_loss(WEIGHTS, gamma=1.5, focal_weight=0.5)
    clone = WeightedFocalLoss.from_config(loss.get_config())
    assert clone.class_weights == WEIGHTS
    assert (clone.gamma, clone.focal_weight, clone.ignore_index) == (1.5, 0.5, 0)


@pytest.mark.parametrize(
    "kwargs", [{"class_weights": (1.0, -1.0)}, {"class_weights": ()}, {"gamma": -1.0}, {"focal_weight": 1.5}]
)
def test_bad_arguments_raise_config_error(kwargs):
    arguments = {"class_weights": WEIGHTS, **kwargs}
    with pytest.raises(ConfigError):
        make_loss(**arguments)


def test_thesis_weights_table_12():
    assert set(THESIS_CLASS_WEIGHTS) == {"puertollano", "santa_olalla", "villoslada"}
    assert all(len(weights) == 14 for weights in THESIS_CLASS_WEIGHTS.values())
    assert THESIS_CLASS_WEIGHTS["puertollano"][11] == 15.0  # foliated
    assert THESIS_CLASS_WEIGHTS["santa_olalla"][3] == 8.0  # chalk
    assert THESIS_CLASS_WEIGHTS["villoslada"][5] == 5.0  # peat


def test_auto_weights_inverse_and_inverse_sqrt():
    counts = [1000, 100, 400, 0]
    inverse = np.array(class_weights_auto(counts, "inverse"))
    inverse_sqrt = np.array(class_weights_auto(counts, "inverse_sqrt"))
    assert inverse[0] == 0 and inverse[3] == 0  # background ignored, absent class
    assert inverse[1] / inverse[2] == pytest.approx(4.0)
    assert inverse_sqrt[1] / inverse_sqrt[2] == pytest.approx(2.0)
    assert inverse[1:3].mean() == pytest.approx(1.0)


def test_auto_weights_reject_bad_input():
    with pytest.raises(ConfigError):
        class_weights_auto([5, 0, 0], "inverse")
    with pytest.raises(ConfigError):
        class_weights_auto([1, 2], "log")  # type: ignore[arg-type]
