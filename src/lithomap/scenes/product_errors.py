"""Errors like the real thermal products: correlated retrieval errors, clouds the mask misses.

- LST residual: the split-window/TES retrieval error of ECOSTRESS is about 1 K (Hulley
  et al. 2021, ECOSTRESS L2 validation) and comes mostly from the atmospheric correction,
  so it is smooth over kilometres (water-vapour scale), not white.
- Emissivity error: TES emissivity is good to about ±0.015 (Hulley & Hook 2011); its
  error follows the same atmosphere and has the opposite sign of the LST error (a too
  low emissivity gives a too warm surface for the same radiance).
- Cloud omission: cloud masks miss a few per cent of cloud-contaminated pixels, mostly
  thin cloud edges (MODIS MOD35 and ECOSTRESS ECO2CLD validation: omission 2–8 %); those
  pixels are cold but flagged clear. Cloud shadows are not flagged either and are cooler
  on daytime overpasses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lithomap.scenes.fields import smooth_field

CLOUD_BASE_HEIGHT_M = 1500.0


def correlated_residual(shape: tuple[int, int], length_px: float, std: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth error field with point standard deviation ``std`` and correlation length ``length_px``.

    Its correlation at lag r is exp(−r²/(2·length²)); a scene not much larger than the
    length sees part of one error pattern, offset included (see
    :func:`~lithomap.scenes.fields.smooth_field`).
    """
    return std * smooth_field(shape, length_px, rng)


@dataclass(frozen=True)
class CloudContamination:
    """Pixels a cloud affects without the mask flagging them.

    Attributes:
        edge_fraction: optical cloud fraction of each unflagged thin-edge pixel (0 where none).
        shadow: unflagged pixels in a cloud's shadow.
    """

    edge_fraction: np.ndarray
    shadow: np.ndarray


def cloud_contamination(
    field: np.ndarray | None,
    flagged_cover: float,
    omission: float,
    sun: tuple[float, float, float],
    pixel_m: float,
) -> CloudContamination:
    """Thin cloud edges the mask misses and the shadows it leaves unflagged.

    The flagged clouds are the pixels where the cloud field exceeds its (1 − cover)
    quantile. The true clouds extend to a lower threshold, so that ``omission`` of the
    contaminated pixels are missed; between the thresholds the cloud thins out linearly.

    Args:
        field: the cloud field the flagged mask was cut from (None: no clouds).
        flagged_cover: share of pixels the mask flags.
        omission: share of contaminated pixels the mask misses (0–1).
        sun: unit vector to the sun (east, north, up) at the overpass.
        pixel_m: pixel size (m), for the shadow offset.
    """
    if field is None or flagged_cover <= 0 or omission <= 0:
        empty = np.zeros(field.shape if field is not None else (0, 0))
        return CloudContamination(empty, empty.astype(bool))
    true_cover = min(flagged_cover / (1.0 - omission), 1.0)
    flag_level = np.quantile(field, 1.0 - flagged_cover)
    edge_level = np.quantile(field, 1.0 - true_cover)
    span = max(flag_level - edge_level, 1e-9)
    edge = np.where((field > edge_level) & (field <= flag_level), (field - edge_level) / span, 0.0)
    cloud = field > edge_level
    east, north, up = sun
    shadow = np.zeros(field.shape, dtype=bool)
    if up > 0.05:
        reach = CLOUD_BASE_HEIGHT_M / up / pixel_m
        shift = (north * reach, -east * reach)  # rows grow southwards; a shadow falls away from the sun
        shadow = ndimage.shift(cloud.astype(np.float32), shift, order=0, cval=0.0) > 0.5
        shadow &= ~cloud
    return CloudContamination(edge, shadow)
