"""The per-pixel baseline leaves out feature columns that carry no information."""

from __future__ import annotations

import numpy as np

from lithomap.config import parse_params
from lithomap.training.evaluate import PixelBaseline


def test_all_missing_column_is_dropped_and_prediction_still_works():
    params = parse_params(
        {
            "regions": {},
            "train": {
                "presets": {
                    "p": {
                        "epochs": 1,
                        "batch_size": 1,
                        "learning_rate": {"cnn": 1e-3, "convlstm": 1e-3},
                        "l2": 0.0,
                        "patience": 1,
                    }
                },
                "preset": "p",
            },
            "evaluate": {"baseline_pixels": 400, "baseline_max_iter": 20},
        }
    )
    rng = np.random.default_rng(0)
    labels = rng.integers(1, 4, 500)
    informative = labels[:, None] + rng.normal(0, 0.1, (500, 1))
    night_only = np.full((500, 1), np.nan)  # e.g. the day–night difference of a day-only experiment
    features = np.hstack([informative, night_only, np.ones((500, 1))])
    baseline = PixelBaseline(features, labels, params)
    assert baseline.columns.tolist() == [True, False, False]
    assert (baseline.predict(features) == labels).mean() > 0.95
