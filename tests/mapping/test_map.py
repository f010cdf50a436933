"""`lithomap map` end to end on the tiny region: a trained, registered, promoted CNN mapped through MLflow."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import mlflow
import numpy as np
import pytest
import rasterio
import xarray as xr

from lithomap.config import MapParams
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.errors import InputDataError, LithomapError
from lithomap.io.cube import cube_path, open_cube
from lithomap.mapping.maps import make_map
from lithomap.mapping.seams import seam_index
from lithomap.mapping.vector import LAYER
from lithomap.mapping.writers import CLASSES_FILE, DIFFERENCE_FILE, PROBABILITIES_FILE
from lithomap.registry.promotion import promote_model
from lithomap.training.evaluate import evaluate_model
from lithomap.training.fit import train_model


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


def test_a_region_without_labels_is_mapped_with_another_regions_model(champion, mapped):
    params, _ = champion
    source = params.ingest.interim_dir / "tiny" / "cube.zarr"
    target = params.ingest.interim_dir / "newarea" / "cube.zarr"
    shutil.rmtree(target, ignore_errors=True)
    cube = xr.open_zarr(source).drop_vars(["label", "label_valid"])
    cube.to_zarr(target, mode="w")
    regions = dict(params.regions) | {"newarea": params.region("tiny")}
    params = params.model_copy(update={"regions": regions})
    result = make_map("newarea", "cnn", params, model_region="tiny", log_artifacts=False)
    assert not (result.folder / DIFFERENCE_FILE).exists() and result.scores is None
    assert (result.folder / CLASSES_FILE).is_file()


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
