"""Physics invariants and a Puertollano sanity run of the harmonic LST model (SCIENCE 1.1–1.6)."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.scenes import soil, thermal

KELVIN = 273.15
PUERTOLLANO = thermal.Site(
    lat_deg=38.7,
    lon_deg=-4.1,
    mean_air_temperature_c=16.5,
    annual_air_amplitude_k=9.5,
    daily_air_amplitude_summer_k=8.0,
    daily_air_amplitude_winter_k=5.5,
)
SUMMER_DOY, WINTER_DOY = 196, 15
SAND = {"albedo": 0.33, "emissivity": 0.91, "beta": 0.03, "inertia": 900.0}
CLAY = {"albedo": 0.20, "emissivity": 0.96, "beta": 0.25, "inertia": 1400.0}
INERTIAS = np.array([0.0, 300.0, 600.0, 1000.0, 1500.0, 2500.0, 4000.0])


@pytest.fixture(scope="module")
def summer() -> thermal.DailyForcing:
    return thermal.daily_forcing(PUERTOLLANO, SUMMER_DOY)


@pytest.fixture(scope="module")
def winter() -> thermal.DailyForcing:
    return thermal.daily_forcing(PUERTOLLANO, WINTER_DOY)


def _brute_force(forcing: thermal.DailyForcing, albedo, emissivity, beta, inertia) -> np.ndarray:
    """One pixel: build F(t) = Q(t) + h·T_a(t), rfft it, divide by Z_n, irfft (SCIENCE 1.2 recipe)."""
    mean_air = forcing.air_temperature.mean()
    h = 4 * emissivity * thermal.SIGMA * mean_air**3 + thermal.SENSIBLE_HEAT_COEFFICIENT * (
        1 + beta * forcing.delta / thermal.PSYCHROMETRIC
    )
    q = (
        (1 - albedo) * forcing.shortwave
        + emissivity * forcing.longwave
        - emissivity * thermal.SIGMA * forcing.air_temperature**4
        - beta * thermal.SENSIBLE_HEAT_COEFFICIENT * forcing.vpd / thermal.PSYCHROMETRIC
    )
    spectrum = np.fft.rfft(q + h * forcing.air_temperature)
    n = np.arange(spectrum.size)
    impedance = h + inertia * np.sqrt(n * 2 * np.pi / 86400 / 2) * (1 + 1j)
    return np.fft.irfft(spectrum / impedance, n=forcing.hours.size)


def test_forcing_is_plausible_for_central_spain_in_summer(summer, winter):
    assert summer.hours.shape == (thermal.N_SAMPLES,)
    assert 850 < summer.shortwave.max() < 1000
    assert winter.shortwave.max() < 0.6 * summer.shortwave.max()
    assert np.all(summer.shortwave[(summer.hours < 4) | (summer.hours > 20)] == 0)
    assert summer.air_temperature.mean() - KELVIN == pytest.approx(26.0, abs=0.2)
    assert np.ptp(summer.air_temperature) == pytest.approx(16.0, abs=0.1)
    assert summer.hours[np.argmax(summer.air_temperature)] == pytest.approx(15.0)
    assert 280 < summer.longwave.mean() < 420
    assert np.all(summer.vpd >= 0) and summer.vpd.max() > winter.vpd.max()


def test_clouds_dim_the_sun_and_brighten_the_sky():
    clear = thermal.daily_forcing(PUERTOLLANO, SUMMER_DOY)
    cloudy = thermal.daily_forcing(PUERTOLLANO, SUMMER_DOY, cloudiness=0.8)
    assert cloudy.shortwave.max() < 0.8 * clear.shortwave.max()
    assert np.all(cloudy.longwave > clear.longwave)
    assert np.ptp(cloudy.air_temperature) < np.ptp(clear.air_temperature)


def test_air_lag_delays_and_damps_the_seasonal_cycle():
    days = np.arange(1, 366)
    plain = [thermal.seasonal_air_temperature(PUERTOLLANO, d) for d in days]
    lagged = [thermal.seasonal_air_temperature(PUERTOLLANO, d, lag_days=30) for d in days]
    delay = days[np.argmax(lagged)] - days[np.argmax(plain)]
    assert 20 <= delay <= 35
    assert np.ptp(lagged) < np.ptp(plain)


def test_range_decreases_and_maximum_comes_later_as_inertia_grows(summer):
    hours = np.arange(10.0, 18.0, 1 / 60)[:, None]
    temps = thermal.surface_temperature(summer, 0.25, 0.95, 0.05, INERTIAS[None, :], hours, n_harmonics=47)
    cycle = thermal.diurnal_cycle(summer, 0.25, 0.95, 0.05, INERTIAS)
    assert np.all(np.diff(np.ptp(cycle, axis=0)) < 0)
    assert np.all(np.diff(hours[np.argmax(temps, axis=0), 0]) > 0)


def test_daily_mean_does_not_depend_on_inertia(summer):
    cycle = thermal.diurnal_cycle(summer, 0.25, 0.95, 0.05, INERTIAS)
    np.testing.assert_allclose(cycle.mean(axis=0), cycle.mean(), atol=1e-9)


def test_infinite_inertia_leaves_only_the_mean_balance(summer):
    albedo, emissivity, beta = 0.25, 0.95, 0.05
    cycle = thermal.diurnal_cycle(summer, albedo, emissivity, beta, 1e12)
    h = thermal.heat_transfer_coefficient(summer, emissivity, beta)
    q = (
        (1 - albedo) * summer.shortwave
        + emissivity * (summer.longwave - thermal.SIGMA * summer.air_temperature**4)
        - beta * thermal.SENSIBLE_HEAT_COEFFICIENT * summer.vpd / thermal.PSYCHROMETRIC
    )
    assert np.ptp(cycle) < 1e-3
    assert cycle.mean() == pytest.approx(summer.air_temperature.mean() + q.mean() / h, abs=1e-9)


def test_no_sun_and_constant_air_give_a_constant_surface():
    hours = np.arange(thermal.N_SAMPLES) * 24 / thermal.N_SAMPLES
    flat = thermal.DailyForcing(
        hours=hours,
        shortwave=np.zeros_like(hours),
        longwave=np.full_like(hours, 300.0),
        air_temperature=np.full_like(hours, 285.0),
        vpd=np.full_like(hours, 0.5),
        delta=0.1,
    )
    cycle = thermal.diurnal_cycle(flat, 0.2, 0.95, 0.3, INERTIAS)
    assert np.ptp(cycle, axis=0).max() < 1e-9
    instant = thermal.surface_temperature(flat, 0.2, 0.95, 0.3, INERTIAS, np.array([[3.0], [14.0]]))
    np.testing.assert_allclose(instant, cycle[:2], atol=1e-9)


@pytest.mark.parametrize(
    ("albedo", "emissivity", "beta", "inertia"),
    [(0.33, 0.91, 0.03, 900.0), (0.20, 0.96, 0.25, 1400.0), (0.07, 0.96, 0.05, 2500.0), (0.18, 0.985, 0.7, 0.0),
     (0.065, 0.988, 1.0, 5e4)],
)  # fmt: skip
def test_harmonic_sum_matches_a_brute_force_fft(summer, albedo, emissivity, beta, inertia):
    expected = _brute_force(summer, albedo, emissivity, beta, inertia)
    np.testing.assert_allclose(thermal.diurnal_cycle(summer, albedo, emissivity, beta, inertia), expected, atol=1e-9)
    truncated = thermal.surface_temperature(summer, albedo, emissivity, beta, inertia, summer.hours)
    assert np.abs(truncated - expected).max() < 0.05


def test_per_pixel_hours_match_scalar_hours(summer):
    rng = np.random.default_rng(0)
    albedo, inertia = rng.uniform(0.1, 0.4, (20, 30)), rng.uniform(300, 3000, (20, 30))
    hours = rng.uniform(0, 24, (20, 30))
    together = thermal.surface_temperature(summer, albedo, 0.95, 0.1, inertia, hours)
    one_by_one = [
        thermal.surface_temperature(summer, a, 0.95, 0.1, p, t)
        for a, p, t in zip(albedo.ravel()[:25], inertia.ravel()[:25], hours.ravel()[:25], strict=True)
    ]
    np.testing.assert_allclose(together.ravel()[:25], one_by_one, atol=1e-9)


def test_a_scene_of_pixel_arrays_gives_finite_physical_temperatures(summer):
    """Whole arrays in one call (speed is measured by benchmarks/bench_generate.py, not asserted here)."""
    rng = np.random.default_rng(0)
    shape = (64, 64)
    temps = thermal.surface_temperature(
        summer,
        rng.uniform(0.1, 0.4, shape),
        rng.uniform(0.9, 0.98, shape),
        rng.uniform(0.0, 0.5, shape),
        rng.uniform(300, 3000, shape),
        13.5,
    )
    assert temps.shape == shape and np.all(np.isfinite(temps))
    assert temps.min() > 280.0 and temps.max() < 350.0  # a summer early afternoon in central Spain


def test_sand_has_a_larger_summer_range_than_moist_clay(summer):
    sand = thermal.diurnal_cycle(summer, **SAND)
    clay = thermal.diurnal_cycle(summer, **CLAY)
    assert np.ptp(sand) > np.ptp(clay) + 3.0
    sand_day = thermal.surface_temperature(summer, solar_hour=13.5, **SAND) - KELVIN
    assert 40.0 < sand_day < 55.0
    sand_night = thermal.surface_temperature(summer, solar_hour=1.5, **SAND) - KELVIN
    assert 12.0 < sand_night < 24.0
    evening = summer.hours == 18.0, summer.hours == 23.75
    assert sand[evening[0]] - sand[evening[1]] > clay[evening[0]] - clay[evening[1]]


def test_water_has_a_small_diurnal_range(summer):
    water = thermal.diurnal_cycle(summer, 0.065, 0.988, 1.0, soil.WATER_INERTIA)
    assert 0.5 < np.ptp(water) < 3.5


def _class_temperatures(forcing: thermal.DailyForcing, doy: int, hour: float) -> np.ndarray:
    class_map = np.array([1, 2, 3, 5, 8, 9, 10, 12])
    params = soil.draw_pixel_parameters(class_map, {name: np.zeros(8) for name in soil.FIELD_NAMES})
    theta = soil.moisture(params, doy)
    beta = soil.pixel_evaporation_efficiency(params, theta)
    inertia = soil.thermal_inertia(params, theta)
    return thermal.surface_temperature(forcing, params.albedo, params.emissivity, beta, inertia, hour)


def test_class_contrast_is_largest_on_summer_afternoons(summer, winter):
    summer_day = np.ptp(_class_temperatures(summer, SUMMER_DOY, 13.5))
    winter_night = np.ptp(_class_temperatures(winter, WINTER_DOY, 1.5))
    summer_night = np.ptp(_class_temperatures(summer, SUMMER_DOY, 1.5))
    winter_day = np.ptp(_class_temperatures(winter, WINTER_DOY, 13.5))
    assert summer_day > 3 * winter_night
    assert summer_day > max(summer_night, winter_day)
    assert 8.0 < summer_day < 30.0


def test_canopy_is_the_zero_inertia_solution_and_cooler_than_bare_sand(summer):
    canopy = thermal.canopy_temperature(summer, 13.5, beta_v=0.7)
    same = thermal.surface_temperature(summer, 0.18, 0.985, 0.7, 0.0, 13.5)
    assert canopy == pytest.approx(same)
    assert canopy < thermal.surface_temperature(summer, solar_hour=13.5, **SAND)


def test_sunshine_is_extra_shortwave_in_the_same_balance(summer):
    """A pixel weighted w on the extra series S gets what flat ground gets under (1 + w)·shortwave."""
    from dataclasses import replace

    weights = np.array([-0.3, 0.0, 0.25])
    hours = np.array([6.0, 13.5, 22.0])[:, None]
    sunny = thermal.surface_temperature(summer, solar_hour=hours, sunshine=([summer.shortwave], [weights]), **SAND)
    for i, w in enumerate(weights):
        brighter = replace(summer, shortwave=summer.shortwave * (1.0 + w))
        np.testing.assert_allclose(
            sunny[:, i], thermal.surface_temperature(brighter, solar_hour=hours[:, 0], **SAND), atol=1e-9
        )
    assert sunny[1, 2] > sunny[1, 1] + 1.0 > sunny[1, 0] + 2.0  # a sunlit slope is warmer at midday
    canopy = thermal.canopy_temperature(summer, 13.5, beta_v=0.7, sunshine=([summer.shortwave], [weights]))
    assert canopy[2] > canopy[1] > canopy[0]


def test_mixing_weights_radiance_by_emissivity():
    t_soil, t_canopy = np.array([320.0, 320.0, 320.0]), np.array([300.0, 300.0, 300.0])
    t_pix, emissivity = thermal.mix_temperatures(t_soil, t_canopy, np.array([0.0, 0.5, 1.0]), 0.92)
    np.testing.assert_allclose(t_pix[[0, 2]], [320.0, 300.0])
    np.testing.assert_allclose(emissivity, [0.92, 0.5 * 0.92 + 0.5 * 0.985, 0.985])
    assert 300.0 < t_pix[1] < 320.0
    radiance = 0.5 * 0.92 * 320.0**4 + 0.5 * 0.985 * 300.0**4
    assert emissivity[1] * t_pix[1] ** 4 == pytest.approx(radiance)
