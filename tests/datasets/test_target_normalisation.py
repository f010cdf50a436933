"""Normalisation fitted on a target region's own inputs: every valid pixel, read block by block, no labels."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.datasets.features import model_inputs
from lithomap.datasets.target_normalisation import target_normalisation
from tests.datasets.test_scene import _channels, _cube, _warmed


def test_block_by_block_statistics_equal_those_of_the_whole_region():
    channels = _channels(_cube(size=23), "anomaly")
    stats = target_normalisation(channels, block_px=7)  # 4 × 4 uneven blocks
    sequence, static = channels.read(0, 0, channels.shape)
    for k, name in enumerate(channels.step_names):
        values = sequence[..., k]  # every sequence step, every pixel
        assert stats[name]["mean"] == pytest.approx(float(np.nanmean(values)), rel=1e-5, abs=1e-6)
        assert stats[name]["std"] == pytest.approx(float(np.nanstd(values)), rel=1e-5)
    for k, name in enumerate(channels.static_names):
        assert stats[name]["mean"] == pytest.approx(float(np.nanmean(static[..., k])), rel=1e-5, abs=1e-6)
        assert stats[name]["std"] == pytest.approx(float(np.nanstd(static[..., k])), rel=1e-5)
    whole = target_normalisation(channels)  # one block
    for name, entry in stats.items():
        assert whole[name]["mean"] == pytest.approx(entry["mean"], abs=1e-6)
        assert whole[name]["std"] == pytest.approx(entry["std"], rel=1e-9)
    assert np.isnan(sequence[1, :3, :3, 0]).all(), "the gap is there, and left out of the statistics"


def test_a_more_contrasted_climate_is_normalised_to_the_same_inputs():
    """The anomalies of a region scaled by 1.3 (and 5 K warmer) normalise to the same model inputs."""
    cube = _cube()
    inputs = []
    for scene in (cube, _warmed(cube, 5.0, 1.3)):
        channels = _channels(scene, "anomaly")
        sequence, static = channels.read(0, 0, channels.shape)
        stats = target_normalisation(channels)
        clock = channels.time_features()
        names = channels.step_names, channels.static_names
        inputs.append(model_inputs(sequence[None], static[None], clock, stats, *names, "convlstm"))
    anomaly = 0  # the first step channel
    np.testing.assert_allclose(inputs[1]["sequence"][..., anomaly], inputs[0]["sequence"][..., anomaly], atol=1e-4)
    summaries = [1, 2, 3]  # lst_anomaly_day, _night, _std
    np.testing.assert_allclose(inputs[1]["static"][..., summaries], inputs[0]["static"][..., summaries], atol=1e-4)
