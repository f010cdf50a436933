"""Paired comparison of two predictions of the same pixels, with a spatial block bootstrap.

Both predictions are summarised as one confusion matrix per spatial block (the same
blocks, the same reference pixels). Each bootstrap replicate draws the blocks with
replacement once and rescores *both* sums from it, so the difference A − B is resampled
with the pairing kept: what varies between replicates is which ground is tested, never
which model saw it. A model compared with itself gives exactly 0 with the interval [0, 0].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lithomap.errors import LithomapError
from lithomap.models.metrics import scores_from_confusion


@dataclass(frozen=True)
class PairedDifference:
    """A − B on the same blocks and pixels.

    Attributes:
        a: A's scores on the pooled blocks (``oa``, ``macro_f1``).
        b: B's scores on the same pixels.
        difference: A − B per score.
        intervals: percentile bootstrap interval of each difference.
        per_class: per-class F1 difference (NaN for classes absent from the reference).
        per_class_intervals: (classes, 2) interval of each per-class difference.
        blocks: number of blocks resampled.
    """

    a: dict[str, float]
    b: dict[str, float]
    difference: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    per_class: np.ndarray = field(repr=False)
    per_class_intervals: np.ndarray = field(repr=False)
    blocks: int = 0

    def shown(self, score: str = "macro_f1") -> int:
        """+1 when A is better beyond the interval, −1 when B is, 0 when no difference is shown."""
        low, high = self.intervals[score]
        return 1 if low > 0 else -1 if high < 0 else 0


def paired_block_bootstrap(
    blocks_a: np.ndarray, blocks_b: np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> PairedDifference:
    """Paired differences of OA, macro-F1 and per-class F1 with block-bootstrap intervals.

    Args:
        blocks_a: (blocks, K, K) confusion matrices of A, one per spatial block.
        blocks_b: the same blocks' matrices of B (same reference pixels, so equal row sums).
        n_boot: bootstrap replicates.
        seed: seed of the resampling.
        alpha: 1 − confidence level.

    Raises:
        LithomapError: the shapes differ, there are no blocks, the reference pixels differ
            between A and B, or a bad ``n_boot``/``alpha``.
    """
    a = np.asarray(blocks_a, dtype=np.float64)
    b = np.asarray(blocks_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[0] == 0:
        raise LithomapError(
            f"paired_block_bootstrap needs two equal (blocks, K, K) stacks, got {a.shape} and {b.shape}"
        )
    if not np.array_equal(a.sum(axis=2), b.sum(axis=2)):
        raise LithomapError("paired_block_bootstrap: A and B were not scored on the same reference pixels")
    if n_boot < 1 or not 0 < alpha < 1:
        raise LithomapError(f"paired_block_bootstrap: n_boot must be >= 1 and 0 < alpha < 1, got {n_boot}, {alpha}")
    scores_a, scores_b = scores_from_confusion(a.sum(axis=0)), scores_from_confusion(b.sum(axis=0))
    rng = np.random.default_rng(seed)
    n_blocks = a.shape[0]
    counts = np.stack([np.bincount(row, minlength=n_blocks) for row in rng.integers(0, n_blocks, (n_boot, n_blocks))])
    resampled_a = np.einsum("rb,bij->rij", counts, a)
    resampled_b = np.einsum("rb,bij->rij", counts, b)
    names = ("oa", "macro_f1")
    replicates = {name: np.empty(n_boot) for name in names}
    per_class = np.empty((n_boot, a.shape[1]))
    for index in range(n_boot):
        one, other = scores_from_confusion(resampled_a[index]), scores_from_confusion(resampled_b[index])
        for name in names:
            replicates[name][index] = one[name] - other[name]
        per_class[index] = one["per_class"]["f1"] - other["per_class"]["f1"]
    quantiles = (alpha / 2, 1 - alpha / 2)
    present = scores_a["per_class"]["support"] > 0
    present[0] = False
    class_intervals = np.full((a.shape[1], 2), np.nan)
    if present.any():
        class_intervals[present] = np.nanquantile(per_class[:, present], quantiles, axis=0).T
    return PairedDifference(
        a={name: float(scores_a[name]) for name in names},
        b={name: float(scores_b[name]) for name in names},
        difference={name: float(scores_a[name] - scores_b[name]) for name in names},
        intervals={name: _interval(np.quantile(replicates[name], quantiles)) for name in names},
        per_class=scores_a["per_class"]["f1"] - scores_b["per_class"]["f1"],
        per_class_intervals=class_intervals,
        blocks=n_blocks,
    )


def _interval(values: np.ndarray) -> tuple[float, float]:
    return float(values[0]), float(values[1])


def verdict(difference: PairedDifference, better: str, worse: str, score: str = "macro_f1") -> str:
    """The plain sentence: "convlstm better by 0.030 [0.010, 0.050]" or "no difference shown (…)".

    Args:
        difference: A − B.
        better: A's name (said when A wins).
        worse: B's name (said when B wins).
        score: which score the sentence is about.
    """
    value, (low, high) = difference.difference[score], difference.intervals[score]
    shown = difference.shown(score)
    if shown > 0:
        return f"{better} better by {value:.3f} [{low:.3f}, {high:.3f}]"
    if shown < 0:
        return f"{worse} better by {-value:.3f} [{-high:.3f}, {-low:.3f}]"
    return f"no difference shown ({better} − {worse} {value:+.3f} [{low:+.3f}, {high:+.3f}])"
