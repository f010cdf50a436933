"""Weather that changes from date to date: rain events that wet the soil, air-temperature patterns.

Without it, topsoil moisture follows a fixed seasonal curve and every pixel of a scene
shares one air temperature. Here rain falls on random days (more often in winter, as in
the Mediterranean climate of the thesis's regions), each event adds moisture to the
topsoil, which then dries exponentially over a few days (the first-stage evaporation of
a bare topsoil), and each date has a smooth air-temperature anomaly field (synoptic and
land-breeze patterns, ~1 K at ~10 km).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from lithomap.scenes.fields import smooth_field

SERIES_YEARS = 3
"""Rain is drawn for this many years from 1 January of the scene year (appended dates run on)."""
WETTEST_DOY = 15.0
AIR_ANOMALY_LENGTH_M = 10000.0
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class RainSeries:
    """Rain events of a scene: times (days since 1 January of ``year``) and moisture added.

    Attributes:
        year: the scene year.
        days: event times (fractional days since 1 January, 00 UTC).
        wetting: moisture each event adds to the topsoil (m³ m-3).
        drying_days: e-folding drying time (days).
    """

    year: int
    days: np.ndarray
    wetting: np.ndarray
    drying_days: float

    def wetness(self, utc: datetime) -> float:
        """Moisture anomaly (m³ m-3) left by the rain before ``utc``."""
        t = (utc - datetime(self.year, 1, 1, tzinfo=UTC)).total_seconds() / SECONDS_PER_DAY
        past = self.days <= t
        return float(np.sum(self.wetting[past] * np.exp(-(t - self.days[past]) / self.drying_days)))


def draw_rain(
    year: int, events_per_year: float, mean_wetting: float, drying_days: float, rng: np.random.Generator
) -> RainSeries:
    """Rain events over ``SERIES_YEARS`` years, twice as frequent in mid-winter as the mean.

    Args:
        year: the scene year.
        events_per_year: mean number of events per year.
        mean_wetting: mean moisture one event adds (exponentially distributed; m³ m-3).
        drying_days: e-folding drying time (days).
        rng: random generator.
    """
    days = np.arange(SERIES_YEARS * 365)
    winter = 0.5 * (1.0 + np.cos(2.0 * np.pi * (days - WETTEST_DOY) / 365.0))
    probability = np.clip(events_per_year / 365.0 * 2.0 * winter, 0.0, 1.0)
    wet = rng.random(days.size) < probability
    times = days[wet] + rng.random(int(wet.sum()))
    return RainSeries(year, times, rng.exponential(mean_wetting, times.size), drying_days)


def air_temperature_anomaly(
    shape: tuple[int, int], resolution_m: float, std_k: float, rng: np.random.Generator
) -> np.ndarray:
    """One date's smooth air-temperature anomaly field (K), point standard deviation ``std_k``.

    A pattern ~10 km across: a scene of that size sees part of it (an offset and a gentle
    gradient), not a whole pattern squeezed in (see :func:`~lithomap.scenes.fields.smooth_field`).
    """
    return std_k * smooth_field(shape, AIR_ANOMALY_LENGTH_M / resolution_m, rng)
