"""Local solar time, day/night and seasons: the one definition every stage uses."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from lithomap.timing import (
    in_seasons,
    is_daytime,
    months,
    season_of_month,
    solar_hour,
    solar_hours,
    sun_elevation,
)


def test_solar_hour_shifts_utc_by_longitude_over_15() -> None:
    # 05:17:07 UTC at 106.7° W is 22:10:19 local solar time of the previous day.
    assert solar_hour(datetime(2020, 9, 29, 5, 17, 7, tzinfo=UTC), -106.7) == pytest.approx(22.1720, abs=1e-4)
    assert solar_hour(datetime(2023, 6, 21, 12, 0, tzinfo=UTC), 15.0) == pytest.approx(13.0)


def test_vectorised_solar_hours_agree_with_the_scalar_rule() -> None:
    times = [datetime(2023, m, 3, h, 30) for m, h in [(1, 0), (4, 11), (7, 23), (12, 17)]]
    hours, _ = solar_hours(times, -4.11)
    assert hours == pytest.approx([solar_hour(t, -4.11) for t in times], abs=1e-9)


def test_seasons_follow_the_month_table() -> None:
    assert [season_of_month(m) for m in (1, 4, 6, 10, 11)] == ["winter", "spring", "summer", "autumn", "winter"]
    assert season_of_month(7, {"wet": [1, 2]}) == "unknown"
    times = np.array(["2023-01-15", "2023-04-15", "2023-08-01", "2023-11-30"], dtype="datetime64[ns]")
    assert months(times).tolist() == [1, 4, 8, 11]
    assert in_seasons(times, ["winter"]).tolist() == [True, False, False, True]
    assert in_seasons(times, ["summer", "spring"]).tolist() == [False, True, True, False]


PUERTOLLANO = (38.7, -4.11)  # latitude, longitude


def _at_solar_time(day: str, hour: float, longitude: float = PUERTOLLANO[1]) -> np.datetime64:
    """The UTC time of a local mean solar ``hour`` on ``day`` at ``longitude``."""
    return np.datetime64(f"{day}T00:00") + np.timedelta64(round((hour - longitude / 15) * 3600), "s")


def test_sun_elevation_matches_known_positions() -> None:
    lat, lon = PUERTOLLANO
    # Solar noon: 90° − latitude + declination (≈ 0° at the March equinox, ±23.44° at the solstices).
    noon = sun_elevation([_at_solar_time(d, 12.0) for d in ("2023-03-20", "2023-06-21", "2023-12-21")], lat, lon)
    assert noon == pytest.approx([90 - 38.7, 90 - 38.7 + 23.44, 90 - 38.7 - 23.44], abs=0.6)
    assert sun_elevation([_at_solar_time("2023-06-21", 0.0)], lat, lon)[0] == pytest.approx(
        -(90 - 38.7 - 23.44), abs=0.6
    )
    aware = datetime(2023, 6, 21, 18, 0, tzinfo=UTC)
    assert sun_elevation([aware], lat, lon) == pytest.approx(sun_elevation([datetime(2023, 6, 21, 18, 0)], lat, lon))


def test_day_and_night_follow_sunrise_and_sunset_not_a_fixed_window() -> None:
    lat, lon = PUERTOLLANO
    cases = {
        # winter sunset at 38.7° N is near 16:40 solar time: a 17:30 overpass is night (08–18 h said day)
        _at_solar_time("2023-12-21", 17.5): False,
        # summer sunset is near 19:25 solar time: a 19:00 overpass is day (08–18 h said night) …
        _at_solar_time("2023-06-21", 19.0): True,
        # … and so is a 20:00 CEST (18:00 UTC) one
        np.datetime64("2023-06-21T18:00"): True,
        _at_solar_time("2023-06-21", 20.0): False,
        _at_solar_time("2023-12-21", 7.0): False,  # before the winter sunrise (≈ 07:15 solar with refraction)
        _at_solar_time("2023-06-21", 5.5): True,  # after the summer sunrise (≈ 04:35 solar)
        _at_solar_time("2023-09-23", 2.0): False,
    }
    flags = is_daytime(list(cases), lat, lon)
    assert flags.tolist() == list(cases.values())
    hours = solar_hours(list(cases)[:2], lon)[0]
    assert ((hours >= 8) & (hours < 18)).tolist() == [True, False], "the old fixed 08-18 h window got both wrong"
    # In the Arctic summer the sun never sets; in its winter it never rises.
    assert is_daytime([_at_solar_time("2023-06-21", 0.0, 20.0)], 78.0, 20.0)[0]
    assert not is_daytime([_at_solar_time("2023-12-21", 12.0, 20.0)], 78.0, 20.0)[0]
