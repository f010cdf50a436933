"""Overlapping patches that cover the whole region (edges padded, not dropped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lithomap.datasets.split import NONE
from lithomap.errors import InputDataError


def axis_origins(length: int, patch: int, stride: int) -> np.ndarray:
    """Start offsets along one axis: every ``stride`` until a patch reaches the end."""
    count = max(1, -(-(length - patch) // stride) + 1)
    return np.arange(count) * stride


def patch_origins(shape: tuple[int, int], patch: int, overlap: float, source: Path) -> np.ndarray:
    """(n, 2) row/col origins of patches covering ``shape``; the last ones run past the edge.

    Raises:
        InputDataError: the patch is larger than the region.
    """
    if patch > min(shape):
        raise InputDataError(
            source,
            f"patch size {patch} px is larger than the region ({shape[0]} × {shape[1]} px)",
            "set preprocess.patch_size to at most the region's smaller side, or enlarge the region",
        )
    stride = max(1, round(patch * (1 - overlap)))
    rows = axis_origins(shape[0], patch, stride)
    cols = axis_origins(shape[1], patch, stride)
    return np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).reshape(-1, 2)


def padded_shape(origins: np.ndarray, patch: int, shape: tuple[int, int]) -> tuple[int, int]:
    """Shape of the region padded so every patch lies inside it."""
    return max(shape[0], int(origins[:, 0].max()) + patch), max(shape[1], int(origins[:, 1].max()) + patch)


def pad(array: np.ndarray, target: tuple[int, int], value: float | int) -> np.ndarray:
    """Pad the last two axes of ``array`` at the bottom/right to ``target``."""
    extra = [(0, 0)] * (array.ndim - 2) + [(0, target[0] - array.shape[-2]), (0, target[1] - array.shape[-1])]
    return np.pad(array, extra, constant_values=value)


def assign_patches(
    origins: np.ndarray, pixel_split: np.ndarray, label: np.ndarray, patch: int, min_labelled: float
) -> np.ndarray:
    """Split id of each patch, or -1 when it mixes splits or has too few labelled pixels.

    A patch belongs to a split when every pixel of it that is assigned to any split is
    assigned to that one (buffer and padding pixels count for none), so no patch ever holds
    pixels of two splits.
    """
    target = padded_shape(origins, patch, pixel_split.shape)
    split = pad(pixel_split, target, NONE)
    labelled = pad(label > 0, target, False)
    result = np.full(len(origins), NONE, dtype=np.int8)
    for index, (row, col) in enumerate(origins):
        window = split[row : row + patch, col : col + patch]
        present = np.unique(window[window != NONE])
        if present.size != 1:
            continue
        own = (window == present[0]) & labelled[row : row + patch, col : col + patch]
        if own.mean() >= min_labelled:
            result[index] = present[0]
    return result
