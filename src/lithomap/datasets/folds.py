"""K-fold blocked spatial cross-validation: every labelled block is a test block exactly once.

The region is cut into the same square blocks as the single split (``datasets.split``).
``assign_folds`` deals the labelled blocks to k folds, stratified: rarest class first,
the blocks holding a class go to folds that still lack it, so rare classes are spread
over as many folds as the region allows; the rest go, one at a time, to the smallest
fold, each fold taking the free block with most neighbours already in it, so folds grow
as compact patches (fewer test-block edges, hence less training ground lost to buffers).

For fold f (``fold_split``) the fold's blocks are the test blocks, a stratified share of
the other blocks (``assign_blocks`` with no test share, preferring blocks with few test
neighbours, whose buffers would eat them) is the validation split for early stopping,
and the rest trains; the buffers are those of the single split (``pixel_split``): test
keeps all its pixels, validation gives way to test, training to both. The folds are
saved once per region and shared by every model and experiment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from lithomap.atomic import temporary_path, write_json
from lithomap.classes import N_CLASSES
from lithomap.datasets.split import NONE, TEST, SpatialSplit, assign_blocks, block_histograms, pixel_split
from lithomap.errors import ConfigError

FOLDS_FILE = "folds.npz"


@dataclass(frozen=True)
class Folds:
    """The k-fold assignment of a region's blocks.

    Attributes:
        block_size: block side, pixels.
        buffer_px: gap kept between the splits of a fold, pixels.
        val_share: share of the non-test labelled blocks that validate each fold.
        seed: seed of the assignment (fold f's validation blocks use ``seed + f``).
        blocks: (block rows, block cols) int8: fold id per block, -1 for blocks without labels.
    """

    block_size: int
    buffer_px: int
    val_share: float
    seed: int
    blocks: np.ndarray

    @property
    def k(self) -> int:
        """Number of folds."""
        return int(self.blocks.max()) + 1

    def save(self, path: Path) -> None:
        """Write the folds as ``.npz`` plus a readable JSON beside it (both atomically)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_path(path)
        np.savez_compressed(temporary, blocks=self.blocks)
        temporary.replace(path)
        write_json(
            path.with_suffix(".json"),
            {
                "block_size": self.block_size,
                "buffer_px": self.buffer_px,
                "val_share": self.val_share,
                "seed": self.seed,
                "folds": self.k,
                "blocks_per_fold": [int((self.blocks == f).sum()) for f in range(self.k)],
                "block_assignment": self.blocks.tolist(),
            },
        )

    @classmethod
    def load(cls, path: Path) -> Folds:
        """Read folds written by :meth:`save`."""
        meta = json.loads(path.with_suffix(".json").read_text())
        with np.load(path) as data:
            return cls(meta["block_size"], meta["buffer_px"], meta["val_share"], meta["seed"], data["blocks"])


def assign_folds(histograms: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Stratified, seeded assignment of the labelled blocks to ``k`` folds (see the module docstring).

    Args:
        histograms: (block rows, block cols, classes) pixel counts from ``block_histograms``.
        k: number of folds, 2 or more and at most the number of labelled blocks.
        seed: seed of the random choices.

    Returns:
        (block rows, block cols) int8 fold ids, -1 for blocks without labels.

    Raises:
        ConfigError: ``k`` below 2 or above the number of labelled blocks.
    """
    rng = np.random.default_rng(seed)
    counts = histograms.reshape(-1, N_CLASSES)[:, 1:]
    labelled = np.flatnonzero(counts.sum(axis=1) > 0)
    if k < 2 or k > labelled.size:
        raise ConfigError(
            f"cv.folds is {k}, but the region has {labelled.size} labelled blocks: use 2 to {labelled.size} folds "
            "(or a smaller preprocess.block_size)"
        )
    folds = np.full(counts.shape[0], NONE, dtype=np.int8)
    sizes = np.zeros(k, dtype=int)
    quota = -(-labelled.size // k)
    total = counts.sum(axis=0)
    for cls in np.argsort(np.where(total > 0, total, np.inf)):
        if total[cls] == 0:
            break
        holders = [int(b) for b in labelled if counts[b, cls] > 0 and folds[b] == NONE]
        holders.sort(key=lambda b: (-counts[b, cls], rng.random()))
        for block in holders:
            present = {int(folds[b]) for b in labelled if counts[b, cls] > 0 and folds[b] != NONE}
            lacking = [f for f in range(k) if f not in present and sizes[f] < quota]
            if not lacking:
                break
            fold = min(lacking, key=lambda f: (sizes[f], rng.random()))
            folds[block], sizes[fold] = fold, sizes[fold] + 1
    grid = folds.reshape(histograms.shape[:2])
    rest = {int(b) for b in labelled if folds[b] == NONE}
    while rest:
        fold = min(range(k), key=lambda f: (sizes[f], rng.random()))
        block = max(sorted(rest), key=lambda b: (_neighbours_in(grid, b, fold), rng.random()))
        folds[block], sizes[fold] = fold, sizes[fold] + 1
        rest.discard(block)
    return grid


def _neighbours_in(grid: np.ndarray, block: int, fold: int) -> int:
    """Blocks of ``fold`` among the 8 neighbours of flat block index ``block``."""
    row, col = divmod(block, grid.shape[1])
    return int((grid[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2] == fold).sum())


def make_folds(label: np.ndarray, block_size: int, buffer_px: int, k: int, val_share: float, seed: int) -> Folds:
    """The k-fold assignment of a label map's blocks."""
    return Folds(block_size, buffer_px, val_share, seed, assign_folds(block_histograms(label, block_size), k, seed))


def fold_split(folds: Folds, fold: int, shape: tuple[int, int], label: np.ndarray) -> SpatialSplit:
    """The train/val/test split of fold ``fold``: its blocks test, a stratified share of the others validate.

    Args:
        folds: the region's folds.
        fold: which fold is tested, 0 … k − 1.
        shape: (height, width) of the region grid.
        label: (H, W) class ids, for the stratified choice of the validation blocks.
    """
    histograms = block_histograms(label, folds.block_size).copy()
    in_fold = folds.blocks == fold
    histograms[in_fold] = 0
    test_neighbours = ndimage.convolve(in_fold.astype(int), np.ones((3, 3), int), mode="constant")
    fractions = (1.0 - folds.val_share, folds.val_share, 0.0)
    blocks = assign_blocks(histograms, fractions, folds.seed + fold, crowding=test_neighbours)
    blocks[in_fold] = TEST
    return SpatialSplit(
        folds.block_size, folds.buffer_px, blocks, pixel_split(blocks, folds.block_size, shape, folds.buffer_px)
    )
