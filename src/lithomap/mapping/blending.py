"""Seam-free blending of overlapping window predictions.

Each window's softmax is multiplied by a smooth weight window (high in the middle, low
but never zero at the edges) and accumulated together with the weights; dividing at the
end and taking the argmax last gives maps without window seams (DESIGN.md, Maps). The
accumulator holds only the rows that windows still to come can reach, so a scene is
blended in strips and memory follows the window height, not the scene.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from lithomap.errors import LithomapError

EDGE_WEIGHT = 1e-3


@cache
def window(patch: int) -> np.ndarray:
    """(patch, patch) separable sin² (Hann) weights, at least EDGE_WEIGHT everywhere."""
    ramp = np.sin(np.pi * (np.arange(patch) + 0.5) / patch) ** 2
    return np.maximum(np.outer(ramp, ramp), EDGE_WEIGHT).astype(np.float32)


class Blender:
    """Accumulates weighted window probabilities and hands out finished rows.

    Windows are added in order of their top row; ``flush(row)`` returns the blended rows
    above ``row`` (no later window may start above it) and forgets them.

    Args:
        shape: (height, width) of the scene.
        patch: window side.
        n_classes: number of classes (last axis of the probabilities).
    """

    def __init__(self, shape: tuple[int, int], patch: int, n_classes: int) -> None:
        self.shape = shape
        self.patch = patch
        self.top = 0
        self.sum = np.zeros((patch, shape[1] + patch, n_classes), dtype=np.float32)
        self.weight = np.zeros((patch, shape[1] + patch), dtype=np.float32)

    def add(self, probabilities: np.ndarray, origins: np.ndarray) -> None:
        """Add (n, P, P, C) probabilities of windows at (n, 2) row/col origins.

        Raises:
            LithomapError: a window starts above rows already flushed.
        """
        weights = window(self.patch)
        for probs, (row, col) in zip(probabilities, origins, strict=True):
            offset = int(row) - self.top
            if offset < 0:
                raise LithomapError(f"window at row {row} starts above row {self.top}, which was already flushed")
            self._reach(offset + self.patch)
            target = (slice(offset, offset + self.patch), slice(int(col), int(col) + self.patch))
            self.sum[target] += probs * weights[..., None]
            self.weight[target] += weights

    def flush(self, row: int) -> np.ndarray:
        """(rows, width, C) blended probabilities of the rows from ``top`` to ``row``; NaN where no window reached."""
        row = min(row, self.shape[0])
        count = max(row - self.top, 0)
        self._reach(count)
        width = self.shape[1]
        weight = self.weight[:count, :width, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            done = np.where(weight > 0, self.sum[:count, :width] / weight, np.nan).astype(np.float32)
        self.sum = np.concatenate([self.sum[count:], np.zeros_like(self.sum[:count])])
        self.weight = np.concatenate([self.weight[count:], np.zeros_like(self.weight[:count])])
        self.top += count
        return done

    def _reach(self, rows: int) -> None:
        """Grow the buffer to hold ``rows`` rows from ``top``."""
        missing = rows - self.sum.shape[0]
        if missing > 0:
            self.sum = np.concatenate([self.sum, np.zeros((missing, *self.sum.shape[1:]), np.float32)])
            self.weight = np.concatenate([self.weight, np.zeros((missing, self.weight.shape[1]), np.float32)])
