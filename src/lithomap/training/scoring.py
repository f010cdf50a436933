"""Scoring a predicted map: confusion matrix, scores and block-bootstrap intervals.

Only the pixels of a mask count (labelled test pixels for a region model; every labelled
pixel of a held-out region). Intervals resample spatial blocks, not pixels, because
neighbouring pixels are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lithomap.classes import N_CLASSES
from lithomap.config import EvaluateParams
from lithomap.models.metrics import block_bootstrap, confusion_matrix, scores_from_confusion


@dataclass
class Scoring:
    """Scores of one predicted map on its scored pixels.

    Attributes:
        predicted: (H, W) predicted class ids (0 where no window reached).
        scored: (H, W) bool, the pixels that count.
        matrix: the (14, 14) confusion matrix of the scored pixels (rows = reference).
        scores: ``scores_from_confusion`` of it.
        intervals: block-bootstrap intervals per score.
        block_ids: ids of the spatial blocks holding scored pixels.
        block_matrices: (blocks, 14, 14) confusion matrix of each of those blocks (they sum
            to ``matrix``): what a paired comparison on the same blocks resamples.
    """

    predicted: np.ndarray
    scored: np.ndarray
    matrix: np.ndarray
    scores: dict
    intervals: dict
    block_ids: list[str]
    block_matrices: np.ndarray

    def block_confusions(self) -> dict[str, np.ndarray]:
        """Block id → that block's confusion matrix."""
        return dict(zip(self.block_ids, self.block_matrices, strict=True))


def per_block_confusions(
    truth: np.ndarray, predicted: np.ndarray, mask: np.ndarray, block_size: int
) -> tuple[list[np.ndarray], list[str]]:
    """Confusion matrices of each spatial block holding masked pixels, and the block ids.

    Blocks come row by row, ids are ``"<block row>-<block col>"``; each block is cut from
    the maps in place, so memory follows the block, not the map.
    """
    matrices, ids = [], []
    height, width = mask.shape
    for top in range(0, height, block_size):
        rows = slice(top, top + block_size)
        for left in range(0, width, block_size):
            cols = slice(left, left + block_size)
            here = mask[rows, cols]
            if here.any():
                matrices.append(confusion_matrix(truth[rows, cols][here], predicted[rows, cols][here], N_CLASSES))
                ids.append(f"{top // block_size}-{left // block_size}")
    return matrices, ids


def score_map(
    probabilities: np.ndarray,
    label: np.ndarray,
    wanted: np.ndarray,
    block_size: int,
    settings: EvaluateParams,
    seed: int,
) -> Scoring:
    """Score blended (H, W, C) probabilities on the labelled ``wanted`` pixels a window reached.

    Args:
        probabilities: blended probabilities, NaN where no window reached.
        label: (H, W) reference class ids, 0 = unlabelled.
        wanted: (H, W) bool, the pixels eligible for scoring.
        block_size: side of the spatial blocks the bootstrap resamples.
        settings: the ``evaluate`` section (bootstrap size, alpha).
        seed: bootstrap seed.
    """
    covered = np.isfinite(probabilities[..., 0])
    scored = wanted & (label > 0) & covered
    predicted = np.where(covered, np.nan_to_num(probabilities).argmax(-1), 0)
    matrix = confusion_matrix(label[scored], predicted[scored], n_classes=N_CLASSES)
    blocks, block_ids = per_block_confusions(label, predicted, scored, block_size)
    intervals = block_bootstrap(blocks, n_boot=settings.n_boot, seed=seed, alpha=settings.alpha)
    return Scoring(
        predicted,
        scored,
        matrix,
        scores_from_confusion(matrix),
        intervals,
        block_ids,
        np.asarray(blocks, dtype=np.int64).reshape(-1, N_CLASSES, N_CLASSES),
    )
