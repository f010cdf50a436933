"""Map rasters (COG, colour table, band names), the vector map and the picture, from known probabilities."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from lithomap.classes import N_CLASSES, class_names
from lithomap.mapping.picture import draw_map
from lithomap.mapping.vector import LAYER, class_areas, vectorise
from lithomap.mapping.writers import (
    CLASSES_FILE,
    CONFIDENCE_FILE,
    DIFFERENCE_FILE,
    MARGIN_FILE,
    PROBABILITIES_FILE,
    MapRasters,
    colour_table,
)

SHAPE = (90, 70)
CRS_UTM = CRS.from_epsg(32630)
TRANSFORM = from_origin(390000, 4296390, 70, 70)


def _probabilities(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Peaked probabilities whose top class is a blocky pattern of classes 1–13."""
    top = np.kron(rng.integers(1, N_CLASSES, size=(rows // 10 + 1, 7)), np.ones((10, 10), dtype=int))[:rows]
    logits = rng.normal(0, 0.3, size=(rows, SHAPE[1], N_CLASSES))
    np.put_along_axis(logits, top[..., None], 3.0, axis=-1)
    weights = np.exp(logits)
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("map")
    rng = np.random.default_rng(3)
    probabilities = _probabilities(rng, SHAPE[0])
    valid = np.ones(SHAPE, dtype=bool)
    valid[:, :3] = False
    label = np.where(rng.random(SHAPE) < 0.7, probabilities.argmax(-1), 0)
    label[:10] = 5  # partly wrong
    with MapRasters(folder, CRS_UTM, TRANSFORM, SHAPE, labelled=True) as rasters:
        for row in range(0, SHAPE[0], 32):
            rows = slice(row, row + 32)
            rasters.write(row, probabilities[rows], valid[rows], label[rows])
        rasters.finish()
    return folder, probabilities, valid, label


def test_rasters_are_cogs_on_the_region_grid_and_nothing_temporary_is_left(written):
    folder, *_ = written
    for name in (CLASSES_FILE, PROBABILITIES_FILE, CONFIDENCE_FILE, MARGIN_FILE, DIFFERENCE_FILE):
        with rasterio.open(folder / name) as source:
            assert source.crs == CRS_UTM and source.transform == TRANSFORM and source.shape == SHAPE
            assert source.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]


def test_classes_carry_values_colours_and_names(written):
    folder, probabilities, valid, _ = written
    with rasterio.open(folder / CLASSES_FILE) as source:
        classes = source.read(1)
        assert source.colormap(1)[2] == colour_table()[2]
        assert source.descriptions[0].startswith("lithology class")
        assert source.tags(1)["CLASS_13"] == "water"
        assert source.nodata == 0
    assert classes.max() <= 13 and (classes[valid] > 0).all() and (classes[~valid] == 0).all()
    np.testing.assert_array_equal(classes[valid], probabilities[..., 1:].argmax(-1)[valid] + 1)
    categories = ET.parse(folder / f"{CLASSES_FILE}.aux.xml").findall(".//CategoryNames/Category")
    assert [c.text for c in categories] == list(class_names())


def test_probabilities_sum_to_255_and_bands_are_named(written):
    folder, _, valid, _ = written
    with rasterio.open(folder / PROBABILITIES_FILE) as source:
        stack = source.read().astype(int)
        assert source.count == N_CLASSES and source.descriptions[2] == "p(clay) x 255"
    total = stack.sum(axis=0)
    assert np.abs(total[valid] - 255).max() <= 14 and (total[~valid] == 0).all()
    with rasterio.open(folder / CONFIDENCE_FILE) as source:
        confidence = source.read(1)
    with rasterio.open(folder / MARGIN_FILE) as source:
        margin = source.read(1)
    assert np.isnan(confidence[~valid]).all() and ((confidence[valid] > 0) & (confidence[valid] <= 1)).all()
    assert (margin[valid] >= 0).all() and (margin[valid] <= confidence[valid]).all()


def test_difference_map(written):
    folder, _, valid, label = written
    with rasterio.open(folder / CLASSES_FILE) as source:
        classes = source.read(1)
    with rasterio.open(folder / DIFFERENCE_FILE) as source:
        diff = source.read(1)
    scored = valid & (label > 0)
    assert (diff[~scored] == 0).all()
    np.testing.assert_array_equal(diff[scored], np.where(classes[scored] == label[scored], 1, 2))
    assert (diff == 2).any() and (diff == 1).any()


def test_sieve_removes_areas_under_the_minimum_mapping_unit():
    classes = np.full((20, 20), 3, dtype=np.uint8)
    classes[5, 5] = 7  # one pixel
    classes[10:13, 10:13] = 8  # nine pixels
    sieved, ids = class_areas(classes, min_mapping_unit_px=4)
    assert sieved[5, 5] == 3 and (sieved[10:13, 10:13] == 8).all()
    assert ids.max() == 2


def test_vector_map_matches_the_raster_areas(written, tmp_path):
    folder, *_ = written
    target = tmp_path / "map.gpkg"
    vectorise(folder / CLASSES_FILE, folder / CONFIDENCE_FILE, target, min_mapping_unit_px=4)
    frame = gpd.read_file(target, layer=LAYER)
    assert frame.crs == CRS_UTM
    assert list(frame.columns[:4]) == ["class_id", "class_name", "area_km2", "mean_confidence"]
    assert frame.geometry.is_valid.all() and (frame["mean_confidence"].between(0, 1)).all()
    with rasterio.open(folder / CLASSES_FILE) as source:
        classes = source.read(1)
    sieved, _ = class_areas(classes, 4)
    pixel_km2 = 70 * 70 / 1e6
    for class_id, area in frame.groupby("class_id")["area_km2"].sum().items():
        raster_area = (sieved == class_id).sum() * pixel_km2
        assert area == pytest.approx(raster_area, rel=0.02)
        assert frame.loc[frame["class_id"] == class_id, "class_name"].iloc[0] == class_names()[class_id]
    assert frame["area_km2"].sum() == pytest.approx((classes > 0).sum() * pixel_km2, rel=0.02)


def test_picture(written, tmp_path):
    folder, *_ = written
    path = draw_map(folder / CLASSES_FILE, tmp_path / "map.png", "tiny cnn")
    assert path.stat().st_size > 20_000


def test_memory_follows_the_strip_not_the_scene(tmp_path):
    """Writing a 1024 × 1024 map in 64-row strips: traced peak far below one full-scene probability array."""
    import tracemalloc

    shape, strip = (1024, 1024), 32
    probabilities = np.full((strip, shape[1], N_CLASSES), 1 / N_CLASSES, dtype=np.float32)
    probabilities[..., 4] += 0.1
    valid = np.ones((strip, shape[1]), dtype=bool)
    tracemalloc.start()
    with MapRasters(tmp_path, CRS_UTM, TRANSFORM, shape, labelled=False) as rasters:
        for row in range(0, shape[0], strip):
            rasters.write(row, probabilities, valid)
        rasters.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full_scene = shape[0] * shape[1] * N_CLASSES * 4
    assert peak < full_scene / 4, f"peak {peak / 1e6:.0f} MB vs {full_scene / 1e6:.0f} MB for the whole scene"
    with rasterio.open(tmp_path / CLASSES_FILE) as source:
        assert source.shape == shape and (source.read(1, window=((1000, 1024), (0, 10))) == 4).all()
