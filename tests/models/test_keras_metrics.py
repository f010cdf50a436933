"""The Keras macro-F1 metric agrees with the numpy scores and ignores background."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lithomap.models.keras_metrics import MacroF1
from lithomap.models.metrics import confusion_matrix, scores_from_confusion


def _one_hot(labels: np.ndarray, n_classes: int = 14) -> np.ndarray:
    return np.eye(n_classes, dtype="float32")[labels]


def test_streaming_macro_f1_equals_the_numpy_score_of_the_epoch():
    rng = np.random.default_rng(0)
    metric = MacroF1()
    all_true, all_pred = [], []
    for _ in range(3):
        y_true = rng.choice([0, 1, 3, 5], size=(2, 8, 8))
        y_pred = np.where(rng.random(y_true.shape) < 0.5, y_true, rng.integers(0, 14, y_true.shape))
        metric.update_state(y_true, _one_hot(y_pred))
        all_true.append(y_true)
        all_pred.append(y_pred)
    expected = scores_from_confusion(confusion_matrix(np.stack(all_true), np.stack(all_pred)))["macro_f1"]
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(expected, rel=1e-5)
    metric.reset_state()
    assert float(keras.ops.convert_to_numpy(metric.result())) == 0.0


def test_background_pixels_do_not_count():
    metric = MacroF1()
    y_true = np.array([[[0, 0, 1, 2]]])
    y_pred = np.array([[[5, 6, 1, 2]]])
    metric.update_state(y_true, _one_hot(y_pred))
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(1.0)


def test_config_round_trip():
    metric = MacroF1(n_classes=5, ignore_index=None)
    clone = MacroF1.from_config(metric.get_config())
    assert (clone.n_classes, clone.ignore_index, clone.name) == (5, None, "macro_f1")
