"""Normalisation fitted on a target region's own inputs: how a model is applied to a region it did not train on.

A model normalises its inputs with the statistics of the data it was trained on
(``normalisation.json``: a region's labelled training pixels). Applied to another region
— the global model on any region, a region's model on another (``--model-region``), a
leave-one-region-out model on its held-out region — those statistics describe the wrong
climate. Instead each physical channel of the experiment is normalised with its mean and
standard deviation over **every valid pixel of the target region** (every sequence step,
every pixel; no labels used), so the held-out score of ``lithomap loro`` and the map of a
new region are made with one definition. ``target_normalisation`` is that definition;
``lithomap.training.leave_one_out`` and ``lithomap.mapping.maps`` both call it.

The region is read in blocks, and the moments are merged block by block (Chan et al.'s
pairwise update), so memory follows the block, not the scene.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

from lithomap.datasets.scene import CubeChannels

Normalisation = Literal["model", "target"]
"""``model``: the statistics stored with the model; ``target``: ``target_normalisation`` of the region mapped."""
BLOCK_PX = 512
Moment: TypeAlias = dict[Literal["mean", "std"], float]


def target_normalisation(channels: CubeChannels, block_px: int = BLOCK_PX) -> dict[str, Moment]:
    """Mean and std of every physical channel over all valid pixels of the region (no labels).

    Args:
        channels: the experiment's channels of the target region's cube.
        block_px: side of the blocks the region is read in.

    Returns:
        Channel → ``{"mean": m, "std": s}`` for the step channels (over every sequence step)
        and the static channels, as the dataset manifest's ``normalisation`` holds them
        (std 1 for a constant channel; mean 0, std 1 for one without any valid value).
    """
    names = [*channels.step_names, *channels.static_names]
    moments = [_Moments() for _ in names]
    height, width = channels.shape
    steps = len(channels.step_names)
    for row in range(0, height, block_px):
        for col in range(0, width, block_px):
            sequence, static = channels.read(row, col, (min(block_px, height - row), min(block_px, width - col)))
            for k in range(steps):
                moments[k].add(sequence[..., k])
            for k in range(static.shape[-1]):
                moments[steps + k].add(static[..., k])
    return {name: moment.stats() for name, moment in zip(names, moments, strict=True)}


class _Moments:
    """Count, mean and sum of squared deviations of the finite values seen so far."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)].astype(np.float64)
        if finite.size == 0:
            return
        count, mean = finite.size, float(finite.mean())
        m2 = float(((finite - mean) ** 2).sum())
        total = self.count + count
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * count / total
        self.mean += delta * count / total
        self.count = total

    def stats(self) -> Moment:
        if self.count == 0:
            return {"mean": 0.0, "std": 1.0}
        std = float(np.sqrt(self.m2 / self.count))
        return {"mean": self.mean, "std": std if std > 1e-9 * max(1.0, abs(self.mean)) else 1.0}
