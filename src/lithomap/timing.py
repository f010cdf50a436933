"""When an acquisition was made: local solar time, day or night, season.

The one home of these rules (DESIGN.md): the generator, the validation summaries, the
cube, the experiment selections, the datasets and the baseline all ask here.

- Local (mean) solar time is UTC + longitude / 15 h, in [0, 24).
- Day is a local solar hour in ``[start, end)`` of ``day_hours`` (08–18 h by default, as
  the thesis defines it).
- A season is the one whose month list holds the acquisition's month (the wide
  Nov–Mar winter and May–Sep summer of SCIENCE.md 1.5 by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

import numpy as np

DAY_HOURS: tuple[float, float] = (8.0, 18.0)
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


def is_day(hours: np.ndarray | Sequence[float] | float, day_hours: tuple[float, float] = DAY_HOURS) -> np.ndarray:
    """True where a local solar hour lies in ``[day_hours[0], day_hours[1])``."""
    start, end = day_hours
    values = np.asarray(hours, dtype=np.float64)
    return (values >= start) & (values < end)


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
