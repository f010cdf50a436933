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


SAR_TIMES = np.array(["2023-06-01T18:00", "2023-06-02T12:00", "2023-06-03T06:00"], dtype="datetime64[ns]")
SAR_DB = ((-10.0, -20.0), (-12.0, -22.0), (-14.0, -24.0))  # (vv, vh) of each acquisition


def _with_sar(cube: xr.Dataset) -> xr.Dataset:
    """The cube with three acquisitions of distinct constant values (thermal dates: 12 h apart from 06-01 12:00)."""
    shape = (len(SAR_TIMES), cube.sizes["y"], cube.sizes["x"])
    vv = np.stack([np.full(shape[1:], value[0], np.float32) for value in SAR_DB])
    vh = np.stack([np.full(shape[1:], value[1], np.float32) for value in SAR_DB])
    return cube.assign(vv_dates=(("sar_time", "y", "x"), vv), vh_dates=(("sar_time", "y", "x"), vh)).assign_coords(
        sar_time=SAR_TIMES
    )


def _series_channels(cube: xr.Dataset) -> CubeChannels:
    chosen = np.arange(cube.sizes["time"])
    steps = np.concatenate([chosen, [-1]])  # six dates, then a padded step
    day = chosen % 2 == 0
    return CubeChannels(cube, chosen, day, steps, [], summaries=False, sar_series=True)


def test_sar_steps_carry_the_latest_acquisition_at_or_before_each_date():
    channels = _series_channels(_with_sar(_cube()))
    assert channels.step_names == ["lst_anomaly", "emissivity", "vv_step", "vh_step"]
    sequence, _ = channels.read(0, 0, (20, 20))
    assert sequence.shape == (7, 20, 20, 4)
    # thermal 06-01 12:00 precedes every acquisition: the earliest; 06-02 12:00 equals the second ("at")
    expected = [SAR_DB[k] for k in (0, 0, 1, 1, 2, 2)]
    for step, (vv, vh) in enumerate(expected):
        assert (sequence[step, ..., 2] == vv).all() and (sequence[step, ..., 3] == vh).all(), f"step {step}"
    assert np.isnan(sequence[6]).all(), "a padded step is NaN in every channel"
    plain = CubeChannels(channels.cube, channels.chosen, channels.day, channels.steps, [], summaries=False)
    plain_sequence, _ = plain.read(0, 0, (20, 20))
    assert plain.step_names == ["lst_anomaly", "emissivity"] and plain_sequence.shape[-1] == 2
    np.testing.assert_array_equal(sequence[..., :2], plain_sequence)


def test_a_pixel_without_a_valid_acquisition_keeps_its_latest_known_backscatter():
    cube = _with_sar(_cube())
    cube["vv_dates"][1, :5, :5] = np.nan  # the second acquisition misses a corner (another frame)
    cube["vh_dates"][0, 10:, 10:] = np.nan  # the first misses another: VV alone is not a valid acquisition
    sequence, _ = _series_channels(cube).read(0, 0, (20, 20))
    assert (sequence[2:4, :5, :5, 2] == SAR_DB[0][0]).all(), "the first acquisition, the latest valid one there"
    assert (sequence[2:4, 5:, 5:, 2] == SAR_DB[1][0]).all()
    assert (sequence[0:2, 10:, 10:, 2:] == SAR_DB[1]).all(), "none valid before: the earliest valid after"
    assert (sequence[0:2, :10, :10, 2:] == SAR_DB[0]).all()


def test_read_windows_of_a_sar_series_match_one_read():
    channels = _series_channels(_with_sar(_cube()))
    channels.cube["vv_dates"][2, 7:9, :] = np.nan
    whole, _ = channels.read(0, 0, (20, 20))
    windows, _ = channels.read_windows(np.array([[0, 0], [8, 4], [-2, 12]]), 8)
    np.testing.assert_array_equal(windows[1], whole[:, 8:16, 4:12])
    np.testing.assert_array_equal(windows[2, :, 2:, :8], whole[:, 0:6, 12:20])
    assert np.isnan(windows[2, :, :2]).all()


def test_dem_is_read_as_elevation_above_the_regions_median():
    """A region 900 m higher with the same relief gives the same ``dem`` channel; windows agree with the whole."""
    cube = _cube()
    ramp = 650.0 + 5.0 * np.arange(20, dtype=np.float32)[None, :] * np.ones((20, 1), np.float32)
    ramp[0, 0] = np.nan  # a DEM void
    low = cube.assign(dem=(("y", "x"), ramp))
    high = cube.assign(dem=(("y", "x"), ramp + 900.0))
    dates = np.arange(cube.sizes["time"])
    channels = [CubeChannels(c, dates, dates % 2 == 0, dates[:4], ["dem"]) for c in (low, high)]
    assert channels[0].static_names[-1] == "dem"
    (_, low_static), (_, high_static) = (c.read(0, 0, (20, 20)) for c in channels)
    np.testing.assert_array_equal(low_static[..., -1], high_static[..., -1])
    median = float(np.nanmedian(ramp))
    np.testing.assert_allclose(low_static[..., -1], ramp - median, equal_nan=True)
    _, window = channels[0].read(5, 10, (8, 8))  # the median is the region's, not the window's
    np.testing.assert_allclose(window[..., -1], (ramp - median)[5:13, 10:18])
