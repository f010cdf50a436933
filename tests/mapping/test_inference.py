"""Full-scene inference: coverage, exactness on constant models, no seams, and the cube as input source."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from lithomap.config import parse_params
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.datasets.scene import CubeChannels
from lithomap.datasets.tfdata import shard_origins
from lithomap.io.cube import cube_path, open_cube
from lithomap.mapping.inference import SceneInputs, blend_scene, infer_scene
from tests.conftest import tiny_params_dict


@dataclass
class FieldInputs:
    """A scene whose single input channel is a given (H, W, C) field, NaN outside it."""

    field: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.field.shape[:2]

    def __call__(self, origins: np.ndarray, patch: int) -> dict[str, np.ndarray]:
        height, width = self.shape
        padded = np.pad(self.field, ((0, patch), (0, patch), (0, 0)), constant_values=np.nan)
        windows = [padded[r : r + patch, c : c + patch] for r, c in origins]
        assert all(r < height and c < width for r, c in origins)
        return {"field": np.stack(windows)}


def identity(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """A 'model' that returns its input as probabilities (NaN padding → uniform)."""
    values = inputs["field"]
    return np.where(np.isfinite(values), values, 1.0 / values.shape[-1])


def test_every_pixel_edges_included_is_covered_and_strips_tile_the_scene():
    field = np.full((37, 29, 3), 1 / 3, np.float32)
    strips = list(infer_scene(identity, FieldInputs(field), 8, 0.5, batch_size=5))
    rows = [strip.row for strip in strips]
    assert rows == sorted(rows) and rows[0] == 0
    assert sum(len(strip.probabilities) for strip in strips) == 37
    assert len(strips) > 1, "the scene is streamed in strips"
    stacked = np.concatenate([strip.probabilities for strip in strips])
    assert stacked.shape == (37, 29, 3) and np.isfinite(stacked).all()


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.75])
def test_a_constant_probability_model_is_reproduced_exactly(overlap):
    rng = np.random.default_rng(0)
    constant = rng.dirichlet(np.ones(4)).astype(np.float32)

    def predict(inputs: dict[str, np.ndarray]) -> np.ndarray:
        return np.broadcast_to(constant, (*inputs["field"].shape[:3], 4)).copy()

    blended = blend_scene(predict, FieldInputs(np.zeros((40, 33, 1), np.float32)), 16, overlap)
    np.testing.assert_allclose(blended, np.broadcast_to(constant, blended.shape), rtol=1e-6)


def test_blending_a_smooth_field_creates_no_seam_at_window_edges():
    rows, cols = np.mgrid[0:64, 0:64].astype(np.float32)
    ramp = 0.2 + 0.6 * (rows + cols) / 126  # smooth, in (0, 1)
    field = np.stack([ramp, 1 - ramp], axis=-1)

    def biased(inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Each window predicts the field plus its own offset, as independent windows do."""
        values = identity(inputs)
        offsets = np.linspace(-0.05, 0.05, len(values), dtype=np.float32)[:, None, None, None]
        return values + offsets * np.array([1, -1], np.float32)

    blended = blend_scene(biased, FieldInputs(field), 16, 0.5, batch_size=3)
    jumps = np.abs(np.diff(blended[..., 0], axis=1))
    natural = 0.6 / 126
    assert jumps.max() < natural + 0.01, f"largest step between neighbours {jumps.max():.4f}"


def test_only_the_given_windows_are_predicted():
    field = np.full((32, 32, 2), 0.5, np.float32)
    blended = blend_scene(identity, FieldInputs(field), 8, 0.5, origins=np.array([[8, 8]]))
    assert np.isfinite(blended[8:16, 8:16]).all() and np.isnan(blended[:8]).all() and np.isnan(blended[16:]).all()


def tiny_dataset_params(tiny_region, tmp_path):
    """Params and region settings of the tiny region, with datasets written under ``tmp_path``."""
    _, root = tiny_region
    raw = tiny_params_dict(root)
    raw["preprocess"]["processed_dir"] = str(tmp_path / "processed")
    raw["preprocess"]["reports_dir"] = str(tmp_path / "reports")
    params = parse_params(raw)
    return params, params.region("tiny")


def test_scene_inputs_match_the_stored_shards(tiny_region, tmp_path):
    """The cube read window by window gives the inputs preprocess stored (one input path)."""
    params, region = tiny_dataset_params(tiny_region, tmp_path)
    split_region("tiny", region, params.ingest, params.preprocess)
    report = preprocess_experiment("tiny", region, params.ingest, params.preprocess, "all", params.experiment("all"))
    manifest = load_manifest(report.output)
    cube = open_cube(cube_path(params.ingest.interim_dir, "tiny"), region)
    channels = CubeChannels.from_manifest(cube, manifest)
    shard = np.load(sorted(report.output.glob("test-*.npz"))[0])
    origins = shard_origins(report.output, "test")[: len(shard["origin"])]
    for index, (row, col) in enumerate(origins[:3]):
        sequence, static = channels.read(int(row), int(col), (16, 16))
        np.testing.assert_allclose(sequence, shard["sequence"][index].astype(np.float32), rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(static, shard["static"][index].astype(np.float32), rtol=2e-3, atol=2e-2)
    inputs = SceneInputs(channels, manifest, "convlstm")(origins[:2], 16)
    assert inputs["sequence"].shape == (2, manifest.sequence_length, 16, 16, 7)
    assert inputs["static"].shape == (2, 16, 16, len(manifest.static_channels))


def test_windows_read_in_bands_equal_windows_read_alone(tiny_region, tmp_path):
    """Windows of one row come from one band read; above, left, right and below the scene is NaN."""
    params, region = tiny_dataset_params(tiny_region, tmp_path)
    split_region("tiny", region, params.ingest, params.preprocess)
    report = preprocess_experiment("tiny", region, params.ingest, params.preprocess, "all", params.experiment("all"))
    cube = open_cube(cube_path(params.ingest.interim_dir, "tiny"), region)
    channels = CubeChannels.from_manifest(cube, load_manifest(report.output))
    height, width = channels.shape
    origins = np.array([[-8, -8], [-8, 0], [-8, 12], [0, 5], [0, width - 4], [7, 3], [height - 5, 9], [height, 0]])
    sequences, statics = channels.read_windows(origins, 16)
    for k, (row, col) in enumerate(origins):
        alone = channels.read_padded(int(row), int(col), (16, 16))
        np.testing.assert_array_equal(sequences[k], alone[0])
        np.testing.assert_array_equal(statics[k], alone[1])
    assert np.isnan(sequences[0][:, :8]).all() and np.isnan(sequences[0][:, :, :8]).all()
    assert np.isfinite(statics[0][8:, 8:, 0]).any(), "the part inside the scene is read"
    assert np.isnan(sequences[4][:, :, 4:]).all() and np.isnan(sequences[-1]).all()
    top_left = channels.read(0, 0, (8, 8))
    np.testing.assert_array_equal(sequences[0][:, 8:, 8:], top_left[0])
