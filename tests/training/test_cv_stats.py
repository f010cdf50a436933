"""Folds and paired differences on tiny synthetic arrays (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.datasets.folds import assign_folds, fold_split, make_folds
from lithomap.datasets.split import NONE, TEST, TRAIN, VAL, block_histograms
from lithomap.errors import ConfigError
from lithomap.models.paired import paired_block_bootstrap, verdict
from lithomap.training.cv import boundary_mask
from lithomap.training.scoring import per_block_confusions


def label_map(seed: int = 0, size: int = 96) -> np.ndarray:
    """Blocky classes 1–5, a rare class 6 in three separate spots, an unlabelled corner."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(1, 6, size=(size // 8, size // 8))
    label = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1).astype(np.uint8)
    for row, col in ((5, 5), (40, 70), (80, 20)):
        label[row : row + 4, col : col + 4] = 6
    label[:16, -16:] = 0
    return label


def test_folds_are_disjoint_cover_every_labelled_block_once_and_keep_the_buffer():
    label = label_map()
    folds = make_folds(label, block_size=16, buffer_px=4, k=3, val_share=0.15, seed=1)
    labelled = block_histograms(label, 16)[..., 1:].sum(axis=-1) > 0
    assert np.array_equal(folds.blocks >= 0, labelled), "every labelled block is in a fold, no other"
    tested = np.zeros(folds.blocks.shape, int)
    for fold in range(folds.k):
        split = fold_split(folds, fold, label.shape, label)
        tested += split.blocks == TEST
        assert np.array_equal(split.blocks == TEST, folds.blocks == fold)
        assert (split.blocks == VAL).any() and (split.blocks == TRAIN).any()
        test = split.pixels == TEST
        for other in (TRAIN, VAL):
            rows, cols = np.nonzero(split.pixels == other)
            test_rows, test_cols = np.nonzero(test)
            gap = np.min(np.maximum(np.abs(rows[:, None] - test_rows[None]), np.abs(cols[:, None] - test_cols[None])))
            assert gap > 4, "training and validation pixels keep the buffer from the test pixels"
    assert np.array_equal(tested, labelled.astype(int)), "each labelled block is a test block exactly once"
    assert (folds.blocks == NONE).sum() == (~labelled).sum()


def test_rare_class_is_spread_over_folds_and_sizes_are_balanced():
    label = label_map()
    blocks = assign_folds(block_histograms(label, 16), k=3, seed=0)
    rare_folds = {int(blocks[r // 16, c // 16]) for r, c in ((5, 5), (40, 70), (80, 20))}
    assert rare_folds == {0, 1, 2}
    sizes = np.bincount(blocks[blocks >= 0])
    assert sizes.max() - sizes.min() <= 1
    assert np.array_equal(blocks, assign_folds(block_histograms(label, 16), k=3, seed=0)), "seeded"


def test_more_folds_than_labelled_blocks_is_refused():
    with pytest.raises(ConfigError, match="labelled blocks"):
        assign_folds(block_histograms(label_map(), 16), k=40, seed=0)


def block_matrices(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    matrices, _ = per_block_confusions(truth, predicted, truth > 0, 16)
    return np.stack(matrices)


def test_a_model_compared_with_itself_differs_by_exactly_zero():
    truth = label_map()
    rng = np.random.default_rng(3)
    predicted = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(1, 7, truth.shape))
    same = block_matrices(truth, predicted)
    difference = paired_block_bootstrap(same, same, n_boot=200, seed=0)
    assert difference.difference["macro_f1"] == 0 and difference.intervals["macro_f1"] == (0.0, 0.0)
    assert difference.shown() == 0 and verdict(difference, "cnn", "cnn").startswith("no difference shown")


def test_a_good_prediction_beats_a_shuffled_one_with_an_interval_above_zero():
    truth = label_map()
    rng = np.random.default_rng(4)
    good = np.where(rng.random(truth.shape) < 0.85, truth, rng.integers(1, 7, truth.shape))
    shuffled = rng.permutation(good.ravel()).reshape(good.shape)
    difference = paired_block_bootstrap(block_matrices(truth, good), block_matrices(truth, shuffled), n_boot=200)
    low, high = difference.intervals["macro_f1"]
    assert 0 < low <= difference.difference["macro_f1"] <= high
    assert verdict(difference, "convlstm", "cnn").startswith("convlstm better by")
    assert verdict(
        paired_block_bootstrap(block_matrices(truth, shuffled), block_matrices(truth, good), n_boot=200),
        "convlstm",
        "cnn",
    ).startswith("cnn better by")
    present = np.isfinite(difference.per_class)
    assert (difference.per_class_intervals[present, 0] > 0).all(), "every class is better predicted"


def test_boundary_pixels_are_those_next_to_another_labelled_class():
    label = np.array([[1, 1, 1, 2], [1, 1, 1, 2], [1, 1, 1, 2], [0, 0, 0, 0]], dtype=np.uint8)
    expected = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    assert np.array_equal(boundary_mask(label), expected)
