"""Normalisation statistics: computing, applying, saving and loading."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.errors import ConfigError, InputDataError
from lithomap.models.normalisation import ChannelStats, load_stats, save_stats, stats_for_inputs


def test_from_array_and_apply_standardise_each_channel():
    rng = np.random.default_rng(0)
    values = np.stack([rng.normal(300, 5, (4, 8, 8)), rng.normal(0.95, 0.01, (4, 8, 8)), np.ones((4, 8, 8))], -1)
    values[0, 0, 0, 0] = np.nan
    stats = ChannelStats.from_array(values, ["lst", "emissivity", "valid"])
    assert stats.std[2] == 1.0  # constant channel: left unscaled
    normalised = stats.apply(values)
    assert normalised.dtype == np.float32
    assert normalised[0, 0, 0, 0] == 0.0  # no-data becomes the channel mean
    np.testing.assert_allclose(normalised[..., :2].reshape(-1, 2).mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(normalised[..., :2].reshape(-1, 2).std(axis=0), 1.0, atol=1e-2)


def test_apply_rejects_a_wrong_channel_count():
    stats = ChannelStats(("vv", "vh"), (0.0, 0.0), (1.0, 1.0))
    with pytest.raises(InputDataError, match="vv, vh"):
        stats.apply(np.zeros((2, 2, 3)))


def test_bad_statistics_raise():
    with pytest.raises(ConfigError):
        ChannelStats(("a",), (0.0,), (0.0,))
    with pytest.raises(ConfigError):
        ChannelStats(("a", "b"), (0.0,), (1.0,))


def test_save_and_load_round_trip(tmp_path):
    stats = {
        "sequence": ChannelStats(("lst", "emissivity", "valid"), (300.0, 0.95, 0.0), (5.0, 0.01, 1.0)),
        "static": ChannelStats(("vv", "vh", "ndvi"), (0.1, 0.02, 0.4), (0.05, 0.01, 0.2)),
    }
    path = save_stats(stats, tmp_path / "stats" / "normalisation.json")
    assert load_stats(path) == stats


def test_load_reports_a_bad_file(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        load_stats(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"features": [1, 2]}')
    with pytest.raises(InputDataError, match="not a normalisation"):
        load_stats(bad)


def test_stats_for_inputs_expands_physical_channels_and_leaves_the_rest():
    physical = {
        "lst_anomaly": {"mean": 0.5, "std": 4.0},
        "emissivity": {"mean": 0.95, "std": 0.01},
        "vv": {"mean": -12.0, "std": 3.0},
    }
    names = {"features": ["t00_lst_anomaly", "t00_emissivity", "t00_valid", "t00_sin_hour", "t01_lst_anomaly", "vv"]}
    stats = stats_for_inputs(names, physical)["features"]
    assert stats.mean == (0.5, 0.95, 0.0, 0.0, 0.5, -12.0)
    assert stats.std == (4.0, 0.01, 1.0, 1.0, 4.0, 3.0)
