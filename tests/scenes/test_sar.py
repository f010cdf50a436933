"""Oh (2004) soil backscatter, water-cloud canopy, noise floor and speckle (SCIENCE 2.1–2.3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma

from lithomap.errors import ConfigError
from lithomap.scenes import sar

INCIDENCE = 39.0
SHAPE = (200, 200)


@pytest.mark.parametrize(
    ("mv", "s_cm", "vv_db", "vh_db"),
    [(0.10, 1.0, -12.3, -23.8), (0.05, 0.3, -20.2, -34.6), (0.20, 2.5, -7.0, -17.5), (0.29, 4.0, -5.4, -15.8),
     (0.05, 1.5, -12.7, -23.6)],
)  # fmt: skip
def test_oh2004_reproduces_the_science_2_1_table(mv, s_cm, vv_db, vh_db):
    vv, vh = sar.oh2004(mv, s_cm, INCIDENCE)
    assert sar.linear_to_db(vv) == pytest.approx(vv_db, abs=0.3)
    assert sar.linear_to_db(vh) == pytest.approx(vh_db, abs=0.3)


def test_oh2004_is_brighter_when_wetter_or_rougher_and_clips_to_validity():
    vv_dry, vh_dry = sar.oh2004(0.05, 1.0, INCIDENCE)
    vv_wet, vh_wet = sar.oh2004(0.25, 1.0, INCIDENCE)
    vv_rough, _ = sar.oh2004(0.05, 3.0, INCIDENCE)
    assert vv_wet > vv_dry and vh_wet > vh_dry and vv_rough > vv_dry
    np.testing.assert_allclose(sar.oh2004(0.001, 1.0, INCIDENCE), sar.oh2004(0.04, 1.0, INCIDENCE))
    np.testing.assert_allclose(sar.oh2004(0.1, 50.0, INCIDENCE), sar.oh2004(0.1, 7.0 / 1.1327, INCIDENCE), rtol=1e-3)


def test_water_cloud_limits():
    soil = 0.05
    assert sar.water_cloud(soil, 0.0, INCIDENCE, 0.45, 0.5) == pytest.approx(soil)
    dense = sar.water_cloud(soil, 50.0, INCIDENCE, 0.45, 0.5)
    assert dense == pytest.approx(0.45 * 50.0 * np.cos(np.radians(INCIDENCE)))


def test_canopies_land_in_the_science_2_2_bands():
    vv_soil, vh_soil = sar.oh2004(0.10, 1.3, INCIDENCE)
    vegetation = sar.vegetation_descriptor(0.65)
    vv = sar.linear_to_db(sar.water_cloud(vv_soil, vegetation, INCIDENCE, *sar.VV_WATER_CLOUD))
    vh = sar.linear_to_db(sar.water_cloud(vh_soil, vegetation, INCIDENCE, *sar.VH_WATER_CLOUD))
    assert -10.0 < vv < -6.0
    assert -16.0 < vh < -11.0
    assert -7.0 < vh - vv < -4.0


def test_noise_floor_adds_nesz_in_linear_units():
    assert sar.add_noise_floor(np.array(0.0), -24.0) == pytest.approx(10**-2.4)
    assert sar.add_noise_floor(np.array(0.01), -22.0) == pytest.approx(0.01 + 10**-2.2)


def test_speckle_has_the_requested_looks_and_db_bias():
    rng = np.random.default_rng(0)
    enl = 4.4
    intensity = sar.speckle(np.full((500, 500), 0.1), enl, rng)
    assert intensity.mean() == pytest.approx(0.1, rel=0.01)
    assert intensity.mean() ** 2 / intensity.var() == pytest.approx(enl, rel=0.15)
    bias = sar.linear_to_db(intensity).mean() - sar.linear_to_db(0.1)
    assert bias == pytest.approx(-0.51, abs=0.05)
    assert bias == pytest.approx(10 / np.log(10) * (digamma(enl) - np.log(enl)), abs=0.05)


def test_speckle_rejects_non_positive_looks():
    with pytest.raises(ConfigError, match="enl"):
        sar.speckle(np.ones(3), 0.0, np.random.default_rng(0))


def _scene(class_id: int, mv: float, s_cm: float, ndvi: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return sar.backscatter(
        np.full(SHAPE, class_id),
        np.full(SHAPE, mv),
        np.full(SHAPE, s_cm),
        np.full(SHAPE, ndvi),
        INCIDENCE,
        np.random.default_rng(seed),
    )


def test_backscatter_is_deterministic_linear_float32():
    vv, vh = _scene(2, 0.1, 1.0, 0.3)
    assert vv.dtype == np.float32 and vv.shape == SHAPE and np.all(vv > 0) and np.all(vh > 0)
    np.testing.assert_array_equal(vv, _scene(2, 0.1, 1.0, 0.3)[0])
    assert not np.array_equal(vv, _scene(2, 0.1, 1.0, 0.3, seed=1)[0])


def test_water_is_darker_than_rock_and_vh_sits_at_the_noise_floor():
    water_vv, water_vh = _scene(13, 0.29, 0.2, -0.3)
    rock_vv, rock_vh = _scene(8, 0.05, 3.0, 0.1)
    assert water_vv.mean() < rock_vv.mean() and water_vh.mean() < rock_vh.mean()
    assert -25.5 < sar.linear_to_db(water_vv.mean()) < -17.5
    assert -24.0 < sar.linear_to_db(water_vh.mean()) < -23.0


@pytest.mark.parametrize(
    ("class_id", "mv", "s_cm", "ndvi"), [(1, 0.04, 0.5, 0.15), (6, 0.2, 1.5, 0.4), (10, 0.06, 3.0, 0.7)]
)
def test_vv_exceeds_vh_on_average(class_id, mv, s_cm, ndvi):
    vv, vh = _scene(class_id, mv, s_cm, ndvi)
    assert vv.mean() > vh.mean()


def test_vegetation_raises_vh_over_smooth_bare_soil():
    _, bare = _scene(1, 0.06, 0.5, 0.15)
    _, vegetated = _scene(1, 0.06, 0.5, 0.7)
    assert sar.linear_to_db(vegetated.mean()) > sar.linear_to_db(bare.mean()) + 5.0


def test_steep_terrain_gives_finite_backscatter_and_radar_shadow_returns_the_noise_floor():
    shape = (2, 3)
    incidence = np.array([[39.0, 85.0, 89.9], [95.0, 120.0, 5.0]])
    vv, vh = sar.backscatter(
        np.ones(shape, dtype=np.uint8),
        np.full(shape, 0.2),
        np.full(shape, 1.0),
        np.full(shape, 0.7),  # dense canopy: the water-cloud term saw 1/cos(θ) blow up near 90°
        incidence,
        np.random.default_rng(0),
        enl=1e6,  # almost no speckle
    )
    assert np.isfinite(vv).all() and np.isfinite(vh).all()
    floor = sar.db_to_linear(sar.NESZ_DB)
    np.testing.assert_allclose(vv[1, :2], floor, rtol=0.01)
    assert (vv[0] > 2 * floor).all()
