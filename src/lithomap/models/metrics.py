"""Accuracy assessment from confusion matrices (numpy only; SCIENCE.md section 4).

The confusion matrix has rows = reference and columns = prediction (the scikit-learn
convention). The ignored class (background, 0) is left out when the matrix is built, so
every score below is over labelled pixels only. Macro-F1 — the headline — is the mean F1
over the classes present in the reference; classes absent from the reference are NaN in
the per-class arrays and left out of every mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lithomap.errors import LithomapError


def confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_classes: int = 14,
    ignore_index: int | None = 0,
) -> np.ndarray:
    """Count (reference, prediction) pairs.

    Args:
        y_true: reference labels, any shape.
        y_pred: predicted labels, the same shape.
        n_classes: number of classes; labels must lie in 0..n_classes-1.
        ignore_index: reference label whose pixels are not counted (None: count all).

    Returns:
        An (n_classes, n_classes) int64 matrix, rows = reference. The row and column of
        ``ignore_index`` hold only predictions of it for labelled pixels.

    Raises:
        LithomapError: shapes differ or labels fall outside the class range.
    """
    reference = np.asarray(y_true).ravel()
    predicted = np.asarray(y_pred).ravel()
    if reference.shape != predicted.shape:
        raise LithomapError(f"confusion_matrix: {np.shape(y_true)} labels vs {np.shape(y_pred)} predictions")
    if ignore_index is not None:
        keep = reference != ignore_index
        reference, predicted = reference[keep], predicted[keep]
    for name, values in (("reference", reference), ("predicted", predicted)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise LithomapError(
                f"confusion_matrix: {name} labels span {values.min()}..{values.max()}, outside 0..{n_classes - 1}"
            )
    flat = reference.astype(np.int64) * n_classes + predicted.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def scores_from_confusion(cm: np.ndarray, ignore_index: int | None = 0) -> dict[str, Any]:
    """Every accuracy score of SCIENCE.md section 4 from one confusion matrix.

    Args:
        cm: a square confusion matrix, rows = reference.
        ignore_index: class left out of the class means (its row should be empty anyway).

    Returns:
        A dict with scalars ``oa``, ``macro_f1``, ``weighted_f1``, ``miou``, ``kappa``,
        ``balanced_accuracy``, ``quantity_disagreement``, ``allocation_disagreement``,
        ``n_pixels`` and ``per_class``: a dict of arrays ``f1``, ``iou``, ``precision``,
        ``recall`` (NaN for classes absent from the reference) and ``support`` (int).
        Scalars are NaN when the matrix is empty.
    """
    cm = np.asarray(cm, dtype=np.float64)
    n_classes = cm.shape[0]
    considered = np.ones(n_classes, dtype=bool)
    if ignore_index is not None and 0 <= ignore_index < n_classes:
        considered[ignore_index] = False
        cm = cm.copy()
        cm[ignore_index, :] = 0.0
    total = cm.sum()
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    diagonal = np.diag(cm)
    present = considered & (support > 0)

    precision = _safe_divide(diagonal, predicted)
    recall = _safe_divide(diagonal, support)
    f1 = _safe_divide(2 * diagonal, support + predicted)
    iou = _safe_divide(diagonal, support + predicted - diagonal)
    per_class = {
        name: np.where(present, values, np.nan)
        for name, values in (("f1", f1), ("iou", iou), ("precision", precision), ("recall", recall))
    }
    per_class["support"] = support.astype(np.int64)

    if total == 0:
        nan = float("nan")
        scalars = dict.fromkeys(
            (
                "oa",
                "macro_f1",
                "weighted_f1",
                "miou",
                "kappa",
                "balanced_accuracy",
                "quantity_disagreement",
                "allocation_disagreement",
            ),
            nan,
        )
        return {**scalars, "n_pixels": 0, "per_class": per_class}

    oa = diagonal.sum() / total
    expected = float((support * predicted).sum() / total**2)
    kappa = (oa - expected) / (1 - expected) if expected < 1 else float("nan")
    quantity = float(np.abs(support - predicted).sum() / (2 * total))
    return {
        "oa": float(oa),
        "macro_f1": float(f1[present].mean()),
        "weighted_f1": float((support[present] / total * f1[present]).sum()),
        "miou": float(iou[present].mean()),
        "kappa": float(kappa),
        "balanced_accuracy": float(recall[present].mean()),
        "quantity_disagreement": quantity,
        "allocation_disagreement": float(1 - oa - quantity),
        "n_pixels": int(total),
        "per_class": per_class,
    }


def block_bootstrap(
    per_block_cms: Sequence[np.ndarray] | np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    ignore_index: int | None = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile confidence intervals of OA and macro-F1 by resampling spatial blocks.

    Each replicate draws as many blocks as there are, with replacement, sums their
    confusion matrices and scores the sum; pixels of one block always travel together.

    Args:
        per_block_cms: one confusion matrix per test block, shape (n_blocks, K, K).
        n_boot: number of bootstrap replicates.
        seed: seed of the resampling.
        alpha: 1 − confidence level (0.05 gives 95 % intervals).
        ignore_index: passed to ``scores_from_confusion``.

    Returns:
        ``{"oa": (low, high), "macro_f1": (low, high)}``.

    Raises:
        LithomapError: no blocks, or a bad ``n_boot`` or ``alpha``.
    """
    resampled = _resampled_blocks(per_block_cms, n_boot, seed, alpha)
    oa = np.empty(n_boot)
    macro_f1 = np.empty(n_boot)
    for index, cm in enumerate(resampled):
        scores = scores_from_confusion(cm, ignore_index=ignore_index)
        oa[index], macro_f1[index] = scores["oa"], scores["macro_f1"]
    return {name: _interval(values, alpha) for name, values in (("oa", oa), ("macro_f1", macro_f1))}


def macro_f1_over(cm: np.ndarray, classes: Sequence[int], ignore_index: int | None = 0) -> float:
    """Mean F1 over ``classes`` that are present in the reference (NaN if none is).

    F1 comes from the whole matrix, so pixels of other classes predicted as one of
    ``classes`` still count against it. Used for the classes a model could learn (those in
    its training regions) when a held-out region also holds classes it never saw.
    """
    per_class = scores_from_confusion(cm, ignore_index=ignore_index)["per_class"]
    values = [per_class["f1"][c] for c in classes if per_class["support"][c] > 0 and np.isfinite(per_class["f1"][c])]
    return float(np.mean(values)) if values else float("nan")


def bootstrap_macro_f1_over(
    per_block_cms: Sequence[np.ndarray] | np.ndarray,
    classes: Sequence[int],
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Block-bootstrap percentile interval of ``macro_f1_over`` (resampled as ``block_bootstrap`` does).

    Raises:
        LithomapError: no blocks, or a bad ``n_boot`` or ``alpha``.
    """
    resampled = _resampled_blocks(per_block_cms, n_boot, seed, alpha)
    return _interval(np.array([macro_f1_over(cm, classes) for cm in resampled]), alpha)


def _resampled_blocks(per_block_cms: Sequence[np.ndarray] | np.ndarray, n_boot: int, seed: int, alpha: float):
    """(n_boot, K, K) sums of blocks drawn with replacement, as many as there are."""
    cms = np.asarray(per_block_cms, dtype=np.float64)
    if cms.ndim != 3 or cms.shape[0] == 0 or cms.shape[1] != cms.shape[2]:
        raise LithomapError(f"block_bootstrap needs (n_blocks, K, K) confusion matrices, got shape {cms.shape}")
    if n_boot < 1 or not 0 < alpha < 1:
        raise LithomapError(f"block_bootstrap: n_boot must be >= 1 and 0 < alpha < 1, got {n_boot}, {alpha}")
    rng = np.random.default_rng(seed)
    n_blocks = cms.shape[0]
    draws = rng.integers(0, n_blocks, size=(n_boot, n_blocks))
    counts = np.stack([np.bincount(row, minlength=n_blocks) for row in draws])
    return np.einsum("rb,bij->rij", counts, cms)


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    low, high = np.nanquantile(values, (alpha / 2, 1 - alpha / 2))
    return float(low), float(high)
