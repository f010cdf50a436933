"""When the sensors look: ECOSTRESS's drifting ISS overpasses, Sentinel-1 and Sentinel-2 dates.

The ISS orbit is not sun-synchronous: the local overpass time drifts by about 24 minutes
a day and cycles through all hours in about two months (SCIENCE.md 1.5). Cloudy
overpasses are dropped, more often in winter; the kept ones may still carry cloud patches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from lithomap.timing import is_daytime, season_of_month, solar_hour

DRIFT_HOURS_PER_DAY = -0.4  # -24 min/day
SENTINEL1_UTC_HOUR = 18.1  # ascending passes over Spain
SENTINEL2_UTC_HOUR = 10.9


@dataclass(frozen=True)
class Acquisition:
    """One overpass: its UTC time and the local solar time at the scene centre."""

    utc: datetime
    solar_hour: float
    cloud_cover: float = 0.0

    @property
    def doy(self) -> int:
        return self.utc.timetuple().tm_yday

    def is_day(self, latitude: float, longitude: float) -> bool:
        """Whether the sun is up at the overpass (``lithomap.timing.is_daytime``, as the pipeline decides)."""
        return bool(is_daytime([self.utc], latitude, longitude)[0])

    @property
    def season(self) -> str:
        return season_of_month(self.utc.month)


def from_solar(year: int, doy: int, hour: float, lon_deg: float) -> datetime:
    """UTC datetime (whole seconds) of a local solar time on a day of year."""
    start = datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=doy - 1)
    return start + timedelta(seconds=round((hour - lon_deg / 15.0) * 3600))


def ecostress_overpasses(
    year: int, count: int, cloudy_fraction: float, lon_deg: float, rng: np.random.Generator
) -> list[Acquisition]:
    """Draw ``count`` overpasses over a year and keep the ones not lost to cloud.

    Winter overpasses are more often cloudy than summer ones; each kept overpass gets a
    cloud cover in 0–25 % that the writer turns into cloud patches.
    """
    days = np.sort(rng.choice(np.arange(1, 366), size=count, replace=False))
    start_hour = rng.uniform(0, 24)
    kept: list[Acquisition] = []
    for doy in days:
        hour = (start_hour + DRIFT_HOURS_PER_DAY * doy + rng.normal(0, 0.3)) % 24.0
        winter_weight = 0.5 * (1 + np.cos(2 * np.pi * (doy - 15) / 365.0))
        p_cloudy = np.clip(cloudy_fraction * (0.5 + winter_weight), 0, 0.95)
        if rng.random() < p_cloudy:
            continue
        utc = from_solar(year, int(doy), hour, lon_deg)
        kept.append(Acquisition(utc, solar_hour(utc, lon_deg), float(rng.uniform(0, 0.25))))
    return kept


def later_overpasses(
    last: Acquisition, count: int, spacing_days: float, cloudy_fraction: float, lon_deg: float, rng: np.random.Generator
) -> list[Acquisition]:
    """``count`` kept overpasses after ``last``, as the schedule would have gone on.

    Days follow at about ``spacing_days`` (the original schedule's mean spacing), the local
    time keeps drifting from ``last``'s, and cloudy overpasses are lost as in
    :func:`ecostress_overpasses` (more often in winter); dates may run into the next year.
    """
    kept: list[Acquisition] = []
    day = last.utc.replace(hour=0, minute=0, second=0)
    elapsed = 0
    while len(kept) < count:
        step = max(1, round(rng.exponential(spacing_days)))
        day += timedelta(days=step)
        elapsed += step
        doy = day.timetuple().tm_yday
        hour = (last.solar_hour + DRIFT_HOURS_PER_DAY * elapsed + rng.normal(0, 0.3)) % 24.0
        winter_weight = 0.5 * (1 + np.cos(2 * np.pi * (doy - 15) / 365.0))
        if rng.random() < np.clip(cloudy_fraction * (0.5 + winter_weight), 0, 0.95):
            continue
        utc = from_solar(day.year, doy, hour, lon_deg)
        kept.append(Acquisition(utc, solar_hour(utc, lon_deg), float(rng.uniform(0, 0.25))))
    return kept


def fixed_time_dates(
    year: int, count: int, utc_hour: float, lon_deg: float, rng: np.random.Generator
) -> list[Acquisition]:
    """``count`` dates spread over the year at a fixed UTC time (Sentinel-1 and -2 style)."""
    step = 365 / count
    days = [int(np.clip(round(step * (i + 0.5) + rng.uniform(-step / 4, step / 4)), 1, 365)) for i in range(count)]
    acquisitions = []
    for doy in days:
        minutes = round(utc_hour * 60 + rng.uniform(-5, 5))
        utc = datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=doy - 1, minutes=minutes, seconds=int(rng.integers(60)))
        acquisitions.append(Acquisition(utc, solar_hour(utc, lon_deg)))
    return acquisitions
