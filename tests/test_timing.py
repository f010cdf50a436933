"""Local solar time, day/night and seasons: the one definition every stage uses."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from lithomap.timing import DAY_HOURS, in_seasons, is_day, months, season_of_month, solar_hour, solar_hours


def test_solar_hour_shifts_utc_by_longitude_over_15() -> None:
    # 05:17:07 UTC at 106.7° W is 22:10:19 local solar time of the previous day.
    assert solar_hour(datetime(2020, 9, 29, 5, 17, 7, tzinfo=UTC), -106.7) == pytest.approx(22.1720, abs=1e-4)
    assert solar_hour(datetime(2023, 6, 21, 12, 0, tzinfo=UTC), 15.0) == pytest.approx(13.0)


def test_vectorised_solar_hours_agree_with_the_scalar_rule() -> None:
    times = [datetime(2023, m, 3, h, 30) for m, h in [(1, 0), (4, 11), (7, 23), (12, 17)]]
    hours, _ = solar_hours(times, -4.11)
    assert hours == pytest.approx([solar_hour(t, -4.11) for t in times], abs=1e-9)


def test_day_is_half_open_between_the_configured_hours() -> None:
    assert is_day([7.99, 8.0, 17.99, 18.0], DAY_HOURS).tolist() == [False, True, True, False]
    assert is_day([6.5, 21.0], (6.0, 20.0)).tolist() == [True, False]


def test_seasons_follow_the_month_table() -> None:
    assert [season_of_month(m) for m in (1, 4, 6, 10, 11)] == ["winter", "spring", "summer", "autumn", "winter"]
    assert season_of_month(7, {"wet": [1, 2]}) == "unknown"
    times = np.array(["2023-01-15", "2023-04-15", "2023-08-01", "2023-11-30"], dtype="datetime64[ns]")
    assert months(times).tolist() == [1, 4, 8, 11]
    assert in_seasons(times, ["winter"]).tolist() == [True, False, False, True]
    assert in_seasons(times, ["summer", "spring"]).tolist() == [False, True, True, False]
