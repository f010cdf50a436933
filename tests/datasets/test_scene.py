"""Climate-invariant channels (``thermal_features: standardised``): a warmer copy of a scene reads the same."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from lithomap.datasets.scene import INVARIANT_SUMMARY, SUMMARY_CHANNELS, CubeChannels


def _cube(seed: int = 3, dates: int = 6, size: int = 20) -> xr.Dataset:
    """A small seeded cube: two materials with different diurnal ranges, day and night dates, some gaps."""
    rng = np.random.default_rng(seed)
    material = (np.arange(size)[None, :] >= size // 2) * np.ones((size, 1))
    day = np.arange(dates) % 2 == 0
    swing = np.where(material, 14.0, 6.0)  # sand-like right half heats more by day
    lst = np.stack([290 + (1 if d else -1) * swing / 2 + rng.normal(0, 0.5, (size, size)) for d in day]).astype(
        np.float32
    )
    lst[1, :3, :3] = np.nan
    emissivity = (0.95 - 0.03 * material + rng.normal(0, 0.002, (dates, size, size))).astype(np.float32)
    times = np.datetime64("2023-06-01T12:00") + np.arange(dates) * np.timedelta64(12, "h")
    return xr.Dataset(
        {
            "lst": (("time", "y", "x"), lst),
            "emissivity": (("time", "y", "x"), emissivity),
            "solar_time": (("time",), np.where(day, 13.0, 1.0)),
        },
        coords={"time": times, "y": np.arange(size), "x": np.arange(size)},
    )


def _channels(cube: xr.Dataset, features: str) -> CubeChannels:
    dates = cube.sizes["time"]
    day = np.arange(dates) % 2 == 0
    chosen = np.arange(dates)
    return CubeChannels(cube, chosen, day, chosen[:4], [], summaries=True, thermal_features=features)


def _warmed(cube: xr.Dataset, offset_k: float, gain: float) -> xr.Dataset:
    return cube.assign(lst=cube["lst"] * gain + offset_k, emissivity=cube["emissivity"] + 0.01)


@pytest.mark.parametrize(("offset_k", "gain"), [(5.0, 1.0), (-6.5, 1.0), (5.0, 1.3)])
def test_standardised_channels_ignore_a_warmer_scene(offset_k, gain):
    cube = _cube()
    sequence, static = _channels(cube, "standardised").read(0, 0, (20, 20))
    warm_sequence, warm_static = _channels(_warmed(cube, offset_k, gain), "standardised").read(0, 0, (20, 20))
    np.testing.assert_allclose(warm_sequence, sequence, atol=2e-4, equal_nan=True)
    np.testing.assert_allclose(warm_static, static, atol=2e-4, equal_nan=True)
    assert np.isnan(sequence[1, :3, :3, 0]).all() and np.isfinite(sequence[1, 5:, 5:, 0]).all()


def test_raw_anomalies_follow_the_gain_so_the_invariance_test_can_fail():
    cube = _cube()
    _, static = _channels(cube, "anomaly").read(0, 0, (20, 20))
    _, warm_static = _channels(_warmed(cube, 5.0, 1.3), "anomaly").read(0, 0, (20, 20))
    assert not np.allclose(warm_static, static, atol=1e-2, equal_nan=True)


def test_relative_diurnal_range_separates_the_materials_around_one():
    channels = _channels(_cube(), "standardised")
    assert channels.static_names == [*SUMMARY_CHANNELS, INVARIANT_SUMMARY]
    _, static = channels.read(0, 0, (20, 20))
    relative = static[..., -1]
    assert relative.shape == (20, 20)
    assert np.nanmean(relative[:, 10:]) > 1.2 > 0.8 > np.nanmean(relative[:, :10])
    assert _channels(_cube(), "anomaly").static_names == list(SUMMARY_CHANNELS)
