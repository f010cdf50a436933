"""Spatially correlated random fields (Gaussian random fields by spectral filtering)."""

from __future__ import annotations

import numpy as np


def gaussian_random_field(shape: tuple[int, int], length_px: float, rng: np.random.Generator) -> np.ndarray:
    """A standard-normal field whose correlation length is about ``length_px`` pixels.

    White noise is filtered in the Fourier domain with a Gaussian kernel, so the cost does
    not grow with the length scale. The field is padded before filtering and cropped after,
    so opposite edges are not correlated.

    Args:
        shape: (rows, cols) of the output.
        length_px: e-folding correlation length in pixels (> 0).
        rng: the random generator; the same seed gives the same field.

    Returns:
        float32 array with mean 0 and standard deviation 1.
    """
    pad = int(np.ceil(2 * length_px))
    rows, cols = shape[0] + 2 * pad, shape[1] + 2 * pad
    noise = rng.standard_normal((rows, cols))
    ky = np.fft.fftfreq(rows)[:, None]
    kx = np.fft.rfftfreq(cols)[None, :]
    sigma = length_px / np.sqrt(2.0)
    kernel = np.exp(-2.0 * (np.pi * sigma) ** 2 * (kx**2 + ky**2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * kernel, s=(rows, cols))[pad : pad + shape[0], pad : pad + shape[1]]
    field -= field.mean()
    std = field.std()
    return (field / std if std > 0 else field).astype(np.float32)


def quantile_mask(score: np.ndarray, available: np.ndarray, fraction_of_total: float) -> np.ndarray:
    """The pixels of ``available`` with the highest ``score``, ``fraction_of_total`` of all pixels.

    Used to paint a geological unit so that its area matches the configured class mix.
    """
    wanted = round(fraction_of_total * score.size)
    candidates = np.flatnonzero(available)
    if wanted <= 0 or candidates.size == 0:
        return np.zeros(score.shape, dtype=bool)
    wanted = min(wanted, candidates.size)
    top = candidates[np.argpartition(-score.ravel()[candidates], wanted - 1)[:wanted]]
    mask = np.zeros(score.size, dtype=bool)
    mask[top] = True
    return mask.reshape(score.shape)
