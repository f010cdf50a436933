"""`lithomap map` end to end on the tiny region: a trained, registered, promoted CNN mapped through MLflow."""

from __future__ import annotations

import html
import json
import shutil

import geopandas as gpd
import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

from lithomap.analysis.report import build_report
from lithomap.classes import N_CLASSES
from lithomap.config import MapParams, ReportParams
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.datasets.split import TEST
from lithomap.datasets.target_normalisation import target_normalisation
from lithomap.errors import InputDataError, LithomapError
from lithomap.io.cube import cube_path, open_cube
from lithomap.mapping.cube import open_region_cube
from lithomap.mapping.inference import keras_predict
from lithomap.mapping.maps import (
    adapt_map_model,
    make_map,
    map_predict,
    map_scores,
    region_inputs,
    strip_distances,
    target_input_stats,
)
from lithomap.mapping.seams import seam_index
from lithomap.mapping.vector import LAYER
from lithomap.mapping.writers import CLASSES_FILE, DIFFERENCE_FILE, PROBABILITIES_FILE, SHIFT_RASTER
from lithomap.models.adapt import adapt_batch_norm
from lithomap.models.metrics import block_bootstrap, confusion_matrix, scores_from_confusion
from lithomap.models.shift import ShiftReference
from lithomap.registry.promotion import promote_model
from lithomap.registry.pyfunc import normalise_inputs
from lithomap.training.evaluate import evaluate_model, scene_inputs
from lithomap.training.fit import MODEL_FILE, model_dir, train_model
from lithomap.training.loro_table import COLUMNS, TABLE_CSV
from lithomap.training.scoring import per_block_confusions


@pytest.fixture(scope="module")
def champion(tiny_region, tmp_path_factory):
    """The tiny region with a CNN trained, evaluated (registered) and promoted in a fresh MLflow store."""
    params, _ = tiny_region
    root = tmp_path_factory.mktemp("maps")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    preprocess_experiment("tiny", region, params.ingest, params.preprocess, "thermal", params.experiment("thermal"))
    train_model("tiny", "cnn", "thermal", params, verbose=0)
    evaluate_model("tiny", "cnn", "thermal", params)
    promote_model("tiny", "cnn", params.promote)
    params = params.model_copy(update={"map": MapParams(maps_dir=root / "maps", strip_px=32)})
    yield params, root
    monkey.undo()


@pytest.fixture(scope="module")
def mapped(champion):
    params, _ = champion
    return params, make_map("tiny", "cnn", params)


def test_rasters_sit_on_the_cube_grid_with_valid_values(mapped):
    params, result = mapped
    cube = open_cube(cube_path(params.ingest.interim_dir, "tiny"), params.region("tiny"))
    with rasterio.open(result.folder / CLASSES_FILE) as source:
        classes = source.read(1)
        assert source.crs == cube.rio.crs and source.transform == cube.rio.transform()
    valid = cube["lst_valid"].any("time").values
    assert classes.shape == cube["label"].shape and classes.max() <= 13
    assert (classes[valid] > 0).all() and (classes[~valid] == 0).all()
    with rasterio.open(result.folder / PROBABILITIES_FILE) as source:
        total = source.read().astype(int).sum(axis=0)
    assert np.abs(total[valid] - 255).max() <= 14 and (total[~valid] == 0).all()
    with rasterio.open(result.folder / DIFFERENCE_FILE) as source:
        diff = source.read(1)
    label = cube["label"].values
    np.testing.assert_array_equal(diff == 0, (label == 0) | ~valid)


def test_vector_map_and_metadata(mapped):
    _, result = mapped
    frame = gpd.read_file(result.folder / "map.gpkg", layer=LAYER)
    with rasterio.open(result.folder / CLASSES_FILE) as source:
        assert frame.crs == source.crs
    assert set(frame.columns) >= {"class_id", "class_name", "area_km2", "mean_confidence", "geometry"}
    with rasterio.open(result.folder / CLASSES_FILE) as source:
        mapped_km2 = (source.read(1) > 0).sum() * 70 * 70 / 1e6
    assert frame["area_km2"].sum() == pytest.approx(mapped_km2, rel=0.02)
    meta = json.loads((result.folder / "map.json").read_text())
    for key in ("region", "model", "experiment", "registered_model", "version", "alias", "run_id", "seam_index"):
        assert meta[key] is not None, key
    assert meta["alias"] == "champion" and meta["registered_model"] == "lithomap-tiny-cnn"
    assert meta["normalisation"] == "model" and result.normalisation == "model", "its own model: its stored stats"
    assert 0 <= meta["scores"]["oa"] <= 1 and meta["scores"]["pixels"] > 0
    assert (result.folder / "map.png").stat().st_size > 20_000
    logged = mlflow.MlflowClient().list_artifacts(meta["run_id"], "maps/tiny")
    assert {"maps/tiny/classes.tif", "maps/tiny/map.json"} <= {item.path for item in logged}


def test_blending_removes_the_seams_of_naive_tiling(mapped, champion):
    params, blended = mapped
    naive_settings = params.map.model_copy(update={"maps_dir": params.map.maps_dir / "naive"})
    naive_params = params.model_copy(update={"map": naive_settings})
    naive = make_map("tiny", "cnn", naive_params, overlap=0.0, log_artifacts=False)
    patch = params.preprocess.patch_size
    with rasterio.open(naive.folder / CLASSES_FILE) as source:
        naive_classes = source.read(1)
    with rasterio.open(blended.folder / CLASSES_FILE) as source:
        blended_classes = source.read(1)
    # the same grid lines for both: where naive tiles meet
    naive_index = seam_index(naive_classes, spacing=patch)
    blended_index = seam_index(blended_classes, spacing=patch)
    assert naive_index > 1.3 * blended_index
    assert blended.seam_index < 1.3
    # against the grid's other phases (map.json's seam_z): the naive tile edges stand out, the blend's do not
    assert naive.seam_z > 3 and blended.seam_z < naive.seam_z


def test_window_offset_moves_the_windows_and_their_seams(mapped):
    params, _ = mapped
    settings = params.map.model_copy(update={"maps_dir": params.map.maps_dir / "shifted"})
    shifted_params = params.model_copy(update={"map": settings})
    patch = params.preprocess.patch_size
    half = patch // 2
    naive = make_map("tiny", "cnn", shifted_params, overlap=0.0, window_offset=half, log_artifacts=False)
    with rasterio.open(naive.folder / CLASSES_FILE) as source:
        classes = source.read(1)
    # naive tiles now meet half a tile from the region's grid: the seam moved with them
    assert seam_index(classes, patch, (half, half)) > 1.3 * seam_index(classes, patch)
    assert naive.seam_z > 3, "map.json's seam statistics are taken on the shifted windows' lines"
    with pytest.raises(LithomapError, match="window_offset"):
        make_map("tiny", "cnn", shifted_params, overlap=0.0, window_offset=patch, log_artifacts=False)


def test_own_region_shift_is_near_zero_and_no_transfer_is_claimed(mapped):
    _, result = mapped
    meta = json.loads((result.folder / "map.json").read_text())
    assert abs(meta["domain_shift"]) < 0.5 and meta["training_median_distance"] > 0
    assert meta["transfer"] is False and meta["expected_macro_f1"] is None and meta["warning"] is None
    with rasterio.open(result.folder / SHIFT_RASTER) as source:
        shift = source.read(1)
        assert source.dtypes[0] == "float32" and float(source.tags()["DOMAIN_SHIFT"]) == pytest.approx(
            meta["domain_shift"], abs=1e-3
        )
    with rasterio.open(result.folder / CLASSES_FILE) as source:
        classes = source.read(1)
        assert "WARNING" not in source.tags()
    assert np.isfinite(shift[classes > 0]).mean() > 0.95 and np.isnan(shift[classes == 0]).all()


def _loro_table(folder, max_shift: float) -> None:
    """A leave-one-region-out table as `lithomap loro` writes it, for two held-out regions."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"held_out": "a", "model": "cnn", "experiment": "thermal", "macro_f1_learnable": 0.6,
         "macro_f1_learnable_low": 0.5, "macro_f1_learnable_high": 0.7, "domain_shift": max_shift / 2},
        {"held_out": "b", "model": "cnn", "experiment": "thermal", "macro_f1_learnable": 0.4,
         "macro_f1_learnable_low": 0.3, "macro_f1_learnable_high": 0.55, "domain_shift": max_shift},
    ]  # fmt: skip
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(folder / TABLE_CSV, index=False)


def test_a_region_without_labels_is_mapped_with_another_regions_model(champion, mapped):
    params, _ = champion
    source = params.ingest.interim_dir / "tiny" / "cube.zarr"
    target = params.ingest.interim_dir / "newarea" / "cube.zarr"
    shutil.rmtree(target, ignore_errors=True)
    cube = xr.open_zarr(source).drop_vars(["label", "label_valid"])
    cube = cube.assign(lst=cube["lst"] * 1.5 - 140.0)  # a cooler climate with a wider spread of anomalies
    cube.to_zarr(target, mode="w")
    regions = dict(params.regions) | {"newarea": params.region("tiny")}
    loro = params.loro.model_copy(update={"reports_dir": params.map.maps_dir.parent / "loro"})
    params = params.model_copy(update={"regions": regions, "loro": loro})

    unknown = make_map("newarea", "cnn", params, model_region="tiny", log_artifacts=False)
    assert not (unknown.folder / DIFFERENCE_FILE).exists() and unknown.scores is None
    unknown_meta = json.loads((unknown.folder / "map.json").read_text())
    assert unknown_meta["normalisation"] == "target" and unknown_meta["adapted_batch_norm"] is True
    assert "own statistics and batch normalisation adapted to it" in unknown.summary()
    assert (unknown.folder / CLASSES_FILE).is_file() and (unknown.folder / SHIFT_RASTER).is_file()
    assert unknown.trust["transfer"] and "lithomap loro --all -m cnn -e thermal" in unknown.trust["warning"]
    own = json.loads((mapped[1].folder / "map.json").read_text())["domain_shift"]
    assert unknown.trust["domain_shift"] > own + 0.5, "a shifted climate scores a larger domain shift"

    _loro_table(loro.reports_dir, max_shift=unknown.trust["domain_shift"] + 1.0)
    covered = make_map("newarea", "cnn", params, model_region="tiny", log_artifacts=False)
    expected = covered.trust["expected_macro_f1"]
    assert expected["macro_f1_learnable"] == pytest.approx(0.5) and expected["macro_f1_interval"] == [0.3, 0.7]
    assert covered.trust["warning"] is None

    _loro_table(loro.reports_dir, max_shift=unknown.trust["domain_shift"] / 2)
    beyond = make_map("newarea", "cnn", params, model_region="tiny", log_artifacts=False)
    meta = json.loads((beyond.folder / "map.json").read_text())
    assert "beyond" in meta["warning"] and meta["expected_macro_f1"]["held_out"] == ["a", "b"]
    with rasterio.open(beyond.folder / CLASSES_FILE) as source:
        tags = source.tags()
    assert "beyond" in tags["WARNING"] and tags["EXPECTED_MACRO_F1_INTERVAL"] == "0.3000 0.7000"

    reports = ReportParams(reports_dir=params.map.maps_dir.parent / "science")
    report = build_report("newarea", params.model_copy(update={"report": reports}))
    page = report.index.read_text()
    assert "expected macro-F1" in page and "[0.30, 0.70]" in page and html.escape(meta["warning"]) in page
    assert f"WARNING (cnn-thermal): {meta['warning']}" in report.notes, "the report states the map's warning"


def test_a_transfer_map_is_normalised_as_loro_scores_a_held_out_region(champion):
    """One definition: `lithomap loro`'s held-out inputs and a transfer map's inputs of one region are the same."""
    params, _ = champion
    cube = open_region_cube("tiny", params)
    manifest = load_manifest(params.preprocess.processed_dir / "tiny" / "thermal")
    held_out = scene_inputs(cube, manifest, "cnn", "target")  # what evaluate_leave_one_out predicts
    mapped = region_inputs(cube, "tiny", "thermal", "cnn", params, margin=0)  # what make_map reads
    assert held_out.normalisation == target_normalisation(mapped.channels), "the same statistics"
    origins, patch = np.array([[0, 0], [16, 40], [80, 80]]), manifest.patch_size
    batch = mapped(origins, patch)
    normalised = normalise_inputs(batch, target_input_stats(mapped))
    np.testing.assert_array_equal(normalised["features"], held_out(origins, patch)["features"])

    pyfunc = mlflow.pyfunc.load_model("models:/lithomap-tiny-cnn@champion")
    model = pyfunc.unwrap_python_model()
    stored = scene_inputs(cube, manifest, "cnn", "model")(origins, patch)["features"]
    assert not np.allclose(stored, normalised["features"], atol=1e-3), "the two normalisations differ here"
    transfer = map_predict(pyfunc, mapped, "target")(batch)
    np.testing.assert_allclose(transfer, keras_predict(model.model)(held_out(origins, patch)), atol=1e-5)
    own = map_predict(pyfunc, mapped, "model")(batch)
    np.testing.assert_array_equal(own, pyfunc.predict(batch))  # a region's own model: the pyfunc, unchanged
    np.testing.assert_allclose(own, keras_predict(model.model)({"features": stored}), atol=1e-5)

    # batch-normalisation adaptation: the map's adapted model is the one loro scores with
    assert adapt_map_model(pyfunc, mapped, patch, params) > 0
    scored = mlflow.pyfunc.load_model("models:/lithomap-tiny-cnn@champion").unwrap_python_model().model
    adapt_batch_norm(scored, held_out, patch, max_windows=params.loro.adapt_windows, seed=params.training().seed)
    adapted = map_predict(pyfunc, mapped, "target")(batch)
    np.testing.assert_allclose(adapted, keras_predict(scored)(held_out(origins, patch)), atol=1e-5)
    assert not np.allclose(adapted, transfer, atol=1e-3), "adaptation changes the predictions here"


def test_bad_inputs_name_what_to_run(champion):
    params, _ = champion
    with pytest.raises(LithomapError, match="lithomap train -r tiny -m convlstm"):
        make_map("tiny", "convlstm", params)
    with pytest.raises(LithomapError, match=r"no alias 'staging'.*champion"):
        make_map("tiny", "cnn", params, alias="staging")
    with pytest.raises(LithomapError, match="no version 99"):
        make_map("tiny", "cnn", params, version="99")
    with pytest.raises(LithomapError, match="--experiment thermal"):
        make_map("tiny", "cnn", params, experiment="night")
    shorter = params.model_copy(update={"preprocess": params.preprocess.model_copy(update={"sequence_length": 3})})
    with pytest.raises(InputDataError, match="lithomap preprocess -r tiny -e thermal"):
        make_map("tiny", "cnn", shorter)


def test_map_scores_from_block_matrices_equal_the_whole_map_confusion():
    rng = np.random.default_rng(8)
    label = rng.integers(0, N_CLASSES, size=(70, 50)).astype(np.uint8)
    classes = np.where(rng.random(label.shape) < 0.6, label, rng.integers(0, N_CLASSES, size=label.shape))
    classes = classes.astype(np.uint8)
    split = rng.integers(-1, 3, size=(5, 4)).astype(np.int8).repeat(16, axis=0).repeat(16, axis=1)[:70, :50]
    result = map_scores(classes, label, split, 16, n_boot=50, seed=1, alpha=0.1)
    scored = (split == TEST) & (label > 0) & (classes > 0)
    scores = scores_from_confusion(confusion_matrix(label[scored].astype(np.int64), classes[scored].astype(np.int64)))
    blocks, _ = per_block_confusions(label.astype(np.int64), classes.astype(np.int64), scored, 16)
    low, high = block_bootstrap(blocks, n_boot=50, seed=1, alpha=0.1)["macro_f1"]
    assert result == {
        **{key: round(float(scores[key]), 6) for key in ("oa", "macro_f1", "weighted_f1", "kappa")},
        "macro_f1_ci": [round(low, 6), round(high, 6)],
        "pixels": int(scored.sum()),
    }
    assert 0 < result["oa"] < 1 and result["pixels"] > 500


def test_strip_distances_read_in_column_blocks_equal_the_whole_strip(tiny_region):
    params, _ = tiny_region
    inputs = region_inputs(open_region_cube("tiny", params), "tiny", "thermal", "cnn", params, margin=0)
    height, width = inputs.channels.shape
    _, static = inputs.channels.read(0, 0, (height, width))
    reference = ShiftReference.fit(static.reshape(-1, static.shape[-1]), inputs.static_names)
    _, strip = inputs.channels.read(5, 0, (40, width))
    whole = reference.distance(strip, inputs.static_names)
    assert width > 48 and np.isfinite(whole).mean() > 0.9
    np.testing.assert_array_equal(strip_distances(inputs, reference, 5, 40, columns=24), whole)


@pytest.fixture(scope="module")
def refused(champion):
    """A copy of the tiny region, 'gated', whose only model (the CNN re-initialised) the gate refused.

    The untrained network is really evaluated and registered (challenger), and the real gate
    refuses it: its test macro-F1 does not beat the raw per-pixel baseline.
    """
    params, _ = champion
    trained = model_dir(params.training(), "tiny", "cnn", "thermal")
    copies = (
        (cube_path(params.ingest.interim_dir, "tiny"), cube_path(params.ingest.interim_dir, "gated")),
        (params.preprocess.processed_dir / "tiny", params.preprocess.processed_dir / "gated"),
        (trained, model_dir(params.training(), "gated", "cnn", "thermal")),
    )
    for source, target in copies:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    keras.utils.set_random_seed(3)
    untrained = keras.models.clone_model(keras.models.load_model(trained / MODEL_FILE, compile=False))
    untrained.save(copies[2][1] / MODEL_FILE)
    quick = params.evaluate.model_copy(update={"baseline_pixels": 500, "baseline_max_iter": 10})  # still beats it
    params = params.model_copy(
        update={"regions": dict(params.regions) | {"gated": params.region("tiny")}, "evaluate": quick}
    )
    evaluate_model("gated", "cnn", "thermal", params)
    settings = params.promote.model_copy(update={"beat_baseline": True, "baseline": "raw"})
    decision = promote_model("gated", "cnn", settings)
    assert not decision["promoted"] and "does not beat the per-pixel baseline" in decision["reason"]
    return params, decision


def test_a_map_made_by_a_champion_says_promoted(mapped):
    _, result = mapped
    meta = json.loads((result.folder / "map.json").read_text())
    assert meta["promoted"] is True and meta["promotion_reason"].startswith("first version: no champion yet")
    assert result.promoted and "NOT PROMOTED" not in result.summary()
    with rasterio.open(result.folder / CLASSES_FILE) as source:
        assert source.tags()["PROMOTED"] == "true"
    tags = mlflow.MlflowClient().get_run(meta["run_id"]).data.tags
    assert tags["lithomap.map.tiny.promoted"] == "true"


def test_without_a_champion_the_map_fails_by_default_and_names_the_commands(refused):
    params, decision = refused
    before = sorted((params.map.maps_dir / "gated").rglob("*"))
    with pytest.raises(LithomapError) as raised:
        make_map("gated", "cnn", params)
    message = str(raised.value)
    assert "lithomap-gated-cnn has no 'champion' alias" in message
    assert "lithomap promote -r gated -m cnn" in message and "lithomap train-global -m cnn" in message
    assert decision["reason"] in message and "--if-no-champion challenger" in message
    assert sorted((params.map.maps_dir / "gated").rglob("*")) == before, "nothing is written"


def test_without_a_champion_the_challenger_maps_marked_not_promoted(refused):
    params, decision = refused
    result = make_map("gated", "cnn", params, if_no_champion="challenger")
    meta = json.loads((result.folder / "map.json").read_text())
    assert meta["registered_model"] == "lithomap-gated-cnn" and meta["alias"] == "challenger"
    assert meta["promoted"] is False and meta["promotion_reason"] == decision["reason"]
    assert "--if-no-champion challenger" in meta["model_choice"]
    assert f"NOT PROMOTED: lithomap-gated-cnn v{meta['version']} is not the champion" in result.summary()
    assert decision["reason"] in result.summary()
    with rasterio.open(result.folder / CLASSES_FILE) as source:
        tags = source.tags()
    assert tags["PROMOTED"] == "false" and tags["PROMOTION_REASON"] == decision["reason"]
    run = mlflow.MlflowClient().get_run(meta["run_id"]).data.tags
    assert run["lithomap.map.gated.promoted"] == "false"
    assert run["lithomap.map.gated.promotion_reason"] == decision["reason"]
    assert (result.folder / "map.png").stat().st_size > 20_000
