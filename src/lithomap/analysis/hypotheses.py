"""Do the thesis's hypotheses hold in our data? Numbers from the diurnal class curves.

Each row of the table states a hypothesis, how it is measured, the value and whether it
holds (``None`` when a class it needs is missing from the region). All measures come
from the diurnal table of ``lithomap.analysis.signatures`` (binned by local solar hour):

- *sand's diurnal range exceeds clay's*: range (max − min over hour bins) of the LST
  anomaly curve, sand minus clay, K;
- *sand cools faster than clay after sunset*: cooling rate (−slope of LST against hour over
  the bins centred 18–24 h), sand minus clay, K/h;
- *clay stays warmer than sand at night*: mean pre-dawn anomaly (bins centred 0–6 h, when
  the stored heat shows most and thermal-inertia images are taken) relative to the class's
  own daily mean (mean over all bins), clay minus sand, K;
- *water is warmer than the land at night*: mean pre-dawn LST anomaly of water, K (in the
  evening water is often still cooler than land that has not yet cooled: the curves show it);
- *high-inertia rocks have a small diurnal amplitude*: median anomaly range of soils
  (sand, clay, silt, loam) minus that of high-inertia rocks (carbonate, plutonic,
  non-foliated; P ≥ 1700 TIU in SCIENCE.md 1.4), K.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HYPOTHESIS_COLUMNS = ["hypothesis", "measure", "value", "holds"]
SOILS = ("sand", "clay", "silt", "loam")
HIGH_INERTIA_ROCKS = ("carbonate", "plutonic", "non_foliated")
EVENING = (18.0, 24.0)
PRE_DAWN = (0.0, 6.0)


def _curve(diurnal: pd.DataFrame, name: str, column: str) -> pd.Series:
    rows = diurnal[diurnal["class"] == name]
    return pd.Series(rows[column].to_numpy(), index=rows["solar_hour_bin"].to_numpy(), dtype=float)


def anomaly_range(diurnal: pd.DataFrame, name: str) -> float:
    """Max − min of a class's binned LST anomaly curve (NaN with fewer than two bins)."""
    curve = _curve(diurnal, name, "lst_anomaly_mean")
    return float(curve.max() - curve.min()) if curve.size >= 2 else float("nan")


def cooling_rate(diurnal: pd.DataFrame, name: str, evening: tuple[float, float] = EVENING) -> float:
    """−slope (K/h) of a class's LST over the bins centred in ``evening`` (NaN with < 2 bins)."""
    curve = _curve(diurnal, name, "lst_mean")
    chosen = curve[(curve.index >= evening[0]) & (curve.index < evening[1])]
    if chosen.size < 2:
        return float("nan")
    return float(-np.polyfit(chosen.index.to_numpy(), chosen.to_numpy(), 1)[0])


def night_warmth(diurnal: pd.DataFrame, name: str, relative: bool, hours: tuple[float, float] = PRE_DAWN) -> float:
    """Mean anomaly of a class over the bins centred in ``hours``, minus its daily mean when ``relative``."""
    curve = _curve(diurnal, name, "lst_anomaly_mean")
    night = curve[(curve.index >= hours[0]) & (curve.index < hours[1])]
    if night.empty:
        return float("nan")
    return float(night.mean() - (curve.mean() if relative else 0.0))


def _row(hypothesis: str, measure: str, value: float) -> dict:
    finite = bool(np.isfinite(value))
    return {
        "hypothesis": hypothesis,
        "measure": measure,
        "value": round(value, 3) if finite else None,
        "holds": bool(value > 0) if finite else None,
    }


def hypothesis_table(diurnal: pd.DataFrame) -> pd.DataFrame:
    """The hypothesis table (see the module docstring) with ``HYPOTHESIS_COLUMNS``."""
    sand_range, clay_range = anomaly_range(diurnal, "sand"), anomaly_range(diurnal, "clay")
    sand_cooling, clay_cooling = cooling_rate(diurnal, "sand"), cooling_rate(diurnal, "clay")
    clay_night = night_warmth(diurnal, "clay", relative=True)
    sand_night = night_warmth(diurnal, "sand", relative=True)
    water_night = night_warmth(diurnal, "water", relative=False)
    soils = [anomaly_range(diurnal, name) for name in SOILS]
    rocks = [anomaly_range(diurnal, name) for name in HIGH_INERTIA_ROCKS]
    soil_median = float(np.nanmedian(soils)) if np.isfinite(soils).any() else float("nan")
    rock_median = float(np.nanmedian(rocks)) if np.isfinite(rocks).any() else float("nan")
    rows = [
        _row(
            "sand's diurnal range exceeds clay's",
            f"LST anomaly range, sand {sand_range:.2f} K minus clay {clay_range:.2f} K",
            sand_range - clay_range,
        ),
        _row(
            "sand cools faster than clay after sunset",
            f"cooling rate 18-24 h, sand {sand_cooling:.2f} minus clay {clay_cooling:.2f} K/h",
            sand_cooling - clay_cooling,
        ),
        _row(
            "clay stays warmer than sand at night",
            f"pre-dawn anomaly vs own daily mean, clay {clay_night:+.2f} minus sand {sand_night:+.2f} K",
            clay_night - sand_night,
        ),
        _row(
            "water is warmer than the land at night",
            "pre-dawn (0-6 h) LST anomaly of water vs scene mean, K",
            water_night,
        ),
        _row(
            "high-inertia rocks have a small diurnal amplitude",
            f"median anomaly range, soils {soil_median:.2f} K minus rocks {rock_median:.2f} K",
            soil_median - rock_median,
        ),
    ]
    return pd.DataFrame(rows, columns=HYPOTHESIS_COLUMNS)
