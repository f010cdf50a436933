"""Accuracy scores against scikit-learn, and the block bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score, jaccard_score

from lithomap.errors import LithomapError
from lithomap.models.metrics import (
    block_bootstrap,
    bootstrap_macro_f1_over,
    confusion_matrix,
    macro_f1_over,
    scores_from_confusion,
)


@pytest.fixture(params=[0, 1, 2])
def labelled(request):
    """Random reference/prediction pairs with background, some classes absent from the reference."""
    rng = np.random.default_rng(request.param)
    reference = rng.choice([0, 1, 2, 4, 7, 13], size=(3, 12, 12), p=[0.1, 0.4, 0.2, 0.15, 0.1, 0.05])
    predicted = np.where(rng.random(reference.shape) < 0.6, reference, rng.integers(0, 14, reference.shape))
    return reference, predicted


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_scores_match_scikit_learn(labelled):
    reference, predicted = labelled
    scores = scores_from_confusion(confusion_matrix(reference, predicted))
    keep = reference.ravel() != 0
    y_true, y_pred = reference.ravel()[keep], predicted.ravel()[keep]
    present = np.unique(y_true)
    assert scores["oa"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert scores["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=present, average="macro"))
    assert scores["weighted_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=present, average="weighted"))
    assert scores["kappa"] == pytest.approx(cohen_kappa_score(y_true, y_pred))
    assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    per_class_f1 = f1_score(y_true, y_pred, labels=present, average=None)
    np.testing.assert_allclose(scores["per_class"]["f1"][present], per_class_f1)
    per_class_iou = jaccard_score(y_true, y_pred, labels=present, average=None)
    np.testing.assert_allclose(scores["per_class"]["iou"][present], per_class_iou)
    absent = np.setdiff1d(np.arange(14), present)
    assert np.isnan(scores["per_class"]["f1"][absent]).all()
    assert scores["per_class"]["support"].sum() == keep.sum()


def test_confusion_rows_are_reference_and_background_is_ignored():
    cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([5, 1, 2, 2]), n_classes=3 + 3)
    assert cm.sum() == 3
    assert cm[1, 2] == 1 and cm[1, 1] == 1 and cm[2, 2] == 1


def test_pontius_disagreements_add_up():
    cm = np.zeros((14, 14), dtype=int)
    cm[1, 1], cm[1, 2], cm[2, 1], cm[2, 2], cm[3, 2] = 50, 10, 5, 30, 5
    scores = scores_from_confusion(cm)
    # row sums 60, 35, 5; column sums 55, 45, 0; N = 100
    assert scores["quantity_disagreement"] == pytest.approx((5 + 10 + 5) / 200)
    assert scores["quantity_disagreement"] + scores["allocation_disagreement"] == pytest.approx(1 - scores["oa"])
    # allocation: 2·min(omission, commission) per class, halved: (2·5 + 2·5 + 0) / 2 / 100
    assert scores["allocation_disagreement"] == pytest.approx(0.1)


def test_labels_outside_the_class_range_raise():
    with pytest.raises(LithomapError):
        confusion_matrix(np.array([1, 14]), np.array([1, 1]))


def test_empty_matrix_gives_nan_scores():
    scores = scores_from_confusion(np.zeros((14, 14)))
    assert np.isnan(scores["oa"]) and scores["n_pixels"] == 0


def _blocks(n_blocks: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cms = []
    for _ in range(n_blocks):
        reference = rng.integers(1, 5, 200)
        accuracy = rng.uniform(0.5, 0.9)
        predicted = np.where(rng.random(200) < accuracy, reference, rng.integers(1, 5, 200))
        cms.append(confusion_matrix(reference, predicted))
    return np.stack(cms)


def test_block_bootstrap_contains_the_estimate_and_narrows_with_more_blocks():
    few, many = _blocks(6, seed=0), _blocks(60, seed=0)
    widths = {}
    for name, cms in (("few", few), ("many", many)):
        point = scores_from_confusion(cms.sum(axis=0))
        intervals = block_bootstrap(cms, n_boot=300, seed=1)
        for metric in ("oa", "macro_f1"):
            low, high = intervals[metric]
            assert low <= point[metric] <= high
        widths[name] = intervals["oa"][1] - intervals["oa"][0]
    assert widths["many"] < widths["few"]


def test_block_bootstrap_is_seeded():
    cms = _blocks(8, seed=3)
    assert block_bootstrap(cms, n_boot=50, seed=4) == block_bootstrap(cms, n_boot=50, seed=4)


def test_block_bootstrap_rejects_bad_input():
    with pytest.raises(LithomapError):
        block_bootstrap(np.zeros((0, 14, 14)))
    with pytest.raises(LithomapError):
        block_bootstrap(_blocks(3, seed=0), alpha=1.5)


def test_macro_f1_over_learnable_classes_leaves_unseen_ones_out_but_counts_their_errors():
    truth = np.array([1, 1, 2, 2, 3, 3])
    predicted = np.array([1, 1, 2, 1, 1, 2])  # class 3 was never learnt: its pixels land on 1 and 2
    cm = confusion_matrix(truth, predicted, n_classes=4)
    every = scores_from_confusion(cm)["macro_f1"]
    learnable = macro_f1_over(cm, [1, 2])
    assert learnable == pytest.approx(np.mean([2 * 2 / (2 + 4), 2 * 1 / (2 + 2)]))
    assert learnable > every
    blocks = [confusion_matrix(truth[i : i + 2], predicted[i : i + 2], n_classes=4) for i in range(0, 6, 2)]
    low, high = bootstrap_macro_f1_over(blocks, [1, 2], n_boot=200, seed=1)
    assert low <= high and low >= 0 and high <= 1
