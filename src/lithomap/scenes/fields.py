"""Spatially correlated random fields (Gaussian random fields by spectral filtering)."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RectBivariateSpline

SAMPLES_PER_LENGTH = 4.0
"""Coarse-grid points per correlation length of a smooth field (the Gaussian kernel leaves
almost no variance at wavelengths shorter than a length, so 4 points resolve it)."""


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


def smooth_field(shape: tuple[int, int], length_px: float, rng: np.random.Generator) -> np.ndarray:
    """A stationary field of unit point variance and Gaussian correlation exp(−r²/(2·length²)).

    Unlike :func:`gaussian_random_field` the crop is not re-standardised: a scene smaller
    than the correlation length sees a smooth patch of a larger field (its mean is not
    zero and its spread inside the scene is below 1), as a real scene sees a synoptic
    weather pattern or an atmospheric-correction error. The field is drawn on a coarse
    grid with ``SAMPLES_PER_LENGTH`` points per length and upsampled (cubic), so the cost
    does not grow with the length in pixels.

    Args:
        shape: (rows, cols) of the output.
        length_px: correlation length in pixels (> 0).
        rng: the random generator; the same seed gives the same field.

    Returns:
        float64 array of shape ``shape``.
    """
    step = max(length_px / SAMPLES_PER_LENGTH, 1.0)
    length_coarse = length_px / step
    pad = int(np.ceil(2 * length_coarse)) + 2
    rows = int(np.ceil(shape[0] / step)) + 2 * pad
    cols = int(np.ceil(shape[1] / step)) + 2 * pad
    ky = np.fft.fftfreq(rows)[:, None]
    kx = np.fft.fftfreq(cols)[None, :]
    kernel = np.exp(-((np.pi * length_coarse) ** 2) * (kx**2 + ky**2))
    variance = float(np.mean(kernel**2))
    coarse = np.fft.ifft2(np.fft.fft2(rng.standard_normal((rows, cols))) * kernel).real / np.sqrt(variance)
    fine_rows = (np.arange(shape[0]) + 0.5) / step - 0.5 + pad
    fine_cols = (np.arange(shape[1]) + 0.5) / step - 0.5 + pad
    spline = RectBivariateSpline(np.arange(rows), np.arange(cols), coarse, kx=3, ky=3, s=0)
    return spline(fine_rows, fine_cols)


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
