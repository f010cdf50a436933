"""Domain shift: how far a region's per-pixel thermal summaries lie from a model's training pixels.

A model is trustworthy on a new region only as far as the region looks like what it was
trained on. The reference is the distribution of the training pixels' summary vectors (the
all-date thermal summaries of ``lithomap.datasets.scene``: mean emissivity, mean day and
night LST anomaly, anomaly spread, and the relative diurnal range with climate-invariant
inputs), kept as their mean and covariance, so it travels with the model (``shift.json``
in the model folder, the registered model's metadata) and a map needs no training data.

Per pixel the score is the Mahalanobis distance of its summary vector to the reference (in
units of the training spread; NaN where a summary is missing). A region's **shift** is the
median distance of its pixels minus the median distance of the training pixels
themselves: about 0 for a region the model was trained on, growing as the region's inputs
move away (a warmer climate, other rocks). Channels constant or empty in training (the
night anomaly of a day-only experiment) are left out.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lithomap.atomic import write_json
from lithomap.errors import InputDataError

REFERENCE_FILE = "shift.json"
_RIDGE = 1e-6


@dataclass(frozen=True)
class ShiftReference:
    """The training pixels' summary distribution (see the module docstring).

    Attributes:
        channels: the summary channels used, in order.
        mean: their mean over the training pixels.
        covariance: their covariance (row by row).
        median_distance: median Mahalanobis distance of the training pixels to it.
        pixels: how many training pixels it was fitted on.
    """

    channels: tuple[str, ...]
    mean: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    median_distance: float
    pixels: int

    @classmethod
    def fit(cls, values: np.ndarray, channels: Sequence[str]) -> ShiftReference:
        """Fit the reference on (N, C) summary rows (NaN = missing).

        Raises:
            InputDataError: no channel varies, or no row has every varying channel.
        """
        values = np.asarray(values, dtype=np.float64).reshape(-1, len(channels))
        keep = [k for k in range(values.shape[1]) if np.unique(values[np.isfinite(values[:, k]), k]).size > 1]
        rows = values[:, keep]
        rows = rows[np.isfinite(rows).all(axis=1)]
        if not keep or len(rows) < 2:
            raise InputDataError(
                "<training pixels>",
                f"no training pixel has a varying summary channel ({', '.join(channels)}) to fit a shift reference on",
                "train on an experiment with thermal summaries (summaries: true) and labelled pixels",
            )
        mean = rows.mean(axis=0)
        covariance = np.atleast_2d(np.cov(rows, rowvar=False))
        partial = cls(
            tuple(channels[k] for k in keep),
            tuple(float(v) for v in mean),
            tuple(tuple(float(v) for v in row) for row in covariance),
            0.0,
            len(rows),
        )
        distances = partial._mahalanobis(rows)
        return cls(partial.channels, partial.mean, partial.covariance, float(np.median(distances)), len(rows))

    def distance(self, values: np.ndarray, channels: Sequence[str]) -> np.ndarray:
        """Per-pixel Mahalanobis distance of (..., C) summaries named ``channels`` (NaN where one is missing).

        Raises:
            InputDataError: a channel of the reference is not among ``channels``.
        """
        missing = [name for name in self.channels if name not in channels]
        if missing:
            raise InputDataError(
                "<region inputs>",
                f"the region's summaries {list(channels)} lack {missing}, which the model's shift reference uses",
                "map with the experiment the model was trained on",
            )
        values = np.asarray(values, dtype=np.float64)
        picked = values[..., [list(channels).index(name) for name in self.channels]]
        flat = picked.reshape(-1, len(self.channels))
        result = np.full(flat.shape[0], np.nan)
        finite = np.isfinite(flat).all(axis=1)
        result[finite] = self._mahalanobis(flat[finite])
        return result.reshape(values.shape[:-1]).astype(np.float32)

    def shift(self, distances: np.ndarray) -> float:
        """A region's shift: the median of its finite distances minus the training pixels' median (NaN if none)."""
        finite = np.asarray(distances)[np.isfinite(distances)]
        return float(np.median(finite) - self.median_distance) if finite.size else float("nan")

    def _mahalanobis(self, rows: np.ndarray) -> np.ndarray:
        covariance = np.asarray(self.covariance, dtype=np.float64)
        ridge = _RIDGE * max(float(np.trace(covariance)) / len(covariance), 1e-12)
        inverse = np.linalg.pinv(covariance + ridge * np.eye(len(covariance)))
        centred = rows - np.asarray(self.mean)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", centred, inverse, centred), 0.0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``from_dict`` reads it back)."""
        return {
            "channels": list(self.channels),
            "mean": list(self.mean),
            "covariance": [list(row) for row in self.covariance],
            "median_distance": self.median_distance,
            "pixels": self.pixels,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> ShiftReference:
        """The reference of a ``to_dict`` document."""
        return cls(
            tuple(document["channels"]),
            tuple(float(v) for v in document["mean"]),
            tuple(tuple(float(v) for v in row) for row in document["covariance"]),
            float(document["median_distance"]),
            int(document["pixels"]),
        )


class ShiftAccumulator:
    """The median distance of a region read strip by strip, in fixed memory (a histogram, 0.01 wide bins).

    Args:
        reference: the model's reference (its training median is subtracted by ``shift``).
        top: distances above this share the last bin (the median is exact to 0.01 below it).
    """

    def __init__(self, reference: ShiftReference, top: float = 100.0) -> None:
        self.reference = reference
        self.edges = np.linspace(0.0, top, int(top * 100) + 1)
        self.counts = np.zeros(len(self.edges) - 1, dtype=np.int64)

    def add(self, distances: np.ndarray) -> None:
        """Count a strip's finite distances."""
        finite = np.asarray(distances)[np.isfinite(distances)]
        self.counts += np.histogram(np.minimum(finite, self.edges[-1]), bins=self.edges)[0]

    def median(self) -> float:
        """Median distance of everything added (NaN if nothing was)."""
        total = int(self.counts.sum())
        if total == 0:
            return float("nan")
        index = int(np.searchsorted(np.cumsum(self.counts), (total + 1) / 2))
        return float((self.edges[index] + self.edges[index + 1]) / 2)

    def shift(self) -> float:
        """The region's shift (``ShiftReference.shift`` of everything added, to 0.01)."""
        return self.median() - self.reference.median_distance


def save_reference(reference: ShiftReference, path: Path) -> Path:
    """Write a reference as JSON (atomically)."""
    return write_json(path, reference.to_dict())


def load_reference(path: Path) -> ShiftReference | None:
    """The reference in ``path``; None when the file does not exist (a model trained before shift scores).

    Raises:
        InputDataError: the file is not a shift reference.
    """
    if not path.is_file():
        return None
    try:
        return ShiftReference.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, TypeError, ValueError) as error:
        raise InputDataError(
            path, f"not a shift reference ({error})", "retrain the model (`lithomap train`) to rewrite it"
        ) from error
