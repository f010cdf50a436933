"""Per-class properties, per-pixel draws and the moisture dependence of P and β."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.classes import WATER
from lithomap.errors import ConfigError
from lithomap.scenes import soil
from lithomap.scenes.fields import gaussian_random_field

RANGE_NAMES = ("p_dry", "p_wet", "albedo", "emissivity", "theta_summer", "theta_winter", "beta_summer", "roughness_cm")


def _fields(shape: tuple[int, ...], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: gaussian_random_field(shape, 4.0, rng) for name in soil.FIELD_NAMES}


def _uniform_params(class_id: int, shape: tuple[int, ...] = (3,), z: float = 0.0) -> soil.PixelParameters:
    class_map = np.full(shape, class_id)
    return soil.draw_pixel_parameters(class_map, {name: np.full(shape, z) for name in soil.FIELD_NAMES})


def test_every_class_has_ordered_ranges_within_physical_bounds():
    assert sorted(soil.CLASS_PROPERTIES) == list(range(1, 14))
    for props in soil.CLASS_PROPERTIES.values():
        for name in RANGE_NAMES:
            lo, hi = getattr(props, name)
            assert lo <= hi
        assert props.albedo[0] > 0 and props.albedo[1] < 1
        assert props.emissivity[0] > 0.8 and props.emissivity[1] <= 1
        assert props.theta_winter[1] <= props.porosity
        assert props.theta_summer[1] <= props.theta_winter[1]


def test_the_table_orders_classes_as_the_physics_needs():
    """SCIENCE.md 1.4: dry rock keeps more heat than any dry soil, water most of all; sand is the least emissive soil,
    clay holds more water than sand, and only the rock classes are marked rock."""
    props = soil.CLASS_PROPERTIES
    soils, rocks = (1, 2, 3, 4, 5, 6), range(7, 13)
    assert min(props[i].p_dry[0] for i in rocks) > max(props[i].p_dry[1] for i in soils)
    assert props[WATER].p_dry[0] > 10 * max(props[i].p_wet[1] for i in (*soils, *rocks))
    assert props[1].emissivity[1] < min(props[i].emissivity[0] for i in (2, 3, 4, 5, 6))
    assert props[2].theta_summer[0] > props[1].theta_summer[1] and props[2].theta_fc > props[1].theta_fc
    assert [i for i in props if props[i].rock] == list(rocks)


def test_draws_stay_in_class_ranges_and_are_float32():
    class_map = np.random.default_rng(1).integers(0, 14, size=(40, 50))
    params = soil.draw_pixel_parameters(class_map, _fields(class_map.shape))
    for name in ("p_dry", "p_wet", "albedo", "emissivity", "theta_summer", "theta_winter", "roughness_cm"):
        values = getattr(params, name)
        assert values.dtype == np.float32 and values.shape == class_map.shape
        assert np.all(np.isfinite(values))
        bounds = soil.class_table(name)[class_map]
        assert np.all(values >= bounds[..., 0] - 1e-3) and np.all(values <= bounds[..., 1] + 1e-3)


def test_zero_field_gives_the_class_mean_and_background_is_loam_like():
    params = _uniform_params(2)
    np.testing.assert_allclose(params.p_dry, 700.0)
    np.testing.assert_allclose(params.albedo, 0.20, atol=1e-6)
    background = _uniform_params(0)
    loam = _uniform_params(6)
    np.testing.assert_allclose(background.p_wet, loam.p_wet)
    np.testing.assert_allclose(background.theta_fc, loam.theta_fc)


def test_a_wet_pixel_stays_wet_all_year():
    class_map = np.full((30, 30), 2)
    params = soil.draw_pixel_parameters(class_map, _fields(class_map.shape, seed=3))
    order_summer = np.argsort(params.theta_summer.ravel(), kind="stable")
    assert np.all(np.diff(params.theta_winter.ravel()[order_summer]) >= -1e-7)


def test_unknown_class_or_bad_field_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown class"):
        soil.draw_pixel_parameters(np.array([[1, 14]]), _fields((1, 2)))
    fields = _fields((1, 2))
    del fields["theta"]
    with pytest.raises(ConfigError, match="theta"):
        soil.draw_pixel_parameters(np.array([[1, 2]]), fields)
    with pytest.raises(ConfigError, match="shape"):
        soil.draw_pixel_parameters(np.array([[1, 2]]), _fields((1, 3)))


def test_moisture_is_driest_at_doy_200_and_wettest_half_a_year_later():
    params = _uniform_params(2)
    days = np.arange(1, 366)
    theta = np.stack([soil.moisture(params, d)[0] for d in days])
    assert abs(days[np.argmin(theta)] - 200) <= 1
    np.testing.assert_allclose(theta.min(), params.theta_summer[0], atol=1e-4)
    np.testing.assert_allclose(theta.max(), params.theta_winter[0], atol=1e-4)


def test_wetness_adds_moisture_and_the_result_stays_physical():
    params = _uniform_params(1)
    dry = soil.moisture(params, 200)
    assert np.all(soil.moisture(params, 200, wetness=0.05) > dry)
    assert np.all(soil.moisture(params, 200, wetness=5.0) == params.porosity)
    assert np.all(soil.moisture(params, 200, wetness=-5.0) == soil.MIN_MOISTURE)


def test_thermal_inertia_rises_with_moisture_from_dry_to_wet():
    params = _uniform_params(2)
    theta = np.linspace(0.01, 0.5, 50)[:, None] * np.ones(3)
    inertia = soil.thermal_inertia(params, theta)
    assert np.all(np.diff(inertia[:, 0]) >= 0)
    np.testing.assert_allclose(inertia[0], params.p_dry, rtol=1e-5)
    np.testing.assert_allclose(inertia[-1], params.p_wet, rtol=1e-5)


def test_rocks_barely_depend_on_moisture_and_water_is_constant():
    for class_id in range(7, 13):
        params = _uniform_params(class_id)
        dry = soil.thermal_inertia(params, np.full(3, 0.01))
        wet = soil.thermal_inertia(params, params.porosity)
        span = params.p_wet - params.p_dry
        assert np.all(wet - dry <= soil.ROCK_MOISTURE_WEIGHT * span + 1e-3)
    water = _uniform_params(13)
    np.testing.assert_allclose(soil.thermal_inertia(water, np.full(3, 0.3)), soil.WATER_INERTIA)


@pytest.mark.parametrize(
    ("porosity", "quartz", "coarse", "theta", "expected"),
    [
        (0.40, 0.90, True, 0.10, 1595),
        (0.40, 0.90, True, 0.40, 2705),
        (0.45, 0.40, False, 0.20, 1445),
        (0.48, 0.25, False, 0.30, 1585),
        (0.50, 0.15, False, 0.25, 1466),
        (0.50, 0.15, False, 0.50, 2104),
    ],
)
def test_mechanistic_inertia_reproduces_the_science_1_3_table(porosity, quartz, coarse, theta, expected):
    assert soil.mechanistic_inertia(theta, porosity, quartz, coarse) == pytest.approx(expected, rel=0.01)


def test_lee_pielke_efficiency():
    theta_fc = 0.3
    assert soil.evaporation_efficiency(0.0, theta_fc) == pytest.approx(0.0)
    assert soil.evaporation_efficiency(0.15, theta_fc) == pytest.approx(0.25)
    assert soil.evaporation_efficiency(0.3, theta_fc) == pytest.approx(1.0)
    assert soil.evaporation_efficiency(0.4, theta_fc) == pytest.approx(1.0)
    beta = soil.evaporation_efficiency(np.linspace(0, 0.4, 41), theta_fc)
    assert np.all(np.diff(beta) >= 0)


def test_pixel_efficiency_caps_rocks_and_saturates_water():
    for class_id in range(7, 13):
        params = _uniform_params(class_id)
        assert np.all(soil.pixel_evaporation_efficiency(params, params.porosity) <= 0.05 + 1e-7)
    water = _uniform_params(13)
    np.testing.assert_allclose(soil.pixel_evaporation_efficiency(water, soil.moisture(water, 200)), 1.0)


def test_summer_efficiency_of_the_class_means_matches_the_table():
    for class_id, props in soil.CLASS_PROPERTIES.items():
        params = _uniform_params(class_id)
        beta = soil.pixel_evaporation_efficiency(params, soil.moisture(params, 200))
        lo, hi = props.beta_summer
        assert lo - 1e-6 <= beta[0] <= hi + 1e-6, class_id
