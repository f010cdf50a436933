"""The report files of one evaluation, for DVC metrics/plots and for people.

``<out>/metrics.json`` (``dvc metrics``), ``per_class.csv`` and ``history.csv``
(``dvc plots``), ``confusion_matrix.png``, ``curves.png`` and ``sample_prediction.png``.
Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import SupportsFloat

import numpy as np
import pandas as pd
import xarray as xr

from lithomap.atomic import write_json, write_text
from lithomap.classes import N_CLASSES, class_names
from lithomap.models.plots import plot_confusion, plot_curves, plot_sample
from lithomap.training.scoring import Scoring

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]


def write_reports(
    out: Path,
    scoring: Scoring,
    baseline: dict,
    history: pd.DataFrame,
    sample: Sample,
    baseline_raw: dict | None = None,
) -> None:
    """Write every report file of an evaluation to ``out``.

    Args:
        out: the report folder.
        scoring: the model's scores on the scored pixels.
        baseline: the (fair) per-pixel baseline's scores on the same pixels.
        history: the training history (one row per epoch).
        sample: (LST image, reference, prediction) of the scored area, from ``sample_images``.
        baseline_raw: the raw-feature baseline's scores on the same pixels (``baseline_raw``
            in metrics.json, ``baseline_raw_f1`` in per_class.csv), or None.
    """
    names = class_names()
    scores, per_class = scoring.scores, scoring.scores["per_class"]
    metrics: dict[str, object] = {key: _plain(value) for key, value in scores.items() if key != "per_class"}
    metrics.update({f"{key}_ci": [float(v) for v in value] for key, value in scoring.intervals.items()})
    headline = ("oa", "macro_f1", "weighted_f1", "kappa")
    metrics["baseline"] = {key: _plain(baseline[key]) for key in headline}
    if baseline_raw is not None:
        metrics["baseline_raw"] = {key: _plain(baseline_raw[key]) for key in headline}
    metrics["beats_baseline"] = bool(scores["macro_f1"] > baseline["macro_f1"])
    rows = [
        {
            "class": names[c],
            "f1": _plain(per_class["f1"][c]),
            "iou": _plain(per_class["iou"][c]),
            "support": int(per_class["support"][c]),
            "baseline_f1": _plain(baseline["per_class"]["f1"][c]),
            **({"baseline_raw_f1": _plain(baseline_raw["per_class"]["f1"][c])} if baseline_raw is not None else {}),
        }
        for c in range(1, N_CLASSES)
        if per_class["support"][c] > 0
    ]
    metrics["per_class_f1"] = {row["class"]: row["f1"] for row in rows}
    write_json(out / "metrics.json", metrics)
    write_text(out / "per_class.csv", pd.DataFrame(rows).to_csv(index=False))
    write_text(out / "history.csv", history.to_csv(index=False))
    plot_curves(history_columns(history), out / "curves.png")
    plot_confusion(scoring.matrix, out / "confusion_matrix.png")
    plot_sample(*sample, out / "sample_prediction.png")


def history_columns(history: pd.DataFrame) -> dict[str, list[float]]:
    """A training history table as Keras history keys → per-epoch values."""
    return {column: history[column].tolist() for column in history.columns if column != "epoch"}


def sample_images(cube: xr.Dataset, label: np.ndarray, scoring: Scoring) -> Sample:
    """The scored area's bounding box: its clearest LST image, the reference and the prediction."""
    rows, cols = np.nonzero(scoring.scored)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    lst = cube["lst"].values
    best = int(np.argmax(np.isfinite(lst[(slice(None), *box)]).mean(axis=(1, 2))))
    scored = scoring.scored[box]
    return lst[best][box], np.where(scored, label[box], 0), np.where(scored, scoring.predicted[box], 0)


def _plain(value: SupportsFloat) -> float | None:
    """A score as JSON: rounded to 6 decimals, NaN as null."""
    value = float(value)
    return None if np.isnan(value) else round(value, 6)
