"""Cover priors, seasonal NDVI, reflectances and canopy evaporation (SCIENCE 1.3 and 2.4)."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.errors import ConfigError
from lithomap.scenes import vegetation as veg
from lithomap.scenes.fields import gaussian_random_field

DAYS = np.arange(1, 366)
SEASON_DAYS = {0: (1, 59), 1: (60, 151), 2: (152, 243), 3: (244, 334)}


def _season_curve(name: str, noise: float = 0.0) -> np.ndarray:
    cover = np.full(DAYS.shape, veg.cover_index(name))
    return veg.ndvi(cover, DAYS, np.full(DAYS.shape, noise))


def test_cover_tables_are_consistent():
    assert set(veg.COVER_NAMES) == set(veg.NDVI_RANGES)
    assert set(veg.DEFAULT_COVER) == set(range(14))
    for site in [*veg.SITE_COVER, "elsewhere"]:
        for class_id in range(14):
            prior = veg.cover_prior(site, class_id)
            assert sum(p for _, p in prior) == pytest.approx(1.0)
            assert all(name in veg.COVER_NAMES for name, _ in prior)
    assert veg.cover_prior("santa_olalla", 10)[0][0] == "dehesa"
    with pytest.raises(ConfigError, match="land cover"):
        veg.cover_index("rice")


@pytest.mark.parametrize("name", veg.COVER_NAMES)
def test_ndvi_at_mid_season_spans_the_season_range(name):
    for season, mid in enumerate(veg.SEASON_MID_DOY):
        lo, hi = veg.NDVI_RANGES[name][season]
        noise = np.linspace(-5, 5, 101)
        values = veg.ndvi(np.full(noise.shape, veg.cover_index(name)), mid, noise)
        assert values.min() == pytest.approx(lo, abs=1e-6) and values.max() == pytest.approx(hi, abs=1e-6)
        assert values[50] == pytest.approx((lo + hi) / 2, abs=1e-6)


@pytest.mark.parametrize("name", veg.COVER_NAMES)
def test_ndvi_stays_in_the_envelope_of_neighbouring_seasons_without_jumps(name):
    for noise in (-3.0, 0.0, 3.0):
        curve = _season_curve(name, noise)
        for season, (first, last) in SEASON_DAYS.items():
            neighbours = [veg.NDVI_RANGES[name][(season + k) % 4] for k in (-1, 0, 1)]
            in_season = curve[first - 1 : last]
            assert in_season.min() >= min(r[0] for r in neighbours) - 1e-6
            assert in_season.max() <= max(r[1] for r in neighbours) + 1e-6
        assert np.abs(np.diff(np.append(curve, curve[0]))).max() < 0.02


def test_cereal_peaks_in_spring_and_is_stubble_in_summer():
    curve = _season_curve("cereal")
    assert 60 <= DAYS[np.argmax(curve)] <= 151
    assert curve[181:243].max() < 0.3
    assert curve.max() > 0.6


def test_deciduous_forest_peaks_in_summer():
    curve = _season_curve("deciduous_forest")
    assert 152 <= DAYS[np.argmax(curve)] <= 243
    assert np.append(curve[:31], curve[334:]).max() < 0.5


def test_cover_fraction_follows_carlson_and_ripley():
    fraction = veg.cover_fraction(np.array([-0.5, 0.15, 0.5, 0.85, 0.95]))
    np.testing.assert_allclose(fraction, [0.0, 0.0, 0.25, 1.0, 1.0])


def test_reflectances_reproduce_ndvi():
    rng = np.random.default_rng(0)
    index = rng.uniform(-0.5, 0.95, 2000)
    brightness = rng.uniform(0.05, 0.45, 2000)
    red, nir = veg.reflectances(index, brightness)
    recomputed = (nir.astype(np.float64) - red) / (nir.astype(np.float64) + red)
    np.testing.assert_allclose(recomputed, index, atol=1e-3)
    assert red.min() > 0 and nir.min() >= 0 and max(red.max(), nir.max()) <= 0.6 + 1e-6


def test_water_is_dark_with_nir_below_red_and_bright_soil_is_bright():
    red, nir = veg.reflectances(np.array([-0.3, -0.1]), np.array([0.05, 0.08]))
    assert np.all((red >= 0.03) & (red <= 0.08)) and np.all(nir < red)
    red_soil, _ = veg.reflectances(np.array([0.15, 0.15]), np.array([0.10, 0.40]))
    assert red_soil[1] > 2 * red_soil[0]
    red_canopy, nir_canopy = veg.reflectances(np.array([0.85]), np.array([0.30]))
    assert red_canopy[0] < 0.06 and nir_canopy[0] > 0.3


def _patches(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    class_map = np.where(gaussian_random_field((120, 120), 15.0, rng) > 0, 2, 10)
    patch_field = gaussian_random_field((120, 120), 6.0, rng)
    return class_map, patch_field


def test_draw_cover_is_deterministic_per_seed():
    class_map, field = _patches(0)
    first = veg.draw_cover(class_map, "puertollano", np.random.default_rng(5), field)
    again = veg.draw_cover(class_map, "puertollano", np.random.default_rng(5), field)
    other = veg.draw_cover(class_map, "puertollano", np.random.default_rng(6), field)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_draw_cover_is_patchy_and_follows_the_priors():
    class_map, field = _patches(1)
    cover = veg.draw_cover(class_map, "puertollano", np.random.default_rng(0), field)
    same = np.mean(cover[1:, :] == cover[:-1, :])
    shuffled = np.random.default_rng(0).permutation(cover.ravel()).reshape(cover.shape)
    assert same > 0.85 and same > np.mean(shuffled[1:, :] == shuffled[:-1, :]) + 0.3
    allowed = {2: {n for n, _ in veg.cover_prior("puertollano", 2)}, 10: {n for n, _ in veg.cover_prior("x", 10)}}
    for class_id, names in allowed.items():
        drawn = {veg.COVER_NAMES[i] for i in np.unique(cover[class_map == class_id])}
        assert drawn <= names


def test_draw_cover_proportions_match_the_prior_with_a_uniform_field():
    rng = np.random.default_rng(0)
    class_map = np.full((200, 200), 10)
    cover = veg.draw_cover(class_map, "santa_olalla", rng, rng.uniform(size=class_map.shape))
    for name, probability in veg.cover_prior("santa_olalla", 10):
        assert np.mean(cover == veg.cover_index(name)) == pytest.approx(probability, abs=0.02)


def test_water_class_is_water_cover_and_bad_input_is_rejected():
    rng = np.random.default_rng(0)
    cover = veg.draw_cover(np.full((5, 5), 13), "villoslada", rng, rng.standard_normal((5, 5)))
    assert np.all(cover == veg.cover_index("water"))
    with pytest.raises(ConfigError, match="unknown class"):
        veg.draw_cover(np.full((2, 2), 20), "villoslada", rng, np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="shape"):
        veg.draw_cover(np.full((2, 2), 1), "villoslada", rng, np.zeros((3, 2)))


def test_canopy_beta_is_high_in_spring_and_stressed_in_summer():
    beta = veg.canopy_beta(DAYS)
    assert np.all((beta[59:151] >= 0.3) & (beta[59:151] <= 0.8))
    assert np.all((beta[181:227] >= 0.1) & (beta[181:227] <= 0.3))
