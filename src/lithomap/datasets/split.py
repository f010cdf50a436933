"""Spatially blocked train/validation/test split with buffers (SCIENCE.md section 4).

The region is cut into square blocks; whole blocks go to one split, chosen greedily so
that rare classes appear in every split where the region allows. Pixels of a split that
lie within ``buffer_px`` of a block of another split become buffer: they belong to no
split, so labelled pixels of different splits are always at least the buffer apart. Test
keeps all its pixels, validation gives way to test, training to both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from lithomap.classes import N_CLASSES
from lithomap.errors import ConfigError

SPLITS = ("train", "val", "test")
TRAIN, VAL, TEST = 0, 1, 2
NONE = -1


@dataclass(frozen=True)
class SpatialSplit:
    """Block assignment and the per-pixel split it implies.

    Attributes:
        block_size: block side, pixels.
        buffer_px: gap kept between splits, pixels.
        blocks: (block rows, block cols) int8: split id per block, -1 for blocks without labels.
        pixels: (height, width) int8: split id per pixel, -1 for buffer and unassigned pixels.
    """

    block_size: int
    buffer_px: int
    blocks: np.ndarray
    pixels: np.ndarray

    def save(self, path: Path) -> None:
        """Write the split as ``.npz`` (arrays) plus a readable JSON beside it."""
        temporary = path.with_name(f".{path.name}.tmp.npz")
        np.savez_compressed(temporary, blocks=self.blocks, pixels=self.pixels)
        temporary.replace(path)
        summary = {
            "block_size": self.block_size,
            "buffer_px": self.buffer_px,
            "blocks": {name: int((self.blocks == i).sum()) for i, name in enumerate(SPLITS)},
            "block_assignment": self.blocks.tolist(),
        }
        path.with_suffix(".json").write_text(json.dumps(summary, indent=1))

    @classmethod
    def load(cls, path: Path) -> SpatialSplit:
        meta = json.loads(path.with_suffix(".json").read_text())
        with np.load(path) as data:
            return cls(meta["block_size"], meta["buffer_px"], data["blocks"], data["pixels"])


def block_histograms(label: np.ndarray, block_size: int) -> np.ndarray:
    """(block rows, block cols, classes) pixel counts of each class in each block."""
    rows = -(-label.shape[0] // block_size)
    cols = -(-label.shape[1] // block_size)
    block_row = np.arange(label.shape[0]) // block_size
    block_col = np.arange(label.shape[1]) // block_size
    index = (block_row[:, None] * cols + block_col[None, :]) * N_CLASSES + label
    counts = np.bincount(index.ravel(), minlength=rows * cols * N_CLASSES)
    return counts.reshape(rows, cols, N_CLASSES)


def assign_blocks(
    histograms: np.ndarray, fractions: tuple[float, float, float], seed: int, crowding: np.ndarray | None = None
) -> np.ndarray:
    """Greedy, stratified assignment of whole blocks to train/val/test.

    Test and validation each get their share of the labelled blocks (none for a share of
    0). They first take, rarest class first, a block holding a class they still lack,
    provided that leaves the class in at least one block for training; the remaining
    places go to random blocks.
    Among equal candidates, blocks with fewer labelled neighbours (edges, corners) are
    preferred, since their buffers cost the training split fewer pixels; ``crowding``
    ((block rows, block cols), lower preferred) replaces that count when given (the
    cross-validation folds pass the number of neighbouring test blocks, whose buffers
    would eat a validation block).
    """
    rng = np.random.default_rng(seed)
    counts = histograms.reshape(-1, N_CLASSES)[:, 1:]
    has_labels = counts.sum(axis=1) > 0
    labelled = np.flatnonzero(has_labels)
    grid = has_labels.reshape(histograms.shape[:2]).astype(int)
    neighbours = (ndimage.convolve(grid, np.ones((3, 3), int), mode="constant") - grid).ravel()
    if crowding is not None:
        neighbours = np.asarray(crowding).ravel()
    assignment = np.full(counts.shape[0], NONE, dtype=np.int8)
    assignment[labelled] = TRAIN
    total = counts.sum(axis=0)
    rarity = np.argsort(np.where(total > 0, total, np.inf))
    for split, share in ((TEST, fractions[2]), (VAL, fractions[1])):
        wanted = max(1, round(share * labelled.size)) if labelled.size >= 3 and share > 0 else 0
        taken: list[int] = []
        for cls in rarity:
            if total[cls] == 0 or len(taken) >= wanted:
                break
            if any(counts[b, cls] > 0 for b in taken):
                continue
            holders = [b for b in labelled if counts[b, cls] > 0 and assignment[b] == TRAIN]
            if len(holders) < 2:
                continue
            best = max(
                holders,
                key=lambda b: (counts[b, cls] > 0.25 * counts[holders, cls].max(), -neighbours[b], rng.random()),
            )
            assignment[best] = split
            taken.append(int(best))
        free = sorted((b for b in labelled if assignment[b] == TRAIN), key=lambda b: (neighbours[b], rng.random()))
        for block in free[: max(0, wanted - len(taken))]:
            assignment[block] = split
    return assignment.reshape(histograms.shape[:2])


def pixel_split(blocks: np.ndarray, block_size: int, shape: tuple[int, int], buffer_px: int) -> np.ndarray:
    """Expand block ids to pixels and carve the buffers (test keeps all its pixels)."""
    pixels = np.repeat(np.repeat(blocks, block_size, axis=0), block_size, axis=1)[: shape[0], : shape[1]].copy()
    if buffer_px > 0:
        size = 2 * buffer_px + 1
        near_test = ndimage.maximum_filter((pixels == TEST).astype(np.uint8), size=size, mode="constant") > 0
        near_val = ndimage.maximum_filter((pixels == VAL).astype(np.uint8), size=size, mode="constant") > 0
        pixels[(pixels == VAL) & near_test] = NONE
        pixels[(pixels == TRAIN) & (near_test | near_val)] = NONE
    return pixels


def block_split(
    label: np.ndarray, block_size: int, buffer_px: int, fractions: tuple[float, float, float], seed: int
) -> SpatialSplit:
    """The spatially blocked split of a label map (see the module docstring)."""
    blocks = assign_blocks(block_histograms(label, block_size), fractions, seed)
    return SpatialSplit(block_size, buffer_px, blocks, pixel_split(blocks, block_size, label.shape, buffer_px))


def leave_one_region_out(regions: list[str], held_out: str) -> dict[str, str]:
    """Roles of regions in a leave-one-region-out split: the held-out one is test, the rest train.

    The training regions keep their own blocked train/val split for early stopping; the
    held-out region is tested whole, which is the strongest generalisation test.
    """
    if held_out not in regions:
        raise ConfigError(f"held-out region {held_out!r} is not among the regions {regions}")
    return {region: ("test" if region == held_out else "train") for region in regions}
