"""Experiment datasets on a real preprocess run: split without leaks, shared patches, layouts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from lithomap.config import parse_params
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.patches import patch_origins
from lithomap.datasets.preprocess import (
    SPLIT_FILE,
    built_experiments,
    fit_normalisation,
    preprocess_experiment,
    preprocess_region,
    split_region,
)
from lithomap.datasets.scene import SUMMARY_CHANNELS, CubeChannels
from lithomap.datasets.split import (
    NONE,
    TEST,
    TRAIN,
    VAL,
    SpatialSplit,
    assign_blocks,
    block_histograms,
    block_split,
)
from lithomap.datasets.tfdata import make_dataset
from lithomap.errors import ExperimentNotPossibleError, InputDataError
from lithomap.io.cube import cube_path, open_cube
from lithomap.io.ingest import ingest_region
from lithomap.scenes.acquisitions import Acquisition, from_solar
from lithomap.scenes.generate import generate_region
from lithomap.timing import sun_elevation
from tests.conftest import tiny_params_dict


@pytest.fixture(scope="module")
def processed(tiny_region):
    params, root = tiny_region
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    reports = {
        name: preprocess_experiment("tiny", region, params.ingest, params.preprocess, name, params.experiment(name))
        for name in ("thermal", "day", "night", "all")
    }
    return params, root, reports


def patches_of(folder, split):
    origins = [np.load(path)["origin"] for path in sorted(folder.glob(f"{split}-*.npz"))]
    return np.concatenate(origins) if origins else np.zeros((0, 2), int)


def test_no_test_pixel_in_any_training_or_validation_patch_and_the_buffer_holds(processed):
    params, _, reports = processed
    folder = reports["thermal"].output
    split = SpatialSplit.load(folder / SPLIT_FILE)
    patch = params.preprocess.patch_size
    padded = np.pad(split.pixels, ((0, patch), (0, patch)), constant_values=NONE)
    test_pixels = np.pad(split.pixels == TEST, ((0, patch), (0, patch)))
    distance_to_test = ndimage.distance_transform_cdt(~test_pixels, metric="chessboard")
    assert (split.pixels == TEST).any() and len(patches_of(folder, "test")) > 0
    for split_name in ("train", "val"):
        origins = patches_of(folder, split_name)
        assert len(origins) > 0
        for (row, col), label in zip(origins, _labels(folder, split_name), strict=True):
            window = padded[row : row + patch, col : col + patch]
            assert not (window == TEST).any(), f"{split_name} patch at {(row, col)} holds test pixels"
            labelled = label > 0
            gap = distance_to_test[row : row + patch, col : col + patch][labelled]
            assert gap.min() > split.buffer_px, "labelled pixels must be more than the buffer away from test"
    assert split.buffer_px == patch // 2


def _labels(folder, split):
    return np.concatenate([np.load(path)["label"] for path in sorted(folder.glob(f"{split}-*.npz"))])


def test_every_experiment_shares_the_same_patches_and_split(processed):
    _, _, reports = processed
    reference = {s: patches_of(reports["thermal"].output, s) for s in ("train", "val", "test")}
    for name in ("day", "night", "all"):
        for split_name, origins in reference.items():
            np.testing.assert_array_equal(patches_of(reports[name].output, split_name), origins)


def test_patches_cover_the_edges_by_padding(processed):
    params, _, reports = processed
    manifest = load_manifest(reports["thermal"].output)
    height, width = manifest.shape
    origins = patch_origins(
        (height, width), params.preprocess.patch_size, params.preprocess.overlap, reports["thermal"].output
    )
    covered = np.zeros((height + 16, width + 16), bool)
    for row, col in origins:
        covered[row : row + 16, col : col + 16] = True
    assert covered[:height, :width].all()


def test_manifest_records_dates_channels_and_training_only_normalisation(processed):
    _, _, reports = processed
    day = load_manifest(reports["day"].output)
    night = load_manifest(reports["night"].output)
    sun = {
        name: sun_elevation(np.array([d.utc for d in manifest.dates], dtype="datetime64[s]"), 38.69, -4.11)
        for name, manifest in (("day", day), ("night", night))
    }
    assert all(d.day for d in day.dates) and (sun["day"] > 0).all(), "day dates have the sun up at the overpass"
    assert not any(d.day for d in night.dates) and (sun["night"] < 0).all()
    everything = load_manifest(reports["all"].output)
    assert everything.static_channels == [*SUMMARY_CHANNELS, "vv", "vh", "ndvi"]
    assert set(everything.normalisation) == {"lst_anomaly", "emissivity", *SUMMARY_CHANNELS, "vv", "vh", "ndvi"}
    assert load_manifest(reports["thermal"].output).static_channels == list(SUMMARY_CHANNELS)
    assert sum(everything.patches.values()) > 0


def test_normalisation_ignores_validation_and_test_pixels():
    rng = np.random.default_rng(0)
    pixels = np.full((8, 8), TRAIN, dtype=np.int8)
    pixels[:, 6:] = TEST
    pixels[:, 4:6] = VAL
    sequence = rng.normal(5, 2, (3, 8, 8, 2)).astype(np.float32)
    static = rng.normal(-10, 3, (8, 8, 1)).astype(np.float32)
    before = fit_normalisation(sequence, static, ["lst_anomaly", "emissivity"], ["vv"], pixels == TRAIN)
    sequence[:, :, 4:] += 100
    static[:, 4:] -= 50
    after = fit_normalisation(sequence, static, ["lst_anomaly", "emissivity"], ["vv"], pixels == TRAIN)
    assert before == after
    assert before["vv"]["mean"] == pytest.approx(float(static[:, :4].mean()), rel=1e-5)


def test_blocks_are_stratified_so_rare_classes_reach_every_split():
    label = np.full((64, 64), 8, dtype=np.uint8)
    for row, col in ((6, 6), (38, 54), (54, 22)):
        label[row : row + 4, col : col + 4] = 5  # peat in the middle of three blocks
    blocks = assign_blocks(block_histograms(label, 16), (0.6, 0.2, 0.2), seed=1)
    split = block_split(label, 16, 4, (0.6, 0.2, 0.2), seed=1)
    for index in (TRAIN, VAL, TEST):
        assert (label[split.pixels == index] == 5).any(), f"peat missing from split {index}"
    assert (blocks >= 0).all()


def test_tf_data_streams_batches_for_both_architectures(processed):
    _, _, reports = processed
    folder = reports["all"].output
    manifest = load_manifest(folder)
    cnn_inputs, labels = next(iter(make_dataset(folder, "train", "cnn", batch_size=2)))
    steps, patch = manifest.sequence_length, manifest.patch_size
    static = len(SUMMARY_CHANNELS) + 3
    assert cnn_inputs["features"].shape == (2, patch, patch, 7 * steps + static)
    assert labels.shape == (2, patch, patch) and labels.dtype.name == "int32"
    lstm_inputs, _ = next(iter(make_dataset(folder, "train", "convlstm", batch_size=2, shuffle=True)))
    assert lstm_inputs["sequence"].shape == (2, steps, patch, patch, 7)
    assert lstm_inputs["static"].shape == (2, patch, patch, static)
    for tensor in (*cnn_inputs.values(), *lstm_inputs.values()):
        assert np.isfinite(tensor.numpy()).all()


def test_night_experiment_on_day_only_data_is_a_clear_error(tmp_path):
    params, region = day_only_region(tmp_path)
    with pytest.raises(InputDataError, match=r"experiment 'night' \(night dates.*selects none of the 4 thermal dates"):
        preprocess_experiment("tiny", region, params.ingest, params.preprocess, "night", params.experiment("night"))
    assert not (params.preprocess.processed_dir / "tiny" / "night").exists()


def day_only_region(tmp_path):
    """A small region with four daytime overpasses only, ingested and split: (params, region params)."""
    params = parse_params(tiny_params_dict(tmp_path, size_px=48))
    region = params.region("tiny")
    day_only = [at_solar_hour(doy, 12.5) for doy in (40, 120, 200, 280)]
    generate_region("tiny", region, params.generate, acquisitions=day_only, quicklook=False, progress=False)
    ingest_region("tiny", region, params.ingest, progress=False)
    split_region("tiny", region, params.ingest, params.preprocess)
    return params, region


def at_solar_hour(doy: int, hour: float) -> Acquisition:
    return Acquisition(from_solar(2023, doy, hour, -4.11), hour)


def test_patch_larger_than_the_region_is_a_clear_error(tiny_region):
    _, root = tiny_region
    raw = tiny_params_dict(root)
    raw["preprocess"]["patch_size"] = 512
    raw["preprocess"]["block_size"] = 512
    custom = parse_params(raw)
    with pytest.raises(InputDataError, match="patch size 512 px is larger than the region"):
        split_region("tiny", custom.region("tiny"), custom.ingest, custom.preprocess)


def test_cube_on_another_grid_is_a_clear_error(tiny_region):
    _, root = tiny_region
    raw = tiny_params_dict(root)
    raw["regions"]["tiny"]["crs"] = "EPSG:25830"
    raw["regions"]["tiny"]["resolution"] = 60
    custom = parse_params(raw)
    with pytest.raises(InputDataError, match=r"grid differs from the region's.*ingest"):
        open_cube(cube_path(custom.ingest.interim_dir, "tiny"), custom.region("tiny"))


def test_augmentation_moves_inputs_and_labels_together(processed):
    _, _, reports = processed
    folder = reports["all"].output
    plain = list(make_dataset(folder, "train", "cnn", batch_size=1))
    moved = list(make_dataset(folder, "train", "cnn", batch_size=1, augment=True))
    changed = 0
    for (x, y), (xa, ya) in zip(plain, moved, strict=True):
        image, label = x["features"].numpy()[0], y.numpy()[0]
        candidates = [(np.rot90(image, k), np.rot90(label, k)) for k in range(4)] + [
            (np.fliplr(np.rot90(image, k)), np.fliplr(np.rot90(label, k))) for k in range(4)
        ]
        matches = [
            i
            for i, (img, lab) in enumerate(candidates)
            if np.array_equal(lab, ya.numpy()[0]) and np.allclose(img, xa["features"].numpy()[0])
        ]
        assert matches, "the augmented patch is not a flip/rotation of the original with its labels"
        changed += matches[0] != 0
    assert changed > 0


def test_preprocess_builds_every_experiment_the_data_allows_and_reports_the_others(tmp_path):
    params, region = day_only_region(tmp_path)
    experiments = {name: params.experiment(name) for name in ("night", "thermal", "day")}
    result = preprocess_region("tiny", region, params.ingest, params.preprocess, experiments)
    assert [report.experiment for report in result.built] == ["thermal", "day"]
    assert list(result.skipped) == ["night"] and "selects none of the 4 thermal dates" in result.skipped["night"]
    processed = params.preprocess.processed_dir / "tiny"
    assert built_experiments("tiny", experiments, params.preprocess) == ["thermal", "day"]
    manifest = (processed / "thermal" / "manifest.json").read_bytes()
    with pytest.raises(ExperimentNotPossibleError, match=r"experiment 'night'"):  # asked for by name: an error
        preprocess_region("tiny", region, params.ingest, params.preprocess, experiments, skip_impossible=False)
    only_night = {"night": params.experiment("night")}
    with pytest.raises(ExperimentNotPossibleError, match=r"allows none of the experiments \(night: experiment"):
        preprocess_region("tiny", region, params.ingest, params.preprocess, only_night)
    assert (processed / "thermal" / "manifest.json").read_bytes() == manifest  # the good dataset is untouched
    assert not (processed / "night").exists()


@pytest.fixture(scope="module")
def options_root(tiny_region, tmp_path_factory):
    """The tiny region's cube with a processed folder of its own (the options below rebuild datasets)."""
    _, root = tiny_region
    raw = tiny_params_dict(root)
    out = tmp_path_factory.mktemp("options")
    raw["preprocess"].update(processed_dir=str(out / "processed"), reports_dir=str(out / "reports"))
    raw["experiments"].update(
        bare={"summaries": False}, bare_sar={"static": ["vv", "vh"], "summaries": False}, with_dem={"static": ["dem"]}
    )
    custom = parse_params(raw)
    split_region("tiny", custom.region("tiny"), custom.ingest, custom.preprocess)
    return raw


def test_summaries_false_drops_the_summary_channels(options_root):
    params = parse_params(options_root)
    region = params.region("tiny")
    for name, static in (("bare", []), ("bare_sar", ["vv", "vh"])):
        report = preprocess_experiment("tiny", region, params.ingest, params.preprocess, name, params.experiment(name))
        manifest = load_manifest(report.output)
        assert manifest.static_channels == static and not set(SUMMARY_CHANNELS) & set(manifest.normalisation)
        with np.load(sorted(report.output.glob("train-*.npz"))[0]) as shard:
            assert shard["static"].shape[-1] == len(static)
    folder = params.preprocess.processed_dir / "tiny" / "bare"
    steps = params.preprocess.sequence_length
    cnn_inputs, _ = next(iter(make_dataset(folder, "train", "cnn", batch_size=2)))
    assert cnn_inputs["features"].shape[-1] == 7 * steps
    lstm_inputs, _ = next(iter(make_dataset(folder, "train", "convlstm", batch_size=2)))
    assert set(lstm_inputs) == {"sequence"}, "no static input without summaries or layers"


def test_dem_joins_the_static_channels_and_its_absence_is_said(options_root):
    params = parse_params(options_root)
    region = params.region("tiny")
    report = preprocess_experiment(
        "tiny", region, params.ingest, params.preprocess, "with_dem", params.experiment("with_dem")
    )
    manifest = load_manifest(report.output)
    assert manifest.static_channels == [*SUMMARY_CHANNELS, "dem"]
    cube = open_cube(cube_path(params.ingest.interim_dir, "tiny"))
    _, static = CubeChannels.from_manifest(cube, manifest).read(0, 0, (8, 8))
    expected = cube["dem"].values[:8, :8] - np.nanmedian(cube["dem"].values)
    np.testing.assert_allclose(static[..., -1], expected)
    path = cube_path(params.ingest.interim_dir, "tiny")
    with pytest.raises(ExperimentNotPossibleError, match=r"experiment 'with_dem' needs 'dem', which the region lacks"):
        CubeChannels.select(
            cube.drop_vars(["dem", "dem_valid"]), "with_dem", params.experiment("with_dem"), params.preprocess, path
        )


def test_equal_dates_give_every_experiment_the_smallest_selections_count(options_root):
    raw = json.loads(json.dumps(options_root))
    raw["preprocess"].update(equal_dates=True, date_seed=1)
    params = parse_params(raw)
    region = params.region("tiny")
    wanted = {name: params.experiment(name) for name in ("thermal", "day")}
    equal = preprocess_region(
        "tiny", region, params.ingest, params.preprocess, wanted, all_experiments=params.experiments
    )
    flags = [d.day for d in load_manifest(equal.built[0].output).dates]
    unequal = preprocess_experiment(
        "tiny",
        region,
        params.ingest,
        params.preprocess.model_copy(update={"equal_dates": False}),
        "night",
        params.experiment("night"),
    )
    smallest = min(unequal.dates, equal.built[1].dates)
    assert [report.dates for report in equal.built] == [smallest, smallest]
    assert len(flags) == smallest < 10, "thermal drew as many of its 10 dates as the smaller of day and night"


@pytest.fixture(scope="module")
def sar_series(tiny_sar_region):
    """``thermal`` and ``thermal_sar_series`` datasets of the region with three Sentinel-1 dates."""
    params, _ = tiny_sar_region
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    names = ("thermal", "thermal_sar_series")
    reports = {
        name: preprocess_experiment("tiny", region, params.ingest, params.preprocess, name, params.experiment(name))
        for name in names
    }
    return params, {name: load_manifest(report.output) for name, report in reports.items()}


def test_sar_series_adds_two_channels_to_every_step(sar_series):
    params, manifests = sar_series
    plain, series = manifests["thermal"], manifests["thermal_sar_series"]
    assert series.step_channels == ["lst_anomaly", "emissivity", "vv_step", "vh_step"]
    assert plain.step_channels == ["lst_anomaly", "emissivity"] and series.selection["sar_series"] is True
    assert {"vv_step", "vh_step"} <= set(series.normalisation) and "vv_step" not in plain.normalisation
    assert -25 < series.normalisation["vv_step"]["mean"] < 0, "fitted on the backscatter in dB"
    steps, static = params.preprocess.sequence_length, len(plain.static_channels)
    folders = {name: params.preprocess.processed_dir / "tiny" / name for name in manifests}
    for name, per_step in (("thermal", 7), ("thermal_sar_series", 9)):
        cnn, _ = next(iter(make_dataset(folders[name], "train", "cnn", batch_size=2)))
        lstm, _ = next(iter(make_dataset(folders[name], "train", "convlstm", batch_size=2)))
        assert cnn["features"].shape[-1] == per_step * steps + static
        assert lstm["sequence"].shape[-1] == per_step
        with np.load(sorted(folders[name].glob("train-*.npz"))[0]) as shard:
            assert shard["sequence"].shape[-1] == per_step - 5


def test_a_sar_series_dataset_is_rebuilt_from_its_manifest(sar_series):
    params, manifests = sar_series
    series = manifests["thermal_sar_series"]
    path = cube_path(params.ingest.interim_dir, "tiny")
    cube = open_cube(path)
    picked = CubeChannels.select(
        cube, "thermal_sar_series", params.experiment("thermal_sar_series"), params.preprocess, path
    )
    restored = CubeChannels.from_manifest(cube, series)
    assert restored.sar_series and restored.step_names == series.step_channels
    expected, _ = picked.read(0, 0, picked.shape)
    sequence, _ = restored.read(0, 0, restored.shape)
    np.testing.assert_array_equal(sequence, expected)
    covered, present = cube["sar_valid"].values, restored.steps >= 0
    assert np.isfinite(sequence[present][:, covered, 2:]).all(), "every step has backscatter where S1 covers"
    assert np.isnan(sequence[:, ~covered, 2:]).all()
    old = manifests["thermal"].model_copy(
        update={"selection": {k: v for k, v in manifests["thermal"].selection.items() if k != "sar_series"}}
    )
    assert not CubeChannels.from_manifest(cube, old).sar_series, "a manifest from before the option: no series"
    confused = series.model_copy(update={"step_channels": ["lst_anomaly", "emissivity"]})
    with pytest.raises(InputDataError, match=r"step channels .* are not those of its selection.*preprocess"):
        CubeChannels.from_manifest(cube, confused)


def test_sar_series_without_per_date_sentinel1_is_a_clear_error(tiny_sar_region):
    params, _ = tiny_sar_region
    path = cube_path(params.ingest.interim_dir, "tiny")
    cube = open_cube(path)
    experiment = params.experiment("thermal_sar_series")
    per_date = ["vv_dates", "vh_dates", "sar_time"]
    cases = {
        "no SAR": (cube.drop_vars([*per_date, "vv", "vh", "sar_valid"]), ExperimentNotPossibleError, "region lacks"),
        "undated": (
            cube.drop_vars(per_date).assign_attrs(s1_dates=["undated"]),
            ExperimentNotPossibleError,
            r"1 Sentinel-1 file\(s\) are undated",
        ),
        "old cube": (cube.drop_vars(per_date), InputDataError, r"older lithomap.*lithomap ingest --region tiny"),
    }
    for name, (lacking, error, message) in cases.items():
        with pytest.raises(
            error, match=rf"experiment 'thermal_sar_series' needs the Sentinel-1 time series.*{message}"
        ):
            CubeChannels.select(lacking, "thermal_sar_series", experiment, params.preprocess, path)
        if error is InputDataError:
            with pytest.raises(InputDataError) as caught:
                CubeChannels.select(lacking, "thermal_sar_series", experiment, params.preprocess, path)
            assert not isinstance(caught.value, ExperimentNotPossibleError), f"{name}: re-ingest, not skip"
