"""The fractal DEM follows the lithology; slopes change sunshine and radar incidence."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.classes import class_id_of
from lithomap.scenes import thermal
from lithomap.scenes.terrain import Terrain, draw_terrain, illumination_components, sar_local_incidence, scene_relief


def plane(east: float, north: float, shape=(4, 4)) -> Terrain:
    return Terrain(
        elevation_m=np.zeros(shape, dtype=np.float32),
        anomaly_m=np.zeros(shape),
        gradient_east=np.full(shape, east),
        gradient_north=np.full(shape, north),
    )


def test_resistant_units_stand_higher_than_soft_ones_and_relief_is_as_configured():
    class_map = np.full((200, 200), class_id_of("clay"), dtype=np.uint8)
    class_map[:, 100:] = class_id_of("non_foliated")
    terrain = draw_terrain(class_map, 30.0, 700.0, 500.0, np.random.default_rng(0))
    assert np.ptp(terrain.elevation_m) == pytest.approx(500.0, rel=1e-3)
    assert terrain.elevation_m.mean() == pytest.approx(700.0, abs=0.01)
    assert terrain.elevation_m[:, 130:].mean() > terrain.elevation_m[:, :70].mean() + 50


def test_a_south_facing_slope_gets_more_midday_sun_and_a_north_facing_one_less():
    hours = np.array([12.0])
    sun = thermal.sun_vector(38.7, 15, hours)
    shortwave = np.array([600.0])
    extra = []
    for north in (0.3, -0.3):  # ground rising to the north faces south
        series, weights = illumination_components(plane(0.0, north), shortwave, sun)
        extra.append(sum(w[0, 0] * s[0] for w, s in zip(weights, series, strict=True)))
    assert extra[0] > 50 > -50 > extra[1]


def test_a_slope_facing_the_radar_sees_a_smaller_local_incidence():
    incidence = np.full((4, 4), 39.0)
    facing_west = sar_local_incidence(plane(0.2, 0.0), incidence)  # the ascending radar sits to the west
    facing_east = sar_local_incidence(plane(-0.2, 0.0), incidence)
    assert facing_west.mean() < 39.0 - 5 and facing_east.mean() > 39.0 + 5
    np.testing.assert_allclose(sar_local_incidence(plane(0.0, 0.0), incidence), 39.0)


def test_a_smaller_scene_of_the_same_landscape_spans_less_relief_not_steeper_slopes():
    assert scene_relief(400.0, 25000.0) == pytest.approx(400.0)
    small, large = scene_relief(400.0, 9000.0), scene_relief(400.0, 27000.0)
    assert small < 0.5 * large
    # the mean gradient (relief / side) still grows as the window shrinks, but only as side^(H-1)
    assert small / 9000.0 == pytest.approx(large / 27000.0 * 3.0**0.2, rel=1e-6)
