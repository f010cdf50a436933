"""Rain events wet the topsoil, which then dries; air-temperature anomalies are smooth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lithomap.scenes.weather import RainSeries, air_temperature_anomaly, draw_rain


def test_an_event_wets_the_soil_which_then_dries_exponentially():
    rain = RainSeries(2023, np.array([10.0]), np.array([0.08]), drying_days=4.0)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    assert rain.wetness(start + timedelta(days=9.9)) == 0.0
    assert rain.wetness(start + timedelta(days=10.0)) == pytest.approx(0.08)
    assert rain.wetness(start + timedelta(days=14.0)) == pytest.approx(0.08 / np.e)


def test_rain_falls_more_often_in_winter_at_the_configured_rate():
    rain = draw_rain(2023, 40.0, 0.05, 3.0, np.random.default_rng(0))
    per_year = rain.days.size / 3
    assert per_year == pytest.approx(40, rel=0.25)
    day_of_year = rain.days % 365
    winter = (day_of_year < 60) | (day_of_year > 330)
    summer = (day_of_year > 150) & (day_of_year < 240)
    assert winter.sum() > 3 * summer.sum()
    assert rain.wetting.mean() == pytest.approx(0.05, rel=0.3)


def test_air_temperature_anomaly_has_the_configured_point_std_and_is_not_squeezed_into_a_small_scene():
    rng = np.random.default_rng(1)
    fields = np.stack([air_temperature_anomaly((40, 40), 300.0, 1.5, rng) for _ in range(200)])
    assert fields.std() == pytest.approx(1.5, rel=0.1)  # across dates and pixels
    # 12 km of a 10 km pattern: mostly a per-date offset, a gentle gradient inside the scene
    assert fields.mean(axis=(1, 2)).std() > 1.0
    assert fields.std(axis=(1, 2)).mean() < 0.8
