"""Seam-free blending of overlapping patch predictions.

Each patch's softmax is multiplied by a smooth window (high in the middle, low but not
zero at the edges) and accumulated with the window itself; dividing at the end and taking
the argmax last gives maps without patch seams (DESIGN.md, Maps).
"""

from __future__ import annotations

from functools import cache

import numpy as np

EDGE_WEIGHT = 1e-3


@cache
def window(patch: int) -> np.ndarray:
    """(patch, patch) separable Hann-like weights, at least EDGE_WEIGHT everywhere."""
    ramp = np.sin(np.pi * (np.arange(patch) + 0.5) / patch) ** 2
    return np.maximum(np.outer(ramp, ramp), EDGE_WEIGHT).astype(np.float32)


class Blender:
    """Accumulates weighted patch probabilities on a (padded) region canvas.

    Args:
        shape: (height, width) of the region.
        patch: patch side.
        n_classes: number of classes (last axis of the probabilities).
    """

    def __init__(self, shape: tuple[int, int], patch: int, n_classes: int) -> None:
        self.shape = shape
        self.patch = patch
        padded = (shape[0] + patch, shape[1] + patch)
        self.sum = np.zeros((*padded, n_classes), dtype=np.float32)
        self.weight = np.zeros(padded, dtype=np.float32)

    def add(self, probabilities: np.ndarray, origins: np.ndarray) -> None:
        """Add (n, P, P, C) probabilities of patches at (n, 2) row/col origins."""
        weights = window(self.patch)
        for probs, (row, col) in zip(probabilities, origins, strict=True):
            target = (slice(row, row + self.patch), slice(col, col + self.patch))
            self.sum[target] += probs * weights[..., None]
            self.weight[target] += weights

    def probabilities(self) -> np.ndarray:
        """(height, width, C) blended probabilities; NaN where no patch reached."""
        height, width = self.shape
        weight = self.weight[:height, :width, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight > 0, self.sum[:height, :width] / weight, np.nan)
