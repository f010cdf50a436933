"""Per-block confusion matrices: the blocks, their order and their counts."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.classes import N_CLASSES
from lithomap.errors import LithomapError
from lithomap.models.metrics import confusion_matrix
from lithomap.training.scoring import per_block_confusions


def test_blocks_come_row_by_row_with_the_pixels_of_each_block():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, N_CLASSES, size=(45, 38))
    predicted = rng.integers(1, N_CLASSES, size=truth.shape).astype(np.uint8)
    mask = rng.random(truth.shape) < 0.3
    mask[16:32] = False  # a row of blocks without scored pixels is left out
    matrices, ids = per_block_confusions(truth, predicted, mask, 16)
    rows, cols = np.nonzero(mask)
    expected_ids = sorted({(r // 16, c // 16) for r, c in zip(rows, cols, strict=True)})
    assert ids == [f"{r}-{c}" for r, c in expected_ids] and len(ids) == 6
    for (block_row, block_col), matrix in zip(expected_ids, matrices, strict=True):
        here = mask & (np.arange(45)[:, None] // 16 == block_row) & (np.arange(38)[None, :] // 16 == block_col)
        np.testing.assert_array_equal(matrix, confusion_matrix(truth[here], predicted[here], N_CLASSES))
    total = confusion_matrix(truth[mask], predicted[mask], N_CLASSES)
    np.testing.assert_array_equal(np.sum(matrices, axis=0), total)


def test_a_class_outside_the_range_is_refused():
    truth = np.full((8, 8), 3)
    with pytest.raises(LithomapError, match=r"outside 0\.\.13"):
        per_block_confusions(truth, np.full((8, 8), 14), truth > 0, 4)
