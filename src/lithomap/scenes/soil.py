"""Per-class surface properties and their moisture dependence (SCIENCE.md 1.3 and 1.4).

Each lithology class has ranges for thermal inertia, albedo, emissivity, moisture and
roughness. :func:`draw_pixel_parameters` turns a class map and correlated standard-normal
fields into per-pixel values; :func:`moisture`, :func:`thermal_inertia` and
:func:`evaporation_efficiency` then give the state of each pixel on a given day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lithomap.classes import BACKGROUND, N_CLASSES, WATER, class_id_of
from lithomap.errors import ConfigError

Range = tuple[float, float]

WATER_INERTIA = 5.0e4
"""Effective (mixed-layer) thermal inertia of open water in TIU."""
MIN_MOISTURE = 0.01
DRIEST_DOY = 200.0
DAYS_PER_YEAR = 365.0
ROCK_MOISTURE_WEIGHT = 0.3
"""Share of the P_dry→P_wet span that moisture can move a rock pixel (thin regolith)."""
FIELD_NAMES = ("p_dry", "p_wet", "albedo", "emissivity", "theta", "roughness")

# Johansen (1975) / Farouki (1981) constants for the mechanistic inertia (SCIENCE 1.3).
GRAIN_DENSITY = 2700.0
HEAT_CAPACITY_MINERAL = 2.0e6
HEAT_CAPACITY_WATER = 4.18e6
CONDUCTIVITY_QUARTZ = 7.7
CONDUCTIVITY_WATER = 0.594
QUARTZ_RICH = 0.2


@dataclass(frozen=True)
class ClassProperties:
    """Default surface properties of one class (SCIENCE.md table 1.4; ranges are (lo, hi)).

    Attributes:
        p_dry: thermal inertia of the dry surface (TIU).
        p_wet: thermal inertia moist to saturated (TIU).
        albedo: broadband shortwave albedo.
        emissivity: 8–12 µm broadband emissivity.
        theta_summer: volumetric moisture of the top ~5 cm in summer (m³ m-3).
        theta_winter: the same in winter.
        beta_summer: evaporation efficiency expected in summer (documentation and checks).
        roughness_cm: SAR rms height (cm).
        porosity: total porosity (of the regolith for rocks); the upper bound of moisture.
        quartz: quartz fraction of the solids (Johansen conductivity).
        theta_fc: field capacity (Rawls et al. 1982; small for rocks).
        rock: True where the surface is rock whose inertia barely depends on moisture.
        coarse: True for coarse textures (Johansen's coarse K_e curve).
        beta_max: cap on the evaporation efficiency (rocks ≤ 0.05, otherwise 1).
    """

    p_dry: Range
    p_wet: Range
    albedo: Range
    emissivity: Range
    theta_summer: Range
    theta_winter: Range
    beta_summer: Range
    roughness_cm: Range
    porosity: float
    quartz: float
    theta_fc: float
    rock: bool = False
    coarse: bool = False
    beta_max: float = 1.0


def _rock(
    p_dry: Range,
    p_wet: Range,
    albedo: Range,
    emissivity: Range,
    theta: tuple[Range, Range],
    beta_max: float,
    roughness_cm: Range,
    quartz: float,
    porosity: float = 0.30,
    coarse: bool = False,
) -> ClassProperties:
    return ClassProperties(
        p_dry=p_dry,
        p_wet=p_wet,
        albedo=albedo,
        emissivity=emissivity,
        theta_summer=theta[0],
        theta_winter=theta[1],
        beta_summer=(0.0, beta_max),
        roughness_cm=roughness_cm,
        porosity=porosity,
        quartz=quartz,
        theta_fc=0.10,
        rock=True,
        coarse=coarse,
        beta_max=beta_max,
    )


# Deviation from table 1.4: summer moisture of sand is 0.015–0.04 (table 0.02–0.05) and of
# clay 0.14–0.22 with beta up to 0.30 (table 0.10–0.18, beta ≤ 0.20). With the table's
# ranges clay's lower albedo cancels its higher inertia and both show the same diurnal
# range; these values are those of the SCIENCE 1.6 sanity run (sand P≈900, clay P≈1400,
# beta≈0.25), which reproduces the thesis hypothesis from the physics.
CLASS_PROPERTIES: Mapping[int, ClassProperties] = {
    1: ClassProperties(
        (600, 800), (1600, 2500), (0.28, 0.40), (0.89, 0.93), (0.015, 0.04), (0.08, 0.15), (0.0, 0.05), (0.3, 0.8),
        porosity=0.40, quartz=0.90, theta_fc=0.12, coarse=True,
    ),
    2: ClassProperties(
        (600, 800), (1700, 2200), (0.15, 0.25), (0.95, 0.97), (0.14, 0.22), (0.28, 0.40), (0.05, 0.30), (0.6, 1.5),
        porosity=0.50, quartz=0.15, theta_fc=0.36,
    ),
    3: ClassProperties(
        (1000, 1200), (1800, 2300), (0.35, 0.50), (0.94, 0.96), (0.10, 0.20), (0.20, 0.35), (0.05, 0.20), (0.5, 1.5),
        porosity=0.45, quartz=0.05, theta_fc=0.33,
    ),
    4: ClassProperties(
        (500, 700), (1500, 2000), (0.20, 0.30), (0.94, 0.96), (0.06, 0.14), (0.20, 0.32), (0.05, 0.15), (0.4, 1.2),
        porosity=0.48, quartz=0.25, theta_fc=0.30,
    ),
    5: ClassProperties(
        (150, 250), (1200, 1450), (0.06, 0.12), (0.97, 0.98), (0.40, 0.70), (0.60, 0.85), (0.4, 0.8), (0.5, 1.0),
        porosity=0.90, quartz=0.05, theta_fc=0.60, beta_max=0.8,
    ),
    6: ClassProperties(
        (550, 700), (1500, 2150), (0.17, 0.25), (0.95, 0.97), (0.05, 0.12), (0.18, 0.30), (0.05, 0.15), (0.6, 2.0),
        porosity=0.45, quartz=0.40, theta_fc=0.25,
    ),
    7: _rock((1500, 2000), (2000, 2700), (0.20, 0.30), (0.90, 0.94), ((0.03, 0.08), (0.08, 0.15)), 0.05, (1.5, 4.0),
             quartz=0.70, coarse=True),
    8: _rock((1800, 2300), (2300, 3100), (0.25, 0.40), (0.94, 0.97), ((0.02, 0.06), (0.06, 0.12)), 0.03, (2.0, 5.0),
             quartz=0.05),
    9: _rock((1600, 2200), (2000, 2500), (0.07, 0.15), (0.95, 0.97), ((0.03, 0.08), (0.08, 0.15)), 0.05, (2.0, 5.0),
             quartz=0.05),
    10: _rock((1700, 2200), (2200, 3400), (0.20, 0.30), (0.92, 0.95), ((0.02, 0.06), (0.08, 0.15)), 0.03, (2.0, 5.0),
              quartz=0.30, coarse=True),
    11: _rock((1400, 2000), (2000, 2400), (0.12, 0.22), (0.94, 0.96), ((0.03, 0.08), (0.08, 0.15)), 0.05, (1.5, 4.0),
              quartz=0.30),
    12: _rock((2300, 3100), (2600, 3300), (0.25, 0.45), (0.86, 0.96), ((0.01, 0.04), (0.04, 0.08)), 0.02, (2.0, 6.0),
              quartz=0.80, porosity=0.20),
    13: ClassProperties(
        (WATER_INERTIA, WATER_INERTIA), (WATER_INERTIA, WATER_INERTIA), (0.05, 0.08), (0.985, 0.99),
        (1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (0.2, 0.2),
        porosity=1.0, quartz=0.0, theta_fc=0.5,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class PixelParameters:
    """Per-pixel surface parameters, float32 arrays of the scene shape.

    ``beta_max`` (the cap on evaporation efficiency: small for rocks, 1 elsewhere) is the
    one field beyond those the generator reads; :func:`pixel_evaporation_efficiency` uses it.
    """

    class_id: np.ndarray
    p_dry: np.ndarray
    p_wet: np.ndarray
    albedo: np.ndarray
    emissivity: np.ndarray
    theta_summer: np.ndarray
    theta_winter: np.ndarray
    theta_fc: np.ndarray
    porosity: np.ndarray
    roughness_cm: np.ndarray
    beta_max: np.ndarray


def class_properties(class_id: int) -> ClassProperties:
    """Properties of one class id; background (0) gets loam's so nothing is undefined.

    Raises:
        ConfigError: the id is not one of 0..13.
    """
    if class_id == BACKGROUND:
        return CLASS_PROPERTIES[class_id_of("loam")]
    if class_id not in CLASS_PROPERTIES:
        raise ConfigError(f"unknown class id {class_id}; lithology class ids are 0 (background) to 13 (water)")
    return CLASS_PROPERTIES[class_id]


def class_table(attribute: str) -> np.ndarray:
    """One attribute of every class id 0..13 as an array indexable by class id.

    Range attributes give shape (14, 2) (lo, hi); scalar ones give shape (14,).
    """
    return np.array([getattr(class_properties(i), attribute) for i in range(N_CLASSES)], dtype=np.float64)


def class_ids(class_map: np.ndarray) -> np.ndarray:
    """``class_map`` as an integer array, checked to hold only ids 0..13.

    Raises:
        ConfigError: the map holds another value.
    """
    ids = np.asarray(class_map)
    bad = (ids < 0) | (ids >= N_CLASSES) | (ids != np.round(ids))
    if np.any(bad):
        raise ConfigError(
            f"class map holds unknown class ids {np.unique(ids[bad])[:5].tolist()}; use 0 (background) to 13 (water)"
        )
    return ids.astype(np.intp)


def _drawn(ids: np.ndarray, bounds: np.ndarray, z: np.ndarray) -> np.ndarray:
    lo, hi = bounds[ids, 0], bounds[ids, 1]
    value = 0.5 * (lo + hi) + 0.25 * (hi - lo) * z
    return np.clip(value, lo, hi).astype(np.float32)


def _field(fields: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in fields:
        raise ConfigError(f"random field {name!r} is missing; pass one standard-normal field for each of {FIELD_NAMES}")
    field = np.asarray(fields[name], dtype=np.float64)
    if field.shape != shape:
        raise ConfigError(f"random field {name!r} has shape {field.shape}; it must match the class map {shape}")
    return field


def draw_pixel_parameters(class_map: np.ndarray, fields: Mapping[str, np.ndarray]) -> PixelParameters:
    """Per-pixel parameters: class mean + (range/4)·z, clipped to the class range (SCIENCE 1.4).

    One moisture field drives summer and winter so a wet pixel stays wet all year.

    Args:
        class_map: integer class ids 0..13, any shape.
        fields: spatially correlated standard-normal fields of the map's shape, keyed
            "p_dry", "p_wet", "albedo", "emissivity", "theta" and "roughness".

    Returns:
        The parameters, float32 arrays of the map's shape.

    Raises:
        ConfigError: unknown class id, or a field missing or of the wrong shape.
    """
    ids = class_ids(class_map)
    z = {name: _field(fields, name, ids.shape) for name in FIELD_NAMES}
    return PixelParameters(
        class_id=ids.astype(np.float32),
        p_dry=_drawn(ids, class_table("p_dry"), z["p_dry"]),
        p_wet=_drawn(ids, class_table("p_wet"), z["p_wet"]),
        albedo=_drawn(ids, class_table("albedo"), z["albedo"]),
        emissivity=_drawn(ids, class_table("emissivity"), z["emissivity"]),
        theta_summer=_drawn(ids, class_table("theta_summer"), z["theta"]),
        theta_winter=_drawn(ids, class_table("theta_winter"), z["theta"]),
        theta_fc=class_table("theta_fc")[ids].astype(np.float32),
        porosity=class_table("porosity")[ids].astype(np.float32),
        roughness_cm=_drawn(ids, class_table("roughness_cm"), z["roughness"]),
        beta_max=class_table("beta_max")[ids].astype(np.float32),
    )


def summer_weight(doy: np.ndarray | float) -> np.ndarray:
    """0 at mid-winter, 1 at the driest day (doy ≈ 200), a cosine in between."""
    return 0.5 * (1.0 + np.cos(2.0 * np.pi * (np.asarray(doy, dtype=np.float64) - DRIEST_DOY) / DAYS_PER_YEAR))


def moisture(params: PixelParameters, doy: np.ndarray | float, wetness: float | np.ndarray = 0.0) -> np.ndarray:
    """Volumetric moisture of the top ~5 cm on day-of-year ``doy``.

    Args:
        params: the pixel parameters.
        doy: day of year (scalar or broadcastable to the pixels).
        wetness: additive moisture anomaly (m³ m-3), e.g. after recent rain.

    Returns:
        θ, clipped to [0.01, porosity].
    """
    w = summer_weight(doy)
    theta = params.theta_winter + (params.theta_summer - params.theta_winter) * w + wetness
    return np.clip(theta, MIN_MOISTURE, params.porosity)


def kersten_number(saturation: np.ndarray | float, coarse: np.ndarray | bool) -> np.ndarray:
    """Johansen's K_e(S_r): 0.7·log10(S_r)+1 (coarse) or log10(S_r)+1 (fine), in [0, 1]."""
    sr = np.clip(np.asarray(saturation, dtype=np.float64), 1e-6, 1.0)
    slope = np.where(coarse, 0.7, 1.0)
    return np.clip(slope * np.log10(sr) + 1.0, 0.0, 1.0)


def thermal_inertia(params: PixelParameters, theta: np.ndarray) -> np.ndarray:
    """Thermal inertia P = P_dry + (P_wet − P_dry)·K_e(θ/n) in TIU (SCIENCE 1.3 fallback).

    Rock pixels move only ``ROCK_MOISTURE_WEIGHT`` of their span; water is ``WATER_INERTIA``.
    """
    ids = params.class_id.astype(np.intp)
    coarse = class_table("coarse")[ids].astype(bool)
    weight = np.where(class_table("rock")[ids].astype(bool), ROCK_MOISTURE_WEIGHT, 1.0)
    ke = kersten_number(np.asarray(theta) / params.porosity, coarse)
    inertia = params.p_dry + (params.p_wet - params.p_dry) * weight * ke
    return np.where(ids == WATER, WATER_INERTIA, inertia).astype(np.float32)


def mechanistic_inertia(
    theta: np.ndarray | float, porosity: np.ndarray | float, quartz: np.ndarray | float, coarse: np.ndarray | bool
) -> np.ndarray:
    """Thermal inertia sqrt(λC) from de Vries heat capacity and Johansen conductivity (SCIENCE 1.3).

    Args:
        theta: volumetric moisture (m³ m-3).
        porosity: total porosity n.
        quartz: quartz fraction of the solids q.
        coarse: True for coarse textures.

    Returns:
        P in TIU.
    """
    n = np.asarray(porosity, dtype=np.float64)
    q = np.asarray(quartz, dtype=np.float64)
    bulk_density = (1.0 - n) * GRAIN_DENSITY
    k_dry = (0.135 * bulk_density + 64.7) / (GRAIN_DENSITY - 0.947 * bulk_density)
    k_other = np.where(q > QUARTZ_RICH, 2.0, 3.0)
    k_solids = CONDUCTIVITY_QUARTZ**q * k_other ** (1.0 - q)
    k_sat = k_solids ** (1.0 - n) * CONDUCTIVITY_WATER**n
    conductivity = k_dry + kersten_number(np.asarray(theta) / n, coarse) * (k_sat - k_dry)
    heat_capacity = (1.0 - n) * HEAT_CAPACITY_MINERAL + np.asarray(theta) * HEAT_CAPACITY_WATER
    return np.sqrt(conductivity * heat_capacity)


def evaporation_efficiency(
    theta: np.ndarray | float, theta_fc: np.ndarray | float, beta_max: np.ndarray | float = 1.0
) -> np.ndarray:
    """Soil evaporation efficiency β (Lee & Pielke 1992).

    β = 0.25·[1 − cos(πθ/θ_fc)]² below field capacity and 1 above, capped at ``beta_max``.
    """
    ratio = np.clip(np.asarray(theta, dtype=np.float64) / theta_fc, 0.0, 1.0)
    beta = 0.25 * (1.0 - np.cos(np.pi * ratio)) ** 2
    return np.minimum(beta, beta_max)


def pixel_evaporation_efficiency(params: PixelParameters, theta: np.ndarray) -> np.ndarray:
    """β of each pixel: Lee & Pielke with the class cap (rocks ≤ 0.05), and 1 on water."""
    beta = evaporation_efficiency(theta, params.theta_fc, params.beta_max)
    return np.where(params.class_id == WATER, 1.0, beta).astype(np.float32)
