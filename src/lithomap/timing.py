"""When an acquisition was made: local solar time, day or night, season.

The one home of these rules (DESIGN.md): the generator, the validation summaries, the
cube, the experiment selections, the datasets and the baseline all ask here.

- Local (mean) solar time is UTC + longitude / 15 h, in [0, 24).
- Day is an overpass with the sun above the horizon: its elevation at the place and time
  (NOAA's solar-position approximation: declination and equation of time from the date,
  about 0.1° accurate) above ``SUNRISE_ELEVATION_DEG`` (−0.833°, the sun's upper limb at
  the horizon after refraction, the standard sunrise/sunset). So a winter 17:30 solar-time
  overpass at 38.7° N is night and a summer 19:00 one is day, which a fixed window misses.
- A season is the one whose month list holds the acquisition's month (the wide
  Nov–Mar winter and May–Sep summer of SCIENCE.md 1.5 by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np

SUNRISE_ELEVATION_DEG = -0.833
SEASON_MONTHS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "winter": (11, 12, 1, 2, 3),
        "spring": (4,),
        "summer": (5, 6, 7, 8, 9),
        "autumn": (10,),
    }
)
UNKNOWN_SEASON = "unknown"


def solar_hour(utc: datetime, longitude: float) -> float:
    """Local solar time in hours of one UTC time at a longitude (degrees east)."""
    hours = utc.hour + utc.minute / 60 + utc.second / 3600 + utc.microsecond / 3.6e9
    return (hours + longitude / 15.0) % 24.0


def solar_hours(times: Sequence[datetime] | np.ndarray, longitude: float) -> tuple[np.ndarray, np.ndarray]:
    """Local solar time of many UTC times: hours in [0, 24) and local solar datetime64[ns]."""
    utc = np.asarray(times, dtype="datetime64[ns]")
    local = utc + np.timedelta64(round(longitude / 15.0 * 3600e9), "ns")
    day = local.astype("datetime64[D]")
    hours = (local - day).astype("timedelta64[ns]").astype(np.float64) / 3600e9
    return hours, local


def sun_elevation(times: Sequence[datetime] | np.ndarray, latitude: float, longitude: float) -> np.ndarray:
    """Elevation of the sun's centre above the horizon, degrees, at UTC ``times`` and a place.

    Args:
        times: UTC times (naive or datetime64, read as UTC).
        latitude: degrees north.
        longitude: degrees east.

    Returns:
        (n,) float64 elevations in [−90, 90] (geometric, without refraction).
    """
    utc = _utc64(times)
    year_start = utc.astype("datetime64[Y]")
    days = (utc - year_start).astype("timedelta64[ns]").astype(np.float64) / 86400e9  # 0 at 1 Jan 00:00
    year_days = ((year_start + np.timedelta64(1, "Y")) - year_start).astype("timedelta64[D]").astype(np.float64)
    gamma = 2 * np.pi / year_days * (days - 0.5)  # NOAA: 2π/365 · (doy − 1 + (hour − 12)/24)
    equation_of_time_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    declination = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    minutes = (days % 1.0) * 1440.0
    true_solar_min = minutes + equation_of_time_min + 4.0 * longitude
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)
    lat = np.radians(latitude)
    cos_zenith = np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(hour_angle)
    return 90.0 - np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))


def _utc64(times: Sequence[datetime] | np.ndarray) -> np.ndarray:
    """(n,) datetime64[ns] UTC of naive-UTC or timezone-aware datetimes, or of datetime64 values."""
    if isinstance(times, np.ndarray) and times.dtype.kind == "M":
        return np.atleast_1d(times.astype("datetime64[ns]"))
    naive = [
        t.astimezone(UTC).replace(tzinfo=None) if isinstance(t, datetime) and t.tzinfo is not None else t
        for t in np.atleast_1d(np.asarray(times, dtype=object))
    ]
    return np.array(naive, dtype="datetime64[ns]")


def is_daytime(
    times: Sequence[datetime] | np.ndarray,
    latitude: float,
    longitude: float,
    min_elevation: float = SUNRISE_ELEVATION_DEG,
) -> np.ndarray:
    """True where the sun is above ``min_elevation`` degrees at the place and UTC time: a day overpass."""
    return sun_elevation(times, latitude, longitude) > min_elevation


def day_of_year(time: np.datetime64) -> int:
    """Day of year (1–366) of one time."""
    day = time.astype("datetime64[D]")
    return int((day - day.astype("datetime64[Y]")).astype(int)) + 1


def months(times: np.ndarray | Sequence[datetime]) -> np.ndarray:
    """Calendar month (1–12) of each time."""
    values = np.asarray(times, dtype="datetime64[ns]")
    return values.astype("datetime64[M]").astype(np.int64) % 12 + 1


def season_of_month(month: int, season_months: Mapping[str, Sequence[int]] = SEASON_MONTHS) -> str:
    """The season whose months hold ``month``; ``"unknown"`` when none does."""
    return next((name for name, listed in season_months.items() if month in listed), UNKNOWN_SEASON)


def in_seasons(
    times: np.ndarray | Sequence[datetime],
    seasons: Sequence[str],
    season_months: Mapping[str, Sequence[int]] = SEASON_MONTHS,
) -> np.ndarray:
    """True where a time's month belongs to one of ``seasons``."""
    wanted = [month for season in seasons for month in season_months[season]]
    return np.isin(months(times), wanted)
