"""Sentinel-1 C-band backscatter: Oh (2004) soil, water-cloud vegetation, noise floor, speckle (SCIENCE.md 2).

Everything is linear power (σ⁰, not dB) until the caller chooses to convert.
"""

from __future__ import annotations

import numpy as np

from lithomap.classes import WATER
from lithomap.errors import ConfigError

WAVELENGTH_CM = 5.547
"""Sentinel-1 C-band wavelength (cm)."""
OH_MOISTURE_RANGE = (0.04, 0.29)
OH_KS_RANGE = (0.13, 7.0)
OH_INCIDENCE_RANGE_DEG = (10.0, 70.0)

VV_WATER_CLOUD = (0.45, 0.5)
"""Water-cloud (A, B) for VV with V = NDVI above bare soil; tuned to SCIENCE 2.2."""
VH_WATER_CLOUD = (0.10, 1.0)
"""Water-cloud (A, B) for VH with V = NDVI above bare soil; tuned to SCIENCE 2.2."""
NDVI_BARE = 0.15
"""NDVI of bare soil; the vegetation descriptor is V = max(NDVI − NDVI_BARE, 0)."""

CALM_WATER_VV_DB = (-25.0, -18.0)
"""Range of open-water VV; one value per acquisition (the wind state)."""
CALM_WATER_VH_DB = -32.0
"""Open-water VH, below the noise floor."""
RADAR_SHADOW_DEG = 90.0
"""Local incidence beyond which a slope faces away from the radar: no signal, only noise."""
ENL_IW_GRDH = 4.4
"""ENL of an IW GRDH 10 m pixel (resolution cell ≈ 20 × 22 m; ESA Sentinel-1 product definition)."""
ENL_RTC30 = 9.0
"""ENL of a 30 m RTC pixel: it averages 900 / (20 × 22) ≈ 2 independent GRDH cells, so ≈ 2 × 4.4."""
NESZ_DB = -24.0


def db_to_linear(value_db: np.ndarray | float) -> np.ndarray:
    """10^(dB/10)."""
    return 10.0 ** (np.asarray(value_db, dtype=np.float64) / 10.0)


def linear_to_db(value: np.ndarray | float) -> np.ndarray:
    """10·log10(value)."""
    return 10.0 * np.log10(value)


def oh2004(
    mv: np.ndarray | float,
    roughness_cm: np.ndarray | float,
    incidence_deg: np.ndarray | float,
    wavelength_cm: float = WAVELENGTH_CM,
) -> tuple[np.ndarray, np.ndarray]:
    """Bare-surface σ⁰ of Oh et al. (2004), inputs clipped to the model's validity.

    Args:
        mv: volumetric moisture (m³ m-3), valid 0.04–0.29.
        roughness_cm: rms height s (cm); ks valid 0.13–7.
        incidence_deg: incidence angle (degrees), valid 10–70.
        wavelength_cm: radar wavelength (cm).

    Returns:
        (σ⁰_vv, σ⁰_vh) in linear power.
    """
    moisture = np.clip(mv, *OH_MOISTURE_RANGE)
    ks = np.clip(2.0 * np.pi / wavelength_cm * np.asarray(roughness_cm, dtype=np.float64), *OH_KS_RANGE)
    theta = np.radians(np.clip(incidence_deg, *OH_INCIDENCE_RANGE_DEG))
    vh = 0.11 * moisture**0.7 * np.cos(theta) ** 2.2 * (1.0 - np.exp(-0.32 * ks**1.8))
    ratio = 0.095 * (0.13 + np.sin(1.5 * theta)) ** 1.4 * (1.0 - np.exp(-1.3 * ks**0.9))
    return vh / ratio, vh


def water_cloud(
    sigma_soil: np.ndarray | float,
    vegetation: np.ndarray | float,
    incidence_deg: np.ndarray | float,
    a: float,
    b: float,
) -> np.ndarray:
    """Attema & Ulaby (1978): σ⁰ = A·V·cosθ·(1 − γ²) + γ²·σ⁰_soil, γ² = exp(−2BV/cosθ).

    Args:
        sigma_soil: σ⁰ of the soil under the canopy (linear).
        vegetation: vegetation descriptor V (≥ 0; here NDVI above bare soil).
        incidence_deg: incidence angle (degrees).
        a: canopy backscatter coefficient A.
        b: canopy attenuation coefficient B.

    Returns:
        σ⁰ (linear).
    """
    cos_theta = np.cos(np.radians(incidence_deg))
    v = np.maximum(vegetation, 0.0)
    transmissivity = np.exp(-2.0 * b * v / cos_theta)
    return a * v * cos_theta * (1.0 - transmissivity) + transmissivity * np.asarray(sigma_soil)


def add_noise_floor(sigma: np.ndarray, nesz_db: float = NESZ_DB) -> np.ndarray:
    """σ_obs = σ + NESZ in linear units (thermal noise floor)."""
    return np.asarray(sigma) + db_to_linear(nesz_db)


def speckle(sigma: np.ndarray, enl: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative intensity speckle: σ·X with X ~ Gamma(shape=L, scale=1/L).

    Raises:
        ConfigError: ``enl`` is not positive.
    """
    if enl <= 0:
        raise ConfigError(f"equivalent number of looks enl={enl} must be > 0 (4.4 for IW GRDH)")
    sigma = np.asarray(sigma)
    return sigma * rng.gamma(shape=enl, scale=1.0 / enl, size=sigma.shape)


def vegetation_descriptor(ndvi: np.ndarray | float) -> np.ndarray:
    """V for the water-cloud model: NDVI above bare soil, 0 on bare ground and water."""
    return np.clip(np.asarray(ndvi, dtype=np.float64) - NDVI_BARE, 0.0, 1.0)


def backscatter(
    class_map: np.ndarray,
    mv: np.ndarray,
    roughness_cm: np.ndarray,
    ndvi: np.ndarray,
    incidence_deg: np.ndarray | float,
    rng: np.random.Generator,
    enl: float = ENL_IW_GRDH,
    nesz_db: float = NESZ_DB,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed σ⁰ (VV, VH) of a scene in linear power.

    Oh (2004) for soil and rock, a water-cloud canopy from NDVI, open water (class 13)
    dark in VV and below the noise floor in VH, then the noise floor, then speckle. The
    canopy sees the incidence clipped to the Oh model's range, as the soil does (a local
    incidence near 90° would make the canopy opaque and overflow); slopes turned away
    from the radar beyond 90° are in radar shadow and return only the noise floor.

    Args:
        class_map: class ids (13 = water).
        mv: volumetric moisture (m³ m-3).
        roughness_cm: rms height (cm).
        ndvi: NDVI.
        incidence_deg: incidence angle (degrees), scalar or per pixel.
        rng: random generator (speckle and the water's wind state).
        enl: equivalent number of looks of the speckle.
        nesz_db: noise-equivalent σ⁰ (dB).

    Returns:
        (vv, vh), float32 arrays of the map's shape.
    """
    water = np.asarray(class_map) == WATER
    shadow = np.asarray(incidence_deg) >= RADAR_SHADOW_DEG
    incidence_deg = np.clip(incidence_deg, *OH_INCIDENCE_RANGE_DEG)
    vv_soil, vh_soil = oh2004(mv, roughness_cm, incidence_deg)
    vegetation = vegetation_descriptor(ndvi)
    vv = water_cloud(vv_soil, vegetation, incidence_deg, *VV_WATER_CLOUD)
    vh = water_cloud(vh_soil, vegetation, incidence_deg, *VH_WATER_CLOUD)
    vv = np.where(water, db_to_linear(rng.uniform(*CALM_WATER_VV_DB)), np.where(shadow, 0.0, vv))
    vh = np.where(water, db_to_linear(CALM_WATER_VH_DB), np.where(shadow, 0.0, vh))
    vv = speckle(add_noise_floor(vv, nesz_db), enl, rng)
    vh = speckle(add_noise_floor(vh, nesz_db), enl, rng)
    return vv.astype(np.float32), vh.astype(np.float32)
