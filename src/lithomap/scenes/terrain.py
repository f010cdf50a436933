"""Terrain of a synthetic scene: a fractal DEM that follows the lithology, and what it does.

Resistant units (quartzite, granite, limestone) stand as ridges and soft ones (clay,
sand, alluvium) fill basins, as in the thesis's regions. The DEM changes three things:

- the air temperature, by the lapse rate (the linearised balance passes a daily-constant
  air-temperature offset to the surface with gain 1);
- the direct sunshine on each slope (the cosine of the local incidence of the sun);
- the local incidence angle of the radar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lithomap.classes import WATER, all_classes
from lithomap.scenes.fields import gaussian_random_field

RESISTANCE: Mapping[str, float] = {
    "non_foliated": 1.0,  # quartzite ridges (Campo de Calatrava, Cameros)
    "plutonic": 0.85,
    "carbonate": 0.8,
    "volcanic": 0.65,
    "detritic": 0.6,
    "foliated": 0.5,
    "chalk": 0.4,
    "background": 0.25,
    "loam": 0.2,
    "clay": 0.15,
    "silt": 0.1,
    "sand": 0.1,
    "peat": 0.0,
    "water": 0.0,
}
"""Relative resistance to erosion of each class (0 soft, 1 resistant)."""
OCTAVE_LENGTHS_M = (8000.0, 4000.0, 2000.0, 1000.0, 500.0)
HURST = 0.8
"""Amplitude of an octave ∝ (length)^H: a fractional-Brownian-like surface."""
RELIEF_REFERENCE_SIDE_M = 25000.0
"""Scene side the configured relief refers to; a fractal surface's relief grows as side^HURST."""
LITHOLOGY_SHARE = 0.6
"""Share of the relief variance that follows the lithology (the rest is fractal roughness)."""
LITHOLOGY_SMOOTHING_M = 250.0
DIFFUSE_FRACTION = 0.15
"""Clear-sky diffuse share of the shortwave, which the slope does not modulate."""
SENTINEL1_LOOK_AZIMUTH_DEG = 77.0
"""Ascending pass, right-looking: the radar looks east-north-east (heading ≈ −13°)."""


@dataclass(frozen=True)
class Terrain:
    """Elevation and its derivatives on the master grid.

    Attributes:
        elevation_m: elevation above sea level (m).
        anomaly_m: elevation minus the site's mean elevation (m).
        gradient_east: ∂z/∂x towards east (m/m).
        gradient_north: ∂z/∂y towards north (m/m).
    """

    elevation_m: np.ndarray
    anomaly_m: np.ndarray
    gradient_east: np.ndarray
    gradient_north: np.ndarray

    @property
    def normal_length(self) -> np.ndarray:
        """sqrt(1 + |∇z|²): 1/cos(slope)."""
        return np.sqrt(1.0 + self.gradient_east**2 + self.gradient_north**2)

    @property
    def slope_deg(self) -> np.ndarray:
        return np.degrees(np.arccos(1.0 / self.normal_length))


def draw_terrain(
    class_map: np.ndarray, resolution_m: float, mean_elevation_m: float, relief_m: float, rng: np.random.Generator
) -> Terrain:
    """A DEM of relief ``relief_m`` around ``mean_elevation_m``, high on resistant units.

    Args:
        class_map: class ids on the master grid.
        resolution_m: pixel size (m).
        mean_elevation_m: the site's mean elevation (m).
        relief_m: max − min elevation (m); 0 gives a flat scene.
        rng: random generator.
    """
    shape = class_map.shape
    roughness = np.zeros(shape)
    for length in OCTAVE_LENGTHS_M:
        roughness += (length / OCTAVE_LENGTHS_M[0]) ** HURST * gaussian_random_field(shape, length / resolution_m, rng)
    table = np.array([RESISTANCE[c.name] for c in all_classes()])
    lithology = ndimage.gaussian_filter(table[class_map], LITHOLOGY_SMOOTHING_M / resolution_m)
    surface = np.sqrt(LITHOLOGY_SHARE) * _standardised(lithology) + np.sqrt(1 - LITHOLOGY_SHARE) * _standardised(
        roughness
    )
    water = class_map == WATER
    if water.any():
        surface[water] = np.quantile(surface, 0.02)
    span = surface.max() - surface.min()
    anomaly = relief_m * (surface - surface.mean()) / span if span > 0 else np.zeros(shape)
    d_row, d_col = np.gradient(anomaly, resolution_m)
    return Terrain(
        elevation_m=(mean_elevation_m + anomaly).astype(np.float32),
        anomaly_m=anomaly,
        gradient_east=d_col,
        gradient_north=-d_row,
    )


def scene_relief(relief_m: float, side_m: float) -> float:
    """Relief (max − min, m) of a scene of side ``side_m`` whose 25 km window has ``relief_m``.

    The relief of a fractal surface within a window grows with the window as side^H: a
    9 km scene of the same landscape spans less height than a 27 km one, rather than
    packing the whole relief into a third of the distance (three times steeper slopes).
    """
    return relief_m * (side_m / RELIEF_REFERENCE_SIDE_M) ** HURST


def _standardised(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / std if std > 0 else values - values.mean()


def lapse_offset(terrain: Terrain, lapse_rate_k_per_km: float) -> np.ndarray:
    """Air- and surface-temperature offset of each pixel from the site mean (K)."""
    return -lapse_rate_k_per_km * terrain.anomaly_m / 1000.0


def wind_exposure(terrain: Terrain, speed_up: float) -> np.ndarray:
    """Relative wind speed of each pixel: 1 on the lowest ground, 1 + ``speed_up`` on the highest.

    Flow speeds up over hills and ridges and slows in valleys (Jackson & Hunt 1975: +20–50 %
    over low hills); the exposure follows the pixel's height within the scene's range.
    """
    span = float(np.ptp(terrain.anomaly_m))
    if span <= 0:
        return np.ones_like(terrain.anomaly_m)
    return 1.0 + speed_up * (terrain.anomaly_m - terrain.anomaly_m.min()) / span


def illumination_components(
    terrain: Terrain, shortwave: np.ndarray, sun: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Base series and pixel weights of the extra direct sunshine on a slope.

    With the unit normal n = (−z_x, −z_y, 1)/N and the sun at s = (e, n, u), a tilted
    surface receives S·(n·s)/u instead of S. That is S·(1/N − 1) + (−z_x/N)·S·e/u +
    (−z_y/N)·S·n/u more: three series shared by every pixel, each with a per-pixel weight.
    Self-shading (n·s < 0) is not clipped, which matters only for low sun on steep slopes.

    Returns:
        (series, weights): the ``sunshine`` of :func:`lithomap.scenes.thermal.surface_temperature`.
    """
    east, north, up = sun
    direct = (1.0 - DIFFUSE_FRACTION) * shortwave
    per_up = np.where(up > 0, direct / np.maximum(up, 1e-3), 0.0)
    length = terrain.normal_length
    series = [direct, per_up * east, per_up * north]
    weights = [1.0 / length - 1.0, -terrain.gradient_east / length, -terrain.gradient_north / length]
    return series, weights


def sar_local_incidence(terrain: Terrain, incidence_deg: np.ndarray) -> np.ndarray:
    """Local incidence angle (degrees) of Sentinel-1 on the terrain.

    cos θ_loc = n·r, with r the unit vector from the ground to the radar (elevation
    90° − θ, azimuth opposite the look direction).
    """
    theta = np.radians(incidence_deg)
    towards_radar = np.radians(SENTINEL1_LOOK_AZIMUTH_DEG + 180.0)
    r_east = np.sin(theta) * np.sin(towards_radar)
    r_north = np.sin(theta) * np.cos(towards_radar)
    cos_local = (-terrain.gradient_east * r_east - terrain.gradient_north * r_north + np.cos(theta)) / (
        terrain.normal_length
    )
    return np.degrees(np.arccos(np.clip(cos_local, -1.0, 1.0)))
