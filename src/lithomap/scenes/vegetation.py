"""Land cover drawn per lithology, its seasonal NDVI and red/NIR reflectances (SCIENCE.md 1.3 and 2.4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import numpy as np
from scipy.special import ndtr

from lithomap.errors import ConfigError

CoverName = Literal[
    "water",
    "bare_rock",
    "bare_soil",
    "cereal",
    "grassland",
    "dehesa",
    "shrub",
    "evergreen_forest",
    "deciduous_forest",
    "olive",
    "vineyard",
]
COVER_NAMES: tuple[str, ...] = get_args(CoverName)
"""Cover index → name; :func:`draw_cover` returns indices into this tuple."""

SEASON_MID_DOY = (15.0, 105.0, 197.0, 288.0)
"""Mid-points of winter (DJF), spring (Mar–May), summer (JJA) and autumn (SON)."""
DAYS_PER_YEAR = 365.0

Season = tuple[float, float]
NDVI_RANGES: Mapping[str, tuple[Season, Season, Season, Season]] = {
    "water": ((-0.5, 0.0), (-0.5, 0.0), (-0.5, 0.05), (-0.5, 0.0)),
    "bare_rock": ((0.05, 0.15), (0.08, 0.18), (0.05, 0.12), (0.05, 0.15)),
    "bare_soil": ((0.10, 0.25), (0.12, 0.25), (0.10, 0.18), (0.10, 0.20)),
    "cereal": ((0.25, 0.45), (0.60, 0.85), (0.12, 0.22), (0.15, 0.25)),
    "grassland": ((0.35, 0.55), (0.50, 0.75), (0.15, 0.25), (0.25, 0.40)),
    "dehesa": ((0.35, 0.50), (0.45, 0.60), (0.25, 0.35), (0.30, 0.45)),
    "shrub": ((0.35, 0.50), (0.40, 0.55), (0.30, 0.45), (0.35, 0.50)),
    "evergreen_forest": ((0.55, 0.70), (0.60, 0.75), (0.50, 0.65), (0.55, 0.70)),
    "deciduous_forest": ((0.30, 0.45), (0.55, 0.80), (0.75, 0.90), (0.45, 0.65)),
    "olive": ((0.30, 0.45), (0.35, 0.50), (0.30, 0.40), (0.30, 0.45)),
    "vineyard": ((0.12, 0.20), (0.25, 0.40), (0.35, 0.55), (0.25, 0.40)),
}
"""NDVI (lo, hi) per cover for winter, spring, summer and autumn (SCIENCE 2.4)."""

CoverPrior = Mapping[int, Sequence[tuple[str, float]]]
DEFAULT_COVER: CoverPrior = {
    0: (("cereal", 0.4), ("grassland", 0.3), ("bare_soil", 0.3)),
    1: (("grassland", 0.5), ("shrub", 0.2), ("bare_soil", 0.2), ("evergreen_forest", 0.1)),
    2: (("cereal", 0.6), ("vineyard", 0.2), ("olive", 0.1), ("bare_soil", 0.1)),
    3: (("cereal", 0.5), ("olive", 0.3), ("bare_soil", 0.2)),
    4: (("cereal", 0.5), ("grassland", 0.3), ("vineyard", 0.2)),
    5: (("grassland", 0.8), ("shrub", 0.2)),
    6: (("cereal", 0.5), ("vineyard", 0.3), ("olive", 0.1), ("bare_soil", 0.1)),
    7: (("shrub", 0.4), ("cereal", 0.4), ("grassland", 0.2)),
    8: (("shrub", 0.5), ("evergreen_forest", 0.3), ("grassland", 0.2)),
    9: (("cereal", 0.5), ("olive", 0.3), ("vineyard", 0.2)),
    10: (("dehesa", 0.6), ("grassland", 0.2), ("shrub", 0.2)),
    11: (("shrub", 0.5), ("evergreen_forest", 0.3), ("dehesa", 0.2)),
    12: (("shrub", 0.5), ("bare_rock", 0.4), ("evergreen_forest", 0.1)),
    13: (("water", 1.0),),
}
"""Cover priors per class id for sites and classes that SITE_COVER does not list."""

SITE_COVER: Mapping[str, CoverPrior] = {
    "puertollano": {
        2: (("cereal", 0.55), ("vineyard", 0.3), ("olive", 0.1), ("bare_soil", 0.05)),
        6: (("cereal", 0.5), ("vineyard", 0.35), ("olive", 0.1), ("bare_soil", 0.05)),
        9: (("cereal", 0.5), ("olive", 0.35), ("vineyard", 0.15)),
        11: (("shrub", 0.55), ("evergreen_forest", 0.3), ("dehesa", 0.15)),
        12: (("shrub", 0.55), ("bare_rock", 0.4), ("evergreen_forest", 0.05)),
    },
    "santa_olalla": {
        10: (("dehesa", 0.7), ("grassland", 0.2), ("shrub", 0.1)),
        11: (("shrub", 0.5), ("evergreen_forest", 0.3), ("dehesa", 0.2)),
        12: (("shrub", 0.6), ("bare_rock", 0.3), ("olive", 0.1)),
    },
    "villoslada": {
        7: (("deciduous_forest", 0.3), ("evergreen_forest", 0.25), ("grassland", 0.3), ("shrub", 0.15)),
        8: (("grassland", 0.5), ("shrub", 0.4), ("bare_rock", 0.1)),
        11: (("deciduous_forest", 0.35), ("evergreen_forest", 0.2), ("grassland", 0.3), ("shrub", 0.15)),
    },
}
"""Site-specific cover priors per class id (SCIENCE 2.4); other classes use DEFAULT_COVER."""

NDVI_SOIL = 0.15
NDVI_VEGETATION = 0.85
RED_PER_ALBEDO = 0.9
"""Red reflectance of bare ground per unit broadband albedo (bright soils are bright in red)."""
CANOPY_RED = 0.03
MAX_NIR = 0.6
MIN_RED = 0.005
NDVI_LIMIT = 0.99

CANOPY_BETA = (0.5, 0.7, 0.15, 0.35)
"""Canopy evaporation efficiency in winter, spring, summer and autumn (SCIENCE 1.3)."""


def cover_index(name: str) -> int:
    """Index of a cover name in ``COVER_NAMES``.

    Raises:
        ConfigError: the name is not a known cover.
    """
    if name not in COVER_NAMES:
        raise ConfigError(f"unknown land cover {name!r}; use one of {', '.join(COVER_NAMES)}")
    return COVER_NAMES.index(name)


def cover_prior(site: str, class_id: int) -> Sequence[tuple[str, float]]:
    """(cover, probability) pairs for one class at one site, falling back to DEFAULT_COVER."""
    return SITE_COVER.get(site, {}).get(class_id, DEFAULT_COVER[class_id])


def seasonal_interpolation(values: np.ndarray, doy: np.ndarray | float) -> np.ndarray:
    """Smooth periodic interpolation of four seasonal values at day-of-year ``doy``.

    The value equals ``values[..., k]`` at ``SEASON_MID_DOY[k]`` and follows a half cosine
    in between, so it is continuous with a continuous slope and never overshoots.

    Args:
        values: array whose last axis holds (winter, spring, summer, autumn).
        doy: day of year, broadcastable with ``values[..., 0]``.
    """
    nodes = np.array([*SEASON_MID_DOY, SEASON_MID_DOY[0] + DAYS_PER_YEAR])
    day = (np.asarray(doy, dtype=np.float64) - nodes[0]) % DAYS_PER_YEAR + nodes[0]
    segment = np.clip(np.searchsorted(nodes, day, side="right") - 1, 0, 3)
    fraction = (day - nodes[segment]) / (nodes[segment + 1] - nodes[segment])
    weight = 0.5 * (1.0 - np.cos(np.pi * fraction))
    seasons = list(np.moveaxis(np.asarray(values, dtype=np.float64), -1, 0))
    start = np.choose(segment, seasons)
    return start + weight * (np.choose((segment + 1) % 4, seasons) - start)


def _ndvi_bounds(cover: np.ndarray, doy: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    table = np.array([NDVI_RANGES[name] for name in COVER_NAMES])
    shape = np.broadcast_shapes(np.shape(cover), np.shape(doy))
    cover = np.broadcast_to(cover, shape)
    lo = seasonal_interpolation(table[cover, :, 0], np.broadcast_to(doy, shape))
    hi = seasonal_interpolation(table[cover, :, 1], np.broadcast_to(doy, shape))
    return lo, hi


def ndvi(cover: np.ndarray, doy: np.ndarray | float, noise: np.ndarray) -> np.ndarray:
    """NDVI of each pixel on day ``doy``: the cover's seasonal range mid-point + (range/4)·noise.

    Args:
        cover: cover indices into ``COVER_NAMES``.
        doy: day of year (scalar or per pixel).
        noise: standard-normal (ideally spatially correlated) field.

    Returns:
        NDVI, clipped to the cover's range on that day (and to [−1, 1]).
    """
    lo, hi = _ndvi_bounds(np.asarray(cover, dtype=np.intp), doy)
    value = 0.5 * (lo + hi) + 0.25 * (hi - lo) * np.asarray(noise)
    return np.clip(np.clip(value, lo, hi), -1.0, 1.0).astype(np.float32)


def _uniform(patch_field: np.ndarray) -> np.ndarray:
    field = np.asarray(patch_field, dtype=np.float64)
    if field.size and field.min() >= 0.0 and field.max() <= 1.0:
        return field
    return ndtr(field)


def draw_cover(class_map: np.ndarray, site: str, rng: np.random.Generator, patch_field: np.ndarray) -> np.ndarray:
    """Land cover per pixel, drawn from the site's priors for each class, in patches.

    Each class thresholds the correlated field (shifted by a random per-class offset, so
    classes do not share patch boundaries) at its cumulative cover probabilities.

    Args:
        class_map: class ids 0..13.
        site: site name ("puertollano", "santa_olalla", "villoslada"; others use DEFAULT_COVER).
        rng: random generator; the same seed gives the same covers.
        patch_field: correlated field of the map's shape, standard normal, or uniform in [0, 1]
            (a field lying wholly in [0, 1] is taken as uniform).

    Returns:
        Cover indices into ``COVER_NAMES`` (uint8).

    Raises:
        ConfigError: unknown class id or a field of the wrong shape.
    """
    ids = np.asarray(class_map)
    if np.shape(patch_field) != ids.shape:
        raise ConfigError(f"patch field has shape {np.shape(patch_field)}; it must match the class map {ids.shape}")
    unknown = np.setdiff1d(np.unique(ids), list(DEFAULT_COVER))
    if unknown.size:
        raise ConfigError(f"class map holds unknown class ids {unknown[:5].tolist()}; use 0 (background) to 13 (water)")
    uniform = _uniform(patch_field)
    cover = np.zeros(ids.shape, dtype=np.uint8)
    for class_id in sorted(DEFAULT_COVER):
        offset = rng.uniform()
        mask = ids == class_id
        names, weights = zip(*cover_prior(site, class_id), strict=True)
        edges = np.cumsum(weights) / np.sum(weights)
        slot = np.searchsorted(edges, (uniform[mask] + offset) % 1.0, side="right")
        indices = np.array([cover_index(name) for name in names], dtype=np.uint8)
        cover[mask] = indices[np.minimum(slot, len(indices) - 1)]
    return cover


def cover_fraction(
    ndvi: np.ndarray | float, ndvi_soil: float = NDVI_SOIL, ndvi_veg: float = NDVI_VEGETATION
) -> np.ndarray:
    """Fractional vegetation cover ((NDVI − NDVI_s)/(NDVI_v − NDVI_s))², in [0, 1] (Carlson & Ripley 1997)."""
    scaled = np.clip((np.asarray(ndvi, dtype=np.float64) - ndvi_soil) / (ndvi_veg - ndvi_soil), 0.0, 1.0)
    return scaled**2


def reflectances(ndvi: np.ndarray, soil_brightness: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Surface red and NIR reflectances that reproduce ``ndvi`` (for Sentinel-2 B04/B08).

    Red mixes the ground (``RED_PER_ALBEDO``·brightness) with a dark canopy by the cover
    fraction; NIR = red·(1 + NDVI)/(1 − NDVI), with red lowered where NIR would exceed
    ``MAX_NIR``. Water (NDVI < 0, dark albedo) comes out with NIR below red.

    Args:
        ndvi: NDVI per pixel.
        soil_brightness: broadband albedo of the ground.

    Returns:
        (red, nir) float32 reflectances.
    """
    index = np.clip(np.asarray(ndvi, dtype=np.float64), -NDVI_LIMIT, NDVI_LIMIT)
    f = cover_fraction(index)
    red = (1.0 - f) * RED_PER_ALBEDO * np.asarray(soil_brightness) + f * CANOPY_RED
    red = np.minimum(np.maximum(red, MIN_RED), MAX_NIR * (1.0 - index) / (1.0 + index))
    nir = red * (1.0 + index) / (1.0 - index)
    return red.astype(np.float32), nir.astype(np.float32)


def canopy_beta(doy: np.ndarray | float) -> np.ndarray:
    """Evaporation efficiency of Mediterranean shrubs and crops: ~0.7 in spring, ~0.15 in summer."""
    return seasonal_interpolation(np.array(CANOPY_BETA), doy)
